#!/usr/bin/env bash
# loop-wiki-lint: build the nightly ops-wiki lint prompt (quarantining suspect pages first), print or dispatch it.
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
LOOP_PROG=loop-wiki-lint

usage() {
  cat <<'USAGE'
Usage: loop-wiki-lint (--print | --dispatch [--lane NAME]) [--session S] [--project-root P]
                      [--batch-size N] [--batches K] [--seed N] [--no-quarantine]

Builds the nightly wiki health prompt over shuffled batches of ops-wiki pages, asking for five
kinds of finding: CONTRADICTION, STALE, ORPHAN, MISSING-LINK, SUSPECT-INSTRUCTION. The prompt says
the docs lane may fix ORPHAN, MISSING-LINK and STALE itself; CONTRADICTION and SUSPECT-INSTRUCTION
go to a human through ops-wiki/review-queue.md.

First, every page is scanned for injected instructions ("ignore previous instructions", fake
decision blocks, role-play headers, shell-command bait, ...). A page that matches is moved to
ops-wiki/quarantine/ (never edited, never overwriting), listed in ops-wiki/review-queue.md and on
stderr, and left out of the pass. Pages: *.md under ops-wiki/ except log.md, review-queue.md and
quarantine/.

Modes:
  --print             write the prompt to stdout
  --dispatch          send it with loop-dispatch --mode text (to the docs lane unless --lane) and
                      append `## [YYYY-MM-DD] lint | ...` to ops-wiki/log.md

Options:
  --lane NAME         the lane for --dispatch (default: docs)
  --session S         the tmux session for --dispatch (default: the current one)
  --project-root P    the operated project (default: the current directory)
  --batch-size N      pages per batch (default 8)
  --batches K         how many shuffled batches this pass covers (default 3; 0 = all)
  --seed N            shuffle seed, to repeat a pass (default: random; the prompt shows it)
  --no-quarantine     list suspect pages but move nothing (and leave them out of the pass)
  -h, --help          this help

Exit: 0 printed or delivered; 1 failure (no ops-wiki/, dispatch not delivered); 2 usage.
USAGE
}

wikilint_dispatcher() {
  local cand=$LOOP_SELF_DIR/../loop-dispatch.sh
  if [ -f "$cand" ]; then
    printf '%s\n' "$cand"
  elif command -v loop-dispatch >/dev/null 2>&1; then
    command -v loop-dispatch
  else
    return 1
  fi
}

wikilint_main() {
  local mode="" lane="docs" session="" root="."
  local -a bargs=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --print | --dispatch)
        [ -z "$mode" ] || loop_usage_error "give one of --print or --dispatch"
        mode=${1#--}
        shift
        ;;
      --lane | --session | --project-root)
        loop_need_value "$1" $#
        case $1 in
          --lane) lane=$2 ;;
          --session) session=$2 ;;
          --project-root) root=$2 ;;
        esac
        shift 2
        ;;
      --batch-size | --batches | --seed)
        loop_need_value "$1" $#
        case $2 in
          "" | *[!0-9]*) loop_usage_error "$1 needs a whole number" ;;
        esac
        bargs+=("$1" "$2")
        shift 2
        ;;
      --no-quarantine)
        bargs+=("$1")
        shift
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -n "$mode" ] || loop_usage_error "give --print or --dispatch [--lane NAME]"
  [ -n "$lane" ] || loop_usage_error "the lane name is empty"
  if [ "$mode" = dispatch ] && [ -z "$session" ]; then
    # the session is known before anything is built (or, for the lint, quarantined)
    session=$(loop_current_session)
    [ -n "$session" ] || loop_usage_error "--dispatch needs --session S outside tmux"
  fi
  [ -d "$root" ] || loop_die "project root not found: $root" 1

  if [ "$mode" = print ]; then
    loop_py wiki_lint build --project-root "$root" ${bargs[@]+"${bargs[@]}"}
    return
  fi

  local dispatcher
  dispatcher=$(wikilint_dispatcher) || loop_die "loop-dispatch not found (beside this script or on PATH)" 1
  local tmpdir
  tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/loop-wiki-lint.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$tmpdir'" EXIT
  loop_py wiki_lint build --project-root "$root" ${bargs[@]+"${bargs[@]}"} \
    --out "$tmpdir/prompt" --summary-out "$tmpdir/summary"
  local -a dargs=(--mode text --file "$tmpdir/prompt")
  [ -z "$session" ] || dargs=(--session "$session" ${dargs[@]+"${dargs[@]}"})
  if ! bash "$dispatcher" ${dargs[@]+"${dargs[@]}"} -- "$lane"; then
    loop_die "the lint prompt was not delivered to $lane" 1
  fi
  local summary
  summary=$(cat "$tmpdir/summary")
  loop_py checkpoint --prog "$LOOP_PROG" log --project-root "$root" --kind lint \
    --text "dispatched to $lane: $summary" ||
    loop_warn "delivered, but could not append to $root/ops-wiki/log.md"
}

wikilint_main "$@"
