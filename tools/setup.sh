#!/usr/bin/env bash
# setup.sh: make a bare machine ready for this checkout: tmux, make and bubblewrap (apt-get), uv (pip), the workspace,
# and the real agent CLIs of the conformance suite (tools/install-real-agents.sh: node/npm, then npm).
# Idempotent and quick when everything is already there. Used by `make setup` and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "setup: $1 is missing and apt-get is not available; install $1" >&2; exit 1; }
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}
command -v tmux >/dev/null 2>&1 || apt_install tmux
command -v make >/dev/null 2>&1 || apt_install make
# sandboxed lanes (loop-tmux add-lane --sandbox) run their agent under bubblewrap on Linux
if [ "$(uname -s)" = Linux ]; then command -v bwrap >/dev/null 2>&1 || apt_install bubblewrap; fi
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv ||
    python3 -m pip install --quiet --user --break-system-packages uv
fi
command -v uv >/dev/null 2>&1 || { echo "setup: uv was installed but is not on PATH (add ~/.local/bin)" >&2; exit 1; }
uv sync --frozen --quiet
echo "setup: tmux $(tmux -V | cut -d' ' -f2), $(uv --version), workspace synced"
# The real agent CLIs the conformance suite drives (npm, pinned; quick when present). Under CI a failed
# install fails the setup; elsewhere the suite skips them. LOOP_SETUP_NO_REAL_AGENTS=1 leaves them out.
if [ -z "${LOOP_SETUP_NO_REAL_AGENTS:-}" ]; then
  if ! bash tools/install-real-agents.sh >/dev/null; then
    case ${CI:-} in 1 | true | yes) exit 1 ;; esac
    echo "setup: the real agent CLIs are not installed (make test-real will skip them)" >&2
  fi
fi
