#!/usr/bin/env bash
# loop-dispatch: paste a prompt or command into a lane's tmux pane and press Enter, at most once.
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
LOOP_PROG=loop-dispatch

usage() {
  cat <<'EOF'
Usage: loop-dispatch [--session S] [--mode command|text] [--no-enter] [--verify]
                     [--wait-ready [--ready-timeout SECS]] [--interrupt] [--no-clear] [--answer]
                     (<lane> | --window <target>) (<payload> | - | --file F)

Delivers <payload> to a lane: a bracketed paste of the exact bytes (less any bracketed-paste
marker ESC[200~ or ESC[201~, which would end the paste early) through a named tmux buffer
(load-buffer from stdin, paste-buffer -p -r -d), a pause, Enter, then a recapture. The text is never
pasted twice and never evaluated by a shell. Dispatches to one pane take turns (a per-pane lock), so
concurrent prompts stay separate submissions.

Delivered means, per program kind (from the lane's harness): a TUI (a registry harness of kind ai)
took the text out of its input box (the screen reacted to Enter; if it did not, only Enter is retried);
a line-mode program (a shell or tool lane, or a program no harness names: cat, a `for line in stdin`
loop, a REPL, a shell prompt) echoed the line or moved its cursor on after exactly one Enter (never
retried: a second Enter would be an empty line of input).

Permission prompts: an Enter into a lane that shows one (loop-lane-status awaiting-approval) would
answer it, so such a lane is refused (exit 1, one line naming the lane and what it shows), checked
before anything is sent and again right before each paste. --wait-ready waits until the prompt is
answered and the lane is idle; --answer types the payload into the prompt as its answer.

Lanes: coord, web, infra, validate-left, validate-right, ops-top, ops-bottom, docs, any add-lane
window name, or a pane id %N. --window takes a tmux target instead (session:window.pane, made exact).
Inside tmux the session defaults to the current one.

Payload: the positional argument (byte for byte; put -- before one that starts with -), `-` for
stdin, or --file F (trailing newlines of stdin/file input are dropped).

Options:
  --session S          the session (default: the current one inside tmux)
  --window TARGET      a tmux target (e.g. my-app:validate.1) instead of a lane name
  --mode command|text  command (default): short pause before Enter; text: the harness pause
                       (LOOP_DISPATCH_PASTE_DELAY, else the registry's paste_delay, else 2.0 s)
  --no-enter           paste only; exit 0 once pasted
  --verify             require the paste to show on screen before pressing Enter (else exit 1)
  --wait-ready         wait until loop-lane-status says idle before sending (or errored by the
                       Claude hook: StopFailure ends a turn on an API error with the prompt ready)
  --ready-timeout SECS how long --wait-ready waits (default LOOP_DISPATCH_READY_TIMEOUT or 60)
  --interrupt          send Escape, wait ~1 s (LOOP_DISPATCH_INTERRUPT_WAIT), then deliver; a harness
                       that puts the interrupted prompt back into its input box (claude) has the box
                       emptied first (registry clear_input_keys) and proven empty by recapture
                       (registry input_pattern), else nothing is pasted (exit 1)
  --answer             the payload is the answer to the permission prompt the lane shows (e.g.
                       `--answer web 2`): typed as keys, no Enter, exit 0 once the prompt reacts;
                       exit 1 when the lane shows no permission prompt. Not with --wait-ready/--interrupt
  --no-clear           do not send /clear to an idle claude lane first
  --file F             read the payload from F
  -h, --help           this help

A claude lane that is idle gets `/clear` first on a fresh (non --interrupt) dispatch, waiting up to
LOOP_DISPATCH_CLEAR_TIMEOUT (default 8 s) for it to settle, unless --no-clear or
LOOP_DISPATCH_NO_CLEAR=1; if the clear cannot be confirmed the prompt is delivered anyway.
An AI lane whose pane fell back to a bare shell, or a dead pane, is refused (exit 1). With --wait-ready
a lane that is still booting may sit at its launching shell for up to LOOP_DISPATCH_SHELL_GRACE_S
before that counts; the refusal is then judged after the wait.

Environment:
  LOOP_TMUX_SOCKET               tmux server socket path
  LOOP_DISPATCH_PASTE_DELAY      pause between paste and Enter, seconds (wins in both modes)
  LOOP_DISPATCH_COMMAND_DELAY    command-mode pause when the above is unset (default 0.3)
  LOOP_DISPATCH_CLEAR_TIMEOUT    /clear settle limit (default 8)
  LOOP_DISPATCH_NO_CLEAR=1       never send /clear
  LOOP_DISPATCH_READY_TIMEOUT    default for --ready-timeout (60)
  LOOP_DISPATCH_INTERRUPT_WAIT   pause after Escape for --interrupt (1.0)
  LOOP_DISPATCH_SHELL_GRACE_S    --wait-ready: how long a bare shell may show while a lane boots (3)
  LOOP_DISPATCH_ENTER_RETRIES    extra Enter presses when the screen did not react (2)
  LOOP_DISPATCH_ENTER_CONFIRM_S  how long to watch for a reaction per Enter (1.5)
  LOOP_DISPATCH_CLEAR_INPUT_TRIES  --interrupt: rounds of clear_input_keys before giving up (8)

Exit: 0 delivered (pasted + Enter taken; with --no-enter: pasted; with --answer: the prompt reacted);
1 not delivered; 2 usage.
EOF
}

dispatch_main() {
  local session="" window="" mode="" file="" ready_timeout="" answer=0 waits=""
  local -a flags=()
  local -a pos=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --session | --window | --mode | --file | --ready-timeout)
        loop_need_value "$1" $#
        case $1 in
          --session) session=$2 ;;
          --window) window=$2 ;;
          --mode) mode=$2 ;;
          --file) file=$2 ;;
          --ready-timeout) ready_timeout=$2 ;;
        esac
        shift 2
        ;;
      --no-enter | --verify | --wait-ready | --interrupt | --no-clear | --answer)
        case $1 in --answer) answer=1 ;; --wait-ready | --interrupt) waits=$1 ;; esac
        flags+=("$1")
        shift
        ;;
      --)
        shift
        while [ $# -gt 0 ]; do
          pos+=("$1")
          shift
        done
        ;;
      -)
        pos+=("$1")
        shift
        ;;
      -?*) loop_usage_error "unknown option: $1" ;;
      *)
        pos+=("$1")
        shift
        ;;
    esac
  done
  if [ "$answer" = 1 ] && [ -n "$waits" ]; then
    loop_usage_error "--answer cannot be combined with $waits"
  fi
  case $mode in
    "" | command | text) ;;
    *) loop_usage_error "--mode must be command or text" ;;
  esac
  if [ -n "$ready_timeout" ]; then
    case $ready_timeout in
      *[!0-9.]* | *.*.* | . | "") loop_usage_error "--ready-timeout needs a number of seconds" ;;
    esac
  fi
  local npos=${#pos[@]} lane="" payload="" have_payload=0
  local want=2
  [ -z "$window" ] || want=1
  [ -z "$file" ] || want=$((want - 1))
  if [ "$npos" -ne "$want" ]; then
    if [ -n "$window" ]; then
      loop_usage_error "expected --window <target> and one payload (argument, - or --file F)"
    fi
    loop_usage_error "expected <lane> and one payload (argument, - or --file F)"
  fi
  if [ -z "$window" ]; then
    lane=${pos[0]}
    [ -n "$lane" ] || loop_usage_error "the lane name is empty"
  fi
  if [ -z "$file" ]; then
    payload=${pos[$((npos - 1))]}
    have_payload=1
  fi
  if [ -z "$session" ] && [ -z "$window" ]; then
    session=$(loop_current_session)
    [ -n "$session" ] || loop_usage_error "no session: pass --session S (or run inside tmux)"
  fi
  if [ -z "$session" ] && [ -n "$window" ]; then
    session=$(loop_current_session)
  fi

  local -a args=()
  if [ -n "$window" ]; then
    args+=(--window "$window")
  else
    args+=(--lane "$lane")
  fi
  [ -z "$session" ] || args+=(--session "$session")
  [ -z "$mode" ] || args+=(--mode "$mode")
  [ -z "$ready_timeout" ] || args+=(--ready-timeout "$ready_timeout")
  args+=(${flags[@]+"${flags[@]}"})
  local py=${LOOP_PYTHON:-python3}
  command -v "$py" >/dev/null 2>&1 || loop_die "python3 is required but was not found on PATH" 1
  # lib/codecache.py runs dispatch (and the lane_status it uses) from compiled code kept in a private
  # cache directory, never in a __pycache__ beside the source (lib/codeboot.py, imported through
  # common.sh's LOOP_CODEBOOT, starts codecache itself from that cache).
  local cache=${LOOP_LANE_STATUS_CACHE_DIR:-${TMPDIR:-/tmp}/loop-lane-status-${UID}}
  local -a run=("$py" -S -c "$LOOP_CODEBOOT" "$LOOP_LIB_DIR" "$cache/code" "fsread,lane_status,dispatch")
  if [ -n "$file" ]; then
    [ -r "$file" ] || loop_die "cannot read payload file: $file" 1
    exec ${run[@]+"${run[@]}"} ${args[@]+"${args[@]}"} --payload-file "$file"
  elif [ "$have_payload" = 1 ] && [ "$payload" = "-" ]; then
    exec ${run[@]+"${run[@]}"} ${args[@]+"${args[@]}"} --payload-stdin
  else
    [ -n "$payload" ] || loop_usage_error "the payload is empty"
    printf '%s' "$payload" | ${run[@]+"${run[@]}"} ${args[@]+"${args[@]}"} --payload-stdin-exact
  fi
}

dispatch_main "$@"
