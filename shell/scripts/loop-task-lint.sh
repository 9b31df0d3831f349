#!/usr/bin/env bash
# loop-task-lint: check tasks/ against the tasks-as-files convention (names, frontmatter, sections, DAG).
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
LOOP_PROG=loop-task-lint

usage() {
  cat <<'USAGE'
Usage: loop-task-lint [--tasks-dir D] [--project-root P] [--json]

Checks every task file in tasks/ and tasks/archive/ (tasks/README.md is exempt):
  - the file name is T<NNNN>-<slug>.md;
  - frontmatter: id (the file name's id, unique across tasks/ and archive/), title, status
    (open | in-progress | review | done | dropped), depends_on (an inline list of ids that exist,
    with no cycles), scope (one line), optional loop and jira (blank, or an issue key like PROJ-12);
  - the body has the six `## ` sections Objective, Context you need, Deliverables, Acceptance
    criteria, Verification, Out of scope (a note may follow the name);
  - open/in-progress/review tasks live in tasks/, done/dropped ones in tasks/archive/.

Each problem is one line `path: message` on stdout.

Options:
  --tasks-dir D      the tasks folder (default: <project-root>/tasks)
  --project-root P   the operated project (default: the current directory)
  --json             one JSON document {contract_version, tasks_dir, ok, task_count,
                     findings: [{path, message}]} instead of lines
  -h, --help         this help

Exit: 0 every task passes; 1 any finding (or no tasks folder); 2 usage.
USAGE
}

tasklint_main() {
  local root="" dir="" json=0
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --tasks-dir | --project-root)
        loop_need_value "$1" $#
        case $1 in
          --tasks-dir) dir=$2 ;;
          --project-root) root=$2 ;;
        esac
        shift 2
        ;;
      --json)
        json=1
        shift
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -n "$dir" ] || dir=${root:+$root/}tasks
  local -a args=(lint --tasks-dir "$dir")
  [ "$json" = 0 ] || args+=(--json)
  loop_py tasks ${args[@]+"${args[@]}"}
}

tasklint_main "$@"
