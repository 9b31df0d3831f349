#!/usr/bin/env python3
"""lanes.py: the tmux side of loop-tmux.sh — boot plan, window creation, lane listing (stdlib, 3.8+).

Every tmux call goes through `tmux [-S $LOOP_TMUX_SOCKET]` with argv lists: no shell ever sees a
command, a window name or an option value. Two tmux parsing rules are handled here, once:
  * an argv element ending in ';' ends a tmux command: a trailing ';' is sent as '\\;' (tmux turns it
    back into ';'), see targ();
  * -n window names and -c directories are expanded as formats: '#' is sent as '##', see fmt_lit().
Reading back uses one list-windows/list-panes call whose fields are separated by a random nonce, so
values holding newlines, tabs, quotes or unicode come back intact.

A lane pane runs its launch command inside an interactive POSIX shell that falls back to the user's
shell when the command exits:  <sh> -i -c 'eval "$1"; exec "$2" -l' loop-lane <launch> <user shell>
(-i gives job control, so #{pane_current_command} names the harness while it runs and the shell once
it has exited — the "fell back to a bare shell" signal of --boot-check and the watchdog).

Lane metadata lives in @loop_lane_* options: window options for single-lane windows (every add-lane
window and coord/web/infra/docs), pane options (-p) for every base pane. @loop_lane_pane names the
pane a lane's options belong to, so a pane split off later is never taken for the lane.

The harness registry and lane-config are read only through their CLIs (`harness-registry.sh list
--json`, `lane-config-resolver.sh print-resolved --json`); watchdog.py reuses this module's tmux helpers.

Verbs (argv from loop-tmux.sh; records for bash are NUL-separated fields):
  boot ...            plan the six windows; --print-cmds [--json] prints the plan, otherwise create
                      what is missing in the session (idempotent) and print a summary
  add-window ...      create one add-lane window, print "<window_id> <pane_id>"
  find --session S --window W      print window_id, base(0|1), isolation, worktree, branch (NUL-sep.)
  list --session S [--json]        list-lanes (human table or loop_schemas.LaneList JSON)
  end-window --window-id @N   end the window's lanes: SIGTERM every process of its panes (proctree:
                      descendants, their groups and sessions, and what carries the pane in its
                      environment), kill-window, then SIGKILL what is still there after
                      LOOP_LANE_KILL_GRACE_S (default 1)
  panes --session S   every lane pane: lane, pane_id, current command, dead, harness, launch, state, ai
                      (NUL-sep.; state = dead | shell | running, judged like loop-lane-status and the
                      watchdog: a pane showing a shell whose foreground group runs more is running;
                      ai = the AI harness of an AI lane, lane_status.Registry.ai_harness's answer,
                      empty for any other lane)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
import time

import lane_list  # a neighbour in lib/ (sys.path[0] when lanes.py runs, or the importer's lib/ path)

# the listing lives in lane_list (loop-tmux list-lanes runs it alone); LIST_FIELDS and lane_entry stay
# importable from here
from lane_list import LIST_FIELDS, LaneError, lane_entry, session_rows, show  # noqa: F401

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations are strings here
    from typing import Any, Dict, Iterator, List, Optional, Sequence

LIB_DIR = os.path.dirname(os.path.abspath(__file__))
RESOLVER = os.path.join(LIB_DIR, "lane-config-resolver.sh")
REGISTRY = os.path.join(LIB_DIR, "harness-registry.sh")

CONTRACT_VERSION = 1
LANE_ORDER = ("coord", "web", "infra", "validate-left", "validate-right", "ops-top", "ops-bottom", "docs")
WINDOWS = ("coord", "web", "infra", "validate", "ops", "docs")
WINDOW_OF = {
    "coord": "coord",
    "web": "web",
    "infra": "infra",
    "validate-left": "validate",
    "validate-right": "validate",
    "ops-top": "ops",
    "ops-bottom": "ops",
    "docs": "docs",
}
# The lane that opens each window and the one split off it (-h: right, -v: below).
SPLITS = {"validate": ("validate-left", "validate-right", "-h"), "ops": ("ops-top", "ops-bottom", "-v")}
PRESETS = ("pi-claude", "all-pi", "all-claude", "validation-only", "monitor")
DEFAULT_PRESET = "pi-claude"
# preset -> {lane: ("digest" | "harness:<name>" | "flag:<preset-fed flag>")}
PRESET_TABLE: Dict[str, Dict[str, str]] = {
    "pi-claude": {"coord": "digest", "web": "harness:pi", "infra": "harness:claude"},
    "all-pi": {"coord": "digest", "web": "harness:pi", "infra": "harness:pi"},
    "all-claude": {"coord": "digest", "web": "harness:claude", "infra": "harness:claude"},
    "validation-only": {},
    "monitor": {"coord": "digest"},
}
PRESET_FED = {
    "validate-left": "validate_cmd",
    "ops-top": "gateway_health_cmd",
    "ops-bottom": "log_stream_cmd",
}
FED_FLAG = {
    "validate_cmd": "--validate-cmd",
    "gateway_health_cmd": "--gateway-health-cmd",
    "log_stream_cmd": "--log-stream-cmd",
}
for _p in ("pi-claude", "all-pi", "all-claude"):
    PRESET_TABLE[_p].update({lane: "flag:" + flag for lane, flag in PRESET_FED.items()})
PRESET_TABLE["validation-only"]["validate-left"] = "flag:validate_cmd"
PRESET_TABLE["monitor"].update({"ops-top": "flag:gateway_health_cmd", "ops-bottom": "flag:log_stream_cmd"})
# Per-lane override flags (argparse dests); they beat the preset, a lane-config block beats them.
LANE_FLAG = {
    "coord": "coord_cmd",
    "web": "web_cmd",
    "infra": "infra_cmd",
    "validate-left": "validate_left_cmd",
    "validate-right": "validate_right_cmd",
    "ops-top": "ops_top_cmd",
    "ops-bottom": "ops_bottom_cmd",
    "docs": "docs_cmd",
}
OPTION_KEYS = (
    "name",
    "harness",
    "model",
    "role",
    "cmd",
    "repo",
    "kind",
    "isolation",
    "branch",
    "auto_approve",
    "launch",
    "cwd",
    "pane",
    "worktree",
    "sandbox",
)
WRAPPER = 'eval "$1"; exec "$2" -l'
POSIX_SHELLS = ("bash", "zsh", "sh", "dash", "ksh", "mksh", "ash", "yash", "posh")


class UsageError(Exception):
    """A usage error (exit 2)."""


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---- tmux -----------------------------------------------------------------------------------------------


def tmux_argv(*args: str) -> List[str]:
    sock = os.environ.get("LOOP_TMUX_SOCKET", "")
    return ["tmux", "-S", sock, *args] if sock else ["tmux", *args]


TMUX_TIMEOUT_S = 60.0  # a wedged tmux server must not hang loop-tmux or the watchdog forever


def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    try:
        proc = subprocess.run(tmux_argv(*args), capture_output=True, check=False, timeout=TMUX_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LaneError(f"tmux {args[0] if args else ''} did not answer within {TMUX_TIMEOUT_S:g}s") from None
    except OSError as exc:
        raise LaneError(f"cannot run tmux: {exc}") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LaneError("tmux: " + (msg[-1] if msg else f"exit {proc.returncode}"))
    return proc


def targ(value: str) -> str:
    """An argv element tmux takes literally (a trailing ';' would end the tmux command)."""
    return value[:-1] + "\\;" if value.endswith(";") else value


def fmt_lit(value: str) -> str:
    """A literal for an argument tmux expands as a format (-n NAME, -c DIR)."""
    return targ(value.replace("#", "##"))


class Batch:
    """tmux commands chained into ONE client call (separated by ';' argv elements)."""

    def __init__(self) -> None:
        self.args: List[str] = []

    def add(self, *args: str) -> None:
        if self.args:
            self.args.append(";")
        self.args.extend(targ(a) for a in args)

    def run(self) -> None:
        if self.args:
            tmux(*self.args)
            self.args = []


def read_rows(command: Sequence[str], fields: Sequence[str]) -> List[Dict[str, str]]:
    """Run list-windows/list-panes with the given format fields; values may hold any character."""
    nonce = os.urandom(12).hex()
    rec, sep = f"R{nonce}R", f"F{nonce}F"
    fmt = rec + sep.join("#{" + f + "}" for f in fields)
    proc = tmux(*command, "-F", fmt)
    text = proc.stdout.decode("utf-8", "surrogateescape")
    rows = []
    for chunk in text.split(rec)[1:]:
        body = chunk[:-1] if chunk.endswith("\n") else chunk
        values = body.split(sep)
        if len(values) != len(fields):
            raise LaneError("tmux returned a malformed listing")
        rows.append({f: values[i] for i, f in enumerate(fields)})
    return rows


def _utf8(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def has_session(session: str) -> bool:
    return tmux("has-session", "-t", "=" + session, check=False).returncode == 0


def server_default_shell() -> str:
    proc = tmux("show-options", "-gv", "default-shell", check=False)
    value = proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""
    return value or os.environ.get("SHELL") or "/bin/sh"


def lane_command(launch: str, user_shell: str) -> List[str]:
    """argv for a pane that runs LAUNCH and falls back to the user's shell when it exits."""
    base = os.path.basename(user_shell).lstrip("-")
    wrapper = user_shell if base in POSIX_SHELLS else _which("bash") or "/bin/sh"
    # "loop-lane" ($0, argv[4]) marks the launching shell: lane_status.LAUNCH_ARGV0 looks for it
    return [wrapper, "-i", "-c", WRAPPER, "loop-lane", launch, user_shell]


_SOCKET: List[str] = []


def socket_path() -> str:
    """The tmux server's socket path (one display-message per process; "" when tmux cannot say)."""
    if not _SOCKET:
        proc = tmux("display-message", "-p", "#{socket_path}", check=False)
        _SOCKET.append(proc.stdout.decode("utf-8", "surrogateescape").strip() if proc.returncode == 0 else "")
    return _SOCKET[0]


def pane_argv(launch: str, user_shell: str, sandbox_lane: Optional[str] = None, cwd: str = "") -> List[str]:
    """The argv of a lane pane: lane_command, and for a sandboxed lane (sandbox_lane: the lane name its
    mail drop is named after) that whole command, fallback shell included, inside sandbox.wrap's bwrap.
    Every launch goes through here: boot, add-window and the watchdog's restart. SandboxError is a
    LaneError (bwrap missing or unusable: one line, exit 1)."""
    argv = lane_command(launch, user_shell) if launch else [user_shell, "-l"]
    if sandbox_lane is None:
        return argv
    import sandbox

    try:
        return sandbox.wrap(argv, cwd or os.getcwd(), sandbox_lane, socket_path() or None)
    except sandbox.SandboxError as exc:
        raise LaneError(str(exc)) from None
    except OSError as exc:
        raise LaneError(f"sandbox: {exc.filename or ''}: {exc.strerror}") from None


def sandbox_check() -> None:
    """LaneError unless bwrap can run here (before anything is created)."""
    import sandbox

    try:
        sandbox.check()
    except sandbox.SandboxError as exc:
        raise LaneError(str(exc)) from None


def _which(name: str) -> Optional[str]:
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d, name)
        if d and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


# ---- harness inference ---------------------------------------------------------------------------------


def infer_harness(cmd: Optional[str], harnesses: Dict[str, Dict[str, Any]]) -> Optional[str]:
    """The registered (non-shell) harness a command starts with, e.g. 'claude --model x' -> claude.

    Only by a harness's name or process_names, never by its `binary`: python3 (the demo agent's binary),
    node or bash start far more than agents, so `python3 -c 'print(1)'` is no harness's lane."""
    if not cmd:
        return None
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    while words and (
        re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in ("env", "exec", "command")
    ):
        words = words[1:]
    if not words:
        return None
    first = os.path.basename(words[0])
    for name, entry in harnesses.items():
        if entry.get("kind") == "shell":
            continue
        if first == name or first in (entry.get("process_names") or []):
            return name
    return None


def load_registry() -> Dict[str, Dict[str, Any]]:
    """{name: fields} from `harness-registry.sh list --json` (the registry's public interface)."""
    try:
        proc = subprocess.run(["bash", REGISTRY, "list", "--json"], capture_output=True, check=False)
    except OSError as exc:
        raise LaneError(f"cannot run {REGISTRY}: {exc}") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LaneError("harness registry: " + (msg[-1] if msg else f"exit {proc.returncode}"))
    try:
        doc = json.loads(proc.stdout.decode("utf-8"))
        return {str(h["name"]): h for h in doc["harnesses"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise LaneError(f"harness registry: unreadable --json output ({exc})") from None


def resolve_lane_config(path: str, project_root: str) -> Dict[str, Dict[str, Any]]:
    """The resolved lanes of a lane-config, through `lane-config-resolver.sh print-resolved --json`.

    The resolver's warnings are passed through to stderr; its errors (bad YAML, unknown harness,
    PyYAML missing, ...) become LaneError lines, exit 1.
    """
    env = dict(os.environ)
    env["LANE_CONFIG_PROJECT_ROOT"] = project_root
    try:
        proc = subprocess.run(
            ["bash", RESOLVER, "print-resolved", "--json", "--lane-config", path],
            capture_output=True,
            check=False,
            env=env,
        )
    except OSError as exc:
        raise LaneError(f"cannot run {RESOLVER}: {exc}") from None
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [line for line in err.splitlines() if line.strip()] or [f"exit {proc.returncode}"]
        raise LaneError("--lane-config: " + "\n".join(lines))
    if err:
        sys.stderr.write(err)
    try:
        doc = json.loads(proc.stdout.decode("utf-8"))
        lanes = doc["lanes"]
        if not isinstance(lanes, dict):
            raise TypeError("lanes is not a mapping")
        return lanes
    except (ValueError, KeyError, TypeError) as exc:
        raise LaneError(f"--lane-config: unreadable resolver output ({exc})") from None


def launch_for(entry: Dict[str, Any], model: Optional[str] = None, auto: bool = False) -> str:
    """A harness's lane launch command, built from its registry fields like harness_resolve_launch."""
    out = str(entry.get("launch_cmd") or "")
    flag = str(entry.get("auto_approve_flag") or "")
    if auto and flag:
        out = f"{out} {flag}"
    model_flag = str(entry.get("model_flag") or "")
    if model and model_flag and out:
        out = f"{out} {model_flag} {shlex.quote(model)}"
    return out


# ---- boot plan -------------------------------------------------------------------------------------------


class Lane:
    def __init__(self, lane: str) -> None:
        self.lane = lane
        self.window = WINDOW_OF[lane]
        self.cwd = ""
        self.cmd: Optional[str] = None
        self.harness: Optional[str] = None
        self.model: Optional[str] = None
        self.role: Optional[str] = None
        self.repo: Optional[str] = None
        self.auto_approve = False
        self.launch: Optional[str] = None
        self.source = "empty"
        self.sandbox = False

    def as_dict(self) -> Dict[str, Any]:
        return {
            "window": self.window,
            "cwd": self.cwd,
            "cmd": self.cmd,
            "harness": self.harness,
            "model": self.model,
            "role": self.role,
            "repo": self.repo,
            "auto_approve": self.auto_approve,
            "launch": self.launch,
            "source": self.source,
            "sandbox": self.sandbox,
        }

    def options(self) -> Dict[str, str]:
        values = {
            "name": self.lane,
            "harness": self.harness,
            "model": self.model,
            "role": self.role,
            "cmd": self.cmd,
            "repo": self.repo,
            "kind": "standing",
            "auto_approve": "1" if self.auto_approve else None,
            "launch": self.launch,
            "cwd": self.cwd,
            "sandbox": "1" if self.sandbox else None,
        }
        return {k: v for k, v in values.items() if v}


def make_plan(args: argparse.Namespace, harnesses: Dict[str, Dict[str, Any]]) -> List[Lane]:
    preset = args.preset
    table = PRESET_TABLE[preset]
    for lane_name, dest in PRESET_FED.items():
        if getattr(args, dest) is not None and "flag:" + dest not in table.values():
            warn(
                f"preset {preset} does not use {FED_FLAG[dest]}; ignoring it "
                f"(--{lane_name}-cmd always applies)"
            )
    # Run through bash: the script need not carry an executable bit (a fresh clone may not).
    digest = " ".join(
        [
            "bash",
            shlex.quote(os.path.join(args.self_dir, "loop-digest.sh")),
            "--project-root",
            shlex.quote(args.project_root),
        ]
        + (["--state-file", shlex.quote(args.state_file)] if args.state_file else [])
        + (["--mailbox-dir", shlex.quote(args.mailbox_dir)] if args.mailbox_dir else [])
        + (
            ["--extra-repo", shlex.quote(args.infra_root)]
            if args.infra_root and os.path.abspath(args.infra_root) != os.path.abspath(args.project_root)
            else []
        )
    )
    web_dir = args.worktree_web or args.project_root
    cwd = {
        "coord": args.project_root,
        "web": web_dir,
        "infra": args.worktree_infra or args.infra_root,
        "validate-left": web_dir,
        "validate-right": web_dir,
        "ops-top": args.project_root,
        "ops-bottom": args.project_root,
        "docs": args.project_root,
    }
    resolved: Dict[str, Dict[str, Any]] = {}
    if args.lane_config:
        resolved = resolve_lane_config(args.lane_config, args.project_root)
    plan = []
    for name in LANE_ORDER:
        lane = Lane(name)
        lane.cwd = cwd[name]
        spec = table.get(name)
        if spec == "digest":
            lane.cmd, lane.source = digest, "preset"
        elif spec and spec.startswith("harness:"):
            lane.harness, lane.source = spec.split(":", 1)[1], "preset"
        elif spec and spec.startswith("flag:"):
            value = getattr(args, spec.split(":", 1)[1])
            if value:
                lane.cmd, lane.source = value, "preset"
        flag_value = getattr(args, LANE_FLAG[name])
        if flag_value is not None:
            lane.cmd, lane.harness, lane.source = flag_value or None, None, "flag"
        from_config = False
        if name in resolved and name != "coord":
            block = resolved[name]
            lane.cmd, lane.harness, lane.model = block.get("cmd"), block.get("harness"), block.get("model")
            lane.role, lane.repo = block.get("role"), block.get("repo")
            lane.auto_approve = block.get("auto_approve") is True
            lane.launch = block.get("launch") or None
            lane.source = "lane-config"
            lane.sandbox = block.get("sandbox") is True
            from_config = True
        if not from_config:
            if lane.cmd:
                lane.launch = lane.cmd
            elif lane.harness:
                lane.launch = launch_for(harnesses[lane.harness], lane.model, lane.auto_approve) or None
        if lane.cmd and lane.harness is None:
            lane.harness = infer_harness(lane.cmd, harnesses)
        if getattr(args, "sandbox_all", False) and name != "coord":
            lane.sandbox = True  # coord runs the digest: the human's view, never an agent
        plan.append(lane)
    return plan


def print_plan(args: argparse.Namespace, plan: List[Lane], as_json: bool) -> None:
    if as_json:
        doc = {
            "contract_version": CONTRACT_VERSION,
            "session": args.session,
            "preset": args.preset,
            "project_root": args.project_root,
            "infra_root": args.infra_root,
            "state_dir": args.state_dir,
            "lane_config": args.lane_config,
            "lanes": {lane.lane: lane.as_dict() for lane in plan},
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    out = [
        f"session:      {show(args.session)}",
        f"preset:       {args.preset}",
        f"project-root: {show(args.project_root)}",
        f"infra-root:   {show(args.infra_root)}",
        f"state-dir:    {show(args.state_dir)}",
        f"lane-config:  {show(args.lane_config)}",
    ]
    for lane in plan:
        what = show(lane.launch) if lane.launch else "(empty: a plain shell)"
        harness = f" [{lane.harness}]" if lane.harness else ""
        harness += " [sandbox]" if lane.sandbox else ""
        out.append(f"{lane.lane:<15} {lane.source:<11} cwd={show(lane.cwd)}{harness}")
        out.append(f"{'':<15} {what}")
    sys.stdout.write("\n".join(out) + "\n")


def window_rows(session: str) -> List[Dict[str, str]]:
    return read_rows(
        ["list-windows", "-t", "=" + session],
        ["window_id", "window_name", "@loop_lane", "window_panes"],
    )


def _create_window(session: str, window: str, lanes: List[Lane], user_shell: str, new: bool) -> List[str]:
    """Create one base window (new-session for the first one); return its window id and pane ids."""
    first = lanes[0]
    fmt = "#{window_id} #{pane_id}"
    if new:
        argv = ["new-session", "-d", "-s", targ(session), "-n", window, "-c", fmt_lit(first.cwd)]
    else:
        argv = ["new-window", "-d", "-t", "=" + session + ":", "-n", window, "-c", fmt_lit(first.cwd)]
    argv += ["-P", "-F", fmt]
    if first.launch or first.sandbox:
        argv += [targ(a) for a in pane_argv(first.launch or "", user_shell, _sandbox_name(first), first.cwd)]
    window_id, pane_id = tmux(*argv).stdout.decode().split()
    ids = [window_id, pane_id]
    if window in SPLITS:
        second = lanes[1]
        argv = ["split-window", "-d", SPLITS[window][2], "-t", pane_id, "-c", fmt_lit(second.cwd)]
        argv += ["-P", "-F", "#{pane_id}"]
        if second.launch or second.sandbox:
            argv += [
                targ(a) for a in pane_argv(second.launch or "", user_shell, _sandbox_name(second), second.cwd)
            ]
        ids.append(tmux(*argv).stdout.decode().strip())
    return ids


def _sandbox_name(lane: Lane) -> Optional[str]:
    return lane.lane if lane.sandbox else None


def boot(args: argparse.Namespace, harnesses: Dict[str, Dict[str, Any]]) -> int:
    plan = make_plan(args, harnesses)
    if args.print_cmds:
        print_plan(args, plan, args.json)
        return 0
    if any(lane.sandbox for lane in plan):
        sandbox_check()
    by_window: Dict[str, List[Lane]] = {}
    for lane in plan:
        by_window.setdefault(lane.window, []).append(lane)
    session = args.session
    created: List[str] = []
    kept: List[str] = []
    batch = Batch()
    new = not has_session(session)
    existing = set() if new else {r["window_name"] for r in window_rows(session) if r["@loop_lane"] != "1"}
    # The shell a lane falls back to: the server's default-shell ($SHELL while there is no server).
    user_shell = server_default_shell()
    for window in WINDOWS:
        if window in existing:
            kept.append(window)
            continue
        ids = _create_window(session, window, by_window[window], user_shell, new)
        new = False
        _tag_window(batch, ids[0], ids[1:], by_window[window])
        created.append(window)
    for key, value in (
        ("@loop_project_root", args.project_root),
        ("@loop_state_dir", args.state_dir),
        ("@loop_preset", args.preset),
        ("@loop_infra_root", args.infra_root),
    ):
        batch.add("set-option", "-t", "=" + session + ":", key, value)
    batch.run()
    if created:
        sys.stdout.write(f"loop-tmux: session {session}: created {', '.join(created)}\n")
    if kept:
        sys.stdout.write(f"loop-tmux: session {session}: kept existing {', '.join(kept)}\n")
    return 0


def _tag_window(batch: Batch, window_id: str, pane_ids: List[str], lanes: List[Lane]) -> None:
    """Lane options of a base window: every lane pane gets pane options (-p) naming itself in
    @loop_lane_pane; a one-pane window also carries them as window options; a two-pane window
    (validate, ops) carries only its name and kind at window level."""
    for i, pane in enumerate(pane_ids):
        opts = lanes[i].options()
        opts["pane"] = pane
        for key, value in opts.items():
            batch.add("set-option", "-p", "-t", pane, "@loop_lane_" + key, value)
    if len(pane_ids) == 1:
        opts = lanes[0].options()
        opts["pane"] = pane_ids[0]
    else:
        opts = {"name": lanes[0].window, "kind": "standing"}
    for key, value in opts.items():
        batch.add("set-option", "-w", "-t", window_id, "@loop_lane_" + key, value)


# ---- add-lane / find / list / panes ---------------------------------------------------------------------


def lock_dir() -> str:
    """$TMPDIR/loop-tmux-<uid>: a private directory (0700, ours, not a symlink) for add-window's locks."""
    import tempfile  # here: `list`, which the engine runs every cycle, never takes a lock

    path = os.path.join(tempfile.gettempdir(), f"loop-tmux-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise LaneError(f"cannot create the lock directory {path}: {exc.strerror}") from None
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise LaneError(f"unsafe lock directory {path} (not a private directory of this user); remove it")
    return path


@contextlib.contextmanager
def session_lock(session: str) -> Iterator[None]:
    """Serialise the check-then-create of add-window for one session name, so two concurrent add-lanes
    of the same window cannot both pass the "is it new?" check (tmux itself allows duplicate names).
    An flock: a killed holder never leaves it taken. Keyed by the session name only: sessions of the
    same name on other servers merely wait their turn."""
    import hashlib

    digest = hashlib.sha256(session.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    path = os.path.join(lock_dir(), f"add-window-{digest}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise LaneError(f"cannot open the lock {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def add_window(args: argparse.Namespace) -> int:
    if not has_session(args.session):
        raise LaneError(f"no tmux session {args.session!r}")
    with session_lock(args.session):
        return _add_window_locked(args)


def _add_window_locked(args: argparse.Namespace) -> int:
    if find_windows(args.session, args.window):
        raise LaneError(f"window {args.window!r} already exists in session {args.session}")
    opts: Dict[str, str] = {}
    for item in args.opt:
        key, _, value = item.partition("=")
        if key not in OPTION_KEYS:
            raise UsageError(f"unknown lane option {key!r}")
        if value:
            opts[key] = value
    argv = [
        "new-window",
        "-d",
        "-t",
        "=" + args.session + ":",
        "-n",
        fmt_lit(args.window),
        "-c",
        fmt_lit(args.cwd),
        "-P",
        "-F",
        "#{window_id} #{pane_id}",
    ]
    sandboxed = opts.get("sandbox") == "1"
    if sandboxed:
        sandbox_check()
    if args.launch or sandboxed:
        lane_argv = pane_argv(
            args.launch, server_default_shell(), args.window if sandboxed else None, args.cwd
        )
        argv += ["--", *[targ(a) for a in lane_argv]]
    window_id, pane_id = tmux(*argv).stdout.decode().split()
    batch = Batch()
    opts["pane"] = pane_id
    if args.launch:
        opts["launch"] = args.launch
    if "harness" not in opts and opts.get("cmd"):
        # A --cmd lane that starts a registered harness (e.g. "claude --model x") is that harness's lane.
        inferred = infer_harness(opts["cmd"], load_registry())
        if inferred:
            opts["harness"] = inferred
    batch.add("set-option", "-w", "-t", window_id, "@loop_lane", "1")
    for key, value in opts.items():
        batch.add("set-option", "-w", "-t", window_id, "@loop_lane_" + key, value)
    batch.run()
    sys.stdout.write(f"{window_id} {pane_id}\n")
    return 0


def find_windows(session: str, window: str) -> List[Dict[str, str]]:
    rows = session_rows(session)
    if window.startswith("@") and re.match(r"^@[0-9]+$", window):
        return [r for r in rows if r["window_id"] == window]
    return [r for r in rows if _utf8(r["window_name"]) == window]


def find(args: argparse.Namespace) -> int:
    rows = find_windows(args.session, args.window)
    if not rows:
        raise LaneError(f"no window {args.window!r} in session {args.session}")
    if len(rows) > 1:
        lanes = [r for r in rows if r["@loop_lane"] == "1"]
        if len(lanes) != 1:
            ids = ", ".join(r["window_id"] for r in rows)
            raise LaneError(f"window name {args.window!r} is ambiguous ({ids}); name the window id instead")
        rows = lanes
    row = rows[0]
    fields = [
        row["window_id"],
        "0" if row["@loop_lane"] == "1" else "1",
        row["@loop_lane_isolation"],
        row["@loop_lane_worktree"],
        row["@loop_lane_branch"],
    ]
    sys.stdout.buffer.write(b"".join(f.encode("utf-8", "surrogateescape") + b"\0" for f in fields))
    return 0


def session_watchdog(state_dir_option: str) -> set:
    """{pid} of the session's lane watchdog, if one runs: it is no lane's process even when it was
    started from inside a lane's pane (its environment then names that pane)."""
    import watchdog

    state_dir = os.environ.get("LOOP_TMUX_STATE_DIR", "") or state_dir_option
    if not state_dir:
        return set()
    try:
        pid, _session = watchdog.running(state_dir)
    except OSError:
        return set()
    return {pid} if pid and pid > 0 else set()


def end_window(args: argparse.Namespace) -> int:
    """kill-window, after SIGTERM to every process of its panes; SIGKILL for those left after the grace."""
    import proctree

    if not re.match(r"^@[0-9]+$", args.window_id):
        raise UsageError(f"end-window: --window-id must be a window id like @3, got {args.window_id!r}")
    fields = ["pane_id", "pane_pid", "socket_path", "pid", "@loop_state_dir"]
    rows = read_rows(["list-panes", "-t", args.window_id], fields)
    pids: set = set()
    for row in rows:
        pane_pid = int(row["pane_pid"]) if row["pane_pid"].isdigit() else 0
        pids |= proctree.lane_pids(pane_pid, row["pane_id"], row["socket_path"], row["pid"])
    pids -= session_watchdog(rows[0]["@loop_state_dir"] if rows else "")
    signalled = proctree.terminate(pids)
    try:
        killed = tmux("kill-window", "-t", args.window_id, check=False)
        if killed.returncode != 0 and tmux("list-panes", "-t", args.window_id, check=False).returncode == 0:
            msg = killed.stderr.decode("utf-8", "replace").strip().splitlines()
            raise LaneError("tmux: " + (msg[-1] if msg else f"exit {killed.returncode}"))
    finally:  # the window may close by itself once its processes exit on SIGTERM
        proctree.finish(signalled, proctree.grace_seconds())
    return 0


def list_lanes(args: argparse.Namespace) -> int:
    return lane_list.list_lanes(args.session, args.json)


PANE_FIELDS = [
    "pane_id",
    "window_name",
    "pane_current_command",
    "pane_dead",
    "@loop_lane_name",
    "@loop_lane_harness",
    "@loop_lane_launch",
    "@loop_lane_pane",
    "@loop_lane",
    "@loop_lane_cwd",
    "pane_pid",
]


def lane_panes(session: str) -> List[Dict[str, str]]:
    """Every pane that carries lane options of its own (@loop_lane_pane names it), with its lane name."""
    if not has_session(session):
        raise LaneError(f"no tmux session {session!r}")
    out = []
    for row in read_rows(["list-panes", "-s", "-t", "=" + session], PANE_FIELDS):
        if row["@loop_lane_pane"] != row["pane_id"]:
            continue
        lane = dict(row)
        lane["lane"] = (
            row["@loop_lane_name"]
            if row["@loop_lane"] != "1" and row["@loop_lane_name"]
            else row["window_name"]
        )
        out.append(lane)
    return out


def pane_states(rows: List[Dict[str, str]], harnesses: Dict[str, Dict[str, Any]]) -> Dict[str, str]:
    """pane_id -> "dead" | "shell" | "launching" | "running" for lane pane rows (PANE_FIELDS).

    "launching": the shell lane_command started has not started the lane's command yet (slow rc files).
    "shell" means the pane fell back to a bare shell. A pane whose command tmux names as a shell but
    whose foreground process group runs more than shells (a harness started by a wrapper script that
    did not exec) is "running": the judgement of loop-lane-status and the watchdog, from lane_status
    (one `ps` for all such panes; without `ps` the shell tmux shows is taken at its word)."""
    import lane_status  # the one implementation of "foreground group runs beyond a shell"

    registry = lane_status.Registry(harnesses)
    states: Dict[str, str] = {}
    at_shell: List[Dict[str, str]] = []
    for row in rows:
        if row["pane_dead"] == "1":
            states[row["pane_id"]] = "dead"
        elif registry.is_shell_process(os.path.basename(row["pane_current_command"])):
            states[row["pane_id"]] = "shell"
            at_shell.append(row)
        else:
            states[row["pane_id"]] = "running"
    table = lane_status.process_table() if at_shell else None
    if table is not None:
        for row in at_shell:
            if lane_status.foreground_beyond_shell(table, row["pane_pid"], registry.is_shell_process):
                states[row["pane_id"]] = "running"
    still = [row for row in at_shell if states[row["pane_id"]] == "shell"]
    launching = lane_status.launching_pids([row["pane_pid"] for row in still]) if still else set()
    for row in still:
        if row["pane_pid"] in launching:
            states[row["pane_id"]] = "launching"
    return states


def panes(args: argparse.Namespace) -> int:
    import lane_status

    data = b""
    rows = lane_panes(args.session)
    harnesses = load_registry()
    states = pane_states(rows, harnesses)
    registry = lane_status.Registry(harnesses)
    for row in rows:
        ai = registry.ai_harness(row["@loop_lane_harness"], (row["pane_current_command"],)) or ""
        fields = [
            row["lane"],
            row["pane_id"],
            row["pane_current_command"],
            row["pane_dead"],
            row["@loop_lane_harness"],
            row["@loop_lane_launch"],
            states[row["pane_id"]],
            ai,
        ]
        data += b"".join(f.encode("utf-8", "surrogateescape") + b"\0" for f in fields)
    sys.stdout.buffer.write(data)
    return 0


# ---- CLI -------------------------------------------------------------------------------------------------


def warn(msg: str) -> None:
    sys.stderr.write(f"loop-tmux: warning: {msg}\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(message)


def wait_ready(args: argparse.Namespace) -> int:
    """add-lane --wait-ready: wait until the new lane's pane is idle. A lane that can never get there ends
    the wait early: a dead pane at once, an AI lane back at a bare shell once that has lasted
    LOOP_DISPATCH_SHELL_GRACE_S (the same judgement as loop-dispatch --wait-ready). A lane whose launching
    shell is still starting its harness is booting, and is waited for."""
    import dispatch
    import lane_status

    try:
        secs = dispatch.seconds("--ready-timeout", args.timeout)
    except dispatch.DispatchError as exc:
        raise UsageError(str(exc)) from None
    registry = lane_status.Registry(load_registry())
    try:
        pane = dispatch.describe_target(args.pane, None)
        ready, _last = dispatch.wait_until_idle(pane, registry, secs)
        pane = dispatch.describe_target(args.pane, None)
    except lane_status.LaneError:
        raise LaneError(f"--wait-ready: lane {args.pane} is gone (its window was closed)") from None
    if ready:
        sys.stdout.write(f"loop-tmux: lane {args.pane} is ready\n")
        return 0
    verdict = dispatch.status_of(pane, registry)
    if verdict.detail == "dead":
        why = "its pane is dead"
    elif verdict.detail == "exited-to-shell":
        why = f"{verdict.harness or 'its harness'} exited to a bare shell ({pane.command})"
    else:
        why = f"not idle after {args.timeout}s (last status: {verdict.status})"
        word = harness_health(pane.harness_opt or verdict.harness)
        if word and word != "ok":  # the harness itself is the problem: say so
            why = f"errored: {why}; health={word}"
        elif word:
            why = f"{why}; health={word}"
    raise LaneError(f"--wait-ready: lane {args.pane} {why}; the window stays")


def harness_health(harness: Optional[str]) -> str:
    """`harness-registry.sh health <harness>`: its one word, or "" for no or an unknown harness (the
    registry checks the name; it is passed as one argv element, never through a shell)."""
    if not harness:
        return ""
    try:
        proc = subprocess.run(
            ["bash", os.path.join(LIB_DIR, "harness-registry.sh"), "health", harness],
            capture_output=True,
            text=True,
            timeout=60,  # the registry bounds the probe itself (LOOP_HEALTH_PROBE_TIMEOUT_S)
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    word = proc.stdout.strip()
    return word if word in ("ok", "missing", "unauthenticated", "unhealthy") else ""


NOT_STARTED_RE = re.compile(
    r"command not found|not found|No such file or directory|Permission denied|cannot execute"
)


def launch_error(pane_id: str) -> str:
    """The pane's last line saying why a command did not start (`bash: nosuch: command not found`), or ""."""
    proc = tmux("capture-pane", "-p", "-J", "-t", pane_id, check=False)
    text = proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else ""
    lines = [line.strip() for line in text.splitlines() if NOT_STARTED_RE.search(line)]
    return show(lines[-1]) if lines else ""


def launch_check(args: argparse.Namespace) -> int:
    """add-lane: 0 once the lane's command runs (or its launching shell is still starting it when the
    timeout ends: slow rc files; --wait-ready and --boot-check judge later), or once a plain command lane's
    command ran and ended; 1 with one line when the pane says the command could not start (a missing
    binary, say) or an AI lane's harness is gone at once and the pane fell back to a bare shell."""
    try:
        secs = float(args.timeout)
    except ValueError:
        raise UsageError(f"--timeout: not a number: {args.timeout!r}") from None
    harnesses = load_registry()
    import lane_status  # the one lane-identity answer (Registry.ai_harness)

    registry = lane_status.Registry(harnesses)
    deadline = time.monotonic() + secs
    while True:
        rows = [
            r for r in read_rows(["list-panes", "-t", args.pane], PANE_FIELDS) if r["pane_id"] == args.pane
        ]
        if not rows:
            raise LaneError(f"lane pane {args.pane} is gone (its window was closed)")
        state = pane_states(rows, harnesses)[args.pane]
        if state == "running":
            return 0
        if state in ("shell", "dead"):
            said = launch_error(args.pane)
            if said:
                raise LaneError(f"the lane's command did not start (the pane says: {said})")
            row = rows[0]
            harness = registry.ai_harness(row.get("@loop_lane_harness") or None, ())
            if harness is not None or state == "dead":
                raise LaneError(
                    f"the lane's command did not start (its {harness or 'command'} exited at once and "
                    "the pane fell back to a shell)"
                )
            return 0  # a plain command that ran and ended (`true`, a one-off check): the lane did start
        if time.monotonic() >= deadline:
            return 0
        time.sleep(0.1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lanes.py", add_help=True)
    sub = p.add_subparsers(dest="verb")
    b = sub.add_parser("boot")
    for name in ("session", "project-root", "infra-root", "self-dir", "state-dir"):
        b.add_argument("--" + name, required=True)
    for name in ("worktree-web", "worktree-infra", "state-file", "mailbox-dir", "lane-config"):
        b.add_argument("--" + name, default=None)
    b.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESETS)
    for dest in list(LANE_FLAG.values()) + list(FED_FLAG):
        b.add_argument("--" + dest.replace("_", "-"), dest=dest, default=None)
    b.add_argument("--print-cmds", action="store_true")
    b.add_argument("--sandbox-all", action="store_true")
    b.add_argument("--json", action="store_true")
    a = sub.add_parser("add-window")
    a.add_argument("--session", required=True)
    a.add_argument("--window", required=True)
    a.add_argument("--cwd", required=True)
    a.add_argument("--launch", default="")
    a.add_argument("--opt", action="append", default=[])
    e = sub.add_parser("end-window")
    e.add_argument("--window-id", required=True)
    lc = sub.add_parser("launch-check")
    lc.add_argument("--pane", required=True)
    lc.add_argument("--timeout", required=True)
    le = sub.add_parser("launch-error")
    le.add_argument("--pane", required=True)
    w = sub.add_parser("wait-ready")
    w.add_argument("--pane", required=True)
    w.add_argument("--timeout", required=True)
    for verb in ("find", "list", "panes"):
        s = sub.add_parser(verb)
        s.add_argument("--session", required=True)
        if verb == "find":
            s.add_argument("--window", required=True)
        if verb == "list":
            s.add_argument("--json", action="store_true")
    return p


def main(argv: List[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv else 2
    try:
        args = build_parser().parse_args(argv)
        if args.verb == "boot":
            return boot(args, load_registry())
        if args.verb == "add-window":
            return add_window(args)
        if args.verb == "find":
            return find(args)
        if args.verb == "list":
            rc = list_lanes(args)
            sys.stdout.flush()  # here, so a reader that went away is a BrokenPipeError we handle
            return rc
        if args.verb == "panes":
            return panes(args)
        if args.verb == "launch-check":
            return launch_check(args)
        if args.verb == "launch-error":
            said = launch_error(args.pane)
            if said:
                sys.stdout.write(said + "\n")
            return 0
        if args.verb == "wait-ready":
            return wait_ready(args)
        if args.verb == "end-window":
            return end_window(args)
        raise UsageError("missing verb")
    except BrokenPipeError:  # the reader went away (`list-lanes --json | head -c1`): quiet, like a pipe
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except OSError:
            pass
        return 0
    except UsageError as exc:
        sys.stderr.write(f"loop-tmux: {exc}\n")
        return 2
    except LaneError as exc:
        for line in str(exc).splitlines():
            sys.stderr.write(f"loop-tmux: {line}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
