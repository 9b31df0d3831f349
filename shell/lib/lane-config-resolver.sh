#!/usr/bin/env bash
# lane-config-resolver.sh: resolve a lane-config YAML (plus its host overlay) into per-lane launch commands.
set -euo pipefail

_loop_src=${BASH_SOURCE[0]}
while [ -h "$_loop_src" ]; do
  _loop_dir=$(CDPATH='' cd -P "$(dirname "$_loop_src")" && pwd)
  _loop_src=$(readlink "$_loop_src")
  case $_loop_src in /*) ;; *) _loop_src=$_loop_dir/$_loop_src ;; esac
done
LOOP_LIB_DIR=$(CDPATH='' cd -P "$(dirname "$_loop_src")" && pwd)
# shellcheck source=common.sh
. "$LOOP_LIB_DIR/common.sh"
LOOP_PROG=lane-config-resolver

usage() {
  cat <<'EOF'
Usage: lane-config-resolver.sh print-resolved --lane-config P [--json]
       lane-config-resolver.sh lane-launch <lane> [interactive|auto-approve|oneshot] --lane-config P
       lane-config-resolver.sh lane-field <lane> <field> --lane-config P
       lane-config-resolver.sh validate --lane-config P
       lane-config-resolver.sh lanes --lane-config P

Reads the top-level `lanes:` key of a lane-config YAML (any `engine:` section is ignored here) and
resolves each lane through lib/harness-registry.sh. Lanes: coord, web, infra, validate-left,
validate-right, ops-top, ops-bottom, docs (coord belongs to loop-tmux's preset / --coord-cmd), then
any other lane name add-lane accepts (a letter, then letters, digits, _ or -; 2+ characters).
A lane: harness, model, cmd, repo (a label), role, auto_approve (true|false), kind (standing|worker),
sandbox (true|false).

  print-resolved   every lane: harness, model, cmd, repo, role, auto_approve and the resolved launch;
                   --json prints {contract_version, lane_config, host_overlay, project_root,
                   lanes: {<lane>: {harness, model, cmd, repo, role, auto_approve, launch, kind, sandbox}}}
                   (loop_schemas.ResolvedLaneConfig; unset values are null)
  lane-launch      the lane's launch command (interactive, the default: cmd, else the harness launch
                   with its model and, when auto_approve is true, the auto-approve flag;
                   auto-approve: force the auto-approve flag; oneshot: the harness's one-shot template)
  lane-field       one resolved field: harness model cmd repo role auto_approve launch kind sandbox
                   (an unset field prints nothing)
  validate         one line per bad lane name, unknown harness, invalid kind or badly typed value;
                   exit 1 if any (and one summary line on stderr)
  lanes            the lanes the file defines, one per line

Host overlay: <path-base>.<hostname -s>.yaml beside the file is merged on top, lane by lane.
A relative first word of cmd (scripts/foo.sh) resolves against the project root:
--project-root R, else $LANE_CONFIG_PROJECT_ROOT (loop-tmux passes --project-root this way).

Needs python3 with PyYAML (python3 -m pip install pyyaml); without it every verb fails with that hint.

Environment: LANE_CONFIG_PROJECT_ROOT, LANE_CONFIG_HOSTNAME (overrides `hostname -s` for the overlay),
LOOP_PYTHON (the python3 to use).
Exit: 0 ok; 1 bad config, bad lane name in the file, lane not in the file, missing PyYAML or file;
2 usage (a bad lane name or field argument).
EOF
}

lane_config_main() {
  local arg
  for arg in "$@"; do
    case $arg in
      -h | --help)
        usage
        return 0
        ;;
    esac
  done
  [ $# -gt 0 ] || loop_usage_error "missing verb (print-resolved, lane-launch, lane-field, validate, lanes)"
  exec "$(loop_python)" "$LOOP_LIB_DIR/lane_config.py" "$@"
}

lane_config_main "$@"
