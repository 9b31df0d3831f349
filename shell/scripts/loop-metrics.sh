#!/usr/bin/env bash
# loop-metrics: coordinator-efficiency figures (checkpoint size, pending mail, restarts, wiki activity).
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

Prints the figures the experiment keep/discard gate compares:
  checkpoint tokens  the size of the checkpoint prompt loop-checkpoint would build now (bytes/4)
  pending            messages waiting in the mailbox
  restarts, giveups  lane restarts and watchdog give-ups in .loop/sessions/<S>/lane-restarts.jsonl
  ingests, lints, checkpoints
                     `## [date] ingest|lint|checkpoint | ...` headings in ops-wiki/log.md
Missing inputs read as 0; a figure that cannot be measured (no session) shows n/a (null in JSON).

Options:
  --session S        the loop's tmux session (default: the current one inside tmux)
  --project-root P   the operated project (default: the current directory)
  --log              also append one line to ops-wiki/log.md:
                     ## [YYYY-MM-DD] metrics | checkpoint_tokens=N pending=N restarts=N giveups=N
                     ingests=N lints=N checkpoints=N
  --json             one JSON document {contract_version, generated_at, session, checkpoint_bytes,
                     checkpoint_tokens, pending, lane_restarts, lane_giveups, ingests, lints,
                     checkpoints} instead of the summary block
  --header-file F    measure the checkpoint with this header (default: lib/checkpoint-header.md)
  --mailbox-dir D    the mailbox (default: <project-root>/.loop/messages)
  -h, --help         this help

Exit: 0 ok (also when inputs are missing); 1 the log line could not be written; 2 usage.
USAGE
}

metrics_main() {
  local root="." session="" header="" mailbox=""
  local -a flags=()
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
          --project-root) root=$2 ;;
          --header-file) header=$2 ;;
          --mailbox-dir) mailbox=$2 ;;
        esac
        shift 2
        ;;
      --log | --json)
        flags+=("$1")
        shift
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -d "$root" ] || loop_die "project root not found: $root" 1
  [ -n "$session" ] || session=$(loop_current_session)
  local -a args=(--project-root "$root")
  [ -z "$session" ] || args+=(--session "$session")
  [ -z "$header" ] || args+=(--header-file "$header")
  [ -z "$mailbox" ] || args+=(--mailbox-dir "$mailbox")
  loop_py metrics ${args[@]+"${args[@]}"} ${flags[@]+"${flags[@]}"}
}

metrics_main "$@"
