#!/usr/bin/env python3
"""watchdog.py: the lane watchdog behind lib/lane-health.sh (stdlib only, python 3.8+).

It polls one tmux session and re-launches every AI lane whose pane fell back to a bare shell (the
harness exited or crashed) or died. A pane whose current command is a shell but whose foreground
process group still holds a non-shell process (a harness behind a shell-script wrapper that does not
exec) is running, not down (checked with `ps`; without ps the current command alone decides).
A lane is any pane carrying its own lane options
(@loop_lane_pane = its pane id): the base lanes loop-tmux boots and every add-lane window, found
afresh on each poll. Only AI lanes (lane_status.Registry.ai_harness: @loop_lane_harness names an AI
harness, or the pane runs an agent's own process; never a lane because it runs python3) that have a
launch command (@loop_lane_launch) are watched; shell, tool and plain-command lanes are left alone.

Per lane: a lane must look down on two looks at least --confirm seconds apart (a lane that is just
starting runs its wrapper shell for a moment); then it is restarted at once, and each further
restart waits a back-off that starts at --backoff-base seconds and doubles up to --backoff-max. After
--max-failures restarts without --healthy seconds of the harness running in between, the watchdog
gives up on the lane (one `giving-up` line) until it is seen running again (`recovered`).

Lines appended to <state-dir>/lane-restarts.jsonl (one JSON object per line, written whole):
  restart    {timestamp, session, lane, target, cmd, attempt}         (never an `event` key)
  lifecycle  {timestamp, session, event, lane, target, detail}        event: started, giving-up,
             recovered, restart-failed, stopped
Singleton: the running watchdog holds an exclusive lock on <state-dir>/lane-health.lock (whose text is
the watched session) and records its pid in <state-dir>/lane-health.pid; a second one for the same
session exits at once ("already running"); one for another session sharing the state dir is an error.

CLI (through lib/lane-health.sh):
  watchdog.py start  --session S --state-dir D [knobs]   detach (double fork), print the pid, exit 0
  watchdog.py run    --session S --state-dir D [knobs]   poll in the foreground
  watchdog.py once   --session S --state-dir D [knobs]   one poll (no back-off memory, no confirm wait)
  watchdog.py stop   --session S --state-dir D            stop the running watchdog (SIGTERM)
  watchdog.py status --session S --state-dir D            "running <pid>" (exit 0) or "not running" (exit 1)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

LIB_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LIB_DIR)
import fsread  # noqa: E402
import lane_status  # noqa: E402
import lanes  # noqa: E402
import proctree  # noqa: E402

LOG_NAME = "lane-restarts.jsonl"
PID_NAME = "lane-health.pid"
LOCK_NAME = "lane-health.lock"
OUT_NAME = "lane-health.log"
DEFAULTS = {
    "interval": ("LOOP_LANE_HEALTH_INTERVAL", 30.0),
    "max_failures": ("LOOP_LANE_HEALTH_MAX_FAILURES", 5.0),
    "backoff_base": ("LOOP_LANE_HEALTH_BACKOFF_BASE", 2.0),
    "backoff_max": ("LOOP_LANE_HEALTH_BACKOFF_MAX", 60.0),
    "confirm": ("LOOP_LANE_HEALTH_CONFIRM", 2.0),
    "healthy": ("LOOP_LANE_HEALTH_HEALTHY", 120.0),
}
PANE_FIELDS = [
    "pane_id",
    "socket_path",
    "pid",
    "window_name",
    "pane_current_command",
    "pane_dead",
    "pane_pid",
    "pane_current_path",
    "@loop_lane",
    "@loop_lane_name",
    "@loop_lane_pane",
    "@loop_lane_harness",
    "@loop_lane_launch",
    "@loop_lane_cwd",
    "@loop_lane_sandbox",
]


class UsageError(Exception):
    """A usage error (exit 2)."""


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Log:
    """Append-only JSONL: each line goes out in one write() on an O_APPEND descriptor."""

    def __init__(self, state_dir: str, session: str) -> None:
        self.path = os.path.join(state_dir, LOG_NAME)
        self.session = session

    def check(self) -> None:
        """Raise LaneError when the log cannot be appended to (before the watchdog says it started)."""
        try:
            os.close(fsread.open_append(self.path))
        except OSError as exc:
            raise lanes.LaneError(f"cannot write {self.path}: {exc.strerror}") from None

    def write(self, record: Dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            fd = fsread.open_append(self.path)
            try:
                os.write(fd, line.encode("utf-8", "surrogateescape"))
            finally:
                os.close(fd)
        except OSError as exc:  # a full disk or a removed state dir must not stop the restarts
            sys.stderr.write(f"lane-health: cannot write {self.path}: {exc.strerror}; lost: {line}")
            sys.stderr.flush()

    def restart(self, lane: str, target: str, cmd: str, attempt: int) -> None:
        self.write(
            {
                "timestamp": now_iso(),
                "session": self.session,
                "lane": lane,
                "target": target,
                "cmd": cmd,
                "attempt": attempt,
            }
        )

    def event(
        self, event: str, detail: str, lane: Optional[str] = None, target: Optional[str] = None
    ) -> None:
        record: Dict[str, Any] = {"timestamp": now_iso(), "session": self.session, "event": event}
        if lane is not None:
            record["lane"] = lane
        if target is not None:
            record["target"] = target
        record["detail"] = detail
        self.write(record)


class LaneState:
    def __init__(self) -> None:
        self.failures = 0
        self.next_at = 0.0
        self.last_restart = 0.0
        self.down_since: Optional[float] = None
        self.given_up = False


class Watchdog:
    def __init__(self, args: argparse.Namespace, harnesses: Dict[str, Dict[str, Any]]) -> None:
        self.args = args
        self.session: str = args.session
        self.log = Log(args.state_dir, args.session)
        self.registry = lane_status.Registry(harnesses)
        shells = harnesses.get("shell", {}).get("process_names") or []
        if isinstance(shells, str):
            shells = shells.split()
        self.shells = set(shells) or {"bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh", "csh"}
        self.state: Dict[str, LaneState] = {}
        self.missing = 0
        self._ps: Optional[List[List[str]]] = None

    def backoff(self, failures: int) -> float:
        """The wait before restart number failures+1 (the first restart is immediate)."""
        if failures <= 0:
            return 0.0
        return float(min(self.args.backoff_base * (2 ** (failures - 1)), self.args.backoff_max))

    def is_bare_shell(self, command: str) -> bool:
        name = os.path.basename(command).lstrip("-")
        return bool(name) and name in self.shells

    def processes(self) -> Optional[List[List[str]]]:
        """[pid, pgid, tpgid, comm] of every process (ps, once per poll), or None when ps fails."""
        if self._ps is None:
            self._ps = lane_status.process_table() or []
        return self._ps or None

    def foreground_runs_more_than_a_shell(self, pane_pid: str) -> bool:
        """True when the pane's foreground process group holds a non-shell process: such a lane is up
        (a harness behind a wrapper script that did not exec); restarting it would kill a working agent."""
        rows = self.processes()
        if not rows:
            return False  # no ps: trust pane_current_command alone
        return lane_status.foreground_beyond_shell(rows, pane_pid, self.is_bare_shell)

    def is_down(self, row: Dict[str, str]) -> bool:
        if row["pane_dead"] == "1":
            return True
        if not self.is_bare_shell(row["pane_current_command"]):
            return False
        if self.foreground_runs_more_than_a_shell(row["pane_pid"]):
            return False
        # a lane whose launching shell is still starting it (slow rc files) is not down: a restart now
        # would launch a second agent into the same pane
        return row["pane_pid"] not in lane_status.launching_pids([row["pane_pid"]])

    def lane_rows(self) -> Optional[List[Dict[str, str]]]:
        if not lanes.has_session(self.session):
            return None
        try:
            rows = lanes.read_rows(["list-panes", "-s", "-t", "=" + self.session], PANE_FIELDS)
        except lanes.LaneError:
            return None
        return [r for r in rows if r["@loop_lane_pane"] == r["pane_id"]]

    def lane_name(self, row: Dict[str, str]) -> str:
        if row["@loop_lane"] != "1" and row["@loop_lane_name"]:
            return row["@loop_lane_name"]
        return row["window_name"]

    def poll(self, now: float, once: bool = False) -> Optional[float]:
        """One look at the session. Returns the seconds until something is due (None: session gone)."""
        rows = self.lane_rows()
        if rows is None:
            return None
        self._ps = None  # a fresh process listing for this poll, taken only if a lane looks down
        due: List[float] = []
        seen = set()
        for row in rows:
            # only AI lanes (the one answer: lane_status.Registry.ai_harness), never a watcher that
            # happens to run python3, and only lanes loop-tmux launched (it knows how to start them again)
            harness = self.registry.ai_harness(row["@loop_lane_harness"], (row["pane_current_command"],))
            launch = row["@loop_lane_launch"]
            if harness is None or not launch:
                continue
            pane = row["pane_id"]
            seen.add(pane)
            st = self.state.setdefault(pane, LaneState())
            lane = self.lane_name(row)
            down = self.is_down(row)
            if not down:
                st.down_since = None
                if st.given_up:
                    st.given_up, st.failures = False, 0
                    self.log.event("recovered", f"{harness} is running again", lane, pane)
                elif st.failures and now - st.last_restart >= self.args.healthy:
                    st.failures = 0
                continue
            if st.given_up:
                continue
            if not once:
                if st.down_since is None:
                    st.down_since = now
                if now - st.down_since < self.args.confirm:
                    due.append(st.down_since + self.args.confirm - now)
                    continue
                if now < st.next_at:
                    due.append(st.next_at - now)
                    continue
            if st.failures >= self.args.max_failures:
                st.given_up = True
                self.log.event(
                    "giving-up",
                    f"{harness} fell back to a shell after {st.failures} restart(s); not restarting it again",
                    lane,
                    pane,
                )
                continue
            self.restart(row, lane, st, now)
            due.append(max(self.backoff(st.failures), self.args.confirm))
        for pane in list(self.state):
            if pane not in seen:
                del self.state[pane]
        return min(due) if due else self.args.interval

    def restart(self, row: Dict[str, str], lane: str, st: LaneState, now: float) -> None:
        pane, launch = row["pane_id"], row["@loop_lane_launch"]
        cwd = row["@loop_lane_cwd"] if os.path.isdir(row["@loop_lane_cwd"]) else row["pane_current_path"]
        argv = ["respawn-pane", "-k", "-t", pane]
        if cwd and os.path.isdir(cwd):
            argv += ["-c", lanes.fmt_lit(cwd)]
        # a sandboxed lane restarts inside its sandbox: pane_argv wraps every launch the same way
        sandboxed = lane if row["@loop_lane_sandbox"] == "1" else None
        try:
            pane_argv = lanes.pane_argv(launch, lanes.server_default_shell(), sandboxed, cwd)
        except lanes.LaneError as exc:
            st.failures += 1
            st.last_restart = now
            st.next_at = now + self.backoff(st.failures)
            self.log.event("restart-failed", str(exc), lane, pane)
            return
        argv += [lanes.targ(a) for a in pane_argv]
        st.failures += 1
        st.last_restart = now
        st.down_since = None
        st.next_at = now + self.backoff(st.failures)
        # What the harness left behind (a detached helper that setsid()'d away, like codex app-server)
        # ends with it; the pane's own shell goes with respawn-pane -k (killing it first would close
        # the pane).
        pane_pid = int(row["pane_pid"]) if row["pane_pid"].isdigit() else 0
        leftovers = proctree.lane_pids(pane_pid, pane, row["socket_path"], row["pid"]) - {pane_pid}
        signalled = proctree.terminate(leftovers)
        try:
            lanes.tmux(*argv)
        except lanes.LaneError as exc:
            self.log.event("restart-failed", str(exc), lane, pane)
            return
        finally:
            proctree.finish(signalled, proctree.grace_seconds())
        self.log.restart(lane, pane, launch, st.failures)


# ---- process management -------------------------------------------------------------------------------


def _paths(state_dir: str) -> Dict[str, str]:
    return {
        "pid": os.path.join(state_dir, PID_NAME),
        "lock": os.path.join(state_dir, LOCK_NAME),
        "out": os.path.join(state_dir, OUT_NAME),
    }


def _read_pid_file(path: str) -> int:
    return int(fsread.read_file(path, 4096).decode("ascii").strip() or "0")


def _lock_session(fd: int) -> Optional[str]:
    """The session the lock holder watches: it writes the name into the lock file (None: unknown)."""
    try:
        data = os.pread(fd, 4096, 0)
    except OSError:
        return None
    text = data.decode("utf-8", "surrogateescape")
    return text[:-1] if text.endswith("\n") and len(text) > 1 else None


def running(state_dir: str) -> Tuple[Optional[int], Optional[str]]:
    """(pid, session) of the live watchdog of this state dir, or (None, None) when none holds the lock.

    The lock tells whether one runs, not the pid file (a stale file of a dead or reused pid is ignored).
    pid is -1 when the lock is held but the pid file stays unreadable.
    """
    paths = _paths(state_dir)
    try:
        fd = os.open(paths["lock"], os.O_RDWR)
    except OSError:
        return None, None
    try:
        # A held lock whose holder has not yet written its session and pid is looked at again for a
        # moment; a probe (another status/start) holds it only for an instant, so it is tried again.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None, None
            session = _lock_session(fd)
            try:
                pid = _read_pid_file(paths["pid"])
                if pid > 0 and _alive(pid) and session is not None:
                    return pid, session
            except (OSError, ValueError):
                pass
            if time.monotonic() >= deadline:
                return -1, session
            time.sleep(0.05)
    finally:
        os.close(fd)


def running_pid(state_dir: str) -> Optional[int]:
    """The pid of the live watchdog of this state dir, or None."""
    return running(state_dir)[0]


def _other_session(args: argparse.Namespace) -> Optional[Tuple[int, str]]:
    """(pid, session) when this state dir's live watchdog watches another session than args.session."""
    pid, session = running(args.state_dir)
    if pid is not None and session is not None and session != args.session:
        return pid, session
    return None


def _already_elsewhere(args: argparse.Namespace, pid: int, state_dir: str) -> None:
    sys.stdout.write(f"lane-health: already running for {args.session} (pid {pid}, state dir {state_dir})\n")


def _shared_dir_error(args: argparse.Namespace, pid: int, session: str) -> int:
    sys.stderr.write(
        f"lane-health: the state dir {args.state_dir} is taken by the watchdog of session {session!r} "
        f"(pid {pid}); give session {args.session!r} its own --state-dir\n"
    )
    return 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def take_lock(state_dir: str, session: Optional[str] = None, patience: float = 1.0) -> Optional[int]:
    """The locked descriptor (kept open for the process lifetime), or None when another one holds it.

    A status/stop/start probe holds the lock for an instant, so a busy lock is retried for `patience`
    seconds: only a running watchdog holds it longer.
    """
    fd = os.open(_paths(state_dir)["lock"], os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if (
                exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
                or time.monotonic() >= deadline
            ):
                os.close(fd)
                return None
            time.sleep(0.02)
    os.set_inheritable(fd, False)
    if session is not None:
        # Who holds it, for another session sharing this state dir: the lock file's text is the
        # session, written after the pid file, so a reader who sees the session sees the fresh pid.
        try:
            os.ftruncate(fd, 0)
            write_pid(state_dir)
            os.pwrite(fd, (session + "\n").encode("utf-8", "surrogateescape"), 0)
        except OSError:
            os.close(fd)
            raise
    return fd


def write_pid(state_dir: str) -> None:
    path = _paths(state_dir)["pid"]
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(tmp, path)


SESSION_OPT = "@loop_lane_health"  # session option: [pid, state dir] of the session's watchdog


def register(args: argparse.Namespace) -> None:
    """Name this watchdog on its session, so a start with another state dir finds it (one per session)."""
    value = json.dumps([os.getpid(), args.state_dir], ensure_ascii=False)
    with contextlib.suppress(lanes.LaneError):
        lanes.tmux("set-option", "-t", "=" + args.session + ":", SESSION_OPT, value)


def unregister(args: argparse.Namespace) -> None:
    found = _session_option(args.session)
    if found and found[0] == os.getpid():
        with contextlib.suppress(lanes.LaneError):
            lanes.tmux("set-option", "-u", "-t", "=" + args.session + ":", SESSION_OPT, check=False)


def _session_option(session: str) -> Optional[Tuple[int, str]]:
    try:
        proc = lanes.tmux("show-options", "-qv", "-t", "=" + session + ":", SESSION_OPT, check=False)
    except lanes.LaneError:
        return None
    try:
        pid, state_dir = json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
    except (ValueError, TypeError):
        return None
    if not isinstance(pid, int) or not isinstance(state_dir, str):
        return None
    return pid, state_dir


def session_watchdog(args: argparse.Namespace) -> Optional[Tuple[int, str]]:
    """(pid, state dir) of a live watchdog of this session that uses ANOTHER state dir, or None.

    Alive means: that state dir's lock is held by that very pid for this session (a stale option of
    a dead or reused pid does not count)."""
    found = _session_option(args.session)
    if not found or os.path.abspath(found[1]) == args.state_dir:
        return None
    pid, session = running(found[1])
    if pid == found[0] and session in (None, args.session):
        return found
    return None


def serve(args: argparse.Namespace, lock_fd: int, harnesses: Dict[str, Dict[str, Any]]) -> int:
    """The poll loop. Runs until the session is gone or SIGTERM/SIGINT."""
    dog = Watchdog(args, harnesses)
    stopping: List[str] = []

    def _stop(signum: int, _frame: Any) -> None:
        stopping.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    write_pid(args.state_dir)
    register(args)
    dog.log.event(
        "started",
        f"pid {os.getpid()}, interval {args.interval:g}s, max failures {args.max_failures}, "
        f"back-off {args.backoff_base:g}s doubling to {args.backoff_max:g}s",
    )
    reason = ""
    gone = 0
    while not stopping:
        wait = dog.poll(time.monotonic())
        if wait is None:
            gone += 1
            if gone >= 2:
                reason = f"session {args.session} is gone"
                break
            wait = min(args.interval, 1.0)
        else:
            gone = 0
        deadline = time.monotonic() + max(wait, 0.05)
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0.01)))
    dog.log.event("stopped", reason or f"signal {stopping[0] if stopping else '?'}")
    with contextlib.suppress(OSError):
        os.unlink(_paths(args.state_dir)["pid"])
    unregister(args)
    os.close(lock_fd)
    return 0


def _close_inherited_fds(keep: Tuple[int, ...]) -> None:
    """Close every descriptor above stderr but `keep`: the detached watchdog must not hold its
    caller's pipes (a `$(…)` or a reader waiting for EOF on an extra descriptor would hang on it)."""
    try:
        fds = [int(name) for name in os.listdir("/dev/fd") if name.isdigit()]
    except OSError:
        try:
            limit = int(os.sysconf("SC_OPEN_MAX"))
        except (ValueError, OSError):
            limit = 1024
        fds = list(range(3, min(limit, 65536) if limit > 0 else 1024))
    for fd in fds:
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def start(args: argparse.Namespace, harnesses: Dict[str, Dict[str, Any]]) -> int:
    """Detach a watchdog (double fork, new session, stdio to lane-health.log); report its pid."""
    pid, session = running(args.state_dir)
    if pid is not None:
        if session is not None and session != args.session:
            return _shared_dir_error(args, pid, session)
        sys.stdout.write(f"lane-health: already running for {args.session} (pid {pid})\n")
        return 0
    other = session_watchdog(args)
    if other:
        _already_elsewhere(args, *other)
        return 0
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        os.close(read_fd)
        answered = False

        def reply(text: str) -> None:
            nonlocal answered
            answered = True
            os.write(write_fd, (text.replace("\n", " ") + "\n").encode("utf-8", "replace"))
            os.close(write_fd)

        try:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDONLY)
            out_path = _paths(args.state_dir)["out"]
            try:
                out = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                reply(f"fail cannot write {out_path}: {exc.strerror}")
                os._exit(1)
            os.dup2(devnull, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(devnull)
            os.close(out)
            _close_inherited_fds(keep=(write_fd,))
            lock_fd = take_lock(args.state_dir, args.session)
            if lock_fd is None:
                reply("busy")
                os._exit(0)
            Log(args.state_dir, args.session).check()
            register(args)  # before "ok": a start right after this one finds it
            reply(f"ok {os.getpid()}")
            code = serve(args, lock_fd, harnesses)
        except BaseException as exc:  # the detached process reports and exits, never a traceback on a tty
            why = str(exc) if isinstance(exc, lanes.LaneError) else f"{type(exc).__name__}: {exc}"
            if not answered:
                reply(f"fail {why}")
            sys.stderr.write(f"lane-health: {why}\n")
            code = 1
        os._exit(code)
    os.close(write_fd)
    os.waitpid(child, 0)
    with os.fdopen(read_fd, "rb") as fh:
        raw = fh.read().decode("utf-8", "replace").strip()
    answer = raw.split()
    if answer and answer[0] == "fail":
        sys.stderr.write(f"lane-health: the watchdog did not start: {raw[5:]}\n")
        return 1
    if answer and answer[0] == "ok":
        sys.stdout.write(
            f"lane-health: watchdog started for {args.session} (pid {answer[1]}, "
            f"log {os.path.join(args.state_dir, LOG_NAME)})\n"
        )
        return 0
    if answer and answer[0] == "busy":
        pid, session = running(args.state_dir)
        if pid is not None and session is not None and session != args.session:
            return _shared_dir_error(args, pid, session)
        sys.stdout.write(f"lane-health: already running for {args.session} (pid {pid})\n")
        return 0
    sys.stderr.write(f"lane-health: the watchdog did not start (see {_paths(args.state_dir)['out']})\n")
    return 1


def stop(args: argparse.Namespace) -> int:
    pid, session = running(args.state_dir)
    if pid is None or pid < 0 or (session is not None and session != args.session):
        sys.stdout.write(f"lane-health: not running for {args.session}\n")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and running_pid(args.state_dir) is not None:
        time.sleep(0.05)
    if running_pid(args.state_dir) is not None:
        sys.stderr.write(f"lane-health: pid {pid} did not stop within 10s\n")
        return 1
    sys.stdout.write(f"lane-health: stopped (pid {pid})\n")
    return 0


# ---- CLI ------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(message)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return value


def parse(argv: List[str]) -> argparse.Namespace:
    p = _Parser(prog="lane-health.sh", add_help=False)
    p.add_argument("verb", choices=("start", "run", "once", "stop", "status"))
    p.add_argument("--session", required=True)
    p.add_argument("--state-dir", required=True)
    for dest in DEFAULTS:
        p.add_argument("--" + dest.replace("_", "-"), dest=dest, type=_number, default=None)
    args = p.parse_args(argv)
    for dest, (env, default) in DEFAULTS.items():
        if getattr(args, dest) is None:
            raw = os.environ.get(env, "")
            try:
                setattr(args, dest, _number(raw) if raw else default)
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"{env}: {exc}") from None
    args.max_failures = int(args.max_failures)
    if args.interval <= 0:
        raise UsageError("--interval must be above 0")
    if not args.session or "\n" in args.session:
        raise UsageError("--session must be a session name")
    args.state_dir = os.path.abspath(args.state_dir)
    return args


def main(argv: List[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0
    try:
        args = parse(argv)
        if args.verb == "status":
            pid, session = running(args.state_dir)
            if pid is None or (session is not None and session != args.session):
                sys.stdout.write("not running\n")
                return 1
            sys.stdout.write(f"running {pid}\n")
            return 0
        if args.verb == "stop":
            return stop(args)
        try:
            os.makedirs(args.state_dir, exist_ok=True)
        except OSError as exc:
            raise lanes.LaneError(f"cannot create the state dir {args.state_dir}: {exc.strerror}") from None
        if not lanes.has_session(args.session):
            raise lanes.LaneError(f"no tmux session {args.session!r}")
        harnesses = lanes.load_registry()
        if args.verb == "once":
            Watchdog(args, harnesses).poll(time.monotonic(), once=True)
            return 0
        if args.verb == "run":
            other = _other_session(args)
            if other:
                return _shared_dir_error(args, *other)
            elsewhere = session_watchdog(args)
            if elsewhere:
                _already_elsewhere(args, *elsewhere)
                return 0
            lock_fd = take_lock(args.state_dir, args.session)
            if lock_fd is None:
                other = _other_session(args)
                if other:
                    return _shared_dir_error(args, *other)
                sys.stdout.write(f"lane-health: already running for {args.session}\n")
                return 0
            try:
                Log(args.state_dir, args.session).check()
            except lanes.LaneError:
                os.close(lock_fd)
                raise
            return serve(args, lock_fd, harnesses)
        return start(args, harnesses)
    except UsageError as exc:
        sys.stderr.write(f"lane-health: {exc}\nTry 'lane-health.sh --help'.\n")
        return 2
    except lanes.LaneError as exc:
        sys.stderr.write(f"lane-health: {exc}\n")
        return 1
    except OSError as exc:  # e.g. the lock or pid file cannot be written
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"lane-health: {where}{exc.strerror or exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
