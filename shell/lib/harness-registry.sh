#!/usr/bin/env bash
# harness-registry.sh: the per-harness invocation contract (launch, flags, one-shot template, screen patterns).
#
# Run it as a CLI, or source it for the harness_* functions (sourcing spawns nothing and sets no shell
# options). The data lives here, in bash, one block per harness in _registry_load; every other layer
# (lane-config-resolver, loop-lane-status, the Python engine) reads it through `list --json`.
#
# Verification: each block says `verified=true` only when its launch/auto-approve/model flags and its
# one-shot template were checked against the harness's own documentation or source (see the notes
# field, which names what is and is not confirmed). Screen patterns are best-effort markers of each
# TUI (and of the fake agent in shell/tests/fake_agent.py, which mimics them); they are never used to
# decide anything destructive. Patterns use only syntax that both `grep -E` and Python `re` accept.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
fi

# Where this file was run or sourced from, absolute (no process is spawned for it).
_REGISTRY_SOURCE=${BASH_SOURCE[0]}
case $_REGISTRY_SOURCE in /*) ;; *) _REGISTRY_SOURCE=$PWD/$_REGISTRY_SOURCE ;; esac

# The twelve harnesses, in the contract's order.
REGISTRY_HARNESSES="pi claude opencode codex cursor-agent hermes droid forge amp openclaw mprocs shell"
# Harnesses added within CONTRACT v1: known everywhere and in `list --json`, but not in the plain `list`,
# which stays exactly the twelve above.
REGISTRY_EXTRA_HARNESSES="demo"
# Every field, in the order `fields` prints them.
# The original's eighteen fields come first, in its order (expected_process, paste_enter_delay and
# non_interactive_flag are derived from process_names, paste_delay and oneshot_template), then this
# registry's own.
REGISTRY_FIELDS="launch_cmd model_flag expected_process auto_approve_flag paste_enter_delay skill_dir non_interactive_flag oneshot_template capability_tags cost_tier autonomy_class auth_requirement health_probe drift_pins model_failover isolation working_marker idle_marker name binary kind idle_pattern busy_pattern approval_pattern welcome_pattern error_pattern process_names paste_delay clear_cmd clear_input_keys input_pattern verified notes"
# The governance fields (`roster` prints them; every one may be "" for a harness that does not set it).
REGISTRY_GOVERNANCE_FIELDS="capability_tags cost_tier autonomy_class auth_requirement health_probe drift_pins model_failover isolation"

# _registry_load NAME: assign the harness's fields to the CALLER's locals (binary kind launch_cmd …).
# Returns 1 for an unknown name. Callers declare the locals first (dynamic scope; nothing leaks).
_registry_load() {
  # Shared defaults (an AI harness whose patterns come from its own block).
  binary=$1 kind=ai launch_cmd=$1 auto_approve_flag='' model_flag='' oneshot_template=''
  idle_pattern='' busy_pattern='esc to interrupt' approval_pattern='' welcome_pattern='' error_pattern=''
  process_names=$1 paste_delay=0.5 clear_cmd='' clear_input_keys='' input_pattern='' verified=false notes='' working_marker='' idle_marker=''
  # Governance (see `roster`/`health`): an empty autonomy_class is derived below from auto_approve_flag.
  skill_dir='' capability_tags='' cost_tier=medium autonomy_class='' auth_requirement=account health_probe=''
  drift_pins=med model_failover='' isolation=shared
  case $1 in
    pi)
      model_flag=--model
      oneshot_template='pi -p {prompt}'
      idle_pattern='↑[0-9]+ ↓[0-9]+|[0-9.]+%/[0-9.]+[kM]? \(auto\)'
      busy_pattern='Working\.\.\.|esc to interrupt'
      # pi 0.73: " ⠇ Working..." while it works; its footer shows the context use ("0.0%/128k (auto)")
      # from the start, the token counters only after a first exchange.
      working_marker='esc to interrupt|^ ?(⠋|⠙|⠹|⠸|⠼|⠴|⠦|⠧|⠇|⠏|⠂|⠐) '
      idle_marker='↑[0-9]+ ↓[0-9]+|[0-9.]+%/[0-9.]+[kM]? \(auto\)'
      approval_pattern='Allow tool call'
      welcome_pattern='^ ?pi v[0-9]'
      error_pattern='^ ?Error: '
      skill_dir=.pi/skills capability_tags=product,synthesis
      verified=true
      notes='pi coding agent (earendil-works/pi, npm @mariozechner/pi-coding-agent): --model takes provider/id or a fuzzy id; -p/--print runs one prompt and exits. pi asks no per-tool approval, so there is no auto-approve flag (--approve only trusts project extensions). idle = the footer token counters.'
      ;;
    claude)
      auto_approve_flag=--dangerously-skip-permissions
      model_flag=--model
      oneshot_template='claude -p {prompt}'
      idle_pattern='\? for shortcuts|shift\+tab to cycle|bypass permissions on|accept edits on'
      busy_pattern='esc to interrupt|ctrl\+c to interrupt'
      approval_pattern='Do you want to proceed\?|Do you want to make this edit|Do you want to create|Would you like to proceed\?'
      welcome_pattern='Welcome to Claude Code'
      error_pattern='API Error: [0-9]+|usage limit reached|Claude usage limit'
      # Claude Code 2.1: a timer on the spinner line ("✻ Cogitating… (1m 36s · ↑ 2.3k tokens · esc to
      # interrupt)") and a braille spinner in the pane title ("⠐ Claude Code") while it works; "✳ Claude
      # Code" when idle. A bare "esc to interrupt" (a hint left on screen) is no sign of work.
      working_marker='\([0-9]+[hms]( [0-9]+[ms])*.*(esc to interrupt|tokens|thinking)|^(⠋|⠙|⠹|⠸|⠼|⠴|⠦|⠧|⠇|⠏|⠂|⠐) '
      # The permission-mode footer; "? for shortcuts" is the default mode's (Claude Code 2.1 shows
      # "? for shortcuts · ← for agents" at a ready prompt in default mode).
      idle_marker='accept edits on|bypass permissions on|\? for shortcuts'
      skill_dir=.claude/skills capability_tags=brain,ingest,code,ops cost_tier=high drift_pins=low
      paste_delay=1.0
      clear_cmd=/clear
      # On Escape Claude Code puts the interrupted prompt back into its input box; loop-dispatch
      # --interrupt sends these keys (repeatedly) until input_pattern shows the box empty.
      clear_input_keys='C-e C-u BSpace'
      input_pattern='^[│ ]*[>❯] ?(.*)$'
      verified=true
      # Claude Code 2.1.x sets its process title to its version (anthropics/claude-code#24398, #49852), so
      # tmux's pane_current_command reads e.g. "2.1.34", not "claude": process_names cannot name it; lanes
      # carry @loop_lane_harness, and the watchdog only asks whether the pane fell back to a shell.
      notes='Claude Code: --dangerously-skip-permissions, --model, -p/--print (documented). Offers hooks (Stop/Notification/UserPromptSubmit); see shell/hooks/. /clear starts a fresh conversation. Recent builds title their process with the version (e.g. 2.1.34), which is what tmux shows as the pane command.'
      ;;
    opencode)
      auto_approve_flag=--dangerously-skip-permissions
      model_flag=--model
      oneshot_template='opencode run {prompt}'
      idle_pattern='enter send|ctrl\+p commands'
      busy_pattern='esc interrupt|esc to interrupt'
      approval_pattern='Permission required'
      welcome_pattern='opencode v[0-9]'
      error_pattern='AI_APICallError'
      clear_cmd=/new
      capability_tags=code,bulk cost_tier=low
      verified=true
      notes='opencode (anomalyco/opencode): -m/--model provider/model and "opencode run [message]" are documented. --dangerously-skip-permissions exists on "run" and (with the alias --yolo) on the TUI since mid-2026; older builds reject it on the TUI (OPENCODE_PERMISSION={"*":"allow"} is the env equivalent). /new starts a fresh session.'
      ;;
    codex)
      auto_approve_flag=--dangerously-bypass-approvals-and-sandbox
      model_flag=--model
      oneshot_template='codex exec {prompt}'
      idle_pattern='\? for shortcuts|context left|⏎ send'
      busy_pattern='esc to interrupt'
      approval_pattern='Would you like to run the following command\?|Would you like to make the following edits\?|Allow command\?'
      welcome_pattern='OpenAI Codex'
      # codex 0.171 draws a failed request as "■ {json…}" ("■ Conversation interrupted" is no error).
      error_pattern='stream error|unexpected status [0-9]+|^■ \{'
      # codex 0.171 drops its "Working (3s • esc to interrupt)" line once text streams; the pane title
      # keeps a braille spinner ("⠇ <prompt>") for the whole turn.
      # "Working (3s • esc to interrupt)": the timer is the sign, a bare "esc to interrupt" is not.
      working_marker='\([0-9]+[hms]( [0-9]+[ms])*.*(esc to interrupt|tokens|thinking)|^(⠋|⠙|⠹|⠸|⠼|⠴|⠦|⠧|⠇|⠏|⠂|⠐) '
      # codex 0.171 draws its composer at once but takes no Enter until its footer names the agents
      # ("← for agents · ? for shortcuts"), a few seconds later.
      idle_marker='← for agents|context left|⏎ send'
      paste_delay=0.8
      clear_cmd=/new
      capability_tags=code,brain cost_tier=high drift_pins=high
      verified=true
      notes='OpenAI Codex CLI: -m/--model, "codex exec PROMPT" (non-interactive) and --dangerously-bypass-approvals-and-sandbox (alias --yolo; --full-auto is the sandboxed, still-asking alternative) are documented. /new starts a fresh chat.'
      ;;
    cursor-agent)
      auto_approve_flag=--force
      model_flag=--model
      oneshot_template='cursor-agent -p {prompt}'
      idle_pattern='/ commands · @ files'
      busy_pattern='ctrl\+c to stop|esc to interrupt'
      approval_pattern='Run this command\?'
      welcome_pattern='Cursor Agent'
      error_pattern='Connection failed'
      capability_tags=code
      verified=true
      notes='Cursor CLI (binary cursor-agent, also installed as agent): -p/--print, --model and --force (alias --yolo: run every action without approval) are documented. Recent builds also want --trust for headless runs in an untrusted workspace.'
      ;;
    hermes)
      auto_approve_flag=--yolo
      model_flag=--model
      oneshot_template='hermes chat --oneshot -q {prompt}'
      idle_pattern='\? for help'
      busy_pattern='Working…|esc to interrupt'
      approval_pattern='Allow command\?'
      welcome_pattern='starting…'
      error_pattern='Error: API request failed'
      capability_tags=code,experiment drift_pins=high
      verified=true
      notes='Hermes Agent (NousResearch): --yolo, -m/--model and "hermes chat --oneshot -q PROMPT" (answer and exit; -q alone seeds an interactive session) are in its CLI reference. Screen patterns are generic (unverified against the real TUI).'
      ;;
    droid)
      auto_approve_flag=--skip-permissions-unsafe
      model_flag=--model
      oneshot_template='droid exec {prompt}'
      idle_pattern='\? for help'
      busy_pattern='Working…|esc to interrupt'
      approval_pattern='Allow command\?'
      welcome_pattern='starting…'
      error_pattern='Error: API request failed'
      capability_tags=code
      notes='Factory droid: "droid exec PROMPT", -m/--model and --skip-permissions-unsafe are in the droid exec reference; that the interactive TUI takes the same two flags is unverified. droid exec is read-only unless given --auto low|medium|high. Screen patterns are generic (unverified).'
      ;;
    forge)
      oneshot_template='forge -p {prompt}'
      idle_pattern='\? for help'
      busy_pattern='Working…|esc to interrupt'
      approval_pattern='Allow command\?'
      welcome_pattern='starting…'
      error_pattern='Error: API request failed'
      capability_tags=code cost_tier=low
      notes='Forge (antinomyhq/forgecode): "forge -p PROMPT" runs one prompt headless and tool calls are auto-approved by default (no approval flag exists). No model flag is documented (the model is chosen with /model or its config), so the model flag is empty (unverified). Screen patterns are generic (unverified).'
      ;;
    amp)
      auto_approve_flag=--dangerously-allow-all
      oneshot_template='amp -x {prompt}'
      idle_pattern='\? for help'
      busy_pattern='Working…|esc to interrupt'
      approval_pattern='Allow command\?'
      welcome_pattern='starting…'
      error_pattern='Error: API request failed'
      capability_tags=search,research cost_tier=high drift_pins=high
      notes='Amp (Sourcegraph): -x/--execute is in its CLI flag reference; --dangerously-allow-all is the flag Amp itself names when execute mode refuses a tool, and other orchestrators pass it (not read in the official manual here). Amp picks its own models (-m selects a mode, not a model), so there is no model flag. Screen patterns are generic (unverified).'
      ;;
    openclaw)
      launch_cmd='openclaw tui'
      oneshot_template='openclaw agent --agent main --message {prompt}'
      idle_pattern='\? for help'
      busy_pattern='Working…|esc to interrupt'
      approval_pattern='Allow command\?'
      welcome_pattern='starting…'
      error_pattern='Error: API request failed'
      capability_tags=ops,fleet auth_requirement=gateway
      notes='OpenClaw: "openclaw agent --agent <id> --message TEXT" runs one agent turn and "openclaw tui" opens the terminal UI (both documented). openclaw tui has no model flag (only --thinking; openclaw agent has --model) and approvals are configured (tools.exec.mode), not flagged, so both flags are empty. Screen patterns are generic (unverified).'
      ;;
    mprocs)
      kind=tool
      busy_pattern=
      paste_delay=0.2
      capability_tags=dashboard cost_tier=none autonomy_class=none auth_requirement=none drift_pins=none
      verified=true
      notes='mprocs: a process runner TUI (a tool lane, not an AI harness): no model, approval or one-shot mode. The watchdog never restarts it.'
      ;;
    demo)
      # The demo loop's simulated agent (lib/demo_agent.py, stdlib python): no AI, and it says so.
      # binary python3 identifies nothing (any python3 program has it): the demo agent is told apart by
      # its lane's @loop_lane_harness and its own process name (process_names), see CONTRACT "Lane identity"
      binary=python3
      launch_cmd="python3 $(registry_shell_quote "$(_registry_lib_dir)/demo_agent.py")"
      idle_pattern='demo agent ready'
      busy_pattern='demo agent working|esc to interrupt'
      process_names='loop-demo-agent'
      paste_delay=0.2
      # No model behind it: nothing to pay, sign in to or drift.
      cost_tier=none autonomy_class=none auth_requirement=none drift_pins=none
      verified=true
      notes='demo: a simulated agent for the demo loop (shell/lib/demo_agent.py). It shows an idle prompt, spins for a few seconds on a prompt (LOOP_DEMO_WORK_S), then mails a report to coord (re:<ask-id> for an ask, task: T<NNNN> for a task). No model, approval or one-shot mode.'
      ;;
    shell)
      binary='sh'
      kind=shell
      launch_cmd=
      busy_pattern=
      process_names='bash zsh sh fish dash ksh mksh tcsh csh nu login'
      paste_delay=0.1
      capability_tags=probe,watch cost_tier=none autonomy_class=none auth_requirement=none drift_pins=none
      verified=true
      notes='A plain shell lane: nothing is launched (the pane keeps its login shell) unless the lane has a cmd. process_names are the shells harness_is_bare_shell_process recognises (a leading "-" of a login shell is ignored).'
      ;;
    *)
      return 1
      ;;
  esac
  # Only a harness with a real auto-approve flag can run unattended.
  if [ -z "$autonomy_class" ]; then
    if [ -n "$auto_approve_flag" ]; then autonomy_class=unattended; else autonomy_class=attended; fi
  fi
  return 0
}

# harness_known NAME: true when NAME is one of the twelve harnesses (or an added one such as demo).
# A name is a lowercase word of letters, digits and "-": anything else (a space, a glob) is unknown.
harness_known() {
  case ${1:-} in
    '' | *[!a-z0-9-]*) return 1 ;;
  esac
  case " $REGISTRY_HARNESSES $REGISTRY_EXTRA_HARNESSES " in
    *" ${1:-} "*) [ -n "${1:-}" ] ;;
    *) return 1 ;;
  esac
}

# harness_field NAME FIELD: print one field (process_names space-separated). 1 = unknown name, 2 = unknown field.
harness_field() {
  local name=${1:-} field=${2:-}
  local binary kind launch_cmd auto_approve_flag model_flag oneshot_template idle_pattern busy_pattern
  local approval_pattern welcome_pattern error_pattern process_names paste_delay clear_cmd clear_input_keys input_pattern verified notes
  local working_marker idle_marker skill_dir capability_tags cost_tier autonomy_class auth_requirement
  local health_probe drift_pins model_failover isolation
  harness_known "$name" || return 1
  _registry_load "$name" || return 1
  case $field in
    name) printf '%s\n' "$name" ;;
    binary) printf '%s\n' "$binary" ;;
    kind) printf '%s\n' "$kind" ;;
    launch_cmd) printf '%s\n' "$launch_cmd" ;;
    auto_approve_flag) printf '%s\n' "$auto_approve_flag" ;;
    model_flag) printf '%s\n' "$model_flag" ;;
    oneshot_template) printf '%s\n' "$oneshot_template" ;;
    idle_pattern) printf '%s\n' "$idle_pattern" ;;
    busy_pattern) printf '%s\n' "$busy_pattern" ;;
    approval_pattern) printf '%s\n' "$approval_pattern" ;;
    welcome_pattern) printf '%s\n' "$welcome_pattern" ;;
    error_pattern) printf '%s\n' "$error_pattern" ;;
    process_names) printf '%s\n' "$process_names" ;;
    paste_delay) printf '%s\n' "$paste_delay" ;;
    clear_cmd) printf '%s\n' "$clear_cmd" ;;
    clear_input_keys) printf '%s\n' "$clear_input_keys" ;;
    input_pattern) printf '%s\n' "$input_pattern" ;;
    verified) printf '%s\n' "$verified" ;;
    notes) printf '%s\n' "$notes" ;;
    working_marker) printf '%s\n' "$working_marker" ;;
    idle_marker) printf '%s\n' "$idle_marker" ;;
    expected_process) printf '%s\n' "${process_names// /|}" ;;
    paste_enter_delay) printf '%s\n' "$paste_delay" ;;
    skill_dir) printf '%s\n' "$skill_dir" ;;
    non_interactive_flag) printf '%s\n' "$(_registry_oneshot_flag "$oneshot_template")" ;;
    capability_tags) printf '%s\n' "$capability_tags" ;;
    cost_tier) printf '%s\n' "$cost_tier" ;;
    autonomy_class) printf '%s\n' "$autonomy_class" ;;
    auth_requirement) printf '%s\n' "$auth_requirement" ;;
    health_probe) printf '%s\n' "$health_probe" ;;
    drift_pins) printf '%s\n' "$drift_pins" ;;
    model_failover) printf '%s\n' "$model_failover" ;;
    isolation) printf '%s\n' "$isolation" ;;
    *) return 2 ;;
  esac
}

# _registry_oneshot_flag TEMPLATE: what the one-shot template puts between the binary and {prompt}
# ("claude -p {prompt}" -> "-p", "codex exec {prompt}" -> "exec"; "" without a template).
_registry_oneshot_flag() {
  local t=${1-}
  case $t in
    *' '*) ;;
    *) return 0 ;;
  esac
  t=${t#* }
  t=${t%'{prompt}'}
  t=${t%' '}
  case $t in '{prompt}') t='' ;; esac
  printf '%s' "$t"
}

# harness_binary_path NAME: the absolute path of the harness's binary on PATH (1 when absent or unknown).
harness_binary_path() {
  local binary kind launch_cmd auto_approve_flag model_flag oneshot_template idle_pattern busy_pattern
  local approval_pattern welcome_pattern error_pattern process_names paste_delay clear_cmd clear_input_keys input_pattern verified notes
  local working_marker idle_marker skill_dir capability_tags cost_tier autonomy_class auth_requirement
  local health_probe drift_pins model_failover isolation
  harness_known "${1:-}" || return 1
  _registry_load "$1" || return 1
  command -v "$binary" 2>/dev/null || return 1
}

# registry_shell_quote STRING: quote a word for a POSIX shell exactly like Python's shlex.quote.
registry_shell_quote() {
  local s=${1-} out LC_ALL=C
  if [ -z "$s" ]; then
    printf "''\n"
    return 0
  fi
  case $s in
    *[!A-Za-z0-9@%+=:,./_-]*) ;;
    *)
      printf '%s\n' "$s"
      return 0
      ;;
  esac
  out="'"
  while :; do
    case $s in
      *\'*)
        out="$out${s%%\'*}'\"'\"'"
        s=${s#*\'}
        ;;
      *)
        out="$out$s'"
        break
        ;;
    esac
  done
  printf '%s\n' "$out"
}

# _registry_launch NAME AUTO(0|1) [MODEL]: the shell command that starts the harness in a lane.
_registry_launch() {
  local name=$1 auto=$2 model=${3-} out
  local binary kind launch_cmd auto_approve_flag model_flag oneshot_template idle_pattern busy_pattern
  local approval_pattern welcome_pattern error_pattern process_names paste_delay clear_cmd clear_input_keys input_pattern verified notes
  local working_marker idle_marker skill_dir capability_tags cost_tier autonomy_class auth_requirement
  local health_probe drift_pins model_failover isolation
  harness_known "$name" || return 1
  _registry_load "$name" || return 1
  out=$launch_cmd
  if [ "$auto" = 1 ] && [ -n "$auto_approve_flag" ]; then
    out="$out $auto_approve_flag"
  fi
  if [ -n "$model" ]; then
    if [ -n "$model_flag" ] && [ -n "$launch_cmd" ]; then
      out="$out $model_flag $(registry_shell_quote "$model")"
    else
      printf 'harness-registry: warning: harness %s has no model flag; ignoring model %s\n' \
        "$name" "$(registry_shell_quote "$model")" >&2
    fi
  fi
  printf '%s\n' "$out"
}

# harness_resolve_launch NAME [MODEL]: the launch command (model applied per the harness contract).
harness_resolve_launch() {
  _registry_launch "${1:-}" 0 "${2-}"
}

# harness_resolve_launch_auto_approve NAME [MODEL]: the launch command with the auto-approve flag.
harness_resolve_launch_auto_approve() {
  _registry_launch "${1:-}" 1 "${2-}"
}

# harness_is_bare_shell_process COMMAND: true when a pane's #{pane_current_command} is a bare shell
# (bash, zsh, sh, fish, dash, ksh, tcsh, … and login shells such as -bash or a full path).
harness_is_bare_shell_process() {
  local c=${1:-} binary kind launch_cmd auto_approve_flag model_flag oneshot_template idle_pattern busy_pattern
  local approval_pattern welcome_pattern error_pattern process_names paste_delay clear_cmd clear_input_keys input_pattern verified notes
  local working_marker idle_marker skill_dir capability_tags cost_tier autonomy_class auth_requirement
  local health_probe drift_pins model_failover isolation
  c=${c##*/}
  c=${c#-}
  [ -n "$c" ] || return 1
  _registry_load shell
  case " $process_names " in
    *" $c "*) return 0 ;;
    *) return 1 ;;
  esac
}

# harness_is_ai NAME: true when NAME is a registered AI harness (not shell, not a tool such as mprocs).
harness_is_ai() {
  [ "$(harness_field "${1:-}" kind 2>/dev/null)" = ai ]
}

# ---- CLI -------------------------------------------------------------------------------------------

_registry_usage() {
  cat <<'EOF'
Usage: harness-registry.sh list [--json]
       harness-registry.sh --json
       harness-registry.sh fields <name>
       harness-registry.sh field <name> <field>
       harness-registry.sh oneshot <name>
       harness-registry.sh launch <name> [--model M] [--auto-approve]
       harness-registry.sh probe <name> [model]
       harness-registry.sh roster [--json]
       harness-registry.sh health <name> [--json]

The per-harness invocation contract. Harnesses, in order:
  pi claude opencode codex cursor-agent hermes droid forge amp openclaw mprocs shell

Verbs:
  list            the twelve names, one per line; with --json the whole registry
                  ({contract_version: 1, harnesses: [...]}, loop_schemas.HarnessRegistry)
  fields NAME     every field, one row each: the name padded to 22 columns, a space, the value
  field NAME F    one field's value (process_names space-separated)
  oneshot NAME    the headless one-shot template with a literal {prompt} placeholder; a harness
                  without a one-shot mode prints nothing and exits 1. Split it shell-style and put
                  the prompt in as ONE argv element, never through a shell.
  launch NAME     the lane launch command (--model applies the model flag, --auto-approve adds the
                  auto-approve flag)
  probe NAME [M]  is the binary on PATH? prints binary path and launch commands; exit 1 when missing
  roster          one line per harness: name present|missing tags cost autonomy auth drift ("-" =
                  empty); --json: {contract_version: 1, harnesses: [{name, present, capability_tags,
                  cost_tier, autonomy_class, auth_requirement, health_probe, drift_pins,
                  oneshot_template, model_failover, isolation, kind}]} (loop_schemas.HarnessRoster)
  health NAME     one word: ok | missing | unauthenticated | unhealthy; exit 0 only for ok. Runs the
                  harness's health_probe with bash -c, quietly, killed after
                  LOOP_HEALTH_PROBE_TIMEOUT_S (10) s; --json: {contract_version, harness, health}

Fields: name binary kind(ai|shell|tool) launch_cmd auto_approve_flag model_flag oneshot_template
  idle_pattern busy_pattern approval_pattern welcome_pattern error_pattern (ERE/Python regexes,
  empty = none) process_names paste_delay(seconds) clear_cmd clear_input_keys(tmux key names that
  empty the input box; empty = the harness does not restore an interrupted prompt) input_pattern
  (regex of the input box line, group 1 = its text) verified(true|false) notes
  working_marker idle_marker (ERE, empty = none: on a lane tagged with its harness, loop-lane-status
  prefers them to busy_pattern/idle_pattern; working_marker is also matched against the pane title)
  expected_process paste_enter_delay skill_dir non_interactive_flag (the original's names)
  capability_tags cost_tier(low|medium|high|none) autonomy_class(none|attended|unattended)
  auth_requirement(account|gateway|none) health_probe drift_pins(low|med|high|none) model_failover
  isolation(shared|worktree): governance; every field may be empty ("" and exit 0)

Sourced (". lib/harness-registry.sh"), it defines harness_known, harness_field NAME FIELD,
harness_binary_path NAME, harness_resolve_launch NAME [MODEL],
harness_resolve_launch_auto_approve NAME [MODEL], harness_is_bare_shell_process COMMAND,
harness_is_ai NAME, harness_health NAME and registry_shell_quote STRING; sourcing runs nothing else.

Exit: 0 ok; 1 unknown harness/field, no one-shot mode, binary missing (probe), health not ok; 2 usage.
EOF
}

_registry_die() {
  printf 'harness-registry: %s\n' "$1" >&2
  exit "${2:-1}"
}

# _registry_lib_dir: this file's directory, resolved through symlinks. It starts from the path taken
# when the file was run or sourced, made absolute then (_REGISTRY_SOURCE), so a later cd in the sourcing
# shell does not move it; CDPATH is ignored (an exported CDPATH=.:… makes cd print the directory).
_registry_lib_dir() {
  local src=${_REGISTRY_SOURCE:-${BASH_SOURCE[0]}} dir
  while [ -h "$src" ]; do
    dir=$(CDPATH='' cd -P "$(dirname "$src")" && pwd)
    src=$(readlink "$src")
    case $src in /*) ;; *) src=$dir/$src ;; esac
  done
  CDPATH='' cd -P "$(dirname "$src")" && pwd
}

# _registry_records: every harness's fields as unit-separated (\037) name/field/value records (\036-ended).
_registry_records() {
  local h binary kind launch_cmd auto_approve_flag model_flag oneshot_template idle_pattern busy_pattern
  local approval_pattern welcome_pattern error_pattern process_names paste_delay clear_cmd clear_input_keys input_pattern verified notes
  local working_marker idle_marker skill_dir capability_tags cost_tier autonomy_class auth_requirement
  local health_probe drift_pins model_failover isolation
  for h in $REGISTRY_HARNESSES $REGISTRY_EXTRA_HARNESSES; do
    _registry_load "$h"
    printf '%s\037%s\037%s\036' \
      "$h" name "$h" "$h" binary "$binary" "$h" kind "$kind" "$h" launch_cmd "$launch_cmd" \
      "$h" auto_approve_flag "$auto_approve_flag" "$h" model_flag "$model_flag" \
      "$h" oneshot_template "$oneshot_template" "$h" idle_pattern "$idle_pattern" \
      "$h" busy_pattern "$busy_pattern" "$h" approval_pattern "$approval_pattern" \
      "$h" welcome_pattern "$welcome_pattern" "$h" error_pattern "$error_pattern" \
      "$h" process_names "$process_names" "$h" paste_delay "$paste_delay" "$h" clear_cmd "$clear_cmd" \
      "$h" clear_input_keys "$clear_input_keys" "$h" input_pattern "$input_pattern" \
      "$h" verified "$verified" "$h" notes "$notes" \
      "$h" working_marker "$working_marker" "$h" idle_marker "$idle_marker" \
      "$h" expected_process "${process_names// /|}" "$h" paste_enter_delay "$paste_delay" \
      "$h" skill_dir "$skill_dir" "$h" non_interactive_flag "$(_registry_oneshot_flag "$oneshot_template")" \
      "$h" capability_tags "$capability_tags" "$h" cost_tier "$cost_tier" \
      "$h" autonomy_class "$autonomy_class" "$h" auth_requirement "$auth_requirement" \
      "$h" health_probe "$health_probe" "$h" drift_pins "$drift_pins" \
      "$h" model_failover "$model_failover" "$h" isolation "$isolation"
  done
}

# _registry_present NAME: true when the harness needs no binary (launch_cmd empty: the shell lane) or
# its binary is on PATH.
_registry_present() {
  [ -z "$(harness_field "$1" launch_cmd)" ] || harness_binary_path "$1" >/dev/null
}

# _registry_roster_records: the twelve harnesses' roster fields as records (see _registry_records).
_registry_roster_records() {
  local h f present
  for h in $REGISTRY_HARNESSES; do
    if _registry_present "$h"; then present=true; else present=false; fi
    printf '%s\037%s\037%s\036' "$h" name "$h" "$h" present "$present" "$h" kind "$(harness_field "$h" kind)" \
      "$h" oneshot_template "$(harness_field "$h" oneshot_template)"
    for f in $REGISTRY_GOVERNANCE_FIELDS; do
      printf '%s\037%s\037%s\036' "$h" "$f" "$(harness_field "$h" "$f")"
    done
  done
}

# _registry_roster_plain: one line per harness, `name present|missing tags cost autonomy auth drift`
# ("-" stands for an empty value, so every line has seven words).
_registry_roster_plain() {
  local h present tags
  for h in $REGISTRY_HARNESSES; do
    if _registry_present "$h"; then present=present; else present=missing; fi
    tags=$(harness_field "$h" capability_tags)
    printf '%s %s %s %s %s %s %s\n' "$h" "$present" "${tags:--}" \
      "$(_registry_or_dash "$(harness_field "$h" cost_tier)")" \
      "$(_registry_or_dash "$(harness_field "$h" autonomy_class)")" \
      "$(_registry_or_dash "$(harness_field "$h" auth_requirement)")" \
      "$(_registry_or_dash "$(harness_field "$h" drift_pins)")"
  done
}

_registry_or_dash() {
  printf '%s' "${1:--}"
}

# _registry_run_probe COMMAND SECONDS: run a health probe with `bash -c`, quietly (no stdin, output
# dropped), in its own process group; past SECONDS (a whole number) the group is killed and the probe
# fails with 124. Returns the probe's exit status.
_registry_run_probe() {
  local probe=$1 limit=$2 pid waited=0 rc
  limit=$((limit * 10))
  set -m
  bash -c "$probe" </dev/null >/dev/null 2>&1 &
  pid=$!
  set +m
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$limit" ]; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || :
      sleep 0.2
      kill -KILL -- "-$pid" 2>/dev/null || :
      wait "$pid" 2>/dev/null || :
      return 124
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# harness_health NAME: print one word (ok|missing|unauthenticated|unhealthy); return 0 only for ok,
# 1 otherwise (and for an unknown name, which prints nothing). The probe is the registry's own
# health_probe field, run by _registry_run_probe within LOOP_HEALTH_PROBE_TIMEOUT_S (default 10) s.
harness_health() {
  local name=${1:-} probe auth limit=${LOOP_HEALTH_PROBE_TIMEOUT_S-} rc=0
  harness_known "$name" || return 1
  if ! _registry_present "$name"; then
    printf 'missing\n'
    return 1
  fi
  probe=$(harness_field "$name" health_probe)
  if [ -z "$probe" ]; then
    printf 'ok\n'
    return 0
  fi
  case $limit in '' | *[!0-9]* | 0) limit=10 ;; esac
  _registry_run_probe "$probe" "$limit" || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf 'ok\n'
    return 0
  fi
  auth=$(harness_field "$name" auth_requirement)
  if [ "$rc" -ne 124 ] && { [ "$auth" = account ] || [ "$auth" = gateway ]; }; then
    printf 'unauthenticated\n'
  else
    printf 'unhealthy\n'
  fi
  return 1
}

# _registry_python VERB: registry.py VERB on stdin's records (the JSON forms).
_registry_python() {
  local py=${LOOP_PYTHON:-python3} lib
  lib=$(_registry_lib_dir)
  command -v "$py" >/dev/null 2>&1 || _registry_die "python3 is required for --json but was not found on PATH"
  "$py" "$lib/registry.py" "$1"
}

_registry_json() {
  _registry_records | _registry_python json
}

_registry_need_known() {
  [ -n "${1:-}" ] || _registry_die "missing harness name (try --help)" 2
  harness_known "$1" || _registry_die "unknown harness '$1' (known: $REGISTRY_HARNESSES)" 1
}

_registry_main() {
  local verb=${1:-}
  case $verb in
    -h | --help | help)
      _registry_usage
      return 0
      ;;
    '') _registry_die "missing verb (try --help)" 2 ;;
    --json)
      [ $# -eq 1 ] || _registry_die "--json takes no other arguments" 2
      _registry_json
      ;;
    list)
      shift
      case ${1:-} in
        '')
          # shellcheck disable=SC2086
          printf '%s\n' $REGISTRY_HARNESSES
          ;;
        --json) [ $# -eq 1 ] || _registry_die "list: unexpected argument '$2'" 2; _registry_json ;;
        *) _registry_die "list: unexpected argument '$1'" 2 ;;
      esac
      ;;
    fields)
      [ $# -eq 2 ] || _registry_die "usage: fields <name>" 2
      _registry_need_known "$2"
      local f
      for f in $REGISTRY_FIELDS; do
        printf '%-22s %s\n' "$f" "$(harness_field "$2" "$f")"
      done
      ;;
    roster)
      case $# in
        1) _registry_roster_plain ;;
        2)
          [ "$2" = --json ] || _registry_die "roster: unexpected argument '$2'" 2
          _registry_roster_records | _registry_python roster
          ;;
        *) _registry_die "usage: roster [--json]" 2 ;;
      esac
      ;;
    health)
      local json=0 hname='' word rc=0
      shift
      while [ $# -gt 0 ]; do
        case $1 in
          --json) json=1 ;;
          -*) _registry_die "health: unknown option '$1'" 2 ;;
          *) [ -z "$hname" ] || _registry_die "health: unexpected argument '$1'" 2; hname=$1 ;;
        esac
        shift
      done
      [ -n "$hname" ] || _registry_die "usage: health <name> [--json]" 2
      harness_known "$hname" || _registry_die "unknown harness (known: $REGISTRY_HARNESSES)" 1
      word=$(harness_health "$hname") || rc=$?
      if [ "$json" = 1 ]; then
        printf '%s\037%s\037%s\036%s\037%s\037%s\036' "$hname" harness "$hname" "$hname" health "$word" |
          _registry_python health
      else
        printf '%s\n' "$word"
      fi
      return "$rc"
      ;;
    field)
      [ $# -eq 3 ] || _registry_die "usage: field <name> <field>" 2
      _registry_need_known "$2"
      harness_field "$2" "$3" || _registry_die "unknown field '$3' (fields: $REGISTRY_FIELDS)" 1
      ;;
    oneshot)
      [ $# -eq 2 ] || _registry_die "usage: oneshot <name>" 2
      _registry_need_known "$2"
      local tpl
      tpl=$(harness_field "$2" oneshot_template)
      [ -n "$tpl" ] || return 1
      printf '%s\n' "$tpl"
      ;;
    launch)
      shift
      local name='' model='' auto=0
      while [ $# -gt 0 ]; do
        case $1 in
          --model) [ $# -ge 2 ] || _registry_die "--model needs a value" 2; model=$2; shift 2 ;;
          --auto-approve) auto=1; shift ;;
          -*) _registry_die "launch: unknown option '$1'" 2 ;;
          *) [ -z "$name" ] || _registry_die "launch: unexpected argument '$1'" 2; name=$1; shift ;;
        esac
      done
      _registry_need_known "$name"
      _registry_launch "$name" "$auto" "$model"
      ;;
    probe)
      [ $# -ge 2 ] && [ $# -le 3 ] || _registry_die "usage: probe <name> [model]" 2
      _registry_need_known "$2"
      local name=$2 model=${3-} bin path
      bin=$(harness_field "$name" binary)
      printf 'harness: %s (%s)\n' "$name" "$(harness_field "$name" kind)"
      printf 'launch: %s\n' "$(_registry_launch "$name" 0 "$model")"
      printf 'launch --auto-approve: %s\n' "$(_registry_launch "$name" 1 "$model" 2>/dev/null)"
      printf 'oneshot: %s\n' "$(harness_field "$name" oneshot_template)"
      printf 'verified: %s\n' "$(harness_field "$name" verified)"
      if path=$(harness_binary_path "$name"); then
        printf 'binary: %s -> %s\n' "$bin" "$path"
      else
        printf 'binary: %s -> not found on PATH\n' "$bin"
        return 1
      fi
      ;;
    *) _registry_die "unknown verb '$verb' (try --help)" 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _registry_main "$@"
fi
