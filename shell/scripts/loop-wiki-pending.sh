#!/usr/bin/env bash
# loop-wiki-pending: summarise the mail waiting to be ingested into the ops-wiki (or just count it).
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
LOOP_PROG=loop-wiki-pending

usage() {
  cat <<'USAGE'
Usage: loop-wiki-pending [--project-root P] [--mailbox-dir D] [--quiet] [--limit N]

Summarises the pending mail (messages in the mailbox not yet acked into processed/), oldest first:
a count line, then one line per message with its file name, sender -> recipient and subject
(quoted, as data). For prompts and cron.

Options:
  --project-root P   the operated project (default: the current directory)
  --mailbox-dir D    the mailbox (default: <project-root>/.loop/messages)
  --quiet            print only the number of pending messages, a bare integer
  --limit N          list at most N messages (default 50); the rest are counted
  -h, --help         this help

A missing mailbox counts as empty. Exit: 0 ok; 1 failure; 2 usage.
USAGE
}

pending_main() {
  local root="." mailbox="" quiet=0 limit=""
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --project-root | --mailbox-dir | --limit)
        loop_need_value "$1" $#
        case $1 in
          --project-root) root=$2 ;;
          --mailbox-dir) mailbox=$2 ;;
          --limit) limit=$2 ;;
        esac
        shift 2
        ;;
      --quiet)
        quiet=1
        shift
        ;;
      *) loop_usage_error "unknown argument: $1" ;;
    esac
  done
  [ -d "$root" ] || loop_die "project root not found: $root" 1
  local label=""
  if [ -z "$mailbox" ]; then
    mailbox=$root/.loop/messages
    label=.loop/messages
  else
    label=$mailbox
  fi
  if [ -n "$limit" ]; then
    case $limit in
      "" | *[!0-9]* | 0) loop_usage_error "--limit needs a positive whole number" ;;
    esac
  fi
  local -a args=(--prog "$LOOP_PROG" pending --mailbox-dir "$mailbox" --label "$label")
  [ -z "$limit" ] || args+=(--limit "$limit")
  [ "$quiet" = 0 ] || args+=(--quiet)
  loop_py checkpoint ${args[@]+"${args[@]}"}
}

pending_main "$@"
