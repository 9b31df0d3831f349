#!/usr/bin/env bash
# loop-init: scaffold an operated project for loop-orchestrator (state file, mailbox, ops-wiki, tasks, ADRs), never overwriting.
set -euo pipefail
unset CDPATH  # an exported CDPATH makes `cd` print the directory and may pick another one

_loop_src=${BASH_SOURCE[0]}
while [ -h "$_loop_src" ]; do
  _loop_dir=$(cd -P "$(dirname "$_loop_src")" && pwd)
  _loop_src=$(readlink "$_loop_src")
  case $_loop_src in /*) ;; *) _loop_src=$_loop_dir/$_loop_src ;; esac
done
LOOP_SELF_DIR=$(cd -P "$(dirname "$_loop_src")" && pwd)
LOOP_LIB_DIR=$LOOP_SELF_DIR/lib
# shellcheck source=lib/common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=loop-init

usage() {
  cat <<'USAGE'
Usage: loop-init [--project-root P] [--project NAME] [--profile janitor|partner] [--no-agents]
                 [--no-lane-config] [--dry-run] [--json]

Sets up the files a loop keeps in the operated project, creating only what is missing (an existing
file or folder is never changed, so running it again is safe):
  .loop/orchestrator-state.json   schema v2 with no loops yet
  .loop/messages/processed/       the mailbox and its acked folder
  ops-wiki/index.md log.md checkpoint.md (with the <!-- coord-decisions --> line) lanes/ loops/
  tasks/README.md tasks/archive/  the tasks-as-files convention
  docs/adr/                       decision records (loop-adr)
  AGENTS.md                       the operating rules for the project's lanes
  lane-config.yaml                a starter lane composition with a manual-mode engine: section
Prints one line per item: `created <path>` or `exists  <path> (left as it is)`.

Options:
  --project-root P   the project to set up (default: the current directory)
  --project NAME     the name used in the starter files (default: the folder's name)
  --profile NAME     lane-config.yaml gets that engine profile instead of the manual-mode starter:
                     janitor (low risk: auto approval, few brain calls, capped) or partner (high
                     stakes: manual approval, a strong model, history rewrites destructive); the
                     profiles ship in templates/profiles/<name>.engine.yaml. An existing
                     lane-config.yaml is left as it is (a note says so)
  --no-agents        do not create AGENTS.md
  --no-lane-config   do not create lane-config.yaml
  --dry-run          print what would be created, create nothing
  --json             print {contract_version, project_root, dry_run, created: [...], existing: [...],
                     profile}
  -h, --help         this help

Exit: 0 ok (also when everything existed); 1 failure (a path in the way, unwritable folder); 2 usage.
USAGE
}

for _arg in "$@"; do
  case $_arg in
    --version) loop_version ;;
    -h | --help)
      usage
      exit 0
      ;;
  esac
done

loop_py init "$@"
