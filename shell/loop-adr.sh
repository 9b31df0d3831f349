#!/usr/bin/env bash
# loop-adr: draft, list, show and (human-gated) accept MADR decision records under docs/adr/.
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
LOOP_PROG=loop-adr

usage() {
  cat <<'USAGE'
Usage: loop-adr [--adr-dir D] [--project-root P] <verb> [args]

Verbs:
  new "<title>"          create docs/adr/NNNN-<slug>.md (MADR, status Proposed) and print its path;
                         numbering is safe when two `new`s run at once
  list [--json]          the decision ledger, oldest first; --json prints {contract_version, adr_dir,
                         adrs: [{id, status, title, path, file, date, verify_record, canary_record,
                         rollback, supersedes, superseded_by, acceptable, gate_problems, error}]}
  show <id>              print the record
  accept <id> [--yes]    mark it Accepted, gated: the frontmatter must link a verify_record and a
                         rollback or canary_record (a relative path must exist, relative to the project
                         root or the ADR folder; URLs pass as written) and the status must be Proposed.
                         On a terminal it shows the record and asks for confirmation unless --yes;
                         without a terminal the caller is taken to have confirmed (the deck asks first).
                         Always refused when called from an AI lane, whatever the flags and the
                         environment: an AI harness among the caller's process ancestors, or a tmux
                         pane among them whose lane is an AI lane (@loop_lane_harness, or an agent's
                         own process); also refused when that pane cannot be found, or the ancestry
                         cannot be read under tmux. TMUX, TMUX_PANE and LOOP_TMUX_SOCKET decide nothing.
  reject <id> [--yes]    mark a Proposed record Rejected (same AI-lane refusal and confirmation)
  supersede <id> --by <id2> [--yes]
                         mark <id> Superseded (superseded_by: <id2>'s file); <id2> gets supersedes:
  <id> is the number (7 or 0007) or the file name.

Options:
  --adr-dir D          the ADR folder (default: LOOP_ADR_DIR, else <project-root>/docs/adr)
  --project-root P     the operated project (default: the current directory); inside a lane's git
                       worktree (<P>/.loop/worktrees/<s>/<w>) it is the project <P> the worktree belongs to
  --yes                skip the terminal confirmation (never skips the gate or the AI-lane refusal)
  -h, --help           this help

Automation never runs accept: agents draft ADRs, a human accepts them.
Exit: 0 ok; 1 refused, not found or failed; 2 usage.
USAGE
}

# adr_confirm QUESTION: on a terminal ask; 0 when the answer is yes.
adr_confirm() {
  local answer=""
  printf '%s [y/N] ' "$1" >&2
  IFS= read -r answer || answer=""
  case $answer in
    y | Y | yes | YES | Yes) return 0 ;;
  esac
  return 1
}

adr_on_terminal() {
  [ -t 0 ] && [ -t 2 ]
}

adr_main() {
  local adr_dir=${LOOP_ADR_DIR:-} root="." yes=0 verb="" by="" json=0
  local -a pos=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        exit 0
        ;;
      --adr-dir | --project-root | --by)
        loop_need_value "$1" $#
        case $1 in
          --adr-dir) adr_dir=$2 ;;
          --project-root) root=$2 ;;
          --by) by=$2 ;;
        esac
        shift 2
        ;;
      --yes | -y)
        yes=1
        shift
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
        if [ -z "$verb" ]; then
          verb=$1
        else
          pos+=("$1")
        fi
        shift
        ;;
    esac
  done
  [ -n "$verb" ] || loop_usage_error "give a verb: new, list, show, accept, reject or supersede"
  [ -d "$root" ] || loop_die "project root not found: $root" 1
  # a lane in a git worktree files its ADRs in the project's docs/adr, not on its own branch
  root=$(loop_main_root "$root")
  [ -n "$adr_dir" ] || adr_dir=$root/docs/adr
  local npos=${#pos[@]}
  local -a g=(--adr-dir "$adr_dir" --project-root "$root")
  if [ "$json" = 1 ] && [ "$verb" != list ]; then
    loop_usage_error "--json goes with list"
  fi
  if [ -n "$by" ] && [ "$verb" != supersede ]; then
    loop_usage_error "--by goes with supersede"
  fi
  case $verb in
    new)
      [ "$npos" = 1 ] || loop_usage_error "usage: loop-adr new \"<title>\""
      loop_py adr ${g[@]+"${g[@]}"} new "${pos[0]}"
      ;;
    list)
      [ "$npos" = 0 ] || loop_usage_error "list takes no arguments"
      if [ "$json" = 1 ]; then
        loop_py adr ${g[@]+"${g[@]}"} list --json
      else
        loop_py adr ${g[@]+"${g[@]}"} list
      fi
      ;;
    show)
      [ "$npos" = 1 ] || loop_usage_error "usage: loop-adr show <id>"
      loop_py adr ${g[@]+"${g[@]}"} show "${pos[0]}"
      ;;
    accept | reject)
      [ "$npos" = 1 ] || loop_usage_error "usage: loop-adr $verb <id> [--yes]"
      loop_require_human "$verb"
      local id=${pos[0]}
      if [ "$verb" = accept ]; then
        local problems rc=0
        problems=$(loop_py adr ${g[@]+"${g[@]}"} gate "$id" 2>&1) || rc=$?
        if [ "$rc" != 0 ]; then
          [ -z "$problems" ] || printf '%s\n' "$problems" >&2
          # 3: the gate's problems are listed above; 1 (not found, unreadable) and 2 (usage) said why already
          [ "$rc" = 3 ] || exit "$rc"
          loop_die "refusing to accept ADR $id: the gate does not pass (see above)" 1
        fi
      fi
      if [ "$yes" = 0 ] && adr_on_terminal; then
        loop_py adr ${g[@]+"${g[@]}"} show "$id" >&2
        local what
        what=$(loop_py adr ${g[@]+"${g[@]}"} title "$id")
        adr_confirm "$verb ADR $what?" || loop_die "not confirmed; ADR $id left as it was" 1
      fi
      loop_py adr ${g[@]+"${g[@]}"} "$verb" "$id"
      ;;
    supersede)
      [ "$npos" = 1 ] && [ -n "$by" ] || loop_usage_error "usage: loop-adr supersede <id> --by <id2>"
      loop_require_human supersede
      if [ "$yes" = 0 ] && adr_on_terminal; then
        local old new
        old=$(loop_py adr ${g[@]+"${g[@]}"} title "${pos[0]}")
        new=$(loop_py adr ${g[@]+"${g[@]}"} title "$by")
        adr_confirm "mark ADR $old superseded by $new?" || loop_die "not confirmed; nothing changed" 1
      fi
      loop_py adr ${g[@]+"${g[@]}"} supersede "${pos[0]}" --by "$by"
      ;;
    *) loop_usage_error "unknown verb: $verb" ;;
  esac
}

adr_main "$@"
