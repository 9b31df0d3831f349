#!/usr/bin/env bash
# loop-metrics: coordinator-efficiency, autonomy and cost figures of a loop session, or of the fleet (--all).
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
LOOP_PROG=loop-metrics

usage() {
  cat <<'USAGE'
Usage: loop-metrics [--session S] [--project-root P] [--log] [--json]
                    [--header-file F] [--mailbox-dir D]
       loop-metrics --all [--project-root P]... [--json]

Prints the coordinator-efficiency, autonomy and cost figures of one loop session: the original's block
`loop-metrics — <date> (session: <s|none>)`, then `  key: value` lines (checkpoint_tokens,
pending_messages, restarts_24h, giveups_24h, autonomy_ratio, interventions_per_shipped_unit, the 7-day
event counts, brain_tokens_7d, cost_usd_7d, build_tokens_7d, build_cost_usd_7d, cost_per_shipped_unit,
cost_per_decision, dispatches_per_lane_7d, distinct_lanes_used_7d, ingests_7d, lints_7d,
checkpoints_7d, experiments, dispatches), then `notes:`. The 7-day figures come from
.loop/sessions/<S>/engine/events.jsonl, restarts from lane-restarts.jsonl, shipped tasks, checkpoints
and experiments from ops-wiki/log.md. Missing inputs read as 0 or n/a with a note; a cost that is not
known (no price configured, no usage reported) is n/a, never 0.

Options:
  --session S        the loop's session (default: the only .loop/sessions/ entry, else the current tmux
                     session when it is one of them)
  --project-root P   the operated project (default: the current directory); repeatable with --all
  --log              also append one line to ops-wiki/log.md:
                     ## [YYYY-MM-DD] metrics | checkpoint_tokens=N pending=N restarts=N giveups=N
                     ingests=N lints=N checkpoints=N <the 7-day figures> source=session-events-v2
  --json             one JSON document (loop_schemas.Metrics; with --all loop_schemas.FleetMetrics)
                     instead of the text block, with a 7-entry `daily` series per session
  --all              one row per session of every --project-root, a fleet aggregate, and the notes
                     prefixed `<root>:<session>:`; not with --log or --session (exit 2)
  --header-file F    measure the checkpoint prompt with this header (default: lib/checkpoint-header.md)
  --mailbox-dir D    the mailbox (default: <project-root>/.loop/messages)
  -h, --help         this help

Exit: 0 ok (also when inputs are missing); 1 the log line could not be written; 2 usage.
USAGE
}

metrics_main() {
  local session="" header="" mailbox="" tmux_session=""
  local -a flags=() roots=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --session | --project-root | --header-file | --mailbox-dir)
        loop_need_value "$1" $#
        case $1 in
          --session) session=$2 ;;
          --project-root) roots+=(--project-root "$2") ;;
          --header-file) header=$2 ;;
          --mailbox-dir) mailbox=$2 ;;
        esac
        shift 2
        ;;
      --log | --json | --all)
        flags+=("$1")
        shift
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -n "$session" ] || tmux_session=$(loop_current_session)
  local -a args=()
  [ -z "$session" ] || args+=(--session "$session")
  [ -z "$tmux_session" ] || args+=(--tmux-session "$tmux_session")
  [ -z "$header" ] || args+=(--header-file "$header")
  [ -z "$mailbox" ] || args+=(--mailbox-dir "$mailbox")
  loop_py metrics ${roots[@]+"${roots[@]}"} ${args[@]+"${args[@]}"} ${flags[@]+"${flags[@]}"}
}

metrics_main "$@"
