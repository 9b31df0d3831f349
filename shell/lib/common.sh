#!/usr/bin/env bash
# common.sh: helpers every loop-* script sources (tmux socket selection, errors, python3 lookup).
# Sourced, never executed. bash >= 3.2: no associative arrays, no mapfile, no ${x,,}.

# The directory holding this file (shell/lib), resolved by the sourcing script's own lookup.
LOOP_LIB_DIR=${LOOP_LIB_DIR:-$(CDPATH='' cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
LOOP_SHELL_ROOT=${LOOP_SHELL_ROOT:-$(CDPATH='' cd -P "$LOOP_LIB_DIR/.." && pwd)}

# loop_tmux ARGS...: run tmux against the server LOOP_TMUX_SOCKET selects (a socket path), or the default.
loop_tmux() {
  if [ -n "${LOOP_TMUX_SOCKET:-}" ]; then
    tmux -S "$LOOP_TMUX_SOCKET" "$@"
  else
    tmux "$@"
  fi
}

# loop_die MSG [CODE]: one line on stderr prefixed with the script name, then exit CODE (default 1).
loop_die() {
  printf '%s: %s\n' "${LOOP_PROG:-${0##*/}}" "$1" >&2
  exit "${2:-1}"
}

# loop_usage_error MSG: a usage error (exit 2).
loop_usage_error() {
  printf '%s: %s\n' "${LOOP_PROG:-${0##*/}}" "$1" >&2
  printf "Try '%s --help'.\n" "${LOOP_PROG:-${0##*/}}" >&2
  exit 2
}

# loop_version: print "<prog>, version <CONTRACT_VERSION>" (the form every loop CLI prints) and exit 0.
loop_version() {
  local v=""
  IFS= read -r v <"$LOOP_SHELL_ROOT/CONTRACT_VERSION" || true
  printf '%s, version %s\n' "${LOOP_PROG:-${0##*/}}" "${v:-unknown}"
  exit 0
}

# loop_warn MSG: a warning line on stderr.
loop_warn() {
  printf '%s: warning: %s\n' "${LOOP_PROG:-${0##*/}}" "$1" >&2
}

# loop_find_python: set LOOP_PY to the python3 to run stdlib helpers with (LOOP_PYTHON overrides), in
# this shell (no subshell: a hot script execs "$LOOP_PY" without paying a fork for the lookup).
loop_find_python() {
  if [ -n "${LOOP_PYTHON:-}" ]; then
    LOOP_PY=$LOOP_PYTHON
  elif command -v python3 >/dev/null 2>&1; then
    LOOP_PY=python3
  else
    loop_die "python3 is required but was not found on PATH" 1
  fi
}

# loop_python: print the python3 to run stdlib helpers with (loop_find_python's answer).
loop_python() {
  loop_find_python
  printf '%s\n' "$LOOP_PY"
}

# loop_py HELPER ARGS...: run shell/lib/HELPER.py with the stdlib python3.
loop_py() {
  local helper=$1
  shift
  "$(loop_python)" "$LOOP_LIB_DIR/$helper.py" "$@"
}

# LOOP_CODEBOOT: lib/codeboot.sh (loop-lane-status's fleet question sources that file alone).
# shellcheck source=codeboot.sh
. "$LOOP_LIB_DIR/codeboot.sh"

# loop_py_cached MODULE[,MODULE...] ARGS...: run the last module's main(ARGS) from compiled code kept in
# the private cache directory (lib/codecache.py, started by lib/codeboot.py under python3 -S, as
# loop-lane-status and loop-dispatch do): a hot helper neither compiles its source nor imports site on
# every call. The lib/ modules it imports when it loads are named before it, in import order.
loop_py_cached() {
  local modules=$1
  shift
  local cache=${LOOP_LANE_STATUS_CACHE_DIR:-${TMPDIR:-/tmp}/loop-lane-status-${UID}}
  local py=${LOOP_PYTHON:-}  # set (the engine sets it): no $(...) fork to look it up
  [ -n "$py" ] || py=$(loop_python)
  "$py" -S -c "$LOOP_CODEBOOT" "$LOOP_LIB_DIR" "$cache/code" "$modules" "$@"
}

# loop_exec_cached MODULE[,MODULE...] ARGS...: loop_py_cached in place of this shell (exec: the script's
# last step forks nothing more).
loop_exec_cached() {
  local modules=$1
  shift
  local cache=${LOOP_LANE_STATUS_CACHE_DIR:-${TMPDIR:-/tmp}/loop-lane-status-${UID}}
  loop_find_python  # LOOP_PY, in this shell: no $(...) fork
  exec "$LOOP_PY" -S -c "$LOOP_CODEBOOT" "$LOOP_LIB_DIR" "$cache/code" "$modules" "$@"
}

# loop_main_root DIR: the directory DIR's loop lives in. A lane in a git worktree
# (<P>/.loop/worktrees/<s>/<w>, or a linked worktree of a checkout that runs a loop) gets <P>'s
# directory, so its mail, ADRs and hook files reach the project; anything else is DIR unchanged.
# The rule is lib/worktree.py's main_root (one resolver for every helper).
loop_main_root() {
  local out
  if out=$(loop_py worktree main-root "$1" 2>/dev/null) && [ -n "$out" ]; then
    printf '%s\n' "$out"
  else
    printf '%s\n' "$1"
  fi
}

# loop_require_human VERB: exit 1 unless a human runs this command (one line on stderr says why). The
# verdict is lib/identity.py's, from the caller's process ancestry and the lane tmux says its pane is,
# never from the environment: TMUX_PANE= or a forged TMUX cannot make an AI lane's call a human's.
loop_require_human() {
  loop_py identity require-human "${LOOP_PROG:-${0##*/}}" "$1" || exit 1
}

# loop_need_value FLAG ARGC: fail with a usage error when FLAG has no value after it.
loop_need_value() {
  if [ "$2" -lt 2 ]; then
    loop_usage_error "$1 needs a value"
  fi
}

# loop_current_session: the session this shell runs in (inside tmux), or nothing.
loop_current_session() {
  if [ -n "${TMUX:-}" ] || [ -n "${TMUX_PANE:-}" ]; then
    loop_tmux display-message -p '#{session_name}' 2>/dev/null || true
  fi
}

# loop_contract_version: the CONTRACT major version this shell implements.
loop_contract_version() {
  cat "$LOOP_SHELL_ROOT/CONTRACT_VERSION"
}
