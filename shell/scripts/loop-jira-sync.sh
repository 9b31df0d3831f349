#!/usr/bin/env bash
# loop-jira-sync: a thin shim that runs `loop-pm sync --adapter jira` for the project's tasks/.
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
LOOP_PROG=loop-jira-sync

usage() {
  cat <<'USAGE'
Usage: loop-jira-sync (pull|push|both) [--dry-run] [--tasks-dir D] [--project-root P] [-- ARGS...]

Runs `loop-pm sync --adapter jira <pull|push|both> [--dry-run] [--tasks-dir D] [ARGS...]` from the
project root. Task files win every conflict; see `loop-pm sync --help` for what each verb does.
Arguments after `--` go to loop-pm unchanged (e.g. push's --project K --epic KEY --sprint active).
Credentials come from the environment only (JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN).

Options:
  --dry-run          print the plan, write nothing
  --tasks-dir D      the tasks folder (passed on; default: loop-pm's, i.e. <project-root>/tasks)
  --project-root P   run from this directory (default: the current directory)
  -h, --help         this help

Exit: loop-pm's exit status; 2 usage; 64 the Python layer (loop-pm) is not installed.
USAGE
}

jirasync_main() {
  local verb="" root="" tasks="" dry=0
  local -a extra=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      pull | push | both)
        [ -z "$verb" ] || loop_usage_error "give one of pull, push or both"
        verb=$1
        shift
        ;;
      --dry-run)
        dry=1
        shift
        ;;
      --tasks-dir | --project-root)
        loop_need_value "$1" $#
        case $1 in
          --tasks-dir) tasks=$2 ;;
          --project-root) root=$2 ;;
        esac
        shift 2
        ;;
      --)
        shift
        extra=("$@")
        break
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -n "$verb" ] || loop_usage_error "give pull, push or both"
  if ! command -v loop-pm >/dev/null 2>&1; then
    loop_die "loop-pm is not installed (the Python layer): run 'make install-python' in the loop-orchestrator checkout, or 'uv tool install loop-pm --with loop-pm-jira'" 64
  fi
  if [ -n "$tasks" ]; then
    case $tasks in /*) ;; *) tasks=$PWD/$tasks ;; esac
  fi
  if [ -n "$root" ]; then
    [ -d "$root" ] || loop_die "project root not found: $root" 1
    cd "$root"
  fi
  local -a args=(sync --adapter jira "$verb")
  [ "$dry" = 0 ] || args+=(--dry-run)
  [ -z "$tasks" ] || args+=(--tasks-dir "$tasks")
  exec loop-pm ${args[@]+"${args[@]}"} ${extra[@]+"${extra[@]}"}
}

jirasync_main "$@"
