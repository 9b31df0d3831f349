"""loop-demo: the whole loop on this machine in minutes, with no AI CLI and no API key.

    loop-demo [--project-root DIR] [--story tasks|verify] [--auto] [--no-attach] [--until-done SECS] [--keep]

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

`--story verify` shows the headless build/verify drive instead (contract-later §10): the project is a git
repository (`main`, one commit: a README, a .gitignore and a Makefile whose `check` runs the project's
unit tests) with one seeded task and a worktree lane `builder` that has no pane (its branch
`loop/<session>/builder` in a git worktree under .loop/worktrees/, recorded in the ledger as add-lane
--worktree records it). The built-in brain builds the task headless (engine.build.cmd: the demo agent's
one-shot `--build`, a real small commit), verifies the branch (loop-verify: the gate `make check`, the
three lenses answered by the demo agent's one-shot `--review` through LOOP_VERIFY_CMD), and proposes
the merge, which only a human approves (y in the deck). `--until-done` ends there: when the pending
decision holds the `merge` action (exit 0, after printing the verify report's path and verdict); a
failed build or verify ends it with exit 1.

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
STORIES = ("tasks", "verify")
BUILD_LANE = "builder"  # the verify story's worktree lane (no pane)
STORY_LANES = {"tasks": DEMO_LANES, "verify": ("docs",)}  # the lanes booted idle before the engine starts
# the drive's events the verify story narrates; the failing ones end it
DRIVE_EVENTS = ("build-started", "build-done", "verify-started", "verify-passed")
DRIVE_FAILURES = (
    "build-failed",
    "build-timeout",
    "build-skip",
    "verify-failed",
    "verify-stale",
    "verify-timeout",
    "verify-skip",
    "run-orphan",
)
MAKEFILE = """\
# The loop-demo project's one check (loop-verify's gate): the unit tests, with the standard library only.
check:
\tpython3 -m unittest discover -q -p 'test_*.py'
"""


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


VERIFY_TASKS: tuple[SeedTask, ...] = (
    SeedTask(
        "T0001",
        "describe-module",
        "Add a module that describes this task",
        (),
        "the project root",
        "Add a Python module whose describe() names this task, with a unit test that `make check` runs.",
    ),
)


def story_tasks(story: str) -> tuple[SeedTask, ...]:
    return VERIFY_TASKS if story == "verify" else TASKS


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


def _lane_config(approval: str, agent_cmd: Mapping[str, str], build_cmd: Sequence[str] = ()) -> str:
    """The demo's lane-config; with `build_cmd` (the verify story): no implementation lanes (the task is
    built headless on the worktree lane) and `engine.build.cmd` set to it."""
    impl = () if build_cmd else DEMO_LANES
    doc: dict[str, Any] = {
        "lanes": {
            **{
                lane: {"harness": "demo", "cmd": agent_cmd[lane], "role": "impl", "repo": "demo"}
                for lane in impl
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
    if build_cmd:
        doc["engine"]["build"] = {"cmd": list(build_cmd)}
        doc["engine"]["verify"] = {"base": "main"}
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
    story: str = "tasks"
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
        env = {**self.env, "LOOP_LANE_CONFIG": str(self.lane_config), **self.verify_env()}
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
    @property
    def tasks(self) -> tuple[SeedTask, ...]:
        return story_tasks(self.story)

    def make_project(self) -> None:
        self.script(
            "loop-init", "--project-root", str(self.root), "--project", "loop-demo", "--no-lane-config"
        )
        tasks = self.root / "tasks"
        for task in self.tasks:
            (tasks / f"{task.id}-{task.slug}.md").write_text(task_text(task), encoding="utf-8")
        self.script("loop-task-lint", "--project-root", str(self.root))
        agent = self.demo_agent()
        cmds = {}
        for lane in AGENT_LANES:
            argv = ["python3", agent, "--lane", lane, "--project-root", str(self.root)]
            if self.work_s is not None:
                argv += ["--work-s", self.work_s]
            cmds[lane] = shlex.join(argv)
        build: list[str] = []
        if self.story == "verify":
            build = [sys.executable, agent, "--build", "{worktree}", "--lane", BUILD_LANE]
            build += ["--project-root", str(self.root)]
            self.verify_env()  # loop-verify is there, or the demo stops before anything starts
            self.make_repository()
        approval = "auto" if self.auto else "manual"
        self.lane_config.write_text(_lane_config(approval, cmds, build), encoding="utf-8")
        import yaml

        (self.root / MARKER).write_text(
            yaml.safe_dump(
                {"session": self.session, "story": self.story, "tasks": [t.id for t in self.tasks]}
            ),
            encoding="utf-8",
        )

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """git in the project (never a shell); DemoError with git's last line when it fails."""
        argv = ["git", "-C", str(cwd or self.root), *args]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DemoError(f"git {args[0]}: {exc}") from None
        if proc.returncode != 0:
            raise DemoError(f"git {args[0]}: {_first_line(proc.stderr) or f'exit {proc.returncode}'}")
        return proc.stdout.strip()

    def make_repository(self) -> None:
        """The verify story's project: a git repository on `main` (one commit of the project's own files;
        the loop's files stay untracked) and the worktree lane `builder` with no pane, made the way
        `loop-tmux add-lane --worktree` makes one: its branch, its worktree, its ledger row."""
        if shutil.which("git") is None:
            raise DemoError("--story verify needs git, and git was not found on PATH")
        (self.root / ".gitignore").write_text(".loop/\n__pycache__/\n", encoding="utf-8")
        (self.root / "Makefile").write_text(MAKEFILE, encoding="utf-8")
        (self.root / "README.md").write_text(
            "# loop-demo\n\nThe loop-demo project: its code is built headless by the demo agent on the "
            "`builder` lane's branch, verified by loop-verify, and merged only when a human approves.\n",
            encoding="utf-8",
        )
        self.git("init", "-q")
        self.git("symbolic-ref", "HEAD", "refs/heads/main")
        self.git("add", "--", ".gitignore", "Makefile", "README.md")
        self.git(
            "-c",
            "user.name=loop-demo",
            "-c",
            "user.email=loop-demo@loop-demo.invalid",
            "commit",
            "-q",
            "-m",
            "loop-demo: the project's first commit",
        )
        branch = f"loop/{self.session}/{BUILD_LANE}"
        tree = self.root / ".loop" / "worktrees" / self.session / BUILD_LANE
        tree.parent.mkdir(parents=True, exist_ok=True)
        (self.root / ".loop" / "worktrees" / ".gitignore").write_text("*\n", encoding="utf-8")
        self.git("worktree", "add", "--quiet", "-b", branch, str(tree), "HEAD")
        # the ledger row, by add-lane's own writer (shell/lib/ledger.py: merged under the ledger's lock)
        ledger = Path(self.demo_agent()).parent / "ledger.py"
        state = self.root / ".loop" / "orchestrator-state.json"
        argv = [sys.executable, str(ledger), "set-branch", f"--state-file={state}", f"--window={BUILD_LANE}"]
        proc = subprocess.run([*argv, f"--branch={branch}"], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DemoError(f"cannot record {branch} in the ledger: {_first_line(proc.stderr)}")

    def verify_env(self) -> dict[str, str]:
        """The verify story's engine environment: loop-verify on PATH (this venv's), its lenses answered
        by the demo agent's one-shot reviewer."""
        if self.story != "verify":
            return {}
        verify = _sibling_or_path("loop-verify")
        if verify is None:
            raise DemoError("--story verify needs loop-verify (loop-engine's console script), not found")
        path = str(Path(verify).parent) + os.pathsep + self.env.get("PATH", os.defpath)
        review = shlex.join([sys.executable, self.demo_agent(), "--review"])
        return {"PATH": path, "LOOP_VERIFY_CMD": review}

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
        wanted = {t.id for t in self.tasks}
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
                    if s.lane in STORY_LANES[self.story]
                }
                if all(seen.get(lane, "").startswith("idle") for lane in STORY_LANES[self.story]):
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
            if len(statuses) == len(self.tasks) and all(s in FINISHED for s in statuses.values()):
                return
            if not self.daemon_running():
                log = self.root / ".loop" / "sessions" / self.session / "engine" / "daemon.log"
                raise DemoError(f"the engine daemon stopped before the tasks reached review (see {log})")
            if not self.session_exists():
                raise DemoError(f"tmux session {self.session} is gone before the tasks reached review")
            if time.monotonic() > deadline:
                raise DemoError(self.timeout_reason(seconds, statuses))
            time.sleep(POLL_S)

    def engine_dir(self) -> Path:
        return self.root / ".loop" / "sessions" / self.session / "engine"

    def wait_until_merge_proposed(self, seconds: float) -> tuple[str, dict[str, Any]]:
        """The verify story's finish line: a pending decision that holds the `merge` action. Narrates the
        drive's events as they come; a failed build or verify ends it. Returns (decision id, the
        drive's verify record of the lane: report, overall)."""
        import json

        deadline = time.monotonic() + seconds
        events = self.engine_dir() / "events.jsonl"
        offset, last = 0, "none yet"
        while True:
            try:
                with events.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except OSError:
                chunk = b""
            complete = chunk[: chunk.rfind(b"\n") + 1]
            offset += len(complete)
            for raw in complete.splitlines():
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                name = event.get("event") if isinstance(event, dict) else None
                if name in DRIVE_EVENTS or name in DRIVE_FAILURES:
                    detail = " ".join(
                        f"{k} {str(event[k])[:12] if k in ('tip', 'head', 'pre_build_sha') else event[k]}"
                        for k in ("window", "tip", "head", "overall", "reason")
                        if event.get(k) not in (None, "")
                    )
                    last = f"{name} {detail}".strip()
                    _say(last)
                if name in DRIVE_FAILURES:
                    raise DemoError(f"the verify story stopped: {last} (see {events})")
            found = self.merge_proposal()
            if found is not None:
                return found
            if not self.daemon_running():
                log = self.engine_dir() / "daemon.log"
                raise DemoError(f"the engine daemon stopped before the merge was proposed (see {log})")
            if time.monotonic() > deadline:
                why = f"timed out after {seconds:g}s before the merge was proposed (last drive event: {last})"
                if self.pending_decision() and not self.auto:
                    why += (
                        "; a decision waits for approval (manual mode: approve it in the deck, or use --auto)"
                    )
                raise DemoError(why)
            time.sleep(POLL_S)

    def merge_proposal(self) -> tuple[str, dict[str, Any]] | None:
        import json

        try:
            pending = json.loads((self.engine_dir() / "pending-decision.json").read_text(encoding="utf-8"))
            actions = pending["decision"]["actions"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not any(isinstance(a, dict) and a.get("kind") == "merge" for a in actions):
            return None
        try:
            book = json.loads((self.engine_dir() / "drive.json").read_text(encoding="utf-8"))
            verify = book["lanes"][BUILD_LANE]["verify"]
        except (OSError, ValueError, KeyError, TypeError):
            verify = {}
        return str(pending.get("id")), verify if isinstance(verify, dict) else {}

    def timeout_reason(self, seconds: float, statuses: Mapping[str, str]) -> str:
        done = sum(1 for s in statuses.values() if s in FINISHED)
        rest = ", ".join(f"{t} {s}" for t, s in sorted(statuses.items()) if s not in FINISHED)
        why = f"timed out after {seconds:g}s: {done} of {len(self.tasks)} tasks in review ({rest})"
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
    p.add_argument(
        "--story",
        choices=STORIES,
        default="tasks",
        help="tasks (default): demo lanes take four seeded tasks to review; verify: one task built "
        "headless on a worktree lane, verified by loop-verify, and its merge proposed for your approval",
    )
    p.add_argument("--auto", action="store_true", help="approve safe actions automatically (runs unattended)")
    p.add_argument("--no-attach", action="store_true", help="do not attach to / switch to the session")
    p.add_argument(
        "--until-done",
        metavar="SECS",
        type=_positive,
        help="run headless: wait until every seeded task is in review (--story verify: until the merge "
        "is proposed), then exit 0 (1 on a timeout)",
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
    from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

    # after parsing (--help stays light), before any model is built (CONTRACT.md: pydantic plugins)
    no_pydantic_plugins_unless_asked()
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
        demo = Demo(
            root=root,
            session=session,
            socket=socket,
            auto=args.auto,
            work_s=work_s,
            env=env,
            story=args.story,
        )
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
    if demo.story == "verify":
        _say(
            f"seeded 1 task (T0001); git repository on main; worktree lane {BUILD_LANE} with no pane on "
            f"loop/{demo.session}/{BUILD_LANE} (built headless by the demo agent; no AI)"
        )
    else:
        _say(f"seeded {len(TASKS)} tasks: T0001, T0002 -> T0003 -> T0004 (loop-task-lint: ok)")
    coord = demo.boot()
    lanes = "docs runs" if demo.story == "verify" else "web and infra run"
    _say(f"session {demo.session}: {lanes} the demo agent (a simulation, no AI); coord: {coord}")
    demo.wait_lanes_ready()
    started = demo.start_engine()
    _say(f"engine: built-in brain, approval {mode}; {started}")
    if args.until_done is not None and demo.story == "verify":
        _say(f"watch it: {demo.attach_hint()}")
        decision, verify = demo.wait_until_merge_proposed(args.until_done)
        _say(f"verify report: {verify.get('report')} (overall {verify.get('overall')})")
        _say(
            f"the merge of {BUILD_LANE}'s branch waits for a human: decision {decision} "
            "(y in the deck, or loop-engine approve)"
        )
        if args.keep:
            _say(f"--keep: left running; attach: {demo.attach_hint()}; stop: {demo.stop_hint()}")
            _say(demo.folder_hint())
        else:
            demo.teardown()
        return 0
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
