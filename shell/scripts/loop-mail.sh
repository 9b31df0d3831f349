#!/usr/bin/env bash
# loop-mail: send, ack and list mailbox messages (.loop/messages/YYYYMMDD-HHMMSS-<from>-to-<to>.md).
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
LOOP_PROG=loop-mail

usage() {
  cat <<'USAGE'
Usage: loop-mail [--project-root P] [--mailbox-dir D] <verb> [args]

Verbs:
  send --from L --to L --subject S (--body TEXT | --body-file F | -)
                 write a new message atomically as <mailbox>/YYYYMMDD-HHMMSS-<from>-to-<to>.md with
                 frontmatter subject/from/to/ts; a second message in the same second gets .2.md, .3.md,
                 ... (never overwrites, also not a name already acked). `-` or `--body-file -` reads
                 the body from stdin. Prints the new path.
  ack FILE       move a pending message (its name or path) to <mailbox>/processed/; prints the new path
  list [--json]  pending messages, oldest first: "<file><TAB><subject>" lines, or
                 {contract_version, mailbox_dir, pending: [{file, from, to, subject, mtime}],
                  processed_count}
  count          the number of pending messages
  pending        one "- <file>: <subject>" line per pending message
  sweep          deliver the mail sandboxed lanes dropped in <mailbox>/../mail-drop/<lane>/ (from: forced
                 to <lane>; an invalid file goes to mail-drop/.quarantine/); prints the new paths.
                 ack, list, count and pending sweep first, as do the digest and the engine

Inside a sandboxed lane (loop-tmux add-lane --sandbox) the mailbox is read-only: send writes into the
lane's drop folder (LOOP_SANDBOX_MAIL_DROP, set by the sandbox) and prints that path; the next sweep
delivers it.

Options (before or after the verb):
  --project-root P   the operated project (default: the current directory); inside a lane's git
                     worktree (<P>/.loop/worktrees/<s>/<w>) it is the project <P> the worktree belongs to
  --mailbox-dir D    the mailbox (default: <project-root>/.loop/messages)
  -h, --help         this help

Lane names are letters, digits, '_' and '-', starting with a letter. The subject is one line.
Exit: 0 ok; 1 failure (bad lane name, no such message, unwritable mailbox); 2 usage.
USAGE
}

mail_main() {
  local root="." box="" verb="" from="" to="" subject="" body="" body_file="" body_set=0 json=0
  local have_from=0 have_to=0 have_subject=0
  local -a pos=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --project-root | --mailbox-dir | --dir | --from | --to | --subject | --body | --body-file)
        loop_need_value "$1" $#
        case $1 in
          --project-root) root=$2 ;;
          --mailbox-dir | --dir) box=$2 ;;
          --from)
            from=$2
            have_from=1
            ;;
          --to)
            to=$2
            have_to=1
            ;;
          --subject)
            subject=$2
            have_subject=1
            ;;
          --body)
            [ "$body_set" = 0 ] || loop_usage_error "give one of --body, --body-file or -"
            body=$2
            body_set=1
            ;;
          --body-file)
            [ "$body_set" = 0 ] || loop_usage_error "give one of --body, --body-file or -"
            body_file=$2
            body_set=2
            ;;
        esac
        shift 2
        ;;
      --json)
        json=1
        shift
        ;;
      -)
        [ "$body_set" = 0 ] || loop_usage_error "give one of --body, --body-file or -"
        body_file=-
        body_set=2
        shift
        ;;
      -*) loop_usage_error "unknown option: $1" ;;
      *)
        if [ -z "$verb" ]; then
          verb=$1
        else
          pos+=("$1")
        fi
        shift
        ;;
    esac
  done
  [ -n "$verb" ] || loop_usage_error "give a verb: send, ack, list, count, pending or sweep"
  if [ -z "$box" ]; then
    # a lane in a git worktree writes to (and reads) the project's mailbox, not the worktree's
    root=$(loop_main_root "$root")
    box=${root%/}/.loop/messages
    box=${box#./}
  fi
  local npos=${#pos[@]}
  case $verb in
    send)
      [ "$npos" = 0 ] || loop_usage_error "send takes no positional arguments (got '${pos[0]}')"
      [ "$have_from" = 1 ] && [ "$have_to" = 1 ] && [ "$have_subject" = 1 ] ||
        loop_usage_error "send needs --from, --to and --subject"
      [ -d "$root" ] || loop_die "project root not found: $root" 1
      case $body_set in
        0) loop_py mail --dir "$box" send --from "$from" --to "$to" --subject "$subject" --body "" ;;
        1) loop_py mail --dir "$box" send --from "$from" --to "$to" --subject "$subject" --body "$body" ;;
        2)
          if [ "$body_file" = - ]; then
            loop_py mail --dir "$box" send --from "$from" --to "$to" --subject "$subject" --body-stdin
          else
            [ -r "$body_file" ] || loop_die "cannot read the body file: $body_file" 1
            loop_py mail --dir "$box" send --from "$from" --to "$to" --subject "$subject" --body-file "$body_file"
          fi
          ;;
      esac
      ;;
    ack)
      [ "$npos" = 1 ] || loop_usage_error "usage: loop-mail ack FILE"
      loop_py mail --dir "$box" ack "${pos[0]}"
      ;;
    list)
      [ "$npos" = 0 ] || loop_usage_error "list takes no arguments"
      if [ "$json" = 1 ]; then
        loop_py mail --dir "$box" list --json
      else
        loop_py mail --dir "$box" list
      fi
      ;;
    count | pending | sweep)
      [ "$npos" = 0 ] || loop_usage_error "$verb takes no arguments"
      loop_py mail --dir "$box" "$verb"
      ;;
    *) loop_usage_error "unknown verb: $verb" ;;
  esac
}

mail_main "$@"
