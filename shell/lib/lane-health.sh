#!/usr/bin/env bash
# lane-health.sh: the per-session lane watchdog that re-launches AI lanes which fell back to a bare shell.
set -euo pipefail

_loop_src=${BASH_SOURCE[0]}
while [ -h "$_loop_src" ]; do
  _loop_dir=$(CDPATH='' cd -P "$(dirname "$_loop_src")" && pwd)
  _loop_src=$(readlink "$_loop_src")
  case $_loop_src in /*) ;; *) _loop_src=$_loop_dir/$_loop_src ;; esac
done
LOOP_LIB_DIR=$(CDPATH='' cd -P "$(dirname "$_loop_src")" && pwd)
# shellcheck source=common.sh
. "$LOOP_LIB_DIR/common.sh"
export LOOP_PROG=lane-health

usage() {
  cat <<'EOF'
Usage: lane-health.sh [start|run|once|stop|status] --session S [--state-dir D] [options]

The lane watchdog of one tmux session (loop-tmux --auto-restart starts it). It looks at the session's
lanes every --interval seconds and re-launches (respawn-pane with the lane's @loop_lane_launch) every
AI lane whose pane fell back to a bare shell (only shells left in its foreground, so a harness behind
a shell-script wrapper counts as running) or died: the base lanes and every add-lane window, found
again on each poll. Lanes whose harness is shell or a tool (mprocs), and plain command lanes, are
left alone.

Verbs:
  start    (default) detach a watchdog and return; a second start for the same session and state
           dir only reports the running one (singleton: a lock file + pid file + liveness check);
           a state dir already used by another session's watchdog is an error (exit 1)
  run      poll in the foreground (until the session is gone, SIGTERM or SIGINT)
  once     one poll in the foreground: restart every AI lane that is down now, then exit
  stop     stop the running watchdog
  status   print "running <pid>" (exit 0) or "not running" (exit 1)

Options (each also an environment variable):
  --session S          the tmux session (default: the current one, inside tmux)
  --state-dir D        where lane-restarts.jsonl, lane-health.pid/.lock/.log live (env
                       LOOP_TMUX_STATE_DIR; default: the session's @loop_state_dir option)
  --interval SECS      poll interval (LOOP_LANE_HEALTH_INTERVAL, default 30)
  --max-failures N     restarts before giving up on a lane (LOOP_LANE_HEALTH_MAX_FAILURES, default 5)
  --backoff-base SECS  wait before the second restart, doubling after (LOOP_LANE_HEALTH_BACKOFF_BASE, 2)
  --backoff-max SECS   the longest wait between restarts (LOOP_LANE_HEALTH_BACKOFF_MAX, default 60)
  --confirm SECS       a lane must look down twice this far apart (LOOP_LANE_HEALTH_CONFIRM, default 2)
  --healthy SECS       running this long after a restart clears its failure count
                       (LOOP_LANE_HEALTH_HEALTHY, default 120)

<state-dir>/lane-restarts.jsonl gets one JSON object per line:
  a restart   {"timestamp", "session", "lane", "target", "cmd", "attempt"}   (no "event" key)
  lifecycle   {"timestamp", "session", "event", "lane"?, "target"?, "detail"} with event one of
              started, giving-up, recovered, restart-failed, stopped
target is the pane id (%N); timestamps are UTC ISO-8601.

Environment: LOOP_TMUX_SOCKET (tmux server socket), LOOP_PYTHON.
Exit: 0 ok (also "already running"); 1 no such session, cannot start; status: 1 = not running; 2 usage.
EOF
}

lane_health_main() {
  local verb=start arg session='' state_dir=${LOOP_TMUX_STATE_DIR:-}
  local -a rest=()
  for arg in "$@"; do
    case $arg in
      -h | --help)
        usage
        return 0
        ;;
    esac
  done
  case ${1:-} in
    start | run | once | stop | status)
      verb=$1
      shift
      ;;
  esac
  while [ $# -gt 0 ]; do
    case $1 in
      --session) loop_need_value "$1" $#; session=$2; shift 2 ;;
      --state-dir) loop_need_value "$1" $#; state_dir=$2; shift 2 ;;
      --interval | --max-failures | --backoff-base | --backoff-max | --confirm | --healthy)
        loop_need_value "$1" $#
        rest+=("$1=$2")
        shift 2
        ;;
      *) loop_usage_error "unexpected argument '$1'" ;;
    esac
  done
  if [ -z "$session" ]; then
    session=$(loop_current_session)
  fi
  [ -n "$session" ] || loop_usage_error "--session is required outside tmux"
  if [ -z "$state_dir" ]; then
    state_dir=$(loop_tmux show-options -v -t "=$session:" @loop_state_dir 2>/dev/null || true)
  fi
  [ -n "$state_dir" ] || loop_usage_error "--state-dir is required (the session has no @loop_state_dir)"
  # --opt=VALUE: a session or dir named like an option ('-x') stays a value
  exec "$(loop_python)" "$LOOP_LIB_DIR/watchdog.py" "$verb" "--session=$session" "--state-dir=$state_dir" \
    ${rest[@]+"${rest[@]}"}
}

lane_health_main "$@"
