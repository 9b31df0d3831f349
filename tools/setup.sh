#!/usr/bin/env bash
# setup.sh: make a bare machine ready for this checkout: tmux and make (apt-get), uv (pip), the workspace.
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
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv ||
    python3 -m pip install --quiet --user --break-system-packages uv
fi
command -v uv >/dev/null 2>&1 || { echo "setup: uv was installed but is not on PATH (add ~/.local/bin)" >&2; exit 1; }
uv sync --frozen --quiet
echo "setup: tmux $(tmux -V | cut -d' ' -f2), $(uv --version), workspace synced"
