#!/usr/bin/env bash
# loop-lane-hook: a Claude Code hook that records the lane's state for loop-lane-status (beats screen-scraping).
set -euo pipefail
unset CDPATH  # an exported CDPATH makes `cd` print the directory and may pick another one

_loop_src=${BASH_SOURCE[0]}
while [ -h "$_loop_src" ]; do
  _loop_dir=$(cd -P "$(dirname "$_loop_src")" && pwd)
  _loop_src=$(readlink "$_loop_src")
  case $_loop_src in /*) ;; *) _loop_src=$_loop_dir/$_loop_src ;; esac
done
LOOP_SELF_DIR=$(cd -P "$(dirname "$_loop_src")" && pwd)
LOOP_LIB_DIR=$(cd -P "$LOOP_SELF_DIR/../lib" && pwd)
# shellcheck source=../lib/common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=loop-lane-hook

usage() {
  cat <<'USAGE'
Usage: loop-lane-hook [EVENT]

Run by Claude Code as a hook inside a loop lane (see shell/hooks/README.md for the settings.json
snippet). Reads the hook's JSON from stdin; EVENT defaults to its hook_event_name. Writes
<dir>/pane-<N>.status for the pane in $TMUX_PANE, one line: state<TAB>epoch<TAB>event<TAB>socket.
  SessionStart, Stop                          -> idle
  UserPromptSubmit, PreToolUse, PostToolUse   -> working
  PostToolUseFailure, PermissionDenied        -> working
  PermissionRequest, Notification (permission_prompt) -> awaiting-approval
  Notification (idle_prompt)                  -> idle
  StopFailure                                 -> errored
  SessionEnd                                  -> the file is removed
<dir> is LOOP_LANE_HOOK_DIR, else $LOOP_TMUX_STATE_DIR/hooks, else the session option
@loop_state_dir + /hooks, else $TMPDIR/loop-lane-hooks-<uid>; a relative one is the project's (in a
lane's git worktree, resolved in the project it belongs to). Outside tmux it does nothing.
Always exits 0 so it can never block the harness (an event name never starts with '-': an unknown
option is a usage error, exit 2).
USAGE
}

case ${1:-} in
  --version) loop_version ;;
  -h | --help)
    usage
    exit 0
    ;;
  -*) loop_usage_error "unknown option: $1" ;;
esac
if [ -z "${TMUX_PANE:-}" ]; then
  exit 0
fi
"$(loop_python)" -S "$LOOP_LIB_DIR/lane_status.py" hook "${1:-auto}" >/dev/null 2>&1 || true
exit 0
