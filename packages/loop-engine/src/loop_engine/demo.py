"""loop-demo: the whole loop on this machine in minutes, with no AI CLI and no API key.

    loop-demo [--project-root DIR] [--auto] [--no-attach] [--until-done SECS] [--keep]

1. A project made by loop-init (a new temporary directory unless --project-root names a new or empty
   one), with four seeded tasks forming a small DAG (T0001, T0002 → T0003 → T0004) that loop-task-lint
   accepts.
2. A lane-config whose implementation lanes (web, infra) run the `demo` harness — a simulated agent that
   says on its own screen that no AI runs — and an `engine:` section: the built-in deterministic brain,
   approval `manual` (`--auto`: safe actions run by themselves), short poll and debounce intervals.
3. The session booted by loop-tmux (on LOOP_TMUX_SOCKET's server when that is set, else the user's),
   loop-deck in the coord pane when it is installed (else loop-digest's redraw mode), and the engine's
   watch daemon started once both demo lanes are idle.
4. Then, unless --no-attach, one path wherever you are, the way to end it shown in the demo session's
   status line: from a client of the demo's own tmux server (inside tmux, LOOP_TMUX_SOCKET unset or
   naming that server) it switches that client to the demo; going back (prefix L) ends the demo. Else it
   attaches in the foreground (outside tmux; or nested inside a client of another server, with the demo
   session's prefix set to C-a, or C-b when yours is C-a, so its `d` detaches the demo, not your
   client); detaching ends the demo. --keep leaves it running instead. The project folder stays; the
   last line says where it is and how to remove it. `--until-done SECS` runs headless instead: it waits
   until every seeded task is in `review` (the loop's finish line: only a human marks a task done),
   exits 0, and tears the daemon and the session down unless --keep; on a timeout it exits 1 with one
   line saying where the loop stands.

Substrate CLIs are run by their installed paths (loop_substrate.script_path), never looked up on PATH,
so a venv holding only loop-engine is enough. LOOP_DEMO_WORK_S sets how long the demo agents "work" on
each prompt (default 3 s). Exit: 0 ok; 1 failure (one line on stderr); 2 usage; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import loop_engine

# yaml is imported by the two writers that use it: `loop-demo --help` and `--version` need none of it

PROG = "loop-demo"
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEMO_LANES = ("web", "infra")
AGENT_LANES = (*DEMO_LANES, "docs")  # docs runs the demo agent too: it ingests (reads, logs, acks) the mail
FINISHED = ("review", "done")
READY_TIMEOUT_S = 60.0
POLL_S = 0.5
MARKER = ".loop/demo.json"


@dataclass(frozen=True)
class SeedTask:
    id: str
    slug: str
    title: str
    depends_on: tuple[str, ...]
    scope: str
    objective: str


TASKS: tuple[SeedTask, ...] = (
    SeedTask(
        "T0001",
        "greeting-api",
        "Sketch the greeting API",
        (),
        "api/ only",
        "Describe a GET /greeting endpoint that answers with a JSON greeting.",
    ),
    SeedTask(
        "T0002",
        "landing-page",
        "Draft the landing page",
        (),
        "web/ only",
        "Draft a landing page with a headline and a slot for the greeting.",
    ),
    SeedTask(
        "T0003",
        "wire-page-to-api",
        "Wire the landing page to the greeting API",
        ("T0001", "T0002"),
        "web/ and api/",
        "Show the greeting the API answers in the landing page's slot.",
    ),
    SeedTask(
        "T0004",
        "release-note",
        "Write the release note",
        ("T0003",),
        "docs/ only",
        "Write a short release note for the greeting feature.",
    ),
)


class DemoError(Exception):
    """A failure of the demo, one line for the user (exit 1)."""


class DemoUsageError(DemoError):
    """Bad input (exit 2)."""


class DemoInterruptedError(Exception):
    """SIGINT / SIGTERM while the demo runs."""


def task_text(task: SeedTask) -> str:
    """The seeded task's file, written by the one task writer (loop_schemas.format_task: inside the
    frontmatter subset, so loop-task-lint and loop-schemas read the same values)."""
    from loop_schemas import format_task

    after = (
        "It builds on " + " and ".join(task.depends_on) + "." if task.depends_on else "It depends on nothing."
    )
    front: dict[str, object] = {
        "id": task.id,
        "title": task.title,
        "status": "open",
        "depends_on": list(task.depends_on),
        "scope": task.scope,
    }
    return format_task(
        front,
        f"""## Objective
{task.objective}

## Context you need
A seeded task of the loop-orchestrator demo project. {after} The demo agent only pretends to do it.

## Deliverables
A completion report by mail to coord.

## Acceptance criteria
The report names {task.id}; the engine then moves this task to review (a human marks it done).

## Verification
loop-engine events shows task-review for {task.id}.

## Out of scope
Any real change: this is a simulation.
""",
    )


def _lane_config(approval: str, agent_cmd: Mapping[str, str]) -> str:
    doc = {
        "lanes": {
            **{
                lane: {"harness": "demo", "cmd": agent_cmd[lane], "role": "impl", "repo": "demo"}
                for lane in DEMO_LANES
            },
            "docs": {"harness": "demo", "cmd": agent_cmd["docs"], "role": "docs"},
        },
        "engine": {
            "approval_mode": approval,
            "checkpoint_interval_s": 30,
            "poll_interval_s": 1,
            "min_cycle_interval_s": 1,
            "brain": {"harness": "builtin"},
            "ingest": {"mode": "lane", "lane": "docs"},
        },
    }
    head = (
        "# lane-config.yaml of the loop-demo project: web, infra and docs run the demo harness (a simulated\n"
        "# agent: no AI; docs runs a simulated ingest of the mail: it reads, logs and acks it), and the\n"
        "# engine runs the built-in deterministic brain with short intervals.\n"
    )
    import yaml

    return head + yaml.safe_dump(doc, sort_keys=False, width=1 << 20)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _say(message: str) -> None:
    print(f"{PROG}: {message}", flush=True)


@dataclass
class Demo:
    root: Path
    session: str
    socket: str | None
    auto: bool
    work_s: str | None
    env: dict[str, str] = field(default_factory=dict)
    booted: bool = False
    daemon: bool = False

    # ------------------------------------------------------------------ plumbing
    def tmux(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        argv = ["tmux", *(["-S", self.socket] if self.socket else []), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, check=False)
        if check and proc.returncode != 0:
            raise DemoError(f"tmux {args[0]}: {_first_line(proc.stderr) or f'exit {proc.returncode}'}")
        return proc

    def script(self, name: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a substrate CLI by its installed path; DemoError (its last stderr line) when it fails."""
        from loop_substrate import SubstrateError, script_path

        try:
            path = script_path(name)
        except SubstrateError as exc:
            raise DemoError(f"{name}: {exc.stderr_line}") from None
        bash = shutil.which("bash") or "/bin/bash"
        # the lane-config resolver needs PyYAML: this interpreter has it (the user's python3 may not)
        env = {"LOOP_PYTHON": sys.executable, **self.env}
        try:
            proc = subprocess.run(
                [bash, str(path), *args],
                capture_output=True,
                text=True,
                env=env,
                cwd=self.root,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"{name} timed out after {timeout:g}s") from None
        if proc.returncode != 0:
            why = _first_line(proc.stderr) or _first_line(proc.stdout) or f"exit {proc.returncode}"
            raise DemoError(f"{name}: {why}")
        return proc

    def engine_argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "loop_engine",
            "--project-root",
            str(self.root),
            "--session",
            self.session,
            *args,
        ]

    def engine(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        # only the engine's processes are pointed at the demo's lane-config (never the tmux server's env)
        env = {**self.env, "LOOP_LANE_CONFIG": str(self.lane_config)}
        try:
            return subprocess.run(
                self.engine_argv(*args),
                capture_output=True,
                text=True,
                env=env,
                cwd=self.root,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"loop-engine {args[0]} timed out after {timeout:g}s") from None

    # ------------------------------------------------------------------ the project
    def make_project(self) -> None:
        self.script(
            "loop-init", "--project-root", str(self.root), "--project", "loop-demo", "--no-lane-config"
        )
        tasks = self.root / "tasks"
        for task in TASKS:
            (tasks / f"{task.id}-{task.slug}.md").write_text(task_text(task), encoding="utf-8")
        self.script("loop-task-lint", "--project-root", str(self.root))
        agent = self.demo_agent()
        cmds = {}
        for lane in AGENT_LANES:
            argv = ["python3", agent, "--lane", lane, "--project-root", str(self.root)]
            if self.work_s is not None:
                argv += ["--work-s", self.work_s]
            cmds[lane] = shlex.join(argv)
        self.lane_config.write_text(_lane_config("auto" if self.auto else "manual", cmds), encoding="utf-8")
        import yaml

        (self.root / MARKER).write_text(
            yaml.safe_dump({"session": self.session, "tasks": [t.id for t in TASKS]}), encoding="utf-8"
        )

    @property
    def lane_config(self) -> Path:
        return self.root / "lane-config.yaml"

    def demo_agent(self) -> str:
        from loop_substrate import SubstrateError, shell_dir

        try:
            path = shell_dir() / "lib" / "demo_agent.py"
        except SubstrateError as exc:
            raise DemoError(exc.stderr_line) from None
        if not path.is_file():
            raise DemoError(f"{path} is missing: this loop-substrate has no demo agent")
        return str(path)

    def task_statuses(self) -> dict[str, str]:
        from loop_engine.tasks import load_tasks

        tasks, _ = load_tasks(self.root / "tasks")
        wanted = {t.id for t in TASKS}
        return {t.id: t.status for t in tasks if t.id in wanted}

    # ------------------------------------------------------------------ the session
    def coord_cmd(self) -> str | None:
        """The deck (with the environment its engine calls need), or None: the preset's digest."""
        deck = _sibling_or_path("loop-deck")
        if deck is None:
            return None
        engine = _sibling_or_path("loop-engine") or self._engine_wrapper()
        env = [f"LOOP_DECK_ENGINE={engine}", f"LOOP_LANE_CONFIG={self.lane_config}"]
        if self.socket:
            env.append(f"LOOP_TMUX_SOCKET={self.socket}")
        argv = ["env", *env, deck, "--project-root", str(self.root), "--session", self.session]
        if self.socket:
            argv += ["--socket", self.socket]
        return shlex.join(argv)

    def _engine_wrapper(self) -> str:
        """A loop-engine executable for the deck when no console script is installed (python -m runs)."""
        path = self.root / ".loop" / "demo-bin" / "loop-engine"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m loop_engine "$@"\n', encoding="utf-8"
        )
        path.chmod(0o755)
        return str(path)

    def boot(self) -> str:
        coord = self.coord_cmd()
        args = [
            "--project",
            "loop-demo",
            "--session",
            self.session,
            "--project-root",
            str(self.root),
            "--preset",
            "monitor",
            "--lane-config",
            str(self.lane_config),
            "--no-attach",
        ]
        if coord is not None:
            args += ["--coord-cmd", coord]
        self.booted = True
        self.script("loop-tmux", *args)
        return "loop-deck" if coord is not None else "loop-digest (loop-deck is not installed)"

    def wait_lanes_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        from loop_substrate import Substrate, SubstrateError

        sub = Substrate(self.session, self.root, socket=self.socket)
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while True:
            try:
                seen = {
                    str(s.lane): f"{s.status}" + (f" ({s.detail})" if s.detail else "")
                    for s in sub.lane_status()
                    if s.lane in DEMO_LANES
                }
                if all(seen.get(lane, "").startswith("idle") for lane in DEMO_LANES):
                    return
            except SubstrateError as exc:
                seen = {"lane-status": exc.stderr_line}
            if time.monotonic() > deadline:
                shown = ", ".join(f"{k} {v}" for k, v in sorted(seen.items())) or "no lanes"
                raise DemoError(f"the demo lanes did not come up idle within {timeout:g}s: {shown}")
            time.sleep(0.25)

    def start_engine(self) -> str:
        proc = self.engine("watch")
        if proc.returncode != 0:
            raise DemoError(f"loop-engine watch: {_first_line(proc.stderr) or f'exit {proc.returncode}'}")
        self.daemon = True
        return _first_line(proc.stdout)

    def pending_decision(self) -> bool:
        return (self.root / ".loop" / "sessions" / self.session / "engine" / "pending-decision.json").exists()

    def daemon_running(self) -> bool:
        from loop_engine.paths import EnginePaths
        from loop_engine.watch import daemon_alive

        return daemon_alive(EnginePaths(self.root, self.session))

    def session_exists(self) -> bool:
        return self.tmux("has-session", "-t", f"={self.session}").returncode == 0

    def teardown(self) -> None:
        problems = []
        if self.daemon:
            proc = self.engine("stop", "--timeout", "20")
            if proc.returncode != 0:
                problems.append(f"loop-engine stop: {_first_line(proc.stderr)}")
        if self.booted and self.session_exists():
            proc = self.tmux("kill-session", "-t", f"={self.session}")
            if proc.returncode != 0:
                problems.append(f"tmux kill-session: {_first_line(proc.stderr)}")
        if problems:
            raise DemoError("; ".join(problems))
        _say(f"stopped the engine daemon and session {self.session}")
        _say(self.folder_hint())

    def folder_hint(self) -> str:
        return f"the demo project stays in {self.root}; remove it with: rm -rf {shlex.quote(str(self.root))}"

    # ------------------------------------------------------------------ where the human is
    def show_exit(self, text: str) -> None:
        """Show how to leave / end the demo in the demo session's own status line (where the human is)."""
        target = f"={self.session}:"  # set-option takes a pane target: the session's current pane
        self.tmux("set-option", "-t", target, "status-right-length", str(len(text) + 4))
        self.tmux("set-option", "-t", target, "status-right", f" {text} ")

    def socket_path(self) -> str | None:
        proc = self.tmux("display-message", "-p", "-t", f"={self.session}", "#{socket_path}")
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def client_of_this_pane(self) -> str | None:
        """The tmux client showing the pane this process runs in (its TMUX server), if any."""
        pane = os.environ.get("TMUX_PANE", "")
        argv = ["tmux", "display-message", "-p", *(["-t", pane] if pane else []), "#{client_name}"]
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def client_session(self, client: str) -> str | None:
        proc = self.tmux("display-message", "-p", "-c", client, "#{client_session}")
        return proc.stdout.strip() if proc.returncode == 0 else None

    def attach_hint(self) -> str:
        sock = f"-S {shlex.quote(self.socket)} " if self.socket else ""
        return f"tmux {sock}attach -t {shlex.quote(self.session)}"

    def stop_hint(self) -> str:
        sock = f"-S {shlex.quote(self.socket)} " if self.socket else ""
        exe = _sibling_or_path("loop-engine")
        head = [exe] if exe else [sys.executable, "-m", "loop_engine"]
        engine = shlex.join([*head, "--project-root", str(self.root), "--session", self.session])
        return f"{engine} stop && tmux {sock}kill-session -t {shlex.quote(self.session)}"

    # ------------------------------------------------------------------ waiting for the finish line
    def wait_until_done(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        last: dict[str, str] = {}
        while True:
            statuses = self.task_statuses()
            for tid, status in sorted(statuses.items()):
                if last.get(tid) != status:
                    _say(f"{tid} {status}")
            last = statuses
            if len(statuses) == len(TASKS) and all(s in FINISHED for s in statuses.values()):
                return
            if not self.daemon_running():
                log = self.root / ".loop" / "sessions" / self.session / "engine" / "daemon.log"
                raise DemoError(f"the engine daemon stopped before the tasks reached review (see {log})")
            if not self.session_exists():
                raise DemoError(f"tmux session {self.session} is gone before the tasks reached review")
            if time.monotonic() > deadline:
                raise DemoError(self.timeout_reason(seconds, statuses))
            time.sleep(POLL_S)

    def timeout_reason(self, seconds: float, statuses: Mapping[str, str]) -> str:
        done = sum(1 for s in statuses.values() if s in FINISHED)
        rest = ", ".join(f"{t} {s}" for t, s in sorted(statuses.items()) if s not in FINISHED)
        why = f"timed out after {seconds:g}s: {done} of {len(TASKS)} tasks in review ({rest})"
        if self.pending_decision() and not self.auto:
            why += "; a decision waits for approval (manual mode: approve it in the deck, or use --auto)"
        return why


def _sibling_or_path(name: str) -> str | None:
    """An installed console script: beside this interpreter (its venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _free_session(tmux_socket: str | None, env: Mapping[str, str]) -> str:
    for i in range(1, 100):
        name = "loop-demo" if i == 1 else f"loop-demo-{i}"
        argv = ["tmux", *(["-S", tmux_socket] if tmux_socket else []), "has-session", "-t", f"={name}"]
        if subprocess.run(argv, capture_output=True, env=dict(env), check=False).returncode != 0:
            return name
    raise DemoError("no free loop-demo session name (loop-demo … loop-demo-99 all exist)")


def _project_root(given: str | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="loop-demo-")).resolve()
    root = Path(given).expanduser()
    if root.exists():
        if not root.is_dir():
            raise DemoUsageError(f"--project-root {given}: not a directory")
        if any(root.iterdir()):
            raise DemoUsageError(
                f"--project-root {given}: not empty "
                "(the demo seeds its own tasks; give a new or empty folder)"
            )
    else:
        try:
            root.mkdir(parents=True)
        except OSError as exc:
            raise DemoError(f"--project-root {given}: {exc.strerror}") from None
    return root.resolve()


class _Formatter(argparse.HelpFormatter):
    """`Usage: loop-demo …`, the form every loop CLI prints (click's)."""

    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not (0 < number < float("inf")):
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number of seconds")
    return number


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        formatter_class=_Formatter,
        description=(
            "The whole loop with no AI CLI: a loop-init project with seeded tasks, lanes running a "
            "simulated demo agent, the engine's built-in brain (manual approval) and loop-deck."
        ),
        epilog=(
            "Environment: LOOP_TMUX_SOCKET (boot on that tmux server instead of yours), LOOP_DEMO_WORK_S "
            "(seconds a demo agent works on a prompt, default 3). Exit: 0 ok; 1 failure or --until-done "
            "timeout (one line on stderr); 2 usage; 130 interrupted."
        ),
    )
    p.add_argument("--version", action="version", version=f"{PROG}, version {loop_engine.__version__}")
    p.add_argument(
        "--project-root",
        metavar="DIR",
        help="a new or empty folder for the demo project (default: a new temporary folder)",
    )
    p.add_argument("--auto", action="store_true", help="approve safe actions automatically (runs unattended)")
    p.add_argument("--no-attach", action="store_true", help="do not attach to / switch to the session")
    p.add_argument(
        "--until-done",
        metavar="SECS",
        type=_positive,
        help="run headless: wait until every seeded task is in review, then exit 0 (1 on a timeout)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the session and the engine daemon running when the demo ends",
    )
    return p


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise DemoInterruptedError(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    work_s = os.environ.get("LOOP_DEMO_WORK_S") or None
    if work_s is not None:
        try:
            _positive(work_s)
        except argparse.ArgumentTypeError as exc:
            print(f"{PROG}: error: LOOP_DEMO_WORK_S {exc}", file=sys.stderr)
            return EXIT_USAGE
    if shutil.which("tmux") is None:
        print(f"{PROG}: tmux is required (3.3 or newer) and was not found on PATH", file=sys.stderr)
        return EXIT_FAILURE
    from loop_substrate import SubstrateError, check_contract

    try:
        check_contract()
    except SubstrateError as exc:
        print(f"{PROG}: {exc.stderr_line}", file=sys.stderr)
        return EXIT_FAILURE
    socket = os.environ.get("LOOP_TMUX_SOCKET") or None
    # the demo's own engine settings win over any LOOP_ENGINE_* overrides of the user's shell
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LOOP_ENGINE_") and k != "LOOP_LANE_CONFIG"
    }
    demo: Demo | None = None
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        root = _project_root(args.project_root)
        session = _free_session(socket, env)
        demo = Demo(root=root, session=session, socket=socket, auto=args.auto, work_s=work_s, env=env)
        return _run(demo, args)
    except DemoUsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DemoError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        _cleanup(demo, keep=args.keep)
        return EXIT_FAILURE
    except (DemoInterruptedError, KeyboardInterrupt):
        print(f"{PROG}: interrupted", file=sys.stderr)
        _cleanup(demo, keep=args.keep)
        return EXIT_INTERRUPTED
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _cleanup(demo: Demo | None, *, keep: bool) -> None:
    if demo is None:
        return
    if keep:
        if demo.booted:
            _say(f"--keep: left running; attach: {demo.attach_hint()}; stop: {demo.stop_hint()}")
        _say(demo.folder_hint())
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        demo.teardown()
    except DemoError as exc:
        print(f"{PROG}: teardown: {exc}", file=sys.stderr)


def _run(demo: Demo, args: argparse.Namespace) -> int:
    mode = "auto (safe actions run by themselves)" if demo.auto else "manual (approve each decision)"
    _say(f"project {demo.root}")
    demo.make_project()
    _say(f"seeded {len(TASKS)} tasks: T0001, T0002 -> T0003 -> T0004 (loop-task-lint: ok)")
    coord = demo.boot()
    _say(f"session {demo.session}: web and infra run the demo agent (a simulation, no AI); coord: {coord}")
    demo.wait_lanes_ready()
    started = demo.start_engine()
    _say(f"engine: built-in brain, approval {mode}; {started}")
    if args.until_done is not None:
        _say(f"watch it: {demo.attach_hint()}")
        demo.wait_until_done(args.until_done)
        _say(f"every seeded task is in review ({len(TASKS)} of {len(TASKS)}): the loop ran end to end")
        if args.keep:
            _say(f"--keep: left running; attach: {demo.attach_hint()}; stop: {demo.stop_hint()}")
            _say(demo.folder_hint())
        else:
            demo.teardown()
        return 0
    if args.no_attach:
        _say(f"attach: {demo.attach_hint()}")
        _say(f"stop:   {demo.stop_hint()}")
        _say(demo.folder_hint())
        return 0
    tmux_client = os.environ.get("TMUX", "").split(",")[0]
    if tmux_client and _same_file(tmux_client, demo.socket_path()):
        return _switch(demo, keep=args.keep)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        _say(f"no terminal to attach from; attach: {demo.attach_hint()}")
        _say(f"stop:   {demo.stop_hint()}")
        _say(demo.folder_hint())
        return 0
    return _attach(demo, keep=args.keep, nested=bool(tmux_client))


def _same_file(a: str, b: str | None) -> bool:
    if not b:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _prefix(argv: list[str], env: Mapping[str, str]) -> str:
    proc = subprocess.run(
        [*argv, "show-options", "-gv", "prefix"], capture_output=True, text=True, env=dict(env), check=False
    )
    return proc.stdout.strip() or "C-b"


def _switch(demo: Demo, *, keep: bool) -> int:
    """Inside a client of the demo's own server: switch it there; leaving the demo session ends the demo."""
    client = demo.client_of_this_pane()
    here = demo.client_session(client) if client else None
    prefix = _prefix(["tmux", *(["-S", demo.socket] if demo.socket else [])], demo.env)
    back = f"{prefix} L" if here else f"{prefix} s"
    if keep or client is None:  # nothing to watch: the way to stop it is shown in the session itself
        demo.show_exit(f"loop-demo: stop with {demo.stop_hint()}")
    else:
        demo.show_exit(f"loop-demo: {back} goes back to {here or 'your session'} and ends the demo")
    argv = ["switch-client", *(["-c", client] if client else []), "-t", f"={demo.session}"]
    switched = demo.tmux(*argv)
    if switched.returncode != 0:
        raise DemoError(f"cannot switch this tmux client to {demo.session}: {_first_line(switched.stderr)}")
    if keep or client is None:
        _say(f"switched to {demo.session}; it keeps running. stop: {demo.stop_hint()}")
        _say(demo.folder_hint())
        return 0
    _say(f"switched to {demo.session}; going back ({back}) ends the demo (--keep leaves it running)")
    while True:
        where = demo.client_session(client) if client else None
        if where != demo.session or not demo.session_exists():
            break
        time.sleep(POLL_S)
    demo.teardown()
    return 0


def _attach(demo: Demo, *, keep: bool, nested: bool) -> int:
    """Attach in the foreground (outside tmux, or nested in a client of another server); detaching ends it.

    Nested, the demo session gets a prefix other than the outer client's, so its detach is not the outer's."""
    tmux = ["tmux", *(["-S", demo.socket] if demo.socket else [])]
    env = {k: v for k, v in demo.env.items() if k not in ("TMUX", "TMUX_PANE")}
    prefix = _prefix(tmux, env)
    if nested:
        outer = _prefix(["tmux"], demo.env)
        prefix = "C-a" if outer != "C-a" else "C-b"
        demo.tmux("set-option", "-t", f"={demo.session}:", "prefix", prefix)
    what = "leaves it running" if keep else "ends the demo"
    demo.show_exit(f"loop-demo: {prefix} d detaches and {what}")
    inside = " (nested in your tmux: the demo's prefix is " + prefix + ")" if nested else ""
    _say(f"attaching{inside}: detach ({prefix} d) {what}" + ("" if keep else " (--keep leaves it running)"))
    subprocess.run([*tmux, "attach-session", "-t", f"={demo.session}"], env=env, check=False)
    if keep:
        _say(f"--keep: left running; attach: {demo.attach_hint()}; stop: {demo.stop_hint()}")
        _say(demo.folder_hint())
    else:
        demo.teardown()
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
