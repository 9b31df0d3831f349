#!/usr/bin/env bash
# loop-task: a human marks a task done or dropped (into tasks/archive/) or reopens it; refused from an AI lane.
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
LOOP_PROG=loop-task

usage() {
  cat <<'USAGE'
Usage: loop-task done|drop|reopen <id> [--reason R] [--project-root P] [--tasks-dir D] [--json]

Verbs (a human's decisions; the engine and the lanes never make them):
  done <id>     an open, in-progress or review task gets status: done and moves to tasks/archive/
  drop <id>     the same with status: dropped
  reopen <id>   a done or dropped task gets status: open and moves back to tasks/ (open, not review:
                it needs more work, so the engine may dispatch it again)
  <id> is T0007, 0007 or 7.

Each change is written atomically under the project's task lock (.loop/tasks.lock, the engine's),
and one line is appended to <project>/ops-wiki/log.md:
  ## [YYYY-MM-DD] task | T0007 done          (dropped, reopened; " (reason: R)" with --reason)
A task left half-moved by a crash is finished by running the verb again.
Always refused when called from an AI lane (the check loop-adr accept makes): an AI harness among
the caller's process ancestors, or a tmux pane among them that is an AI lane.

Options (before or after the verb):
  --reason R         why (one line; written to the log line)
  --project-root P   the operated project (default: the current directory); inside a lane's git
                     worktree it is the project the worktree belongs to
  --tasks-dir D      the tasks folder (default: <project-root>/tasks)
  --json             print {contract_version, verb, id, title, from_status, status, from_path, path,
                     reason, log_line} instead of one line
  --version          print the version
  -h, --help         this help

Exit: 0 changed; 1 refused, not found, in the wrong state or unwritable (also a missing
--project-root); 2 usage.
USAGE
}

task_main() {
  local root="." dir="" reason="" json=0
  local -a pos=()
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help)
        usage
        exit 0
        ;;
      --version) loop_version ;;
      --project-root | --tasks-dir | --reason)
        loop_need_value "$1" $#
        case $1 in
          --project-root) root=$2 ;;
          --tasks-dir) dir=$2 ;;
          --reason) reason=$2 ;;
        esac
        shift 2
        ;;
      --json)
        json=1
        shift
        ;;
      --)
        shift
        while [ $# -gt 0 ]; do
          pos+=("$1")
          shift
        done
        ;;
      -*) loop_usage_error "unknown option: $1" ;;
      *)
        pos+=("$1")
        shift
        ;;
    esac
  done
  [ "${#pos[@]}" -gt 0 ] || loop_usage_error "give a verb: done, drop or reopen"
  local verb=${pos[0]}
  case $verb in
    done | drop | reopen) ;;
    *) loop_usage_error "unknown verb: $verb (done, drop or reopen)" ;;
  esac
  [ "${#pos[@]}" = 2 ] || loop_usage_error "usage: loop-task $verb <id> [--reason R]"
  case $reason in
    *$'\n'* | *$'\r'*) loop_usage_error "--reason is one line" ;;
  esac
  [ -d "$root" ] || loop_die "project root not found: $root" 1
  root=$(loop_main_root "$root")
  [ -n "$dir" ] || dir=$root/tasks
  loop_require_human "$verb"
  local -a args=("$verb" "${pos[1]}" --tasks-dir "$dir" --project-root "$root" --reason "$reason")
  [ "$json" = 0 ] || args+=(--json)
  loop_py task_state ${args[@]+"${args[@]}"}
}

task_main "$@"
