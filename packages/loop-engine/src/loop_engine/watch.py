"""The watch daemon: a pid-file singleton that polls cheaply and runs a cycle only when something changed.

Triggers: the checkpoint interval, a new pending message (an ask reply among them), a lane going
working → idle, a change of the state file, `cycle-now`, and `drive-pending` (a detached verify or build
run ended: runs.finished_waiting; the cycle reaps its outcome and the brain is asked). Triggers are
debounced by min_cycle_interval_s (cycle-now and ask replies skip the debounce). A cycle whose
observation is unchanged since the last brain call skips the brain, so an idle fleet costs zero brain
calls; a lane going working → idle (and cycle-now, and drive-pending) always asks the brain, since the
work it finished shows in no status.

Singleton: daemon.lock is flock'ed for the daemon's whole life, and daemon.pid records its pid, start
time and the installed code's stamp; its mtime is the heartbeat (touched at every poll). At boot the
daemon writes daemon-build.json {pid, started_at, module, module_mtime_ns, code_sha256} (sha256 over
the engine's *.py). The lock, not the pid file, says whether a daemon is alive, so a stale pid file
after a kill -9 is harmless. `status` says `code: current|stale` (content-based, see code_state) and
warns when stale (run `restart`); the daemon records `daemon-stale` once. `restart` confirms the old
daemon dead before starting a new one.

The CLI's daemon (Linux) keeps its own process small: it only polls (no pydantic, no cycle code), and
its boot check, its start's reap and each cycle run in a child it forks for them (Daemon, Forked).

A brain (or headless-ingest) child runs in its own process group, so a kill -9 of the daemon leaves it
running: the next daemon start, and `stop` / `restart` once the old daemon is dead, reap such an orphan
(brain.reap_orphans: only a process proven to be the recorded child) and record a `brain-orphan` event.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from loop_schemas import atomic_write, read_project_text
from loop_schemas.fsread import ENGINE_CAP

import loop_engine
from loop_engine.events import EventLog, iso
from loop_engine.paths import EnginePaths

STALE_WARNING = "the installed loop-engine is newer than the running daemon: run `loop-engine restart`"
# The cycle machinery (cycle, brain, observe, asks) is imported where the daemon and the reaper use it:
# `loop-engine status`, `pause` and `stop` read the daemon's files and need none of it.


class DaemonError(Exception):
    """A daemon control problem (one line for the user)."""


def code_stamp() -> float:
    """The newest mtime among the installed loop_engine files: a reinstall moves it forward."""
    root = Path(loop_engine.__file__).parent
    newest = 0.0
    for path in root.rglob("*"):
        if path.suffix in (".py", ".md"):
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime)
    return newest


# ---- what code the daemon runs: engine/daemon-build.json ----------------------------------------------


def _engine_sources() -> list[Path]:
    root = Path(loop_engine.__file__).parent
    return sorted(root.rglob("*.py"))


def code_signature() -> tuple[str, int]:
    """(a digest of every engine *.py file's name, size, mtime_ns, ctime_ns and inode, the newest
    mtime_ns): stat only, cheap enough for every `status`; equal signatures mean the files were not
    touched since. The ctime and inode move on any write or replacement, even one that keeps the size
    and puts the old mtime back (cp -p, rsync -t, an unpacked archive): then the content is hashed."""
    import hashlib  # only where a daemon runs: `status` of a stopped engine never loads it

    root = Path(loop_engine.__file__).parent
    h = hashlib.sha256()
    newest = 0
    for path in _engine_sources():
        with contextlib.suppress(OSError):
            st = path.stat()
            name = path.relative_to(root).as_posix()
            h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())
            newest = max(newest, st.st_mtime_ns)
    return h.hexdigest(), newest


def code_sha256() -> str:
    """sha256 over the engine's *.py files (names and contents, in name order): a reinstall of the same
    code keeps it, any change of the code moves it."""
    import hashlib

    root = Path(loop_engine.__file__).parent
    h = hashlib.sha256()
    for path in _engine_sources():
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            h.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\n".encode())
            h.update(data)
    return h.hexdigest()


def build_record(pid: int) -> dict[str, Any]:
    """engine/daemon-build.json: {pid, started_at, module, module_mtime_ns, code_sha256} (the original's
    keys; module_mtime_ns is the newest engine *.py mtime, the fallback for a record without
    code_sha256) plus files_signature (code_signature's digest: `status` hashes only when it moved)."""
    signature, newest = code_signature()
    return {
        "pid": pid,
        "started_at": iso(),
        "module": str(Path(loop_engine.__file__).parent),
        "module_mtime_ns": newest,
        "code_sha256": code_sha256(),
        "files_signature": signature,
    }


def read_build(paths: EnginePaths) -> dict[str, Any] | None:
    try:
        loaded = json.loads(read_project_text(paths.daemon_build, ENGINE_CAP))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return loaded if isinstance(loaded, dict) else None


def code_state(record: dict[str, Any] | None, pid_info: dict[str, Any]) -> str:
    """ "current" when the running daemon's code is the installed code, else "stale". Content-based: the
    record's code_sha256 against the installed files (hashed only when their stat signature moved since
    the boot); a record without code_sha256 compares module_mtime_ns; a daemon with no record of its own
    pid (an older engine) compares daemon.pid's code_stamp; nothing to compare is stale."""
    if record is not None and record.get("pid") == pid_info.get("pid"):
        digest = record.get("code_sha256")
        if isinstance(digest, str) and digest:
            signature, _ = code_signature()
            if signature == record.get("files_signature"):
                return "current"
            return "current" if code_sha256() == digest else "stale"
        mtime = record.get("module_mtime_ns")
        if isinstance(mtime, int):
            return "current" if code_signature()[1] <= mtime else "stale"
    if isinstance(pid_info.get("code_stamp"), (int, float)):
        return "stale" if code_stamp() > float(pid_info["code_stamp"]) + 1e-6 else "current"
    return "stale"


def heartbeat_age(paths: EnginePaths) -> float | None:
    """Seconds since the daemon last touched daemon.pid (it does at every poll), or None."""
    try:
        return max(0.0, time.time() - paths.pid.stat().st_mtime)
    except OSError:
        return None


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def daemon_alive(paths: EnginePaths) -> bool:
    """True when some process holds the daemon lock (the only trustworthy liveness test)."""
    if not paths.daemon_lock.exists():
        return False
    with _try_lock(paths.daemon_lock) as got:
        return not got


def read_pid(paths: EnginePaths) -> dict[str, Any] | None:
    try:
        text = read_project_text(paths.pid, ENGINE_CAP)
    except (OSError, UnicodeDecodeError):
        return None
    first, _, rest = text.partition("\n")
    info: dict[str, Any] = {}
    with contextlib.suppress(ValueError, RecursionError):
        loaded = json.loads(rest) if rest.strip() else {}
        if isinstance(loaded, dict):
            info.update(loaded)
    if first.strip().isdigit():
        info["pid"] = int(first.strip())
    return info or None


def daemon_info(paths: EnginePaths) -> dict[str, Any]:
    alive = daemon_alive(paths)
    info = read_pid(paths) or {}
    # a daemon that holds the lock but has not written daemon.pid yet is starting: no verdict yet
    code = code_state(read_build(paths), info) if alive and isinstance(info.get("pid"), int) else None
    stale = code == "stale"
    age = heartbeat_age(paths) if alive else None
    return {
        "running": alive,
        "pid": info.get("pid") if alive else None,
        "started_at": info.get("started_at") if alive else None,
        "version": info.get("version") if alive else None,
        "paused": paths.paused.exists(),
        "stale": stale,
        "warning": (STALE_WARNING if stale else None),
        "code": code,
        "heartbeat_age_s": None if age is None else int(age),
    }


def reap(paths: EnginePaths, by: str) -> list[dict[str, Any]]:
    """Stop the brain children a dead engine left running; one `brain-orphan` event each."""
    if not paths.children.is_dir():
        return []
    from loop_engine.brain import reap_orphans

    done = reap_orphans(paths.children)
    if done:
        log = EventLog(paths.events, paths.session)
        for item in done:
            log.emit("brain-orphan", by=by, **item)
    return done


def pause(paths: EnginePaths) -> None:
    paths.engine_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.paused, iso() + "\n")


def resume(paths: EnginePaths) -> None:
    with contextlib.suppress(FileNotFoundError):
        paths.paused.unlink()


def request_cycle(paths: EnginePaths) -> None:
    paths.engine_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.cycle_now, iso() + "\n")


def stop(paths: EnginePaths, timeout: float = 30.0) -> bool:
    """SIGTERM the daemon and wait until its lock is free; SIGKILL after `timeout`. False if none ran.

    Once no daemon runs, a brain child a dead daemon left behind (SIGKILL, or an earlier kill -9) is
    reaped too."""
    if not daemon_alive(paths):
        reap(paths, "stop")
        return False
    info = read_pid(paths) or {}
    pid = info.get("pid")
    if not isinstance(pid, int):
        raise DaemonError("a daemon holds the lock but daemon.pid names no pid; stop it by hand")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_dead(paths, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait_dead(paths, 10.0):
            raise DaemonError(f"daemon pid {pid} did not stop")
    reap(paths, "stop")
    return True


def _wait_dead(paths: EnginePaths, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not daemon_alive(paths):
            return True
        time.sleep(0.05)
    return not daemon_alive(paths)


def spawn(paths: EnginePaths, argv_prefix: list[str], timeout: float = 15.0) -> int:
    """Start `watch --foreground` detached; return its pid once it holds the singleton lock."""
    import subprocess  # only `watch` (detached) starts a process here

    if daemon_alive(paths):
        raise DaemonError(f"a daemon is already running (pid {(read_pid(paths) or {}).get('pid')})")
    paths.engine_dir.mkdir(parents=True, exist_ok=True)
    with paths.daemon_log.open("ab") as log:
        proc = subprocess.Popen(
            [*argv_prefix, "watch", "--foreground"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_pid(paths) or {}
        if daemon_alive(paths) and info.get("pid") == proc.pid:
            return proc.pid
        if proc.poll() is not None:
            other = _running_pid(paths, proc.pid)
            if other is not None:  # another `watch` started at the same moment won the lock
                raise DaemonError(f"a daemon is already running (pid {other})")
            raise DaemonError(f"the daemon exited at start (code {proc.returncode}); see {paths.daemon_log}")
        time.sleep(0.05)
    raise DaemonError(f"the daemon did not come up within {timeout:g}s; see {paths.daemon_log}")


def _running_pid(paths: EnginePaths, not_pid: int, timeout: float = 5.0) -> int | str | None:
    """The pid of another daemon holding the lock (waits briefly for it to write daemon.pid), or None."""
    deadline = time.monotonic() + timeout
    while daemon_alive(paths):
        pid = (read_pid(paths) or {}).get("pid")
        if isinstance(pid, int) and pid != not_pid:
            return pid
        if time.monotonic() >= deadline:
            return "unknown"
        time.sleep(0.05)
    return None


@dataclass
class Poll:
    """What the daemon's poll saw: the pending mail, the lanes' states, the ledger's and the queue's."""

    mail: frozenset[str]
    lanes: dict[str, str]
    state: str
    pending: bool


@dataclass
class Forked:
    """The daemon's forked mode (the CLI's `watch`): each step that needs the engine (the start's reap,
    every cycle) runs in a child forked for it, so the cycle's imports and pydantic's models never live
    in the daemon's own long-lived process, which only polls. `lanes` is the poll's lane read with no
    model ({lane: status word}, loop_substrate's Substrate.lane_states)."""

    lanes: Callable[[], dict[str, str]]
    # raises unless the session answers (Substrate.probe_session): while it is away, a cycle's child is
    # forked only once this passes, not at every poll
    session: Callable[[], None]


class StepError(Exception):
    """A step that ran in a forked child failed: its one line, as the child said it."""


class StepDiedError(StepError):
    """A step's forked child ended without a report (killed, or its interpreter crashed)."""


# what the poll reads of the config between cycles (re-read with the engine at each cycle, as before)
INTERVALS = ("poll_interval_s", "checkpoint_interval_s", "min_cycle_interval_s")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, StepError):
        return str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _intervals(engine: Any) -> dict[str, float]:
    cfg = engine.config.model
    return {key: float(getattr(cfg, key)) for key in INTERVALS}


def _die_with(parent: int) -> None:
    """This forked child gets SIGKILL when its parent dies (Linux PR_SET_PDEATHSIG); a parent already
    gone before that was set is seen by getppid(). The brain children it starts are recorded as dying
    with the parent too (brain.DIES_WITH): a reaper need not wait for this child's own death."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)
    from loop_engine import brain

    brain.DIES_WITH = (parent, brain.process_start(parent))  # its brain calls are orphans with the daemon


def run_forked(
    fn: Callable[[], dict[str, Any]],
    close: tuple[int, ...] = (),
    started: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any] | None, int]:
    """fn's report (a JSON object) from a child forked for it, and the child's wait status: the report is
    {"error": one line} when fn raised, None when the child died without one. The child dies with this
    process, closes `close` first and never returns into the caller's frames; `started` is told its pid."""
    read_end, write_end = os.pipe()  # not inheritable: no program the child runs holds it open
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:

        def write_report() -> int:
            try:
                found = fn()
            except Exception as exc:
                found = {"error": _one_line(exc)}
            with os.fdopen(write_end, "wb") as out:
                out.write(json.dumps(found).encode())
            return 0

        _child_main(parent, (read_end, *close), write_report)
    if started is not None:
        started(pid)
    os.close(write_end)
    chunks: list[bytes] = []
    try:
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    try:
        answer = json.loads(b"".join(chunks)) if chunks else None
    except ValueError:
        answer = None
    return (answer if isinstance(answer, dict) else None), status


def _child_main(parent: int, close: tuple[int, ...], body: Callable[[], int]) -> NoReturn:
    """A forked child's whole life: close what it must not hold, die with `parent`, run `body`, exit
    with its code (1 for an exception, said in one line) without running the parent's exit handlers."""
    code = 1
    try:
        for fd in close:
            os.close(fd)
        _die_with(parent)
        code = body()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            print(f"loop-engine: {_one_line(exc)}", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


class Daemon:
    """The watch loop. `engine_factory` builds a fresh Engine (config re-read) for each cycle.

    In process (forked=None, the tests' daemon in a thread over fakes) the steps run here; with
    `forked` (the CLI) each runs in a forked child that reports back through a pipe as JSON: a child
    that dies without a report is a crashed cycle (`cycle-crashed`), the daemon lives on. The child
    closes its copy of daemon.lock (a kill -9 of the daemon frees the singleton at once) and gets
    SIGKILL when the daemon dies, as the cycle did when it ran in the daemon; it takes the cycle lock
    as any cycle does, so a new daemon's cycle never overlaps a dying one's. SIGTERM (SIGINT) to the
    daemon is passed on to a running child: its cycle stops at the same safe points as before."""

    def __init__(
        self,
        paths: EnginePaths,
        engine_factory: Callable[[Callable[[], bool]], Any],
        forked: Forked | None = None,
    ) -> None:
        self.paths = paths
        self.engine_factory = engine_factory
        self.forked = forked
        self.stopping = threading.Event()
        self.build: dict[str, Any] = {}
        self.stale_said = False
        self.events = EventLog(paths.events, paths.session)
        self._engine: Any = None  # in process: the last cycle's engine, whose substrate the poll reads
        self._lock_fd = -1
        self._child: int | None = None

    def _signal(self, signum: int, frame: Any) -> None:
        self.stopping.set()
        child = self._child
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    def run(self) -> int:
        if self.forked is not None and (
            threading.current_thread() is not threading.main_thread() or threading.active_count() > 1
        ):
            raise DaemonError("the forked daemon must run alone in its process's main thread")
        self.paths.ensure()
        fd = os.open(self.paths.daemon_lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DaemonError(
                f"a daemon is already running (pid {(read_pid(self.paths) or {}).get('pid')})"
            ) from None
        self._lock_fd = fd
        try:
            meta = {
                "started_at": iso(),
                "version": loop_engine.__version__,
                "code_stamp": code_stamp(),
                "python": sys.executable,
            }
            # the build record first: once daemon.pid names this daemon, its record is there
            self.build = build_record(os.getpid())
            atomic_write(self.paths.daemon_build, json.dumps(self.build, indent=2) + "\n")
            atomic_write(self.paths.pid, f"{os.getpid()}\n{json.dumps(meta)}\n")
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, self._signal)
                signal.signal(signal.SIGINT, self._signal)
            try:
                started = self._step(self._start_step)
            except StepError as exc:
                raise DaemonError(f"the daemon could not start: {exc}") from None
            try:
                self._loop(started["intervals"])
            finally:
                self.events.emit("daemon-stop", pid=os.getpid())
                with contextlib.suppress(OSError):
                    info = read_pid(self.paths) or {}
                    if info.get("pid") == os.getpid():
                        self.paths.pid.unlink()
        finally:
            self._lock_fd = -1
            os.close(fd)  # releases the lock
        return 0

    # ---- the steps that need the engine (in a forked child when forked) ----------------------------

    def _start_step(self) -> dict[str, Any]:
        self._engine = self.engine_factory(self.stopping.is_set)
        self.events.emit("daemon-start", pid=self._daemon_pid, version=loop_engine.__version__)
        # a brain call of a daemon killed mid-call still runs: two calls in flight is one too many
        self._reap("daemon-start")
        return {"intervals": _intervals(self._engine)}

    def _cycle_step(self, trigger: str, skip_if_fingerprint: str | None) -> dict[str, Any]:
        """One cycle: a fresh engine (config re-read), the session's check, the reap, the cycle. Its
        report: the config's intervals, then `unreachable` (the session's error), `error` (the engine
        crashed: recorded as cycle-crashed by the engine) or the result's fields the loop reads."""
        from loop_engine.basics import EngineError

        engine = self.engine_factory(self.stopping.is_set)
        self._engine = engine
        report: dict[str, Any] = {"intervals": _intervals(engine)}
        try:
            engine.require_session()
        except EngineError as exc:
            return {**report, "unreachable": _one_line(exc)}
        try:
            self._reap("cycle")  # e.g. a `once` killed mid-call while this daemon ran
            result = engine.cycle(trigger=trigger, skip_if_fingerprint=skip_if_fingerprint)
        except Exception as exc:  # recorded as cycle-crashed by the engine; the daemon lives on
            return {**report, "error": _one_line(exc)}
        return {
            **report,
            "outcome": result.outcome,
            "fingerprint": result.fingerprint,
            "brain_called": bool(result.brain_called),
            "detail": result.detail,
        }

    @property
    def _daemon_pid(self) -> int:
        return os.getppid() if self.forked is not None else os.getpid()

    def _step(self, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """fn's report: here, or (forked) from a child forked for it. An exception of fn in the child is
        StepError (its one line); a child that dies without a report is StepError too."""
        if self.forked is None:
            return fn()

        def started(pid: int) -> None:
            self._child = pid
            if self.stopping.is_set():  # a SIGTERM between the fork and the line above
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

        try:
            # the daemon's lock stays the daemon's: a kill -9 of the daemon frees the singleton even now
            answer, status = run_forked(fn, (self._lock_fd,), started)
        finally:
            self._child = None
        if answer is not None:
            if set(answer) == {"error"}:
                raise StepError(str(answer["error"]))
            return answer
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        raise StepDiedError(f"the step's process ended ({how}) without a report")

    # ---- the poll, in the daemon's own process ---------------------------------------------------

    def _heartbeat(self) -> None:
        """Touch daemon.pid (its mtime is the heartbeat `status` shows) and, once, say when the installed
        code is no longer the code this daemon runs (event `daemon-stale`)."""
        with contextlib.suppress(OSError):
            os.utime(self.paths.pid)
        if self.stale_said:
            return
        signature, _ = code_signature()
        if signature == self.build.get("files_signature"):
            return
        installed = code_sha256()
        if installed == self.build.get("code_sha256"):
            self.build["files_signature"] = signature  # touched, not changed: hash again only on a move
            return
        self.stale_said = True
        self.events.emit(
            "daemon-stale",
            pid=os.getpid(),
            code_sha256=self.build.get("code_sha256"),
            installed_sha256=installed,
            warning=STALE_WARNING,
        )

    def _reap(self, by: str) -> None:
        try:
            reap(self.paths, by)
        except Exception as exc:  # a reap that fails is said; the daemon lives on
            why = _one_line(exc)
            print(f"loop-engine: reaping orphaned brain calls failed: {why}", file=sys.stderr, flush=True)

    def _poll_files(self) -> tuple[frozenset[str], str, bool]:
        """The cheap part of a poll: pending mail names, the state file's stamp, a pending decision."""
        try:
            names = frozenset(e.name for e in os.scandir(self.paths.mailbox) if e.name.endswith(".md"))
        except (FileNotFoundError, NotADirectoryError):
            names = frozenset()
        try:
            st = self.paths.state_file.stat()
            state = f"{st.st_mtime_ns}:{st.st_size}"
        except OSError:
            state = "-"
        return names, state, self.paths.pending.exists()

    def _lanes(self) -> dict[str, str]:
        if self.forked is not None:
            return self.forked.lanes()
        return {str(s.lane): str(s.status) for s in self._engine.substrate.lane_status()}

    def _poll(self) -> Poll:
        lanes: dict[str, str] = {}
        try:
            lanes = self._lanes()
        except Exception as exc:  # tmux gone for a moment: observation resumes at the next poll
            print(f"loop-engine: lane poll failed: {_one_line(exc)}", file=sys.stderr, flush=True)
        names, state, pending = self._poll_files()
        return Poll(mail=names, lanes=lanes, state=state, pending=pending)

    def _loop(self, intervals: dict[str, float]) -> None:
        from loop_engine.mailhead import read_mail_head, reply_to
        from loop_engine.runs import finished_waiting

        last_cycle = 0.0
        last_brain_fp: str | None = None
        session_gone = False
        prev: Poll | None = None
        reasons: set[str] = {"start"}
        urgent = True
        while not self.stopping.is_set():
            self._heartbeat()
            poll_s = max(0.2, intervals["poll_interval_s"])
            now = time.monotonic()
            cur = self._poll()
            # each message seen arriving (at start: each one pending), by name: loop-metrics counts the
            # unsolicited steers among them (a restart names the still-pending ones again; it counts names)
            for name in sorted(cur.mail if prev is None else cur.mail - prev.mail):
                self.events.emit("mailbox-new", file=name)
            if prev is not None:
                new_mail = cur.mail - prev.mail
                if new_mail:
                    reasons.add("new-mail")
                    if any(reply_to(read_mail_head(self.paths.mailbox / n)[0]) for n in new_mail):
                        reasons.add("ask-reply")
                        urgent = True
                if any(prev.lanes.get(k) == "working" and v == "idle" for k, v in cur.lanes.items()):
                    reasons.add("lane-idle")
                if cur.state != prev.state:
                    reasons.add("state-file")
                if prev.pending and not cur.pending:
                    reasons.add("decision-resolved")
            prev = cur
            if self.paths.cycle_now.exists():
                with contextlib.suppress(FileNotFoundError):
                    self.paths.cycle_now.unlink()
                reasons.add("cycle-now")
                urgent = True
            if finished_waiting(self.paths):  # a verify / build run ended: its outcome drives the next step
                reasons.add("drive-pending")
            if now - last_cycle >= intervals["checkpoint_interval_s"]:
                reasons.add("interval")
            debounced = now - last_cycle >= intervals["min_cycle_interval_s"]
            if reasons and not self.paths.paused.exists() and (urgent or debounced):
                trigger = ",".join(sorted(reasons))
                # a lane that finished work is news the observation's fingerprint cannot see (its
                # status is back where it was at the last brain call): the brain is asked, as for
                # cycle-now
                forced = bool(reasons & {"cycle-now", "lane-idle", "drive-pending"})
                skip = None if forced else last_brain_fp
                keep: set[str] = set()
                if session_gone and self.forked is not None and not self._session_answers():
                    self.stopping.wait(poll_s)  # still away: asked again at the next poll, no child forked
                    continue
                try:
                    report = self._step(functools.partial(self._cycle_step, trigger, skip))
                    intervals = report["intervals"]
                    if "unreachable" in report:
                        if not session_gone:  # said once; observation goes on until it is back
                            why = str(report["unreachable"])
                            self.events.emit("session-unreachable", trigger=trigger, error=why)
                            print(f"loop-engine: {why}; waiting for it", file=sys.stderr, flush=True)
                        session_gone = True
                        self.stopping.wait(max(0.2, intervals["poll_interval_s"]))
                        continue
                    if session_gone:
                        self.events.emit("session-back", trigger=trigger)
                    session_gone = False
                    if "error" in report:
                        raise StepError(str(report["error"]))
                    outcome, detail = str(report["outcome"]), str(report["detail"])
                    if outcome == "brain-failed" or outcome.startswith("stop-suspected"):
                        last_brain_fp = None  # a failed call, a stop not obeyed: asked again next trigger
                    elif report["brain_called"] or detail.startswith("a decision"):
                        last_brain_fp = report["fingerprint"]
                    if detail.startswith(("brain backing off", "brain budget")):
                        keep = reasons - {"cycle-now"}  # try again after the debounce
                except Exception as exc:  # recorded as cycle-crashed by the engine; the daemon lives on
                    if isinstance(exc, StepDiedError):
                        self._crashed(str(exc))
                    print(f"loop-engine: cycle failed: {_one_line(exc)}", file=sys.stderr, flush=True)
                last_cycle = time.monotonic()
                reasons = keep
                urgent = False
                # the cycle's own writes (the state file's lanes, a resolved decision) are no trigger
                after = self._poll_files()
                prev = Poll(mail=prev.mail, lanes=prev.lanes, state=after[1], pending=after[2])
            self.stopping.wait(poll_s)

    def _session_answers(self) -> bool:
        assert self.forked is not None
        try:
            self.forked.session()
        except Exception:
            return False
        return True

    def _crashed(self, why: str) -> None:
        """A cycle's child died without a report (killed, or the interpreter crashed): the engine could
        not say so itself, so the daemon records the `cycle-crashed` it would have."""
        with contextlib.suppress(Exception):
            self.events.emit("cycle-crashed", component="engine", error_type="CycleProcessDied", error=why)
