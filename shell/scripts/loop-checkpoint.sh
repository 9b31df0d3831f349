#!/usr/bin/env bash
# loop-checkpoint: assemble the stateless coordinator prompt from the ops-wiki, print it or dispatch it.
set -euo pipefail
unset CDPATH  # an exported CDPATH makes `cd` print the directory and may pick another one

# Resolve our own directory through symlinks without forking (as loop-lane-status does): the engine runs
# `--print` on every cycle, so each $(...) would show in its latency.
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
LOOP_SHELL_ROOT=$LOOP_SELF_DIR/..
LOOP_LIB_DIR=$LOOP_SHELL_ROOT/lib
# shellcheck source=../lib/common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=loop-checkpoint

usage() {
  cat <<'USAGE'
Usage: loop-checkpoint (--print | --dispatch [lane]) [--project-root P] [--header-file F]
                       [--token-ceiling N] [--session S] [--mailbox-dir D]

Assembles the coordinator's checkpoint prompt: a fixed header, then ops-wiki/checkpoint.md,
ops-wiki/index.md and the pending-mail summary, each marked as data between BEGIN/END DATA lines.
It never reads ops-wiki/log.md or processed mail, so its size does not grow with the session's age.
When .loop/orchestrator-state.json (the loop ledger) is a non-empty JSON object, the part of
checkpoint.md above the <!-- coord-decisions --> line is shown as the ledger's projection (objective,
loop states, open conflicts); from that line on the file is shown as it is.

Modes:
  --print              write the prompt to stdout
  --dispatch [lane]    send it to a lane with loop-dispatch --mode text (default lane: coord) and
                       append `## [YYYY-MM-DD] checkpoint | ...` to ops-wiki/log.md

Options:
  --project-root P     the operated project (default: the current directory)
  --header-file F      the fixed header (default: lib/checkpoint-header.md beside this script);
                       an engine swaps it to ask for a side-effect-free decision block
  --token-ceiling N    refuse above N tokens (default LOOP_CHECKPOINT_TOKEN_CEILING or 48000)
  --session S          the tmux session for --dispatch (default: the current one)
  --mailbox-dir D      the mailbox (default: <project-root>/.loop/messages)
  -h, --help           this help

stderr always gets `prompt size: <N> bytes (~<M> tokens, bytes/4)`; a warning follows above
24000 tokens. Tokens are estimated as bytes/4.

Exit: 0 printed or delivered; 1 failure (unreadable header, dispatch not delivered); 2 usage;
3 the prompt is above the token ceiling (nothing printed or sent).
USAGE
}

# checkpoint_dispatcher: the loop-dispatch beside this install, else the one on PATH.
checkpoint_dispatcher() {
  local cand=$LOOP_SELF_DIR/../loop-dispatch.sh
  if [ -f "$cand" ]; then
    printf '%s\n' "$cand"
  elif command -v loop-dispatch >/dev/null 2>&1; then
    command -v loop-dispatch
  else
    return 1
  fi
}

checkpoint_main() {
  local mode="" lane="coord" root="." header="" session="" mailbox=""
  local ceiling=${LOOP_CHECKPOINT_TOKEN_CEILING:-}
  [ -n "$ceiling" ] || ceiling=48000
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --print)
        [ -z "$mode" ] || loop_usage_error "give one of --print or --dispatch"
        mode=print
        shift
        ;;
      --dispatch)
        [ -z "$mode" ] || loop_usage_error "give one of --print or --dispatch"
        mode=dispatch
        shift
        if [ $# -gt 0 ]; then
          case $1 in
            -*) ;;
            *)
              lane=$1
              shift
              ;;
          esac
        fi
        ;;
      --project-root | --header-file | --token-ceiling | --session | --mailbox-dir)
        loop_need_value "$1" $#
        case $1 in
          --project-root) root=$2 ;;
          --header-file) header=$2 ;;
          --token-ceiling) ceiling=$2 ;;
          --session) session=$2 ;;
          --mailbox-dir) mailbox=$2 ;;
        esac
        shift 2
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -n "$mode" ] || loop_usage_error "give --print or --dispatch [lane]"
  local digits=${ceiling#"${ceiling%%[!0]*}"} # leading zeros dropped: 000 is 0, 048000 is 48000
  case $ceiling$digits in
    "" | *[!0-9]*) loop_usage_error "the token ceiling must be a positive whole number (got '$ceiling')" ;;
  esac
  [ -n "$digits" ] || loop_usage_error "the token ceiling must be a positive whole number (got '$ceiling')"
  ceiling=$digits
  [ -n "$lane" ] || loop_usage_error "the lane name is empty"
  if [ "$mode" = dispatch ] && [ -z "$session" ]; then
    # the session is known before anything is built (or, for the lint, quarantined)
    session=$(loop_current_session)
    [ -n "$session" ] || loop_usage_error "--dispatch needs --session S outside tmux"
  fi
  [ -d "$root" ] || loop_die "project root not found: $root" 1
  if [ -n "$header" ] && [ ! -r "$header" ]; then
    loop_die "cannot read the header file: $header" 1
  fi

  local -a args=(--prog "$LOOP_PROG" assemble --project-root "$root" --token-ceiling "$ceiling")
  [ -z "$header" ] || args+=(--header-file "$header")
  [ -z "$mailbox" ] || args+=(--mailbox-dir "$mailbox")

  if [ "$mode" = print ]; then
    # the engine prints the prompt for every brain call: from compiled code, without site
    loop_py_cached fsread,frontmatter,atomic,mail,checkpoint ${args[@]+"${args[@]}"}
    return
  fi

  local dispatcher
  dispatcher=$(checkpoint_dispatcher) || loop_die "loop-dispatch not found (beside this script or on PATH)" 1
  local tmp
  tmp=$(mktemp "${TMPDIR:-/tmp}/loop-checkpoint.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -f '$tmp'" EXIT
  local rc=0
  loop_py checkpoint ${args[@]+"${args[@]}"} --out "$tmp" || rc=$?
  [ "$rc" = 0 ] || exit "$rc"
  local nbytes
  nbytes=$(wc -c <"$tmp")
  nbytes=$((nbytes + 0))
  local -a dargs=(--mode text --file "$tmp")
  [ -z "$session" ] || dargs=(--session "$session" ${dargs[@]+"${dargs[@]}"})
  if ! bash "$dispatcher" ${dargs[@]+"${dargs[@]}"} -- "$lane"; then
    loop_die "the checkpoint prompt was not delivered to $lane" 1
  fi
  loop_py checkpoint --prog "$LOOP_PROG" log --project-root "$root" --kind checkpoint \
    --text "dispatched to $lane ($nbytes bytes, ~$((nbytes / 4)) tokens)" ||
    loop_warn "delivered, but could not append to $root/ops-wiki/log.md"
}

checkpoint_main "$@"
