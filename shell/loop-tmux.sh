#!/usr/bin/env bash
# loop-tmux: boot the six-window loop session (coord, web, infra, validate, ops, docs) and add/list/drop lanes.
set -euo pipefail
# every cd below runs with CDPATH='' (an exported CDPATH makes cd print and jump); it is not unset here,
# since the tmux server this may start hands its environment to the lanes

# Resolve our own directory through symlinks without forking (as loop-lane-status does): the engine runs
# `list-lanes` on every cycle, so each $(...) would show in its latency.
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
LOOP_LIB_DIR=$LOOP_SELF_DIR/lib
LOOP_SHELL_ROOT=$LOOP_SELF_DIR
# shellcheck source=lib/common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=loop-tmux

# list-lanes --session S [--json], which `loop-engine once` runs beside its own start-up, goes straight to
# lib/lane_list.py from here: bash reads a script one command at a time, so the rest of this file and the
# harness registry it sources (~1,400 lines) are never parsed. Any other form of list-lanes (--help, no
# --session, a usage error) returns here and is answered by tmux_list_lanes below, as every other verb.
tmux_list_lanes_early() {
  local session='' json=0
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --session)
        [ $# -ge 2 ] || return 0
        session=$2
        shift 2
        ;;
      --json)
        json=1
        shift
        ;;
      *) return 0 ;;
    esac
  done
  [ -n "$session" ] || return 0
  if [ "$json" = 1 ]; then
    loop_exec_cached lane_list list --session "$session" --json
  fi
  loop_exec_cached lane_list list --session "$session"
}
if [ "${1:-}" = list-lanes ]; then
  tmux_list_lanes_early "$@"
fi

# shellcheck source=lib/harness-registry.sh
. "$LOOP_LIB_DIR/harness-registry.sh"

usage() {
  cat <<'EOF'
Usage: loop-tmux [up] [boot options]
       loop-tmux add-lane [--session S] --window W (--harness H | --cmd C) [--model M] [--repo P]
                 [--role R] [--kind standing|worker] [--worktree] [--auto-approve] [--sandbox]
                 [--wait-ready [--ready-timeout SECS]]
       loop-tmux list-lanes [--session S] [--json]
       loop-tmux drop-lane [--session S] --window W [--force]

Boot (the default action; "up" names it explicitly) creates the session's six windows:
  coord     loop-digest.sh in redraw mode (the preset default)
  web       the primary-repo AI lane            infra   the secondary-repo AI lane
  validate  two panes: watcher (left), adhoc (right)
  ops       two panes: health probe (top), log tail (bottom)
  docs      the synthesis / memory lane
Booting a session that already exists only creates the windows it lacks (no duplicates).

Boot options:
  --project NAME            project name (the default session name)
  --session S               tmux session name (default: --project, else the project root's basename)
  --project-root DIR        the primary repo (default: the current directory)
  --infra-root DIR          the secondary repo (default: the project root)
  --worktree-web DIR        run web + validate in DIR instead of the project root (env LOOP_WORKTREE_WEB)
  --worktree-infra DIR      run infra in DIR instead of the infra root (env LOOP_WORKTREE_INFRA)
                            (both are checked before anything starts: a missing directory fails)
  --state-file F            passed to the coord digest (--state-file)
  --mailbox-dir D           passed to the coord digest (--mailbox-dir)
  --preset P                pi-claude (default), all-pi, all-claude, validation-only, monitor
  --coord-cmd C  --web-cmd C  --infra-cmd C  --docs-cmd C
  --validate-left-cmd C  --validate-right-cmd C  --ops-top-cmd C  --ops-bottom-cmd C
                            a lane's command (beats the preset; '' leaves the lane empty)
  --validate-cmd C          the watcher the preset puts in validate-left
  --gateway-health-cmd C    the health probe the preset puts in ops-top
  --log-stream-cmd C        the log tail the preset puts in ops-bottom
  --lane-config P           lane composition YAML (lib/lane-config-resolver.sh; needs PyYAML); its
                            host overlay <base>.<hostname -s>.yaml is merged on top, lane by lane
  --print-cmds              resolve everything and print the plan; touch no tmux (--json: as JSON)
  --no-attach               do not attach / switch to the session afterwards
  --boot-check [SECS]       after SECS (default 8) print "boot-check: ok|FAIL <lane> ..." per AI lane;
                            FAIL = the harness fell back to a bare shell (or the pane died); any
                            FAIL makes the exit status 1
  --auto-restart            start the session's lane watchdog (lib/lane-health.sh start: detached,
                            one per state dir; tune it with the LOOP_LANE_HEALTH_* variables)
  --sandbox-all             run every lane but coord sandboxed (as add-lane --sandbox; lane-config
                            `sandbox: true` sandboxes one lane)
  --state-dir DIR           watchdog state + lane-restarts.jsonl (env LOOP_TMUX_STATE_DIR; default
                            <project-root>/.loop/sessions/<session>)
Precedence, last wins: preset < --*-cmd flags < lane-config.

Presets      coord       web     infra   validate-left    ops-top             ops-bottom
  pi-claude  loop-digest pi      claude  --validate-cmd   --gateway-health-cmd --log-stream-cmd
  all-pi     loop-digest pi      pi      --validate-cmd   --gateway-health-cmd --log-stream-cmd
  all-claude loop-digest claude  claude  --validate-cmd   --gateway-health-cmd --log-stream-cmd
  validation-only  -     -       -       --validate-cmd   -                   -
  monitor    loop-digest -       -       -                --gateway-health-cmd --log-stream-cmd
Unset lanes still get their window/pane: a plain shell.

add-lane creates window W running harness H (resolved through lib/harness-registry.sh, with --model
and --auto-approve applied per harness) or the command C, in --repo P (default: the project root).
W must match ^[A-Za-z][A-Za-z0-9_-]+$, be new in the session and not be one of the pane lanes
validate-left, validate-right, ops-top, ops-bottom. The window is tagged @loop_lane=1
and its metadata kept in @loop_lane_* window options (harness, model, role, cmd, kind, repo, launch,
isolation, branch); a --cmd that starts a registered harness (its name or process names; never a
generic binary such as python3) records that harness.
  --kind standing|worker    stored as @loop_lane_kind (default worker)
  --worktree                give the lane its own git worktree <repo>/.loop/worktrees/<session>/<W>
                            on branch loop/<session>/<W> (a kept tree of that window is reused), record
                            loops.<W>.branch in the project's .loop/orchestrator-state.json, and run
                            `uv sync` there when it has a pyproject.toml (LOOP_WORKTREE_SKIP_VENV skips it)
  --wait-ready              block until loop-lane-status says the lane is idle
  --sandbox                 run the lane's agent under bubblewrap (Linux; see README "Sandboxed lanes"):
                            its tree read-write but docs/adr/, tasks/, ops-wiki/checkpoint.md,
                            lane-config*.yaml and .loop/; mail only through .loop/mail-drop/<W>/; no
                            tmux socket, no ~/.ssh. Stored as @loop_lane_sandbox=1; every launch (the
                            watchdog's restarts too) is sandboxed. No bwrap (or macOS): exit 1
  --ready-timeout SECS      how long --wait-ready waits (default 60); a timeout exits 1 (the window stays)
                            and runs `harness-registry.sh health <harness>`: a word other than ok
                            says the lane errored (`health=<word>` in the message).
                            A lane that died, or whose harness is back at a bare shell for
                            LOOP_DISPATCH_SHELL_GRACE_S (3), ends the wait at once (exit 1)
drop-lane kills window W and ends every process its panes started (descendants, their process groups
and sessions, and detached ones that carry the pane in their environment: SIGTERM, then SIGKILL after
LOOP_LANE_KILL_GRACE_S, default 1); base windows need --force. A worktree lane's worktree is removed when
clean and kept (with a warning) when it holds uncommitted changes.
list-lanes prints a table; --json prints {contract_version, session, generated_at, lanes: [{window,
window_id, harness, model, role, cmd, base, kind, repo, isolation, branch, sandbox}]} (loop_schemas.LaneList;
base = not made by add-lane; unset values are null; a two-pane window reports its active pane's
lane options).
--session defaults to the current tmux session.

Environment: LOOP_TMUX_SOCKET (tmux server socket), LOOP_TMUX_STATE_DIR, LOOP_WORKTREE_WEB,
LOOP_WORKTREE_INFRA, LOOP_TMUX_READY_TIMEOUT (default --ready-timeout; else LANE_READY_TIMEOUT, else 60),
LOOP_PYTHON,
LOOP_WORKTREE_SKIP_VENV, LOOP_SANDBOX_BWRAP (the bwrap binary of sandboxed lanes; default bwrap on PATH).
Exit: 0 ok; 1 failure (missing directory, bad lane-config or PyYAML missing, tmux error, boot-check
FAIL, a sandboxed lane without a usable bwrap, duplicate or unknown window, base window without --force, --wait-ready timeout); 2 usage.
EOF
}

# ---- helpers ---------------------------------------------------------------------------------------

# lane_abs_dir FLAG DIR: print DIR as an absolute path; fail when it is not a directory.
lane_abs_dir() {
  local flag=$1 dir=$2
  [ -n "$dir" ] || loop_die "$flag: empty path"
  [ -d "$dir" ] || loop_die "$flag: $dir is not a directory"
  (CDPATH='' cd "$dir" && pwd) || loop_die "$flag: cannot enter $dir"
}

# lane_abs_path PATH: PATH made absolute against the current directory (it need not exist).
lane_abs_path() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(pwd)" "$1" ;;
  esac
}

lane_one_line() {
  local s=$1 nl='
'
  printf '%s\n' "${s//$nl/\\n}"
}

# lane_session_default S: S, else the current tmux session, else a usage error.
lane_session_default() {
  local s=$1
  if [ -z "$s" ]; then
    s=$(loop_current_session)
  fi
  [ -n "$s" ] || loop_usage_error "--session is required outside tmux"
  printf '%s\n' "$s"
}

# lane_valid_window NAME: NAME matches ^[A-Za-z][A-Za-z0-9_-]+$ (checked byte-wise in the C locale).
lane_valid_window() {
  local LC_ALL=C
  case $1 in
    [A-Za-z]?*) ;;
    *) return 1 ;;
  esac
  case ${1#?} in
    *[!A-Za-z0-9_-]*) return 1 ;;
  esac
  return 0
}

# lane_is_number X: a non-negative decimal number.
lane_is_number() {
  case $1 in
    '' | *[!0-9.]* | *.*.* | .) return 1 ;;
    *) return 0 ;;
  esac
}

# ---- boot ------------------------------------------------------------------------------------------

tmux_boot() {
  local project='' session='' root='' infra='' wt_web=${LOOP_WORKTREE_WEB:-} wt_infra=${LOOP_WORKTREE_INFRA:-}
  local state_file='' mailbox='' preset=pi-claude lane_config='' state_dir=${LOOP_TMUX_STATE_DIR:-}
  local print_cmds=0 as_json=0 no_attach=0 boot_check='' auto_restart=0
  local pyargs=()
  while [ $# -gt 0 ]; do
    case $1 in
      --version) loop_version ;;
      -h | --help)
        usage
        return 0
        ;;
      --project) loop_need_value "$1" $#; project=$2; shift 2 ;;
      --session) loop_need_value "$1" $#; session=$2; shift 2 ;;
      --project-root) loop_need_value "$1" $#; root=$2; shift 2 ;;
      --infra-root) loop_need_value "$1" $#; infra=$2; shift 2 ;;
      --worktree-web) loop_need_value "$1" $#; wt_web=$2; [ -n "$2" ] || loop_die "--worktree-web: empty path"; shift 2 ;;
      --worktree-infra) loop_need_value "$1" $#; wt_infra=$2; [ -n "$2" ] || loop_die "--worktree-infra: empty path"; shift 2 ;;
      --state-file) loop_need_value "$1" $#; state_file=$2; shift 2 ;;
      --mailbox-dir) loop_need_value "$1" $#; mailbox=$2; shift 2 ;;
      --preset) loop_need_value "$1" $#; preset=$2; shift 2 ;;
      --lane-config) loop_need_value "$1" $#; lane_config=$2; shift 2 ;;
      --state-dir) loop_need_value "$1" $#; state_dir=$2; [ -n "$2" ] || loop_usage_error "--state-dir: empty path"; shift 2 ;;
      --coord-cmd | --web-cmd | --infra-cmd | --docs-cmd | --validate-cmd | --validate-left-cmd | \
        --validate-right-cmd | --gateway-health-cmd | --log-stream-cmd | --ops-top-cmd | --ops-bottom-cmd)
        loop_need_value "$1" $#
        pyargs+=("$1=$2")
        shift 2
        ;;
      --print-cmds) print_cmds=1; shift ;;
      --json) as_json=1; shift ;;
      --no-attach) no_attach=1; shift ;;
      --sandbox-all) pyargs+=(--sandbox-all); shift ;;
      --auto-restart) auto_restart=1; shift ;;
      --boot-check)
        boot_check=8
        if [ $# -ge 2 ] && lane_is_number "$2"; then
          boot_check=$2
          shift
        fi
        shift
        ;;
      --*) loop_usage_error "unknown option '$1'" ;;
      *) loop_usage_error "unexpected argument '$1'" ;;
    esac
  done
  case $preset in
    pi-claude | all-pi | all-claude | validation-only | monitor) ;;
    *) loop_usage_error "unknown preset '$preset' (pi-claude, all-pi, all-claude, validation-only, monitor)" ;;
  esac
  [ "$as_json" = 0 ] || [ "$print_cmds" = 1 ] || loop_usage_error "--json needs --print-cmds"

  root=$(lane_abs_dir --project-root "${root:-.}")
  if [ -n "$infra" ]; then infra=$(lane_abs_dir --infra-root "$infra"); else infra=$root; fi
  if [ -n "$wt_web" ]; then wt_web=$(lane_abs_dir --worktree-web "$wt_web"); fi
  if [ -n "$wt_infra" ]; then wt_infra=$(lane_abs_dir --worktree-infra "$wt_infra"); fi
  if [ -n "$lane_config" ]; then
    [ -f "$lane_config" ] || loop_die "--lane-config: $lane_config: no such file"
    lane_config=$(lane_abs_path "$lane_config")
  fi
  if [ -n "$state_file" ]; then state_file=$(lane_abs_path "$state_file"); fi
  if [ -n "$mailbox" ]; then mailbox=$(lane_abs_path "$mailbox"); fi

  if [ -z "$session" ]; then
    session=${project:-$(basename "$root")}
    session=$(printf '%s' "$session" | LC_ALL=C tr -c 'A-Za-z0-9_-' '_')
  fi
  case $session in
    '' | *[:.]* | *'
'*) loop_usage_error "bad session name '$session' (no ':', '.' or newline)" ;;
  esac
  if [ -z "$state_dir" ]; then state_dir=$root/.loop/sessions/$session; fi
  state_dir=$(lane_abs_path "$state_dir")

  pyargs+=("--session=$session" "--project-root=$root" "--infra-root=$infra" "--self-dir=$LOOP_SELF_DIR"
    "--state-dir=$state_dir" "--preset=$preset")
  if [ -n "$wt_web" ]; then pyargs+=("--worktree-web=$wt_web"); fi
  if [ -n "$wt_infra" ]; then pyargs+=("--worktree-infra=$wt_infra"); fi
  if [ -n "$state_file" ]; then pyargs+=("--state-file=$state_file"); fi
  if [ -n "$mailbox" ]; then pyargs+=("--mailbox-dir=$mailbox"); fi
  if [ -n "$lane_config" ]; then pyargs+=("--lane-config=$lane_config"); fi

  if [ "$print_cmds" = 1 ]; then
    if [ "$as_json" = 1 ]; then pyargs+=(--json); fi
    LANE_CONFIG_PROJECT_ROOT=$root loop_py lanes boot --print-cmds ${pyargs[@]+"${pyargs[@]}"}
    return $?
  fi

  local why
  why=$(mkdir -p "$state_dir" 2>&1) || loop_die "cannot create the state dir $state_dir (${why##*: })"
  LANE_CONFIG_PROJECT_ROOT=$root loop_py lanes boot ${pyargs[@]+"${pyargs[@]}"}

  if [ "$auto_restart" = 1 ]; then
    lane_start_watchdog "$session" "$state_dir"
  fi
  local rc=0
  if [ -n "$boot_check" ]; then
    lane_boot_check "$session" "$boot_check" || rc=$?
  fi
  if [ "$no_attach" = 0 ]; then
    lane_attach "$session"
  fi
  return "$rc"
}

# lane_start_watchdog SESSION STATE_DIR: detach the singleton watchdog (lib/lane-health.sh start).
lane_start_watchdog() {
  bash "$LOOP_LIB_DIR/lane-health.sh" start --session "$1" --state-dir "$2" ||
    loop_die "--auto-restart: the watchdog did not start"
}

# lane_boot_check SESSION SECS: after SECS, one line per AI lane; 1 when any fell back to a shell.
lane_boot_check() {
  local session=$1 secs=$2 tmp lane pane cmd dead harness launch state ai fails=0 checked=0
  sleep "$secs"
  tmp=$(mktemp "${TMPDIR:-/tmp}/loop-tmux.XXXXXX")
  if ! loop_py lanes panes --session "$session" >"$tmp"; then
    rm -f "$tmp"
    loop_die "boot-check: cannot list the panes of $session"
  fi
  while IFS= read -r -d '' lane && IFS= read -r -d '' pane && IFS= read -r -d '' cmd &&
    IFS= read -r -d '' dead && IFS= read -r -d '' harness && IFS= read -r -d '' launch &&
    IFS= read -r -d '' state && IFS= read -r -d '' ai; do
    # ai (lanes.py panes): the one answer to "is this an AI lane?" (lane_status.Registry.ai_harness):
    # launched as an AI harness, or running an agent's own process; never because it runs python3
    [ -n "$ai" ] || continue
    harness=$ai
    checked=$((checked + 1))
    # state (lanes.py panes): dead | shell | launching | running; a shell whose foreground group runs more (a
    # harness behind a wrapper script that did not exec) is running, as loop-lane-status and the watchdog judge
    if [ "$state" = dead ] || [ "$dead" = 1 ]; then
      printf 'boot-check: FAIL %s (%s): the pane is dead; launch: %s\n' \
        "$(lane_one_line "$lane")" "$pane" "$(lane_one_line "$launch")"
      fails=$((fails + 1))
    elif [ "$state" = launching ]; then
      printf 'boot-check: FAIL %s (%s): %s has not started after %ss (its launching shell still runs); launch: %s\n' \
        "$(lane_one_line "$lane")" "$pane" "$harness" "$secs" "$(lane_one_line "$launch")"
      fails=$((fails + 1))
    elif [ "$state" = shell ]; then
      local said
      said=$(loop_py lanes launch-error "--pane=$pane" 2>/dev/null || true)
      printf 'boot-check: FAIL %s (%s): %s fell back to a bare shell (%s)%s; launch: %s\n' \
        "$(lane_one_line "$lane")" "$pane" "$harness" "$cmd" "${said:+; the pane says: $said}" "$(lane_one_line "$launch")"
      fails=$((fails + 1))
    else
      printf 'boot-check: ok %s (%s): %s running (%s)\n' "$(lane_one_line "$lane")" "$pane" "$harness" "$cmd"
    fi
  done <"$tmp"
  rm -f "$tmp"
  printf 'boot-check: %d AI lane(s) checked, %d FAIL\n' "$checked" "$fails"
  [ "$fails" -eq 0 ]
}

# lane_launch_is_shell LAUNCH: 0 when the launch's program is a shell (bash, zsh, ...): a shell lane.
lane_launch_is_shell() {
  local first
  first=$(printf '%s\n' "$1" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]].*$//')
  case ${first##*/} in
    bash | zsh | sh | dash | ksh | mksh | ash | yash | posh | fish | tcsh | csh) return 0 ;;
  esac
  return 1
}

lane_attach() {
  local session=$1
  if [ -n "${TMUX:-}" ]; then
    loop_tmux switch-client -t "=$session" || loop_warn "could not switch to $session"
  elif [ -t 0 ] && [ -t 1 ]; then
    loop_tmux attach-session -t "=$session"
  else
    loop_warn "not attaching (no terminal); attach with: tmux attach -t $session"
  fi
}

# ---- add-lane / list-lanes / drop-lane ------------------------------------------------------------

tmux_add_lane() {
  local session='' window='' harness='' cmd='' model='' repo='' role='' kind=worker worktree=0 auto=0
  local wait_ready=0 timeout=${LOOP_TMUX_READY_TIMEOUT:-${LANE_READY_TIMEOUT:-}} have_harness=0 have_cmd=0 sandbox=0
  [ -n "$timeout" ] || timeout=60
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; return 0 ;;
      --session) loop_need_value "$1" $#; session=$2; shift 2 ;;
      --window) loop_need_value "$1" $#; window=$2; shift 2 ;;
      --harness) loop_need_value "$1" $#; harness=$2; have_harness=1; shift 2 ;;
      --cmd) loop_need_value "$1" $#; cmd=$2; have_cmd=1; shift 2 ;;
      --model) loop_need_value "$1" $#; model=$2; shift 2 ;;
      --repo) loop_need_value "$1" $#; repo=$2; shift 2 ;;
      --role) loop_need_value "$1" $#; role=$2; shift 2 ;;
      --kind) loop_need_value "$1" $#; kind=$2; shift 2 ;;
      --worktree) worktree=1; shift ;;
      --auto-approve) auto=1; shift ;;
      --sandbox) sandbox=1; shift ;;
      --wait-ready) wait_ready=1; shift ;;
      --ready-timeout) loop_need_value "$1" $#; timeout=$2; shift 2 ;;
      *) loop_usage_error "add-lane: unknown argument '$1'" ;;
    esac
  done
  session=$(lane_session_default "$session")
  [ -n "$window" ] || loop_usage_error "add-lane: --window is required"
  lane_valid_window "$window" ||
    loop_usage_error "add-lane: bad window name '$(lane_one_line "$window")' (letter first, then letters, digits, _ or -; at least 2 characters)"
  case $window in
    # lanes of the two-pane base windows: loop-lane-status and loop-dispatch resolve these names to a
    # pane of the validate / ops window, so a window of that name could never be addressed as a lane
    validate-left | validate-right | ops-top | ops-bottom)
      loop_usage_error "add-lane: '$window' names a pane of a base window (validate, ops); choose another window name" ;;
  esac
  if [ "$have_harness" = "$have_cmd" ]; then
    loop_usage_error "add-lane: give exactly one of --harness or --cmd"
  fi
  if [ "$have_harness" = 1 ]; then
    harness_known "$harness" || loop_usage_error "add-lane: unknown harness '$harness' (known: ${REGISTRY_HARNESSES:-see harness-registry.sh list})"
  else
    [ -n "$cmd" ] || loop_usage_error "add-lane: --cmd is empty"
  fi
  case $kind in standing | worker) ;; *) loop_usage_error "add-lane: --kind must be standing or worker" ;; esac
  lane_is_number "$timeout" || loop_usage_error "add-lane: --ready-timeout must be a number of seconds"
  loop_tmux has-session -t "=$session" 2>/dev/null || loop_die "no tmux session '$session'"

  if [ -n "$repo" ]; then
    repo=$(lane_abs_dir --repo "$repo")
  else
    repo=$(loop_tmux show-options -v -t "=$session:" @loop_project_root 2>/dev/null || true)
    [ -n "$repo" ] && [ -d "$repo" ] || repo=$(pwd)
  fi
  if loop_py lanes find --session "$session" --window "$window" >/dev/null 2>&1; then
    loop_die "window '$(lane_one_line "$window")' already exists in session $session"
  fi

  local launch='' cwd=$repo isolation=shared branch='' wt=''
  if [ "$have_harness" = 1 ]; then
    if [ "$auto" = 1 ]; then
      launch=$(harness_resolve_launch_auto_approve "$harness" "$model")
    else
      launch=$(harness_resolve_launch "$harness" "$model")
    fi
  else
    launch=$cmd
  fi
  # made: the worktree is new (a failed add removes it again); a reused one holds a predecessor's work
  local made=0
  if [ "$worktree" = 1 ]; then
    lane_make_worktree "$session" "$window" "$repo"
    cwd=$_LANE_WT_CWD wt=$_LANE_WT_PATH branch=$_LANE_WT_BRANCH isolation=worktree made=$_LANE_WT_MADE
    lane_worktree_venv "$wt"
  fi
  local out opts=()
  opts=("--opt=kind=$kind" "--opt=isolation=$isolation" "--opt=repo=$repo" "--opt=cwd=$cwd")
  if [ "$have_harness" = 1 ]; then opts+=("--opt=harness=$harness"); fi
  if [ -n "$model" ]; then opts+=("--opt=model=$model"); fi
  if [ -n "$role" ]; then opts+=("--opt=role=$role"); fi
  if [ "$have_cmd" = 1 ]; then opts+=("--opt=cmd=$cmd"); fi
  if [ "$auto" = 1 ]; then opts+=("--opt=auto_approve=1"); fi
  if [ "$sandbox" = 1 ]; then opts+=("--opt=sandbox=1"); fi
  if [ -n "$branch" ]; then opts+=("--opt=branch=$branch" "--opt=worktree=$wt"); fi
  local rc=0
  out=$(loop_py lanes add-window "--session=$session" "--window=$window" "--cwd=$cwd" \
    "--launch=$launch" ${opts[@]+"${opts[@]}"}) || rc=$?
  if [ "$rc" != 0 ]; then
    # lanes.py said why on stderr (one line); its status is ours
    if [ "$made" = 1 ]; then git -C "$repo" worktree remove --force "$wt" >/dev/null 2>&1 || true; fi
    exit "$rc"
  fi
  local window_id=${out%% *} pane_id=${out#* }
  # a command that does not exist (or exits at once) leaves a bare shell that would pass for an idle lane:
  # wait until it runs (LOOP_TMUX_LAUNCH_CHECK_S, default 10; a slow-starting one passes), else fail and
  # take the window away again. A --cmd that is itself a shell is a shell lane: nothing to check.
  local check_s=${LOOP_TMUX_LAUNCH_CHECK_S:-} checked=1
  [ -n "$check_s" ] || check_s=10
  case $check_s in 0 | 0.0 | 0.00) checked=0 ;; esac # 0: no launch check (--wait-ready judges later)
  if [ "$checked" = 1 ] && [ -n "$launch" ] && ! lane_launch_is_shell "$launch"; then
    local why='' lrc=0
    why=$(loop_py lanes launch-check "--pane=$pane_id" "--timeout=$check_s" 2>&1) || lrc=$?
    if [ "$lrc" != 0 ]; then
      loop_tmux kill-window -t "$window_id" >/dev/null 2>&1 || true
      if [ "$made" = 1 ]; then git -C "$repo" worktree remove --force "$wt" >/dev/null 2>&1 || true; fi
      why=${why#loop-tmux: }
      loop_die "add-lane: lane $(lane_one_line "$window") not added: ${why:-its command did not start}; launch: $(lane_one_line "$launch")"
    fi
  fi
  if [ -n "$branch" ]; then
    lane_record_branch "$session" "$window" "$branch" "$_LANE_WT_TOP"
  fi
  printf 'loop-tmux: added lane %s (%s, %s) in %s: %s\n' "$(lane_one_line "$window")" "$window_id" \
    "$pane_id" "$(lane_one_line "$cwd")" "$(lane_one_line "${launch:-(a plain shell)}")"
  if [ "$wait_ready" = 1 ]; then
    lane_wait_ready "$session" "$pane_id" "$timeout"
  fi
}

# lane_git_worktree_add TOP ARGS...: `git worktree add`, its failure reported as one line (git's own reason).
lane_git_worktree_add() {
  local top=$1 err
  shift
  if ! err=$(git -C "$top" worktree add --quiet "$@" 2>&1 >/dev/null); then
    err=$(printf '%s\n' "$err" | sed -n '$p')
    loop_die "add-lane --worktree: git worktree add failed: ${err#fatal: }"
  fi
}

# lane_make_worktree SESSION WINDOW REPO: sets _LANE_WT_PATH, _LANE_WT_BRANCH and _LANE_WT_CWD.
lane_make_worktree() {
  local session=$1 window=$2 repo=$3 top rel
  case $window in
    '' | .* | -* | *[!A-Za-z0-9._-]* | *..* | *.lock)
      loop_usage_error "add-lane --worktree: window '$(lane_one_line "$window")' cannot name a branch (use letters, digits, . _ -)" ;;
  esac
  case $session in
    -* | *[!A-Za-z0-9._-]* | *..*) loop_usage_error "add-lane --worktree: session '$session' cannot name a branch" ;;
  esac
  command -v git >/dev/null 2>&1 || loop_die "add-lane --worktree: git is not installed"
  top=$(git -C "$repo" rev-parse --show-toplevel 2>/dev/null) || loop_die "add-lane --worktree: $repo is not in a git repository"
  rel=${repo#"$top"}
  _LANE_WT_BRANCH=loop/$session/$window
  _LANE_WT_PATH=$top/.loop/worktrees/$session/$window
  _LANE_WT_CWD=$_LANE_WT_PATH$rel
  git -C "$top" rev-parse --verify --quiet HEAD >/dev/null ||
    loop_die "add-lane --worktree: $top has no commit yet (a worktree branches from HEAD; commit first)"
  git check-ref-format "refs/heads/$_LANE_WT_BRANCH" || loop_usage_error "add-lane --worktree: bad branch name $_LANE_WT_BRANCH"
  _LANE_WT_TOP=$top _LANE_WT_MADE=0
  if [ -e "$_LANE_WT_PATH" ]; then
    # re-provision: the tree a predecessor lane of this window kept (uncommitted work) is reused as it is
    local head
    head=$(git -C "$_LANE_WT_PATH" rev-parse --abbrev-ref HEAD 2>/dev/null) || head=''
    [ "$head" = "$_LANE_WT_BRANCH" ] ||
      loop_die "add-lane --worktree: $_LANE_WT_PATH already exists and is not a worktree on $_LANE_WT_BRANCH"
    _LANE_WT_CWD=$_LANE_WT_PATH$rel
    [ -d "$_LANE_WT_CWD" ] || _LANE_WT_CWD=$_LANE_WT_PATH
    return 0
  fi
  git -C "$top" worktree prune >/dev/null 2>&1 || true # a tree removed by hand leaves its registration
  mkdir -p "$top/.loop/worktrees/$session" || loop_die "add-lane --worktree: cannot create $top/.loop/worktrees"
  if [ ! -e "$top/.loop/worktrees/.gitignore" ]; then
    printf '*\n' >"$top/.loop/worktrees/.gitignore"
  fi
  if git -C "$top" show-ref --verify --quiet "refs/heads/$_LANE_WT_BRANCH"; then
    lane_git_worktree_add "$top" "$_LANE_WT_PATH" "$_LANE_WT_BRANCH"
  else
    lane_git_worktree_add "$top" -b "$_LANE_WT_BRANCH" "$_LANE_WT_PATH" HEAD
  fi
  _LANE_WT_MADE=1
  [ -d "$_LANE_WT_CWD" ] || _LANE_WT_CWD=$_LANE_WT_PATH
}

# lane_worktree_venv TREE: best-effort `uv sync` in a worktree that has a pyproject.toml, so the lane's
# tools run against its own tree; skipped without uv or with LOOP_WORKTREE_SKIP_VENV set; a failure warns.
lane_worktree_venv() {
  local tree=$1
  [ -z "${LOOP_WORKTREE_SKIP_VENV:-}" ] || return 0
  [ -f "$tree/pyproject.toml" ] || return 0
  command -v uv >/dev/null 2>&1 || return 0
  (CDPATH='' cd "$tree" && uv sync --quiet </dev/null >/dev/null 2>&1) ||
    loop_warn "add-lane --worktree: uv sync in $tree failed (the lane starts without its venv)"
}

# lane_record_branch SESSION WINDOW BRANCH TOP: loops.<window>.branch in the project's ledger
# (<project>/.loop/orchestrator-state.json; the project is the session's, else the repo's top).
# lib/ledger.py merges it under the ledger's lock; a ledger it cannot read is left alone, with a warning.
lane_record_branch() {
  local session=$1 window=$2 branch=$3 top=$4 project
  project=$(loop_tmux show-options -v -t "=$session:" @loop_project_root 2>/dev/null || true)
  [ -n "$project" ] && [ -d "$project" ] || project=$top
  loop_py ledger set-branch "--state-file=$project/.loop/orchestrator-state.json" "--window=$window" \
    "--branch=$branch" || loop_warn "add-lane --worktree: branch $branch not recorded in the ledger"
}

# lane_wait_ready SESSION PANE SECS: wait until the lane is idle (lanes.py wait-ready says why it never
# will be: a dead pane, or an AI lane back at a bare shell, ends the wait before SECS).
lane_wait_ready() {
  local pane=$2 secs=$3
  loop_py lanes wait-ready "--pane=$pane" "--timeout=$secs" || exit $?
}

tmux_list_lanes() {
  local session='' as_json=0
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; return 0 ;;
      --session) loop_need_value "$1" $#; session=$2; shift 2 ;;
      --json) as_json=1; shift ;;
      *) loop_usage_error "list-lanes: unknown argument '$1'" ;;
    esac
  done
  [ -n "$session" ] || session=$(lane_session_default "")
  if [ "$as_json" = 1 ]; then
    loop_py_cached lane_list list --session "$session" --json
  else
    loop_py_cached lane_list list --session "$session"
  fi
}

tmux_drop_lane() {
  local session='' window='' force=0
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; return 0 ;;
      --session) loop_need_value "$1" $#; session=$2; shift 2 ;;
      --window) loop_need_value "$1" $#; window=$2; shift 2 ;;
      --force) force=1; shift ;;
      *) loop_usage_error "drop-lane: unknown argument '$1'" ;;
    esac
  done
  session=$(lane_session_default "$session")
  [ -n "$window" ] || loop_usage_error "drop-lane: --window is required"
  local tmp window_id base isolation wt branch
  tmp=$(mktemp "${TMPDIR:-/tmp}/loop-tmux.XXXXXX")
  if ! loop_py lanes find --session "$session" --window "$window" >"$tmp"; then
    rm -f "$tmp"
    exit 1
  fi
  {
    IFS= read -r -d '' window_id
    IFS= read -r -d '' base
    IFS= read -r -d '' isolation
    IFS= read -r -d '' wt
    IFS= read -r -d '' branch
  } <"$tmp" || true
  rm -f "$tmp"
  if [ "$base" = 1 ] && [ "$force" = 0 ]; then
    loop_die "'$(lane_one_line "$window")' is a base window (not made by add-lane); pass --force to drop it"
  fi
  # The lane's whole process tree goes, not only the pane: a harness may leave detached processes
  # behind (codex app-server) that kill-window alone would not reach.
  loop_py lanes end-window --window-id "$window_id" || loop_die "could not kill window $window_id"
  printf 'loop-tmux: dropped lane %s (%s)\n' "$(lane_one_line "$window")" "$window_id"
  if [ "$isolation" = worktree ] && [ -n "$wt" ]; then
    lane_drop_worktree "$wt" "$branch"
  fi
}

# lane_drop_worktree PATH BRANCH: remove a clean worktree; keep one holding uncommitted work.
lane_drop_worktree() {
  local wt=$1 branch=$2 dirty common main
  if [ ! -d "$wt" ]; then
    loop_warn "worktree $wt is already gone"
    return 0
  fi
  if ! dirty=$(git -C "$wt" status --porcelain 2>/dev/null); then
    loop_warn "kept worktree $wt: git status failed there"
    return 0
  fi
  if [ -n "$dirty" ]; then
    loop_warn "kept worktree $wt (branch $branch): it holds uncommitted changes"
    return 0
  fi
  common=$(CDPATH='' && cd "$wt" && cd "$(git rev-parse --git-common-dir)" && pwd) || common=$wt/.git
  main=$(dirname "$common")
  if git -C "$main" worktree remove "$wt" >/dev/null 2>&1; then
    printf 'loop-tmux: removed clean worktree %s (branch %s kept)\n' "$wt" "$branch"
  else
    loop_warn "could not remove worktree $wt (branch $branch)"
  fi
}

# ---- main ------------------------------------------------------------------------------------------

tmux_main() {
  case ${1:-} in
    --version) loop_version ;;
    up) shift; tmux_boot "$@" ;;
    add-lane) shift; tmux_add_lane "$@" ;;
    list-lanes) shift; tmux_list_lanes "$@" ;;
    drop-lane) shift; tmux_drop_lane "$@" ;;
    *) tmux_boot "$@" ;;
  esac
}

tmux_main "$@"
