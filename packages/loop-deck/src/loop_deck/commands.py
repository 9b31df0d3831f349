"""Every mutation the deck can make, as the exact CLI call a human would type.

The deck writes nothing itself: each action becomes one argv for loop-dispatch, loop-tmux, loop-adr,
loop-task, loop-checkpoint or loop-engine, run without a shell by a Runner; the deck shows the argv and
its result.
Substrate CLIs are run by their installed path (`loop_substrate.script_path`), so the deck works from an
isolated `uv tool install`. Payloads go to loop-dispatch on stdin (`-`), never as a shell word.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loop_substrate import SubstrateError, script_path

DEFAULT_TIMEOUT = 120.0
ENGINE_CYCLE_TIMEOUT = 900.0


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    stdin: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    # variables set for this command on top of the deck's environment (e.g. the tmux socket)
    env: tuple[tuple[str, str], ...] = ()

    @property
    def display(self) -> str:
        text = shlex.join(self.argv)
        if self.env:
            text = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env) + " " + text
        if self.stdin is not None:
            text += f"  <<< ({len(self.stdin.encode())} bytes on stdin)"
        return text


@dataclass(frozen=True)
class CommandResult:
    command: Command
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def summary(self) -> str:
        """`ok: <last line>` or `exit N: <last line of stderr>`: what the human would have seen last."""
        text = self.stdout if self.ok else (self.stderr.strip() or self.stdout)
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        tail = lines[-1] if lines else ""
        verdict = "ok" if self.ok else f"exit {self.returncode}"
        return f"{verdict}: {tail}" if tail else verdict


Runner = Callable[[Command], CommandResult]


def run_command(command: Command) -> CommandResult:
    """The real runner: no shell, stdin from the payload (or /dev/null), output captured."""
    try:
        proc = subprocess.run(
            list(command.argv),
            input=command.stdin if command.stdin is not None else "",
            capture_output=True,
            text=True,
            errors="replace",
            timeout=command.timeout,
            check=False,
            env={**os.environ, **dict(command.env)} if command.env else None,
        )
    except FileNotFoundError:
        return CommandResult(command, 127, "", f"{command.argv[0]}: not found")
    except PermissionError:
        return CommandResult(command, 126, "", f"{command.argv[0]}: not executable")
    except subprocess.TimeoutExpired:
        return CommandResult(command, 124, "", f"timed out after {command.timeout:.0f}s")
    return CommandResult(command, proc.returncode, proc.stdout, proc.stderr)


def client_socket() -> str | None:
    """The socket of the tmux server this process runs under ($TMUX is `socket,pid,session`), or None."""
    value = os.environ.get("TMUX", "")
    sock = value.rsplit(",", 2)[0] if value.count(",") >= 2 else value
    return sock or None


def same_server(watched: str | None, own: str | None) -> bool:
    """Whether the watched server (`--socket`, None: the one tmux picks, i.e. $TMUX's inside tmux) is the
    server `own` names. A pane id (`%3`) is only unique within one server: identity needs both."""
    if own is None:
        return False
    if watched is None:
        return True
    return os.path.realpath(watched) == os.path.realpath(own)


class EngineMissingError(LookupError):
    """An engine action while loop-engine is not installed."""


class CommandBuilder:
    """Builds the argv of each deck action for one session of one project."""

    def __init__(
        self, project_root: Path, session: str, *, socket: str | None = None, engine_cmd: str | None = None
    ) -> None:
        self.project_root = project_root
        self.session = session
        self.socket = socket
        self.engine_cmd = engine_cmd
        # The CLIs find the tmux server by LOOP_TMUX_SOCKET: a --socket given to the deck must reach them
        # too, or the deck would read one server and change another.
        self.env: tuple[tuple[str, str], ...] = (("LOOP_TMUX_SOCKET", socket),) if socket else ()

    @staticmethod
    def cli(name: str) -> str:
        """The installed path of a substrate CLI; the bare name when the bundle cannot be found."""
        try:
            return str(script_path(name))
        except SubstrateError:
            return name

    def _engine(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> Command:
        if self.engine_cmd is None:
            raise EngineMissingError("loop-engine is not installed: the deck is a live dashboard only")
        return Command(
            (self.engine_cmd, "--project-root", str(self.project_root), "--session", self.session, *args),
            timeout=timeout,
            env=self.env,
        )

    def dispatch(
        self, lane: str, text: str, *, mode: Literal["text", "command"] = "text", interrupt: bool = False
    ) -> Command:
        argv = [self.cli("loop-dispatch"), "--session", self.session, "--mode", mode]
        if interrupt:
            argv.append("--interrupt")
        argv += [lane, "-"]
        return Command(tuple(argv), stdin=text, env=self.env)

    def steer(self, lane: str, text: str) -> Command:
        return self.dispatch(lane, text, interrupt=True)

    def add_lane(
        self,
        window: str,
        *,
        harness: str = "",
        cmd: str = "",
        model: str = "",
        role: str = "",
        worktree: bool = False,
        auto_approve: bool = False,
    ) -> Command:
        if bool(harness) == bool(cmd):
            raise ValueError("add-lane needs exactly one of a harness or a command")
        argv = [self.cli("loop-tmux"), "add-lane", "--session", self.session, "--window", window]
        argv += ["--harness", harness] if harness else ["--cmd", cmd]
        if model:
            argv += ["--model", model]
        if role:
            argv += ["--role", role]
        if worktree:
            argv.append("--worktree")
        if auto_approve:
            argv.append("--auto-approve")
        return Command(tuple(argv), env=self.env)

    def drop_lane(self, window: str, *, force: bool = False) -> Command:
        argv = [self.cli("loop-tmux"), "drop-lane", "--session", self.session, "--window", window]
        if force:
            argv.append("--force")
        return Command(tuple(argv), env=self.env)

    def jump(self, target: str) -> Command:
        """Show a pane: switch this terminal's tmux client to it when the client is on the watched server;
        otherwise (outside tmux, or a client of another server, where switch-client finds "no current
        client") make it the current pane of its session, for the next attach."""
        tmux = shutil.which("tmux") or "tmux"
        base = [tmux, "-S", self.socket] if self.socket else [tmux]
        if self.client_on_watched_server():
            return Command((*base, "switch-client", "-t", target))
        return Command((*base, "select-window", "-t", target, ";", "select-pane", "-t", target))

    def client_on_watched_server(self) -> bool:
        """Whether this terminal is a tmux client of the server the deck watches."""
        own = client_socket()
        return own is not None and same_server(self.socket, own)

    def checkpoint(self, *, engine_running: bool, lane: str = "coord") -> Command:
        """A checkpoint: the daemon's cycle-now; one engine cycle when it is stopped; without the engine,
        the checkpoint prompt dispatched to the coord lane by loop-checkpoint."""
        if self.engine_cmd is not None:
            if engine_running:
                return self._engine("cycle-now")
            return self._engine("once", timeout=ENGINE_CYCLE_TIMEOUT)
        return Command(
            (
                self.cli("loop-checkpoint"),
                "--dispatch",
                lane,
                "--project-root",
                str(self.project_root),
                "--session",
                self.session,
            ),
            env=self.env,
        )

    def pause(self) -> Command:
        return self._engine("pause")

    def resume(self) -> Command:
        return self._engine("resume")

    def approve(self, decision_id: str, digest: str = "") -> Command:
        """`--expect-digest`: the engine runs nothing if the decision changed since the deck showed it."""
        extra = ("--expect-digest", digest) if digest else ()
        return self._engine("approve", decision_id, *extra, timeout=ENGINE_CYCLE_TIMEOUT)

    def reject(self, decision_id: str, reason: str = "") -> Command:
        return self._engine("reject", decision_id, *(["--reason", reason] if reason else []))

    def task(self, verb: Literal["done", "reopen", "drop"], task_id: str, reason: str = "") -> Command:
        """A human's verdict on a task: loop-task moves the file and logs it; the deck writes nothing."""
        argv = [self.cli("loop-task"), "--project-root", str(self.project_root), verb, task_id]
        if reason:
            argv += ["--reason", reason]
        return Command(tuple(argv))

    def accept_adr(self, number: int, adr_dir: Path | None = None) -> Command:
        """`--yes` only skips loop-adr's own terminal prompt: the deck asked first; the gate still runs."""
        argv = [self.cli("loop-adr"), "--project-root", str(self.project_root)]
        if adr_dir is not None:
            argv += ["--adr-dir", str(adr_dir)]
        return Command((*argv, "accept", str(number), "--yes"))
