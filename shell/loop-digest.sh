#!/usr/bin/env bash
# loop-digest: render the loop state, the mailbox, unpushed commits and the ADR ledger (once, redrawn, or JSON).
set -euo pipefail
unset CDPATH  # an exported CDPATH makes `cd` print the directory and may pick another one

# Start-up is most of a --json run, and every subshell costs a fork: the script's folder is found by
# parameter expansion (a symlink is followed with readlink), kept as it was reached (relative to the
# current directory, which the script never changes), and python3 is looked up without a subshell.
_loop_src=${BASH_SOURCE[0]}
while [ -h "$_loop_src" ]; do
  _loop_dir=$(cd -P "$(dirname "$_loop_src")" && pwd)
  _loop_src=$(readlink "$_loop_src")
  case $_loop_src in /*) ;; *) _loop_src=$_loop_dir/$_loop_src ;; esac
done
case $_loop_src in */*) LOOP_SELF_DIR=${_loop_src%/*} ;; *) LOOP_SELF_DIR=. ;; esac
LOOP_LIB_DIR=${LOOP_SELF_DIR:-/}/lib
LOOP_SHELL_ROOT=${LOOP_SELF_DIR:-/}
# shellcheck source=lib/common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=loop-digest

usage() {
  cat <<'USAGE'
Usage: loop-digest [--project-root P] [--state-file F] [--mailbox-dir D] [--adr-dir D]
                   [--extra-repo R]... [--interval SECS] [--once] [--no-clear] [--json]
                   [--messages N]

Shows, from the operated project's files:
  - the loops of .loop/orchestrator-state.json (schema v2; the extended shape's lanes with the last
    line of their pane tails too), or one line saying why the state file cannot be shown;
  - the latest N pending mailbox messages with their subject, and the pending/processed counts;
  - unpushed commits per repository: the project root and each --extra-repo (e.g. the infra root);
  - the decision ledger (MADR) from docs/adr.
Without --once it redraws in place every --interval seconds (the coord pane runs it so); a broken or
missing state file never stops the redraw.

Options:
  --project-root P   the operated project (default: the current directory)
  --state-file F     default <project-root>/.loop/orchestrator-state.json
  --mailbox-dir D    default <project-root>/.loop/messages
  --adr-dir D        default LOOP_DIGEST_ADR_DIR, else <project-root>/docs/adr
  --extra-repo R     another repository to count unpushed commits in (repeatable)
  --interval SECS    seconds between redraws (default 5)
  --once             print the digest once and exit
  --no-clear         redraw by appending frames instead of drawing over the last one
  --json             print one JSON document and exit (implies --once):
                     {contract_version, generated_at, state, state_error,
                      mailbox: {pending: [{file, from, to, subject, mtime}], processed_count},
                      unpushed: [{repo, path, branch, upstream, count}],
                      adrs: [{id, status, title, path}], mailbox_error, adr_error}
                     state is the parsed state file, or null when it is missing or unreadable
                     (state_error then says why); mailbox_error / adr_error say why a folder that
                     exists could not be listed (null when fine)
  --messages N       how many of the latest messages to list (default 6)
  -h, --help         this help

Exit: 0 ok (a bad state file is shown, not an error); 2 usage.
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

# Start-up is most of a run: -S skips site (the helper needs the standard library only), and importing
# digest as a module (not running the file) lets python reuse its cached bytecode; digest.run ends the
# process without the interpreter's teardown. The cyclic collector is off from the first import (its
# passes over the imports' objects free nothing); digest.run turns it back on for a redraw. `python -c`
# puts the current directory ('') first on sys.path: it is replaced by lib/, so a project's enum.py or
# json.py is never imported in place of the standard library's (the digest runs in the operated
# project, where a lane can write files). gc and sys are built into the interpreter: no file is read.
loop_find_python
# shellcheck disable=SC2016 # the python program is literal
exec "$LOOP_PY" -S -c \
  'import gc, sys; gc.disable(); p = sys.path; p[:] = [sys.argv[1], *filter(None, p)]; import digest; digest.run(sys.argv[2:])' \
  "$LOOP_LIB_DIR" "$@"
