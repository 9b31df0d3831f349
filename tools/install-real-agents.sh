#!/usr/bin/env bash
# install-real-agents.sh: install the real agent CLIs the conformance suite (tests-integration/real/)
# drives, from npm, at pinned versions, into a cache folder. Idempotent: quick when the pinned set is
# already there. node/npm come from apt-get when missing. Only the npm registry is contacted.
#   LOOP_REAL_AGENTS_DIR  the cache folder (default ~/.cache/loop-orchestrator/real-agents)
# Prints the bin folder to put on PATH as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES="@anthropic-ai/claude-code@2.1.197 @openai/codex@0.171.0 @mariozechner/pi-coding-agent@0.73.1"
DIR="${LOOP_REAL_AGENTS_DIR:-$HOME/.cache/loop-orchestrator/real-agents}"
STAMP="$DIR/installed.txt"
BIN="$DIR/node_modules/.bin"

apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "install-real-agents: $1 is missing and apt-get is not available; install $1" >&2; exit 1; }
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

works() {  # every CLI answers --version
  [ -x "$BIN/claude" ] && [ -x "$BIN/codex" ] && [ -x "$BIN/pi" ] || return 1
  "$BIN/claude" --version >/dev/null 2>&1 && "$BIN/codex" --version >/dev/null 2>&1 &&
    PI_OFFLINE=1 "$BIN/pi" --version >/dev/null 2>&1
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ] && works; then
  echo "install-real-agents: $PACKAGES present in $DIR"
  echo "$BIN"
  exit 0
fi

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 18 ] || { echo "install-real-agents: node >= 18 is needed, found $(node --version)" >&2; exit 1; }

mkdir -p "$DIR"
rm -f "$STAMP"
[ -f "$DIR/package.json" ] || printf '{"name":"loop-real-agents","private":true}\n' >"$DIR/package.json"
# shellcheck disable=SC2086  # PACKAGES is a list of words
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error --save-exact $PACKAGES >&2
# Claude Code ships its native binary through a postinstall; run it when npm skipped install scripts.
cc="$DIR/node_modules/@anthropic-ai/claude-code"
if ! "$BIN/claude" --version >/dev/null 2>&1 && [ -f "$cc/package.json" ]; then
  (cd "$cc" && npm run --silent postinstall >&2) || true
fi
works || { echo "install-real-agents: the CLIs did not install (one of claude, codex, pi does not run)" >&2; exit 1; }
printf '%s' "$PACKAGES" >"$STAMP"
echo "install-real-agents: installed $PACKAGES into $DIR"
echo "$BIN"
