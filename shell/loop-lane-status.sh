#!/usr/bin/env bash
# loop-lane-status: classify a lane (or every lane) of a loop session as working|awaiting-approval|idle|errored|unknown.
set -euo pipefail
unset CDPATH  # an exported CDPATH makes `cd` print the directory and may pick another one

# _lls_prefetch SESSION: the prefetch. The tmux command the previous call prepared (this session's
# listing plus a capture of each of its panes, one line in a private cache file, arguments separated
# by \x1f) is started, and its answer becomes this shell's stdin, which python inherits (no file:
# stdin is /dev/null). Sets _lls_prefetch_file (python's --prefetch-file: lane_status.py checks the
# answer, asks tmux for anything missing, and writes the next call's command there).
_lls_prefetch_file=""
_lls_prefetch() {
  local key="${LOOP_TMUX_SOCKET:-default}--$1"
  key=${key//[!A-Za-z0-9._-]/_}
  local dir="${LOOP_LANE_STATUS_CACHE_DIR:-${TMPDIR:-/tmp}/loop-lane-status-${UID}}"
  _lls_prefetch_file="$dir/prefetch-${key:0:180}.argv"
  local -a tmux_args=()
  # its words become tmux's arguments: only from a file of ours, not a symlink, in a folder of ours
  # (another account that made the folder first in a shared /tmp could put anything there)
  if [ -d "$dir" ] && [ ! -L "$dir" ] && [ -O "$dir" ] &&
    [ -f "$_lls_prefetch_file" ] && [ ! -L "$_lls_prefetch_file" ] && [ -O "$_lls_prefetch_file" ]; then
    # One line: a single read builds the array.
    IFS=$'\x1f' read -r -a tmux_args <"$_lls_prefetch_file" || tmux_args=()
  fi
  if [ "${#tmux_args[@]}" -gt 0 ]; then
    local -a tmux_cmd=(tmux)
    [ -z "${LOOP_TMUX_SOCKET:-}" ] || tmux_cmd+=(-S "$LOOP_TMUX_SOCKET")
    # exec: the subshell becomes the tmux client instead of forking one more process
    exec < <(exec ${tmux_cmd[@]+"${tmux_cmd[@]}"} ${tmux_args[@]+"${tmux_args[@]}"} 2>/dev/null)
  else
    exec </dev/null
  fi
}
# The fleet question the engine and the watch daemon ask, exactly `--json --all <session>`, starts
# its prefetch here, first: that tmux client's answer is the critical path of a poll, and sourcing
# common.sh and parsing the arguments before starting it delayed it by about a millisecond.
# lane_status_main parses the same arguments again and uses this prefetch (any other call starts
# its own there, or none).
_lls_prefetch_session=""
if [ $# -eq 3 ] && [ "$1" = --json ] && [ "$2" = --all ]; then
  case $3 in
    -* | "") ;;
    *)
      case ${LOOP_LANE_STATUS_NO_CACHE:-} in
        1 | true | yes) ;;
        *)
          _lls_prefetch "$3"
          _lls_prefetch_session=$3
          ;;
      esac
      ;;
  esac
fi

# Resolve our own directory through symlinks without readlink -f, and without forking: this script
# runs on every status poll, so each $(...) would show in its latency.
_loop_src=${BASH_SOURCE[0]}
while [ -h "$_loop_src" ]; do
  _loop_link=$(readlink "$_loop_src")
  case $_loop_link in
    /*) _loop_src=$_loop_link ;;
    *) _loop_src=${_loop_src%/*}/$_loop_link ;;
  esac
done
case $_loop_src in
  */*) LOOP_SELF_DIR=${_loop_src%/*} ;;
  *) LOOP_SELF_DIR=. ;;
esac
case $LOOP_SELF_DIR in
  /*) ;;
  *) LOOP_SELF_DIR=$PWD/$LOOP_SELF_DIR ;;
esac
LOOP_LIB_DIR=$LOOP_SELF_DIR/lib
LOOP_SHELL_ROOT=$LOOP_SELF_DIR
# The fleet question goes to python now, with the very command lane_status_main would build for it
# (below): common.sh and the argument parse would change nothing of it, and python's start-up is the
# poll's critical path. Without the python, the usual path below says so.
if [ -n "$_lls_prefetch_session" ] && command -v "${LOOP_PYTHON:-python3}" >/dev/null 2>&1; then
  # shellcheck source=lib/codeboot.sh
  . "$LOOP_LIB_DIR/codeboot.sh"
  exec "${LOOP_PYTHON:-python3}" -S -c "$LOOP_CODEBOOT" "$LOOP_LIB_DIR" \
    "${LOOP_LANE_STATUS_CACHE_DIR:-${TMPDIR:-/tmp}/loop-lane-status-${UID}}/code" "fsread,lane_status" \
    status --session "$_lls_prefetch_session" --all --json --prefetch-file "$_lls_prefetch_file"
fi
# shellcheck source=lib/common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=loop-lane-status

usage() {
  cat <<'EOF'
Usage: loop-lane-status [--session S] <session> <lane>
       loop-lane-status --print-target <session> <lane>
       loop-lane-status --json <session> <lane>
       loop-lane-status --json --all <session>
       loop-lane-status --session S [--json] (<lane> | --all)

Prints exactly one word for a lane: working, awaiting-approval, idle, errored or unknown
(exit 0 for any of them). --json prints
  {contract_version, session, generated_at, lanes: {<lane>: {lane, status, target, kind, detail,
   harness, source}}}
with kind fixed|dynamic, detail a finer state or null (booting, exited-to-shell, dead, ready, busy,
approval, error, no-pane) and source screen|hook|process. --all covers the fixed lanes whose windows
exist and every add-lane window (without --json: one "lane<TAB>status" line each).

Lanes: coord, web, infra, validate-left, validate-right, ops-top, ops-bottom, docs (found through
list-panes by window name and pane position), any other window name (add-lane lanes), or a pane id %N.
Inside tmux the session defaults to the current one when only <lane> is given.

Options:
  --session S      the session (instead of the first positional)
  --json           JSON output (loop_schemas.LaneStatusReport)
  --all            every lane of the session (needs --json for the JSON document)
  --print-target   print a tmux -t target for the lane's pane (do not parse it)
  -h, --help       this help

How it decides: a dead pane is errored (dead); an AI lane back at a bare shell is errored
(exited-to-shell); a Claude Code hook status file beats the screen (see shell/hooks/README.md);
otherwise the live tail of the screen is matched against the harness registry's patterns:
approval prompt, busy spinner ("esc to interrupt" always counts), error line, idle prompt, welcome
(booting = working). Idle is debounced: it must be seen twice, a short pause apart.

Cost: a constant number of tmux client spawns whatever the pane count -- one listing, one chained
capture, one confirming capture when idle was not seen moments ago. A repeated poll costs ONE spawn:
the listing and captures the previous call prepared run while python starts (a cache file per
session), and anything stale or missing in that answer is asked of tmux again.

Environment:
  LOOP_TMUX_SOCKET               tmux server socket path
  LOOP_LANE_IDLE_HOME_PATTERN    ERE alternation of extra idle markers (a harness's home screen)
  LOOP_LANE_DEBOUNCE_S           pause before the confirming capture (default 0.2)
  LOOP_LANE_DEBOUNCE_MAX_GAP_S   reuse an idle sighting this recent (default 5)
  LOOP_LANE_TAIL_LINES           non-blank bottom lines read (default 15)
  LOOP_LANE_STATUS_CACHE_DIR     cache directory (default $TMPDIR/loop-lane-status-<uid>)
  LOOP_LANE_STATUS_NO_CACHE=1    no debounce or prefetch cache: always list, capture, and confirm
                                 idle with a second capture
  LOOP_LANE_HOOK_DIR             hook status files directory (default <state-dir>/hooks)
  LOOP_TMUX_STATE_DIR            the session state dir (hooks live in its hooks/)

Exit: 0 a status was printed; 1 the session or lane cannot be resolved; 2 usage.
EOF
}

lane_status_main() {
  local session="" as_json=0 want_all=0 print_target=0
  local -a pos=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --session)
        loop_need_value "$1" $#
        session=$2
        shift 2
        ;;
      --session=*)
        session=${1#--session=}
        shift
        ;;
      --json)
        as_json=1
        shift
        ;;
      --all)
        want_all=1
        shift
        ;;
      --print-target)
        print_target=1
        shift
        ;;
      --)
        shift
        while [ $# -gt 0 ]; do
          pos+=("$1")
          shift
        done
        ;;
      -?*) loop_usage_error "unknown option: $1" ;;
      *)
        pos+=("$1")
        shift
        ;;
    esac
  done
  local npos=${#pos[@]} lane=""
  if [ "$want_all" = 1 ]; then
    [ "$print_target" = 0 ] || loop_usage_error "--print-target takes one lane, not --all"
    if [ "$npos" -eq 1 ] && [ -z "$session" ]; then
      session=${pos[0]}
    elif [ "$npos" -ne 0 ]; then
      loop_usage_error "--all takes only the session"
    fi
  else
    if [ "$npos" -eq 2 ] && [ -z "$session" ]; then
      session=${pos[0]}
      lane=${pos[1]}
    elif [ "$npos" -eq 1 ]; then
      lane=${pos[0]}
    else
      loop_usage_error "expected <session> <lane>"
    fi
  fi
  if [ -z "$session" ]; then
    session=$(loop_current_session)
    [ -n "$session" ] || loop_usage_error "no session: pass <session> or --session S (or run inside tmux)"
  fi
  local -a args=(status --session "$session")
  if [ "$want_all" = 1 ]; then
    args+=(--all)
  else
    [ -n "$lane" ] || loop_usage_error "the lane name is empty"
    args+=(--lane "$lane")
  fi
  [ "$as_json" = 0 ] || args+=(--json)
  [ "$print_target" = 0 ] || args+=(--print-target)
  local py=${LOOP_PYTHON:-python3}
  command -v "$py" >/dev/null 2>&1 || loop_die "python3 is required but was not found on PATH" 1
  local cache=${LOOP_LANE_STATUS_CACHE_DIR:-${TMPDIR:-/tmp}/loop-lane-status-${UID}}
  # lib/codecache.py runs lane_status from compiled code kept in the private cache dir, never in a
  # __pycache__ beside the source; that saves compiling 1000 lines on every poll. lib/codeboot.py
  # starts codecache itself from that cache; it is imported (common.sh's LOOP_CODEBOOT), not run as a
  # script, which python would compile on every call.
  local -a run=("$py" -S -c "$LOOP_CODEBOOT" "$LOOP_LIB_DIR" "$cache/code" "fsread,lane_status")
  case ${LOOP_LANE_STATUS_NO_CACHE:-} in
    1 | true | yes) exec ${run[@]+"${run[@]}"} ${args[@]+"${args[@]}"} </dev/null ;;
  esac
  # The prefetch (_lls_prefetch, above): its tmux client runs while python starts, and its answer
  # arrives on python's stdin. The fleet question started it before this function ran.
  [ "$_lls_prefetch_session" = "$session" ] || _lls_prefetch "$session"
  exec ${run[@]+"${run[@]}"} ${args[@]+"${args[@]}"} --prefetch-file "$_lls_prefetch_file"
}

lane_status_main "$@"
