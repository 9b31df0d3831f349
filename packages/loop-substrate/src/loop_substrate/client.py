"""`Substrate`: the typed client over the bash substrate's CONTRACT CLIs.

Every write goes through a CONTRACT CLI, run by its installed path (never looked up on PATH). Reads the
CLIs do not offer (a pane's text) use libtmux. Failures raise SubstrateError.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from loop_schemas import atomic_write, read_project_text

if TYPE_CHECKING:
    from loop_schemas import (
        Digest,
        FleetMetrics,
        Harness,
        HarnessHealth,
        HarnessRegistry,
        HarnessRoster,
        Lane,
        LaneStatus,
    )
    from pydantic import BaseModel

# The models (and pydantic) are imported where a method validates with them: the watch daemon's poll
# (lane_states) reads plain JSON and keeps pydantic out of the daemon's own process.
from loop_substrate.errors import ContractMismatchError, SubstrateError
from loop_substrate.paths import contract_version, script_path, shell_dir

if TYPE_CHECKING:  # their modules load where they are read: the cycle reads neither
    from loop_schemas import Digest, FleetMetrics

_LIBTMUX_LOCK = threading.Lock()
# Reads started ahead of need (Substrate.start_probe, start_checkpoint): argv -> (env, cwd, the running
# process, a check of its inputs or None). run() of the same argv in the same environment and folder takes
# that process's answer instead of starting it again, when the check (run once the process ended) says
# nothing it read changed since it started; anything else (another env, a write, input, a changed input)
# runs as always. What nobody took is killed at exit (or by drop_early).
_EARLY: dict[
    tuple[str, ...],
    tuple[dict[str, str], Path | None, subprocess.Popen[str], Callable[[], bool] | None],
] = {}
_EARLY_LOCK = threading.Lock()
# A file or folder changed less than this before its stat is not trusted to show a later change: the
# kernel stamps times from a coarse clock (and some file systems keep whole seconds), so a second change
# in the same tick leaves them equal (git's "racily clean" rule; the mail index keeps the same 2 s).
RACY_NS = 2_000_000_000
REGISTRY_SCRIPT = "lib/harness-registry.sh"
# The registry kills a probe after LOOP_HEALTH_PROBE_TIMEOUT_S (10 s by default); this is the caller's
# own bound on the whole call.
HEALTH_TIMEOUT = 60.0
# a harness name, as harness_health takes it (a health probe compiles it: re caches it on first use)
_HARNESS_NAME = r"[a-z0-9][a-z0-9-]*"


def _libtmux() -> Any:
    """libtmux, imported on first use (most callers never capture, and the import costs ~0.1 s).

    libtmux reads sys.stdout.encoding when it is first imported. A TUI replaces sys.stdout with an object
    that has no encoding (Textual's print capture), so there the import runs against a stand-in stream
    that has one and writes nowhere; sys.stdout is put back right after."""
    module = sys.modules.get("libtmux")
    if module is not None:
        return module
    with _LIBTMUX_LOCK:
        if getattr(sys.stdout, "encoding", None):
            import libtmux
        else:
            saved = sys.stdout
            sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
            try:
                import libtmux
            finally:
                sys.stdout = saved
    return libtmux


SUPPORTED_CONTRACT = 1
DEFAULT_TIMEOUT = 120.0
M = TypeVar("M", bound="BaseModel")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _list_lanes_args(session: str) -> list[str]:
    return ["list-lanes", "--session", session, "--json"]


def _all_status_args(session: str) -> list[str]:
    return ["--json", "--all", session]


def _take_early(
    argv: Sequence[str],
) -> tuple[dict[str, str], Path | None, subprocess.Popen[str], Callable[[], bool] | None] | None:
    with _EARLY_LOCK:
        return _EARLY.pop(tuple(argv), None)


def _checkpoint_args(project_root: Path, header_file: Path | None) -> list[str]:
    args = ["--print", "--project-root", str(project_root)]
    if header_file is not None:
        args += ["--header-file", str(header_file)]
    return args


def _stat_key(path: str) -> tuple[int, ...]:
    """A path's identity and change marks as a read through it sees them (links followed); for a path that
    cannot be stat'd, the error and the link's own marks (a dangling link reads otherwise than none)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        try:
            st = os.lstat(path)
        except OSError:
            return (exc.errno or -1,)
        return (exc.errno or -1, st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return (0, st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def checkpoint_inputs(
    project_root: Path, header_file: Path | None, mailbox: Path | None = None
) -> tuple[tuple[str, tuple[int, ...]], ...] | None:
    """What `loop-checkpoint --print` reads (shell/lib/checkpoint.py assemble), as stat keys: the header,
    ops-wiki/checkpoint.md and index.md, the ledger (.loop/orchestrator-state.json), the mailbox folder
    and each of its top-level .md files (the pending mail it counts and summarises). Two equal answers
    mean it would print the same prompt (in the same environment), unless a change fell in the clock
    tick of an earlier one: so None (not to be trusted) when any of them changed less than RACY_NS before
    this look."""
    now = time.time_ns()  # before the stats: a change after one moves its times past now - a tick
    root = str(project_root)
    box = str(mailbox) if mailbox is not None else os.path.join(root, ".loop", "messages")
    header = (
        str(header_file) if header_file is not None else str(shell_dir() / "lib" / "checkpoint-header.md")
    )
    paths = [
        header,
        os.path.join(root, "ops-wiki", "checkpoint.md"),
        os.path.join(root, "ops-wiki", "index.md"),
        os.path.join(root, ".loop", "orchestrator-state.json"),
        box,
    ]
    try:
        names = sorted(n for n in os.listdir(box) if n.endswith(".md"))
    except OSError:
        names = []
    paths += [os.path.join(box, n) for n in names]
    keys = tuple((path, _stat_key(path)) for path in paths)
    newest = max((max(k[5], k[6]) for _path, k in keys if len(k) == 7), default=0)
    return None if now - newest < RACY_NS else keys


def _finish(
    argv: Sequence[str], proc: subprocess.Popen[str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """A started read's answer, as subprocess.run would give it (TimeoutExpired after killing it)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc.communicate(timeout=5)


def _drop_early() -> None:
    """At exit: a started read nobody took is stopped, not left running behind us."""
    with _EARLY_LOCK:
        left = list(_EARLY.values())
        _EARLY.clear()
    for _env, _cwd, proc, _check in left:
        _kill(proc)


def check_contract() -> int:
    """The bundled shell's CONTRACT version; ContractMismatchError when its major is not ours."""
    found = contract_version()
    if found != SUPPORTED_CONTRACT:
        raise ContractMismatchError(
            ["loop-substrate"],
            None,
            f"the shell speaks CONTRACT v{found}, this loop-substrate needs v{SUPPORTED_CONTRACT}",
        )
    return found


class Substrate:
    """One session of one project, reached through the substrate CLIs (and libtmux for pane text)."""

    def __init__(self, session: str, project_root: Path, socket: str | None = None) -> None:
        self.session = session
        self.project_root = Path(project_root)
        self.socket = socket if socket is not None else (os.environ.get("LOOP_TMUX_SOCKET") or None)

    # -- running the CLIs -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.socket:
            env["LOOP_TMUX_SOCKET"] = self.socket
        # the scripts' python helpers run on this interpreter unless told otherwise: it has PyYAML (a
        # dependency of loop-schemas), which --lane-config needs, where a system python3 may not
        if not env.get("LOOP_PYTHON") and sys.executable:
            env["LOOP_PYTHON"] = sys.executable
        return env

    def argv(self, cli: str, args: Sequence[str]) -> list[str]:
        bash = shutil.which("bash") or "/bin/bash"
        return [bash, str(script_path(cli)), *args]

    def _cwd(self) -> Path | None:
        return self.project_root if self.project_root.is_dir() else None

    def start_probe(self) -> None:
        """Start the two reads a cycle's observation begins with (list_lanes and lane_status of every
        lane) now, without waiting: `loop-engine once` calls this before it imports the cycle code, so the
        substrate answers while Python loads. The first list_lanes()/lane_status() in this process, in the
        same environment, takes these answers (see run); a read that cannot start is simply run later."""
        for cli, args in (
            ("loop-tmux", _list_lanes_args(self.session)),
            ("loop-lane-status", _all_status_args(self.session)),
        ):
            try:
                argv = self.argv(cli, args)
            except SubstrateError:  # no bundled shell: the read itself reports that, later
                continue
            self._start_early(argv, None)

    def start_checkpoint(self, header_file: Path | None = None) -> bool:
        """Start checkpoint_prompt(header_file)'s `loop-checkpoint --print` now, without waiting, so the
        prompt is ready when a cycle's brain needs it (the cycle starts this before its observation and
        ingest). checkpoint_prompt() of the same header, in the same environment, takes its answer only
        if none of its inputs changed since (checkpoint_inputs, taken before the start and again once it
        ended); else it runs again. Nothing starts (False) when an input is racily new or when the
        bundled shell is missing, or when the same read is already started (its inputs are not walked
        again). An answer nobody takes is killed by drop_early or at exit."""
        try:
            argv = self.argv("loop-checkpoint", _checkpoint_args(self.project_root, header_file))
        except SubstrateError:
            return False
        with _EARLY_LOCK:
            if tuple(argv) in _EARLY:
                return False
        before = checkpoint_inputs(self.project_root, header_file)
        if before is None:
            return False

        def unchanged() -> bool:
            return checkpoint_inputs(self.project_root, header_file) == before

        return self._start_early(argv, unchanged)

    def _start_early(self, argv: list[str], unchanged: Callable[[], bool] | None) -> bool:
        """Start `argv` now and file it in _EARLY for run() to take (with `unchanged`, the check that its
        inputs held). False when the same argv is already filed or cannot be started."""
        env, cwd = self.env(), self._cwd()
        with _EARLY_LOCK:
            if tuple(argv) in _EARLY:
                return False
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                    cwd=cwd,
                    env=dict(env),
                )
            except OSError:
                return False
            if not _EARLY:
                atexit.register(_drop_early)
            _EARLY[tuple(argv)] = (env, cwd, proc, unchanged)
        return True

    def drop_early(self) -> None:
        """Stop every read started ahead of need that nobody took (the end of a cycle: stale by now)."""
        _drop_early()

    def run(
        self,
        cli: str,
        args: Sequence[str],
        *,
        input_text: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ok_codes: Sequence[int] = (0,),
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a substrate CLI; SubstrateError unless it exits with one of `ok_codes`."""
        argv = self.argv(cli, args)
        env = self.env()
        if extra_env:
            env.update(extra_env)
        early = _take_early(argv) if _EARLY else None
        try:
            proc: subprocess.CompletedProcess[str] | None = None
            if early is not None and input_text is None and (early[0], early[1]) == (env, self._cwd()):
                done = _finish(argv, early[2], timeout)
                check = early[3]
                if check is None or check():  # else what it read changed since it started: run again
                    proc = done
            elif early is not None:  # started in another environment: not this call's answer
                _kill(early[2])
            if proc is None:
                proc = subprocess.run(
                    argv,
                    input=input_text,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    cwd=self._cwd(),
                    env=env,
                    check=False,
                    errors="replace",
                )
        except subprocess.TimeoutExpired:
            raise SubstrateError(argv, None, f"timed out after {timeout:g}s") from None
        except OSError as exc:
            raise SubstrateError(argv, None, f"cannot run: {exc.strerror or exc}") from None
        if proc.returncode not in ok_codes:
            raise SubstrateError(argv, proc.returncode, _last_line(proc.stderr) or _last_line(proc.stdout))
        return proc

    def _json(self, cli: str, args: Sequence[str], model: type[M], **kwargs: Any) -> M:
        from pydantic import ValidationError

        proc = self.run(cli, args, **kwargs)
        try:
            return model.model_validate(json.loads(proc.stdout))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SubstrateError(self.argv(cli, args), proc.returncode, f"bad JSON output: {first}") from None

    # -- lanes --------------------------------------------------------------------------------
    def lane_status(self, lane: str | None = None) -> list[LaneStatus]:
        from loop_schemas import LaneStatusReport

        args = _all_status_args(self.session) if lane is None else ["--json", self.session, lane]
        report = self._json("loop-lane-status", args, LaneStatusReport)
        out = []
        for name, status in report.lanes.items():
            out.append(status if status.lane == name else status.model_copy(update={"lane": name}))
        return out

    def lane_states(self) -> dict[str, str]:
        """{lane: status word} of every lane (`loop-lane-status --json --all`), read as plain JSON: no
        model and no pydantic (the watch daemon's poll, which compares the words only). SubstrateError
        when the output is not such a report."""
        args = _all_status_args(self.session)
        proc = self.run("loop-lane-status", args)
        try:
            report = json.loads(proc.stdout)
        except (ValueError, RecursionError):
            report = None
        lanes = report.get("lanes") if isinstance(report, dict) else None
        if (
            not isinstance(report, dict)
            or report.get("contract_version") != 1
            or not isinstance(lanes, dict)
            or not all(isinstance(v, dict) and isinstance(v.get("status"), str) for v in lanes.values())
        ):
            raise SubstrateError(self.argv("loop-lane-status", args), proc.returncode, "bad JSON output")
        return {str(name): str(entry["status"]) for name, entry in lanes.items()}

    def list_lanes(self) -> list[Lane]:
        from loop_schemas import LaneList

        return self._json("loop-tmux", _list_lanes_args(self.session), LaneList).lanes

    def probe_session(self) -> None:
        """SubstrateError unless the session's tmux server answers: list_lanes' call, its output unread
        (no model; the watch daemon's wait for a session that went away)."""
        self.run("loop-tmux", _list_lanes_args(self.session))

    def print_target(self, lane: str) -> str:
        return self.run("loop-lane-status", ["--print-target", self.session, lane]).stdout.strip()

    def dispatch(
        self,
        lane: str,
        text: str,
        *,
        mode: Literal["text", "command"] = "text",
        interrupt: bool = False,
        wait_ready: float | bool | None = None,
        no_clear: bool = False,
        verify: bool = False,
        no_enter: bool = False,
    ) -> None:
        """Deliver `text` to a lane byte for byte (exit 0 = delivered); SubstrateError when not delivered."""
        if "\x00" in text:
            raise SubstrateError(["loop-dispatch"], None, "the payload holds a NUL byte")
        args = ["--session", self.session, "--mode", mode]
        timeout = DEFAULT_TIMEOUT
        if interrupt:
            args.append("--interrupt")
        if no_clear:
            args.append("--no-clear")
        if verify:
            args.append("--verify")
        if no_enter:
            args.append("--no-enter")
        if wait_ready:
            args.append("--wait-ready")
            if not isinstance(wait_ready, bool):
                args += ["--ready-timeout", f"{float(wait_ready):g}"]
                timeout += float(wait_ready)
            else:
                timeout += 60
        self.run("loop-dispatch", [*args, "--", lane, text], timeout=timeout)

    def add_lane(
        self,
        window: str,
        *,
        harness: str | None = None,
        cmd: str | None = None,
        model: str | None = None,
        repo: str | None = None,
        role: str | None = None,
        kind: Literal["standing", "worker"] | None = None,
        worktree: bool = False,
        auto_approve: bool = False,
        wait_ready: float | bool | None = None,
    ) -> None:
        if (harness is None) == (cmd is None):
            raise ValueError("add_lane needs exactly one of harness= or cmd=")
        args = ["add-lane", "--session", self.session, "--window", window]
        args += ["--harness", harness] if harness is not None else ["--cmd", str(cmd)]
        for flag, value in (("--model", model), ("--repo", repo), ("--role", role), ("--kind", kind)):
            if value is not None:
                args += [flag, value]
        if worktree:
            args.append("--worktree")
        if auto_approve:
            args.append("--auto-approve")
        timeout = DEFAULT_TIMEOUT
        if wait_ready:
            args.append("--wait-ready")
            if not isinstance(wait_ready, bool):
                args += ["--ready-timeout", f"{float(wait_ready):g}"]
                timeout += float(wait_ready)
            else:
                timeout += 60
        self.run("loop-tmux", args, timeout=timeout)

    def drop_lane(self, window: str, *, force: bool = False) -> None:
        self.run(
            "loop-tmux",
            ["drop-lane", "--session", self.session, "--window", window, *(["--force"] if force else [])],
        )

    @staticmethod
    def prepare_capture() -> None:
        """Import what capture() needs now, rather than on the first capture (it is safe either way)."""
        _libtmux()

    def capture(self, lane: str, lines: int = 50) -> str:
        """The last `lines` lines of a lane's pane (libtmux; read-only)."""
        libtmux = _libtmux()

        target = self.print_target(lane)
        server = libtmux.Server(socket_path=self.socket) if self.socket else libtmux.Server()
        try:
            result = server.cmd("capture-pane", "-p", "-J", "-t", target, "-S", f"-{max(1, int(lines))}")
        except Exception as exc:  # libtmux raises several types for a server that is gone
            raise SubstrateError(
                ["tmux", "capture-pane", "-t", target], None, str(exc).splitlines()[0]
            ) from None
        if result.returncode not in (0, None) or result.stderr:
            raise SubstrateError(
                ["tmux", "capture-pane", "-t", target],
                result.returncode,
                _last_line("\n".join(result.stderr)),
            )
        return "\n".join(result.stdout)

    # -- memory -------------------------------------------------------------------------------
    def digest(self) -> Digest:
        from loop_schemas import Digest

        return self._json("loop-digest", ["--json", "--project-root", str(self.project_root)], Digest)

    def checkpoint_prompt(self, header_file: Path | None = None) -> str:
        return self.run("loop-checkpoint", _checkpoint_args(self.project_root, header_file)).stdout

    def wiki_pending(self) -> int:
        out = self.run("loop-wiki-pending", ["--project-root", str(self.project_root), "--quiet"]).stdout
        try:
            return int(out.strip())
        except ValueError:
            raise SubstrateError(["loop-wiki-pending"], 0, f"not a count: {out.strip()[:40]!r}") from None

    def send_mail(self, sender: str, recipient: str, subject: str, body: str = "") -> Path:
        """Write a message into the project's mailbox (never overwrites); returns its path."""
        proc = self.run(
            "loop-mail",
            [
                "send",
                "--project-root",
                str(self.project_root),
                "--from",
                sender,
                "--to",
                recipient,
                "--subject",
                subject,
                "--body-file",
                "-",
            ],
            input_text=body,
        )
        return Path(proc.stdout.strip().splitlines()[-1])

    def sweep_mail(self, mailbox: Path | None = None) -> list[Path]:
        """Deliver the mail sandboxed lanes dropped (`loop-mail sweep`, the one implementation); returns
        the new messages' paths. `mailbox` defaults to the project's."""
        where = ["--mailbox-dir", str(mailbox)] if mailbox is not None else []
        proc = self.run("loop-mail", ["sweep", "--project-root", str(self.project_root), *where])
        return [Path(line) for line in proc.stdout.splitlines() if line.strip()]

    def ack_mail(self, path: Path | str) -> Path:
        proc = self.run("loop-mail", ["ack", "--project-root", str(self.project_root), str(path)])
        return Path(proc.stdout.strip().splitlines()[-1])

    def registry(self) -> list[Harness]:
        """`harness-registry.sh list --json`, cached per user and install (see _RegistryCache)."""
        from loop_schemas import HarnessRegistry
        from pydantic import ValidationError

        cache = _RegistryCache()
        hit = cache.read()
        if hit is not None:
            return hit.harnesses
        proc = self.run(REGISTRY_LIST[0], REGISTRY_LIST[1:])
        try:
            doc = HarnessRegistry.model_validate(json.loads(proc.stdout))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            argv = self.argv(REGISTRY_LIST[0], REGISTRY_LIST[1:])
            raise SubstrateError(argv, proc.returncode, f"bad JSON output: {first}") from None
        cache.write(proc.stdout)
        return doc.harnesses

    def fleet_metrics(self) -> FleetMetrics:
        """`loop-metrics --all --json` over this project: every loop session's 7-day autonomy and cost
        figures and their daily series (read-only: no --log)."""
        from loop_schemas import FleetMetrics

        return self._json(
            "loop-metrics", ["--all", "--json", "--project-root", str(self.project_root)], FleetMetrics
        )

    def roster(self) -> HarnessRoster:
        """`harness-registry.sh roster --json`: the twelve harnesses' governance fields and `present`."""
        from loop_schemas import HarnessRoster

        return self._json(REGISTRY_SCRIPT, ["roster", "--json"], HarnessRoster)

    def harness_health(self, harness: str, *, timeout: float = HEALTH_TIMEOUT) -> HarnessHealth:
        """`harness-registry.sh health <harness> --json`: a word for a known harness, whatever it is (the
        CLI's exit 1 for a bad word is no error here); SubstrateError for an unknown or malformed name."""
        from loop_schemas import HarnessHealth
        from pydantic import ValidationError

        argv = self.argv(REGISTRY_SCRIPT, ["health", harness, "--json"])
        if not re.fullmatch(_HARNESS_NAME, harness):
            raise SubstrateError(argv, None, f"not a harness name: {harness!r}")
        proc = self.run(REGISTRY_SCRIPT, ["health", harness, "--json"], ok_codes=(0, 1), timeout=timeout)
        if not proc.stdout.strip():  # an unknown harness: nothing on stdout, the reason on stderr
            raise SubstrateError(argv, proc.returncode, _last_line(proc.stderr) or "no health word")
        try:
            return HarnessHealth.model_validate(json.loads(proc.stdout))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SubstrateError(argv, proc.returncode, f"bad JSON output: {first}") from None


def roster(socket: str | None = None) -> HarnessRoster:
    """The harness roster (one `harness-registry.sh roster --json` call; no session needed)."""
    return Substrate("", Path.cwd(), socket).roster()


def harness_health(harness: str, *, timeout: float = HEALTH_TIMEOUT) -> HarnessHealth:
    """One harness's health word (runs its registry health_probe, bounded by the registry's own timeout)."""
    return Substrate("", Path.cwd()).harness_health(harness, timeout=timeout)


REGISTRY_LIST = ("lib/harness-registry.sh", "list", "--json")
# the registry's data is the bash script, typed by its python helper: the listing changes only with them
REGISTRY_SOURCES = ("lib/harness-registry.sh", "lib/registry.py")
REGISTRY_CACHE_VERSION = 1
REGISTRY_CACHE_CAP = 4 * 1024 * 1024
REGISTRY_RACY_NS = 2_000_000_000


class _RegistryCache:
    """The registry listing in the user's cache folder (XDG_CACHE_HOME, else ~/.cache, then
    loop-substrate/), one file per installed shell/, keyed by the path, size and mtime of the files it
    comes from: a cycle does not run bash and python to read data that changes only with an install.
    Never in the project, where a lane could write it (the listing names the commands the engine runs).
    Only a cache: a missing, damaged, stale or not-our-own file is a miss; one that cannot be written
    is no error; a source changed within the last two seconds is not cached (a second edit in the same
    clock tick and of the same size would go unseen)."""

    def __init__(self) -> None:
        self.file: Path | None = None
        self.key: list[Any] = [REGISTRY_CACHE_VERSION]
        self.mtimes: list[int] = []
        try:
            for name in REGISTRY_SOURCES:
                path = script_path(name)
                st = path.stat()
                self.key.append([str(path), st.st_size, st.st_mtime_ns])
                self.mtimes.append(st.st_mtime_ns)
            base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            tag = hashlib.sha256(str(script_path(REGISTRY_SOURCES[0])).encode()).hexdigest()[:16]
            self.file = Path(base) / "loop-substrate" / f"harness-registry-{tag}.json"
        except (OSError, RuntimeError, SubstrateError):
            self.file = None

    @staticmethod
    def _ours(path: Path) -> bool:
        """A regular file of this user's that no one else may write (not a link planted elsewhere)."""
        st = path.lstat()
        return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022

    def read(self) -> HarnessRegistry | None:
        from loop_schemas import HarnessRegistry
        from pydantic import ValidationError

        if self.file is None:
            return None
        try:
            if not self._ours(self.file):
                return None
            doc = json.loads(read_project_text(self.file, REGISTRY_CACHE_CAP))
            if not isinstance(doc, dict) or doc.get("key") != self.key:
                return None
            return HarnessRegistry.model_validate(doc.get("registry"))
        except (OSError, ValueError, RecursionError, ValidationError):
            return None

    def write(self, listing: str) -> None:
        if self.file is None or any(time.time_ns() - m < REGISTRY_RACY_NS for m in self.mtimes):
            return
        with contextlib.suppress(OSError, ValueError):
            doc = {"key": self.key, "registry": json.loads(listing)}
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(self.file, json.dumps(doc, separators=(",", ":")) + "\n", mode=0o600, durable=False)
