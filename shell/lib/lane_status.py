#!/usr/bin/env python3
"""lane_status: resolve lanes to tmux panes and classify them (working, awaiting-approval, idle, ...).

Stdlib only, python 3.8+. Called by loop-lane-status.sh (verb `status`), by the Claude Code hook
(verb `hook`) and imported by dispatch.py (resolve_lane, Fleet, snapshot, classify_panes).

A fleet question costs a constant number of tmux client spawns, whatever the pane count: ONE
`list-panes -s -F` (every pane of the session with its lane metadata), ONE chained
`capture-pane \\; display-message <marker> \\; ...` for every pane whose screen is needed, and --
only for panes that look idle and were not already seen idle, unchanged, moments ago -- ONE more
chained capture after a short pause (the idle debounce). When loop-lane-status.sh prefetched (see
Prefetch), the listing and the captures arrive on stdin from ONE tmux client the shell started while
this interpreter was starting, and a steady-state poll costs that single spawn.

Verbs:
  status --session S (--lane L | --all) [--json] [--print-target] [--prefetch-file F]
  hook EVENT                 write a hook status file for $TMUX_PANE (hook JSON on stdin, optional)

Environment: LOOP_TMUX_SOCKET (tmux server socket), LOOP_LANE_IDLE_HOME_PATTERN (extra idle markers,
an ERE alternation), LOOP_LANE_DEBOUNCE_S (pause before the confirming capture, default 0.2),
LOOP_LANE_TAIL_LINES (non-blank screen lines read from the bottom, default 15),
LOOP_LANE_STATUS_CACHE_DIR (debounce, prefetch and registry caches; default
$TMPDIR/loop-lane-status-<uid>), LOOP_LANE_STATUS_NO_CACHE=1 (no debounce or prefetch cache: always
list, capture and confirm idle with a second capture), LOOP_LANE_HOOK_DIR and
LOOP_TMUX_STATE_DIR (where hook status files live: <dir>/hooks/pane-<N>.status),
LOOP_LANE_STATUS_TMUX_TIMEOUT_S (seconds each tmux call may take, default 2: a pane whose capture
stalls reads `unknown`, detail tmux-timeout; a listing that stalls is an error).
"""

import _signal
import posix
import sys
import time

import fsread  # loaded ahead by codecache (loop-lane-status, loop-dispatch), else from this folder

# This runs on every status poll, so its imports are only builtin modules: no os, re, json,
# subprocess, contextlib, binascii or zlib on the hot path (each costs from 0.4 to several ms of
# startup; os alone ~1 ms, for os.environ's collections.abc). Regexes are rebuilt from cached _sre code
# (see SreCache), JSON is written by hand (dump_json), caches are marshal or plain text, tmux is
# started with posix_spawnp, and the few os functions used are the small posix-based ones below.

_FS_ENCODING = sys.getfilesystemencoding()


def getenv(name: str, default: str = "") -> str:
    """os.environ.get without importing os (when a caller already imported os, its environ is used,
    so changes made through os.environ are seen)."""
    os_module = sys.modules.get("os")
    if os_module is not None:
        return str(os_module.environ.get(name, default))
    value = posix.environ.get(name.encode(_FS_ENCODING, "surrogateescape"))
    return default if value is None else value.decode(_FS_ENCODING, "surrogateescape")


def _spawn_env() -> "dict[object, object]":
    os_module = sys.modules.get("os")
    return dict(os_module.environ) if os_module is not None else dict(posix.environ)


def path_join(directory: str, name: str) -> str:
    """os.path.join for two parts."""
    if name.startswith("/") or not directory:
        return name
    return directory.rstrip("/") + "/" + name


def dirname(path: str) -> str:
    head = path.rpartition("/")[0]
    return head or ("/" if path.startswith("/") else "")


def makedirs(path: str, mode: int = 0o777) -> None:
    """os.makedirs(path, mode, exist_ok=True): missing parents are made (mode applies to the leaf)."""
    try:
        posix.mkdir(path, mode)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = dirname(path.rstrip("/"))
        if not parent or parent == path:
            raise
        makedirs(parent)
        try:
            posix.mkdir(path, mode)
        except FileExistsError:
            return


TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable

CONTRACT_VERSION = 1
LIB_DIR = dirname(__file__ if __file__.startswith("/") else path_join(posix.getcwd(), __file__))
FIXED_LANES = ("coord", "web", "infra", "validate-left", "validate-right", "ops-top", "ops-bottom", "docs")
STATUSES = ("working", "awaiting-approval", "idle", "errored", "unknown")
DEFAULT_SHELLS = ("bash", "zsh", "sh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "nu", "login")
# Always treated as busy for an AI harness, whatever the registry says.
GENERIC_BUSY = r"esc to interrupt"
HOOK_STATES = {"working", "idle", "awaiting-approval", "errored"}
HOOK_DETAIL = {"working": "busy", "idle": "ready", "awaiting-approval": "approval", "errored": "error"}
ERROR_TAIL = 8  # an error line counts only this close to the bottom
PREFETCH_TAG = "lls2"  # first word of the header line of a prefetched tmux answer (its format)

PANE_FIELDS = (
    "session_name",
    "window_id",
    "window_index",
    "window_name",
    "pane_id",
    "pane_index",
    "pane_left",
    "pane_top",
    "pane_dead",
    "pane_current_command",
    "pane_pid",
    "pane_height",
    "@loop_lane",
    "@loop_lane_harness",
    "socket_path",
    "@loop_state_dir",
    "pane_title",
)


class LaneError(Exception):
    """A lane or session that cannot be resolved (exit 1), or bad input."""


def warn(msg: str) -> None:
    sys.stderr.write(f"loop-lane-status: warning: {msg}\n")


# ---- tmux -------------------------------------------------------------------------------------------
def tmux_argv(*args: str) -> "list[str]":
    sock = getenv("LOOP_TMUX_SOCKET", "")
    return ["tmux", "-S", sock, *args] if sock else ["tmux", *args]


class Result:
    __slots__ = ("returncode", "stderr", "stdout", "timed_out")

    def __init__(self, returncode: int, stdout: bytes, stderr: bytes, timed_out: bool = False) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out  # killed at its deadline: stdout holds what it wrote until then


TIMED_OUT = 124  # the returncode of a command killed at its deadline


def tmux_timeout() -> float:
    """LOOP_LANE_STATUS_TMUX_TIMEOUT_S: the seconds one tmux call may take (default 2)."""
    try:
        value = float(getenv("LOOP_LANE_STATUS_TMUX_TIMEOUT_S", "2"))
    except ValueError:
        return 2.0
    return value if 0 < value < 86400 else 2.0


class DeadlineError(Exception):
    """A Deadline passed."""


class Deadline:
    """`with Deadline(s):` raises DeadlineError inside the block once `s` seconds have passed (SIGALRM; a
    blocking read is interrupted). Off the main thread, or with s None, the block runs unbounded."""

    def __init__(self, seconds: "float | None") -> None:
        self.seconds = seconds
        self.armed = False
        self.old: object = None

    def _fire(self, signum: int, frame: object) -> None:
        if self.armed:
            self.armed = False
            raise DeadlineError()

    def __enter__(self) -> "Deadline":
        if self.seconds is not None:
            try:
                self.old = _signal.signal(_signal.SIGALRM, self._fire)
            except ValueError:  # not the main thread
                return self
            self.armed = True
            _signal.setitimer(_signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            self.armed = False
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            _signal.signal(_signal.SIGALRM, self.old)
            self.old = None


def _read_into(fd: int, chunks: "list[bytes]") -> None:
    while True:
        chunk = posix.read(fd, 1 << 16)
        if not chunk:
            return
        chunks.append(chunk)


def run(argv: "list[str]", stdin: "bytes | None" = None, timeout: "float | None" = None) -> "Result":
    """Run a command, capturing stdout/stderr (posix_spawnp: no subprocess import on the hot path).

    With `timeout`, a command still running after that many seconds is killed: the Result says
    timed_out, with the output it wrote until then."""
    if stdin is not None or not hasattr(posix, "posix_spawnp"):
        import subprocess

        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, check=False, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, bytes) else b""
            return Result(TIMED_OUT, out, b"", True)
        except OSError as exc:
            raise LaneError(f"cannot run {argv[0]}: {exc}") from None
        return Result(proc.returncode, proc.stdout, proc.stderr)
    r_out, w_out = posix.pipe()
    r_err, w_err = posix.pipe()
    actions = [
        (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
        (posix.POSIX_SPAWN_DUP2, w_out, 1),
        (posix.POSIX_SPAWN_DUP2, w_err, 2),
    ]
    try:
        pid = posix.posix_spawnp(argv[0], argv, _spawn_env(), file_actions=actions)
    except OSError as exc:
        for fd in (r_out, w_out, r_err, w_err):
            posix.close(fd)
        raise LaneError(f"cannot run {argv[0]}: {exc}") from None
    posix.close(w_out)
    posix.close(w_err)
    out: list[bytes] = []
    err: list[bytes] = []
    timed_out = False
    try:
        with Deadline(timeout):
            _read_into(r_out, out)  # tmux writes little to stderr, so reading stdout first cannot block it
            _read_into(r_err, err)
    except DeadlineError:
        timed_out = True
        try:  # noqa: SIM105 (contextlib costs an import on the hot path)
            posix.kill(pid, 9)
        except OSError:
            pass
    finally:
        posix.close(r_out)
        posix.close(r_err)
    _, status = posix.waitpid(pid, 0)
    if timed_out:
        return Result(TIMED_OUT, b"".join(out), b"".join(err), True)
    code = posix.WEXITSTATUS(status) if posix.WIFEXITED(status) else 128 + posix.WTERMSIG(status)
    return Result(code, b"".join(out), b"".join(err))


def tmux(*args: str, stdin: "bytes | None" = None, timeout: "float | None" = None) -> "Result":
    return run(tmux_argv(*args), stdin, timeout)


def token() -> str:
    return posix.urandom(12).hex()


# 2**64 - 59, the largest prime below 2**64. Not a Mersenne prime, so no short cycle of byte positions
# makes two different screens collide (with 2**61 - 1, bytes 61 apart would).
_DIGEST_PRIME = 18446744073709551557


def digest_of(text: str) -> str:
    """A short fingerprint of a screen tail: its bytes as one number modulo a 64-bit prime, and its
    length (builtin arithmetic; binascii.crc32 would cost an extension-module load per poll)."""
    data = text.encode("utf-8", "surrogateescape")
    return f"{int.from_bytes(data, 'little') % _DIGEST_PRIME:016x}{len(data):x}"


def tempdir() -> str:
    return getenv("TMPDIR") or "/tmp"


def exact_session(session: str) -> str:
    """An exact `-t` target for a session: `=name:` (the colon keeps tmux from prefix-matching)."""
    return f"={session}:"


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 (contextlib costs an import on the hot path)
        posix.unlink(path)
    except OSError:
        pass


class Pane:
    __slots__ = (
        "command",
        "dead",
        "dynamic",
        "harness_opt",
        "height",
        "left",
        "pane_id",
        "pane_index",
        "pid",
        "session",
        "socket",
        "state_dir",
        "title",
        "top",
        "window_id",
        "window_index",
        "window_name",
    )

    def __init__(self, values: "list[str]") -> None:
        (
            self.session,
            self.window_id,
            window_index,
            self.window_name,
            self.pane_id,
            pane_index,
            left,
            top,
            dead,
            self.command,
            self.pid,
            height,
            lane_flag,
            self.harness_opt,
            self.socket,
            self.state_dir,
            self.title,
        ) = values
        self.window_index = _int(window_index)
        self.pane_index = _int(pane_index)
        self.left = _int(left)
        self.top = _int(top)
        self.height = _int(height) or 24
        self.dead = dead == "1"
        self.dynamic = lane_flag == "1"


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def listing_format(nonce: str) -> str:
    """The list-panes -F format: PANE_FIELDS joined by ~nonce~, each record ended by ~nonce$."""
    return f"~{nonce}~".join("#{%s}" % f for f in PANE_FIELDS) + f"~{nonce}$"


def parse_listing(text: str, nonce: str) -> "list[Pane]":
    sep, end = f"~{nonce}~", f"~{nonce}$"
    panes = []
    for raw in text.split(end):
        record = raw.lstrip("\n")
        if not record:
            continue
        values = record.split(sep)
        if len(values) != len(PANE_FIELDS):
            continue
        panes.append(Pane(values))
    panes.sort(key=lambda p: (p.window_index, p.pane_index))
    return panes


def list_panes(session: str) -> "list[Pane]":
    """Every pane of `session` (one tmux client spawn). Raises LaneError when the session is absent."""
    nonce = token()
    proc = tmux(
        "list-panes", "-s", "-t", exact_session(session), "-F", listing_format(nonce), timeout=tmux_timeout()
    )
    if proc.timed_out:
        raise LaneError(f"tmux did not list the panes of session {session!r} within {tmux_timeout():g}s")
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip() or "tmux list-panes failed"
        raise LaneError(f"session {session!r} not found ({msg})")
    return parse_listing(proc.stdout.decode("utf-8", "surrogateescape"), nonce)


def capture_args(pane_ids: "list[str]", marker: str) -> "list[str]":
    """tmux arguments capturing each pane's visible screen, each capture followed by a marker line."""
    args: list[str] = []
    for pid in pane_ids:
        args += [";", "capture-pane", "-p", "-t", pid, ";", "display-message", "-p", marker]
    return args[1:]


def split_captures(text: str, pane_ids: "list[str]", marker: str) -> "dict[str, list[str]]":
    """{pane id: screen lines} for the captures that completed (a failed one ends tmux's chain)."""
    chunks = text.split(marker + "\n")
    result: dict[str, list[str]] = {}
    for pid, chunk in zip(pane_ids, chunks[:-1]):  # no strict=: the helpers run on python 3.8
        result[pid] = chunk.split("\n")
    return result


def split_by_height(text: str, pane_ids: "list[str]", heights: "dict[str, int]") -> "dict[str, list[str]]":
    """{pane id: screen lines} from captures chained with no marker between them, cut by the height
    each pane had in the same tmux client's listing: capture-pane -p prints one line per screen row, and
    a row never holds a newline. Any doubt (a pane not listed, a line count that is not the sum of the
    heights) gives {}: every screen is asked of tmux again."""
    if not pane_ids or any(p not in heights for p in pane_ids):
        return {}
    lines = text.split("\n")
    if lines.pop() != "" or len(lines) != sum(heights[p] for p in pane_ids):
        return {}
    result: dict[str, list[str]] = {}
    at = 0
    for pid in pane_ids:
        result[pid] = lines[at : at + heights[pid]]
        at += heights[pid]
    return result


def capture_many(pane_ids: "list[str]") -> "dict[str, list[str]]":
    """Capture the visible screen of every pane in ONE tmux client: captures split by a nonce line.

    A pane that vanished mid-call makes tmux stop the chain: it and later panes get no entry; so does
    a pane whose capture stalled (see capture_bounded)."""
    return capture_bounded(pane_ids)[0]


def capture_bounded(pane_ids: "list[str]") -> "tuple[dict[str, list[str]], set[str]]":
    """capture_many, each tmux call bounded by tmux_timeout(): ({pane id: lines}, stalled pane ids).

    A chain that times out has answered for the panes before the one it hung on: that pane is stalled,
    and the panes after it are asked again in a new chain (so one stalled pane costs one timeout, and
    each further stalled pane one more, never a hang)."""
    screens: dict[str, list[str]] = {}
    stalled: set[str] = set()
    todo = list(pane_ids)
    while todo:
        marker = "loop-capture-" + token()
        proc = tmux(*capture_args(todo, marker), timeout=tmux_timeout())
        got = split_captures(proc.stdout.decode("utf-8", "surrogateescape"), todo, marker)
        screens.update(got)
        if not proc.timed_out:
            break
        rest = [p for p in todo if p not in got]
        if not rest:
            break
        stalled.add(rest[0])
        todo = rest[1:]
    return screens, stalled


# ---- registry -----------------------------------------------------------------------------------------
def own_dir(path: str) -> bool:
    """Whether `path` is a directory of this user's (not a symlink) that nobody else may write to: the
    only kind of folder whose files lane-status trusts (a folder another account made first in a shared
    /tmp could have its files replaced: the registry, the sightings, the prefetch's tmux arguments)."""
    try:
        st = posix.lstat(path)
    except OSError:
        return False
    return st.st_mode & 0o170000 == 0o040000 and st.st_uid == posix.getuid() and not st.st_mode & 0o022


def cache_dir() -> "str | None":
    """The private cache folder (made on first use), or None when the folder there is not own_dir: then
    this call reads and writes no cache file."""
    base = getenv("LOOP_LANE_STATUS_CACHE_DIR") or path_join(tempdir(), f"loop-lane-status-{posix.getuid()}")
    try:  # noqa: SIM105 (contextlib costs an import on the hot path)
        makedirs(base, 0o700)
    except OSError:
        pass
    return base if own_dir(base) else None


def _atomic_write(path: str, data: bytes) -> None:
    """Replace `path` with `data` (temp file + rename; a cache, so a failure is silently skipped).

    An unchanged file is left alone: a rename costs far more than reading the old bytes back.
    """
    if _read_bytes(path) == data:
        return
    tmp = f"{path}.{posix.getpid()}.{token()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        posix.replace(tmp, path)
    except OSError:
        _unlink(tmp)


def _read_bytes(path: str) -> "bytes | None":
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


class SreCache:
    """Compiled regexes without `import re` (which alone costs ~4 ms of startup).

    The first time a pattern is compiled, `re` compiles it while _sre.compile is watched, and the
    arguments re handed it (the pattern's SRE code) are kept in the registry cache file. Later runs
    rebuild the identical Pattern object with _sre.compile(*args), a builtin. The cache is keyed by the
    interpreter version and _sre.MAGIC; _sre validates the code it is given, and any failure falls back
    to `import re`."""

    def __init__(self, saved: object) -> None:
        self.args: dict[str, tuple[object, ...]] = saved if isinstance(saved, dict) else {}
        self.dirty = False
        self.matchers: dict[str, RowMatcher] = {}

    def matcher(self, pattern: str) -> "RowMatcher":
        """The RowMatcher of `pattern`: one per pattern text, shared by every harness that uses it."""
        found = self.matchers.get(pattern)
        if found is None:
            found = self.matchers[pattern] = RowMatcher(self.compile(pattern))
        return found

    def warm(self) -> None:
        """Build the matcher of every pattern this cache holds the code of (a few are never used here:
        the matchers cost ~0.1 ms in all). Run while the prefetch's tmux client is still capturing."""
        for pattern in list(self.args):
            try:
                self.matcher(pattern)
            except Exception:  # a damaged entry: compiled again, and reported, where it is used
                self.matchers.pop(pattern, None)

    def compile(self, pattern: str) -> "re.Pattern[str]":
        import _sre

        args = self.args.get(pattern)
        if args is not None:
            try:
                compiled = _sre.compile(*args)
                if compiled.pattern == pattern:
                    return compiled  # type: ignore[no-any-return]
            except Exception:
                pass
        import re

        real = _sre.compile
        seen: list[tuple[object, ...]] = []

        def spy(*a: object) -> object:
            seen.append(a)
            return real(*a)

        _sre.compile = spy
        try:
            re.purge()
            compiled = re.compile(pattern)  # raises re.error for a bad pattern
        finally:
            _sre.compile = real
        if seen and seen[-1] and seen[-1][0] == pattern:
            self.args[pattern] = tuple(_plain(a) for a in seen[-1])
            self.dirty = True
        return compiled


def _plain(value: object) -> object:
    """`value` with int subclasses (re's named opcodes) made plain ints, so marshal can store it."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def registry_cache_key(script: str) -> "list[object]":
    import _sre

    st = posix.stat(script)
    return [script, st.st_mtime_ns, st.st_size, sys.version, _sre.MAGIC]


class RegistryCache:
    """The harness registry (`harness-registry.sh list --json`) and compiled patterns, in one marshal file."""

    def __init__(self) -> None:
        import marshal

        self.script = path_join(LIB_DIR, "harness-registry.sh")
        self.harnesses: dict[str, dict[str, object]] = {}
        folder = cache_dir()
        name = f"registry-{sys.version_info[0]}.{sys.version_info[1]}.marshal"
        self.path = path_join(folder, name) if folder else ""
        try:
            self.key = registry_cache_key(self.script)
        except OSError:
            self.key = []
        data = _read_bytes(self.path) if self.path else None
        saved: object = None
        if data and self.key:
            try:
                doc = marshal.loads(data)
                if isinstance(doc, dict) and doc.get("key") == self.key:
                    harnesses = doc.get("harnesses")
                    if isinstance(harnesses, dict):
                        self.harnesses = harnesses
                        saved = doc.get("sre")
            except (ValueError, EOFError, TypeError):
                pass
        self.fresh = not self.harnesses
        if self.fresh and self.key:
            self.harnesses = read_registry(self.script)
        self.sre = SreCache(saved)

    def save(self) -> None:
        if not self.path or not self.key or not self.harnesses or not (self.fresh or self.sre.dirty):
            return
        import marshal

        doc = {"key": self.key, "harnesses": self.harnesses, "sre": self.sre.args}
        try:
            data = marshal.dumps(doc)
        except ValueError:
            return
        _atomic_write(self.path, data)


def read_registry(script: str) -> "dict[str, dict[str, object]]":
    """{name: fields} from `bash harness-registry.sh list --json` (the registry's public interface)."""
    import json

    try:
        proc = run(["bash", script, "list", "--json"])
        doc = json.loads(proc.stdout.decode("utf-8", "replace")) if proc.returncode == 0 else {}
    except (LaneError, ValueError):
        doc = {}
    harnesses: dict[str, dict[str, object]] = {}
    for item in doc.get("harnesses", []) if isinstance(doc, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            harnesses[item["name"]] = item
    if not harnesses:
        warn("harness registry unavailable; using generic patterns")
    return harnesses


def load_registry() -> "dict[str, dict[str, object]]":
    """The harness registry as {name: fields} (cached; see RegistryCache)."""
    cache = RegistryCache()
    cache.save()
    return cache.harnesses


def _compile(pattern: object, what: str, sre: "SreCache | None" = None) -> "re.Pattern[str] | None":
    if not isinstance(pattern, str) or not pattern:
        return None
    try:
        return (sre or SreCache(None)).compile(pattern)
    except Exception as exc:
        warn(f"ignoring bad {what}: {exc}")
        return None


def _matcher(pattern: object, what: str, sre: "SreCache") -> "RowMatcher | None":
    """_compile's pattern as the RowMatcher a screen's rows are searched with (one per pattern text)."""
    if not isinstance(pattern, str) or not pattern:
        return None
    try:
        return sre.matcher(pattern)
    except Exception as exc:
        warn(f"ignoring bad {what}: {exc}")
        return None


class RowMatcher:
    """A compiled screen pattern that remembers its answer for each row it searched.

    Screens repeat rows: a harness's borders, separators, prompt and status lines recur within a pane
    and across the panes of a fleet, and a regex search of a row costs far more than a dict lookup.
    The answer for a row is the pattern's own (a search is a pure function of the row's text), so every
    verdict is the one the pattern gives; only the repeated search is skipped. One matcher lives as long
    as the Registry that compiled it (one call), and forgets past _MAX_ROWS rows."""

    __slots__ = ("compiled", "pattern", "seen")
    _MAX_ROWS = 4096

    def __init__(self, compiled: "re.Pattern[str]") -> None:
        self.compiled = compiled
        self.pattern = compiled.pattern
        self.seen: dict[str, bool] = {}

    def search(self, row: str) -> bool:
        """Whether the pattern matches anywhere in `row` (re.Pattern.search, as a bool)."""
        found = self.seen.get(row)
        if found is None:
            if len(self.seen) >= self._MAX_ROWS:
                self.seen.clear()
            found = self.seen[row] = self.compiled.search(row) is not None
        return found


class Patterns:
    """Compiled screen patterns for one harness (None = that state is never matched).

    `markers` (a lane tagged with its harness): a declared working_marker replaces the busy heuristic
    (busy_pattern + "esc to interrupt") and is also matched against the pane title, where TUIs such as
    codex and Claude Code put a spinner while they work; a declared idle_marker replaces idle_pattern."""

    def __init__(
        self, fields: "dict[str, object]", generic_busy: bool, sre: "SreCache", markers: bool = False
    ) -> None:
        working = fields.get("working_marker") if markers else None
        idle = fields.get("idle_marker") if markers else None
        self.title_busy: RowMatcher | None = None
        if isinstance(working, str) and working:
            self.busy = _matcher(working, "working_marker", sre)
            self.title_busy = self.busy
        else:
            busy = fields.get("busy_pattern") or ""
            if generic_busy:
                busy = f"{busy}|{GENERIC_BUSY}" if busy else GENERIC_BUSY
            self.busy = _matcher(busy, "busy_pattern", sre)
        if isinstance(idle, str) and idle:
            self.idle = _matcher(idle, "idle_marker", sre)
        else:
            self.idle = _matcher(fields.get("idle_pattern"), "idle_pattern", sre)
        self.approval = _matcher(fields.get("approval_pattern"), "approval_pattern", sre)
        self.welcome = _matcher(fields.get("welcome_pattern"), "welcome_pattern", sre)
        self.error = _matcher(fields.get("error_pattern"), "error_pattern", sre)


class Registry:
    """The registry's fields as classification needs them (patterns compiled lazily, per harness)."""

    def __init__(self, harnesses: "dict[str, dict[str, object]]", sre: "SreCache | None" = None) -> None:
        self.harnesses = harnesses
        self.sre = sre if sre is not None else SreCache(None)
        self._patterns: dict[str, Patterns] = {}
        shell = harnesses.get("shell", {})
        names = shell.get("process_names") if isinstance(shell, dict) else None
        self.shells = {str(n) for n in names} if isinstance(names, list) and names else set(DEFAULT_SHELLS)
        # The names of the agents' own processes: each AI harness's name and process_names, never its
        # `binary` (python3, node or bash run much more than agents: the demo agent's binary is python3,
        # and it is told apart by its process name loop-demo-agent). See ai_harness.
        self.by_process: dict[str, str] = {}
        for name, fields in harnesses.items():
            if fields.get("kind") != "ai":
                continue
            procs = fields.get("process_names")
            for proc in [name, *(procs if isinstance(procs, list) else [])]:
                self.by_process.setdefault(str(proc), name)
        home = getenv("LOOP_LANE_IDLE_HOME_PATTERN", "")
        self.home = _matcher(home, "LOOP_LANE_IDLE_HOME_PATTERN", self.sre)
        self.tail = tail_lines()  # read once for every pane this registry classifies

    def is_ai(self, harness: "str | None") -> bool:
        if not harness:
            return False
        fields = self.harnesses.get(harness)
        if fields is None:
            return harness != "shell"  # an unknown name on a lane is taken as an AI harness
        return fields.get("kind") == "ai"

    def agent_of_process(self, names: "Iterable[str]") -> "str | None":
        """The AI harness one of a process's names (its command, argv[0], executable) belongs to."""
        for name in names:
            harness = self.by_process.get(name)
            if harness is not None:
                return harness
        return None

    def ai_harness(self, tag: "str | None", names: "Iterable[str]") -> "str | None":
        """THE answer to "is this lane an AI lane?" (the AI harness it runs, or None), shared by
        loop-lane-status (`ai`), --boot-check, the watchdog, the engine's gate (through `ai`) and the
        human-only commands' caller check (identity.py).

        A lane is an AI lane because loop-tmux launched it as one (`tag`: its @loop_lane_harness, set from
        the registry, --harness, the preset or the lane-config; an unknown name counts as AI), or because
        its process is one of an agent's own (`names`, see agent_of_process). Never because it runs
        python3, node or a shell: a harness's `binary` identifies nothing."""
        if tag and self.is_ai(tag):
            return tag
        return self.agent_of_process(names)

    def is_shell_process(self, command: str) -> bool:
        return command.lstrip("-") in self.shells or command in self.shells

    def patterns(self, harness: "str | None", tagged: bool = False) -> "Patterns":
        """The harness's patterns; `tagged` (the lane carries @loop_lane_harness) uses its markers."""
        key = ("+" if tagged else "") + (harness or "")
        if key not in self._patterns:
            known = harness is not None and harness in self.harnesses
            fields = self.harnesses[harness] if known and harness else self._union()
            self._patterns[key] = Patterns(fields, True, self.sre, tagged and known)
        return self._patterns[key]

    def _union(self) -> "dict[str, object]":
        """Patterns of every AI harness joined, for a pane whose harness is not known."""
        out: dict[str, object] = {}
        for field in ("busy_pattern", "idle_pattern", "approval_pattern", "welcome_pattern", "error_pattern"):
            parts = [
                f"(?:{f[field]})"
                for f in self.harnesses.values()
                if f.get("kind") == "ai" and isinstance(f.get(field), str) and f.get(field)
            ]
            out[field] = "|".join(parts)
        return out


# ---- lanes -----------------------------------------------------------------------------------------------
def _first(panes: "list[Pane]") -> "Pane | None":
    return panes[0] if panes else None


def fixed_lane_panes(panes: "list[Pane]", lane: str) -> "tuple[bool, Pane | None]":
    """(window exists, pane) for a fixed lane name, resolved by pane geometry, never by index."""
    window = {
        "validate-left": "validate",
        "validate-right": "validate",
        "ops-top": "ops",
        "ops-bottom": "ops",
    }.get(lane, lane)
    in_window = [p for p in panes if p.window_name == window]
    if not in_window:
        return False, None
    first_id = in_window[0].window_id
    in_window = [p for p in in_window if p.window_id == first_id]
    if lane in ("validate-left", "validate-right", "ops-top", "ops-bottom"):
        if len(in_window) < 2 and lane in ("validate-right", "ops-bottom"):
            return True, None
        if lane == "validate-left":
            return True, min(in_window, key=lambda p: (p.left, p.top))
        if lane == "validate-right":
            return True, max(in_window, key=lambda p: (p.left, -p.top))
        if lane == "ops-top":
            return True, min(in_window, key=lambda p: (p.top, p.left))
        return True, max(in_window, key=lambda p: (p.top, -p.left))
    return True, in_window[0]


def resolve_lane(panes: "list[Pane]", lane: str) -> "tuple[str, Pane]":
    """(kind, pane) for a lane name: a fixed lane, an add-lane window's name, or a pane id (%N)."""
    if lane in FIXED_LANES:
        exists, pane = fixed_lane_panes(panes, lane)
        if pane is None:
            why = "has no such pane" if exists else "window does not exist"
            raise LaneError(f"lane {lane!r}: {why}")
        return "fixed", pane
    if lane.startswith("%"):
        for pane in panes:
            if pane.pane_id == lane:
                return "dynamic", pane
        raise LaneError(f"no pane {lane!r} in this session")
    matches = [p for p in panes if p.window_name == lane]
    tagged = [p for p in matches if p.dynamic]
    pane = _first(tagged) or _first(matches)
    if pane is None:
        raise LaneError(f"unknown lane {lane!r} (not a fixed lane and no window by that name)")
    return "dynamic", pane


def all_lanes(panes: "list[Pane]") -> "list[tuple[str, str, Pane | None, str | None]]":
    """[(lane, kind, pane or None, window_id)] for --all: fixed lanes with windows + add-lane windows."""
    out: list[tuple[str, str, Pane | None, str | None]] = []
    for lane in FIXED_LANES:
        exists, pane = fixed_lane_panes(panes, lane)
        if exists:
            window = {"validate-left": "validate", "validate-right": "validate"}.get(lane, lane)
            window = {"ops-top": "ops", "ops-bottom": "ops"}.get(window, window)
            wid = next((p.window_id for p in panes if p.window_name == window), None)
            out.append((lane, "fixed", pane, wid))
    seen_windows: set[str] = set()
    names = {entry[0] for entry in out}
    for pane in panes:
        if not pane.dynamic or pane.window_id in seen_windows:
            continue
        seen_windows.add(pane.window_id)
        name = pane.window_name
        if name in names:
            name = f"{name}@{pane.window_id}"
        names.add(name)
        out.append((name, "dynamic", pane, pane.window_id))
    return out


# ---- hooks -------------------------------------------------------------------------------------------
def hook_dir(state_dir_option: str = "") -> str:
    explicit = getenv("LOOP_LANE_HOOK_DIR", "")
    if explicit:
        return _from_project(explicit)
    state = getenv("LOOP_TMUX_STATE_DIR", "") or state_dir_option
    if state:
        return path_join(_from_project(state), "hooks")
    return path_join(tempdir(), f"loop-lane-hooks-{posix.getuid()}")


def _from_project(directory: str) -> str:
    """A relative directory is the project's: resolved against the directory this one's loop lives in, so
    a hook run in a lane's git worktree writes where loop-lane-status (run in the project) reads."""
    if directory.startswith("/"):
        return directory
    import worktree  # only here: the hook's usual absolute path never pays for it

    here = posix.getcwd()
    root = worktree.main_root(here)
    return directory if root == here else path_join(root, directory)


def hook_file(directory: str, pane_id: str) -> str:
    return path_join(directory, "pane-" + pane_id.lstrip("%") + ".status")


def read_hooks(panes: "list[Pane]") -> "dict[str, tuple[str, float]]":
    """read_hook for many panes: {pane id: (state, written)} for those with a hook file. Each hook
    directory is listed once, and only the files it holds are opened: most panes have none (no hooks
    installed, or a harness other than Claude Code), and a failed open per pane cost more than a listing."""
    hooks: dict[str, tuple[str, float]] = {}
    listed: dict[str, set[str] | None] = {}
    for pane in panes:
        if pane.state_dir not in listed:
            listed[pane.state_dir] = _names_in(hook_dir(pane.state_dir))
        names = listed[pane.state_dir]
        if names is not None and hook_file("", pane.pane_id) not in names:
            continue  # no file for this pane (a listing that failed opens each pane's file instead)
        hooked = read_hook(pane)
        if hooked is not None:
            hooks[pane.pane_id] = hooked
    return hooks


def _names_in(directory: str) -> "set[str] | None":
    """The names in a directory; empty when it does not exist, None when it cannot be listed."""
    try:
        return set(posix.listdir(directory))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        return None


def read_hook(pane: "Pane") -> "tuple[str, float] | None":
    """(state, when it was written: the file's mtime) that a harness hook recorded for this pane, when
    its file exists and names this server."""
    path = hook_file(hook_dir(pane.state_dir), pane.pane_id)
    try:
        with fsread.open_file(path) as fh:  # a lane may plant a FIFO there: never block on it
            written = posix.fstat(fh.fileno()).st_mtime
            fields = fh.readline(4096).decode("utf-8").rstrip("\n").split("\t")
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) < 4 or fields[0] not in HOOK_STATES:
        return None
    if fields[3] and pane.socket and fields[3] != pane.socket:
        return None  # written by a pane with the same id on another tmux server
    return fields[0], written


def _pane_entries(path: str) -> "dict[str, tuple[str, str, float, float]]":
    """A per-server pane cache file (ScreenSeen, DebounceCache): pane_id TAB two texts TAB two times per
    line; a line of any other shape is skipped (the cache is rebuilt as panes are seen again)."""
    entries: dict[str, tuple[str, str, float, float]] = {}
    for line in (_read_bytes(path) or b"").decode("utf-8", "replace").split("\n"):
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        try:
            entries[parts[0]] = (parts[1], parts[2], float(parts[3]), float(parts[4]))
        except ValueError:
            continue
    return entries


class ScreenSeen:
    """When each hooked pane's screen last changed, as far as polls saw it: a text file per tmux server,
    one line per pane: pane_id TAB pane_pid TAB digest TAB changed_after TAB last_seen. `changed_after`
    is the last time the previous screen was still seen: the change happened after it. A screen seen
    for the first time has changed_after 0 (its age is unknown)."""

    def __init__(self, socket: str) -> None:
        folder = None if no_cache() else cache_dir()
        self.enabled = folder is not None
        self.path = path_join(folder, "screens-" + digest_of(socket or "default") + ".txt") if folder else ""
        self.entries = _pane_entries(self.path) if self.enabled else {}

    def note(self, pane: "Pane", digest: str, now: float) -> float:
        """Record this sighting; return the time after which the screen took its current content."""
        entry = self.entries.get(pane.pane_id)
        if entry is None or entry[0] != pane.pid:
            changed_after = 0.0
        elif entry[1] == digest:
            changed_after = entry[2]
        else:
            changed_after = entry[3]
        self.entries[pane.pane_id] = (pane.pid, digest, changed_after, now)
        return changed_after

    def save(self) -> None:
        if self.enabled:
            lines = [f"{k}\t{v[0]}\t{v[1]}\t{v[2]!r}\t{v[3]!r}\n" for k, v in self.entries.items()]
            _atomic_write(self.path, "".join(lines).encode("utf-8", "surrogateescape"))


def reconcile(hook: "tuple[str, float]", screen: "Verdict", changed_after: float) -> "Verdict":
    """The hook's word against the screen's, for one pane: the fresher wins.

    - They agree, or the screen tells nothing (unknown, or no harness pattern matched): the hook.
    - The hook says awaiting-approval but the screen shows idle or working, not a permission prompt:
      the screen (an open prompt is always drawn; a prompt cancelled with Esc fires no hook event).
    - Otherwise the screen wins only when it changed after the hook wrote its file (the previous screen
      was still seen at or after that moment); else the hook."""
    state, written = hook
    hooked = Verdict(state, HOOK_DETAIL[state], "hook", screen.harness, screen.rows)
    if screen.status == state or screen.source != "screen" or screen.status == "unknown":
        return hooked
    if state == "awaiting-approval" and screen.status in ("idle", "working"):
        return screen
    if changed_after >= written:
        return screen
    return hooked


# ---- classification --------------------------------------------------------------------------------------
class Verdict:
    """A pane's status. `digest` (digest_of the screen rows it was read from, "" without rows) is computed
    when first asked: only an idle pane (the debounce) or a hooked one (ScreenSeen) needs it, and one
    big-integer remainder per pane was a tenth of a busy fleet's poll."""

    __slots__ = ("_digest", "detail", "harness", "rows", "source", "status")

    def __init__(
        self,
        status: str,
        detail: "str | None",
        source: str,
        harness: "str | None",
        rows: "list[str] | None" = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.source = source
        self.harness = harness
        self.rows = rows
        self._digest: str | None = None

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = "" if self.rows is None else rows_digest(self.rows)
        return self._digest


def tail_lines() -> int:
    """LOOP_LANE_TAIL_LINES: how many non-blank bottom lines of a screen are read (default 15, at least 3)."""
    try:
        return max(3, int(getenv("LOOP_LANE_TAIL_LINES", "15")))
    except ValueError:
        return 15


def live_tail(lines: "list[str]", keep: "int | None" = None) -> "list[str]":
    """The last `keep` (default: LOOP_LANE_TAIL_LINES) non-blank lines of a visible screen (the live part)."""
    # filter() runs in C: a screen is mostly empty rows (capture-pane drops trailing spaces), which the
    # first filter drops without a call; only the rows kept are rstripped
    rows = list(filter(str.strip, filter(None, lines)))
    return [row.rstrip() for row in rows[-(keep or tail_lines()) :]]


def _last_match(pattern: "RowMatcher | None", rows: "list[str]", above: int = -1) -> int:
    """The index of the last row `pattern` finds a match in, or -1; rows at or before index `above` are
    not searched (a match there could not change the verdict)."""
    if pattern is None:
        return -1
    for i in range(len(rows) - 1, max(above, -1), -1):
        if pattern.search(rows[i]):
            return i
    return -1


def classify_screen(
    rows: "list[str]", pats: "Patterns", home: "RowMatcher | None", title: str = ""
) -> "tuple[str, str | None]":
    """(status, detail) from the live tail of an AI harness's screen (and its pane title).

    An API error line near the bottom is `errored`, unless the harness's idle prompt is drawn below it:
    the turn failed but the lane takes a prompt again (`idle`, detail `api-error`)."""
    idle_at = max(_last_match(pats.idle, rows), _last_match(home, rows))
    # only a prompt below the idle prompt counts, so the rows above it are not searched
    approval_at = _last_match(pats.approval, rows, idle_at)
    if approval_at >= 0 and approval_at > idle_at:
        return "awaiting-approval", "approval"
    if _last_match(pats.busy, rows) >= 0 or (pats.title_busy is not None and pats.title_busy.search(title)):
        return "working", "busy"
    # only an error line among the bottom ERROR_TAIL rows counts: the rows above are not searched
    error_at = _last_match(pats.error, rows, len(rows) - ERROR_TAIL - 1)
    if error_at >= 0 and error_at >= len(rows) - ERROR_TAIL:
        return ("idle", "api-error") if idle_at > error_at else ("errored", "error")
    if idle_at >= 0:
        return "idle", "ready"
    if _last_match(pats.welcome, rows) >= 0:
        return "working", "booting"
    return "unknown", None


def pane_harness(pane: "Pane", registry: "Registry") -> "str | None":
    """The harness a pane's screen is read as: its AI harness (Registry.ai_harness), else its tag."""
    return registry.ai_harness(pane.harness_opt, (pane.command,)) or pane.harness_opt or None


def classify_without_screen(pane: "Pane", registry: "Registry") -> "Verdict | None":
    """What process state and hooks decide on their own (None: the screen must be read)."""
    harness = pane_harness(pane, registry)
    if pane.dead:
        return Verdict("errored", "dead", "process", harness)
    ai = registry.is_ai(harness)
    if registry.is_shell_process(pane.command):
        if ai:
            return Verdict("errored", "exited-to-shell", "process", harness)
        return Verdict("idle", "ready", "process", harness or "shell")
    if not ai and harness is not None:
        # A shell/tool lane running a foreground program (a watcher, a log tail): busy by definition.
        return Verdict("working", "busy", "process", harness)
    return None  # the screen decides (weighed against a hook file, if any: see reconcile)


def process_table() -> "list[list[str]] | None":
    """[pid, pgid, tpgid, comm] of every process (one `ps`), or None when ps cannot answer."""
    try:
        proc = run(["ps", "-A", "-o", "pid=", "-o", "pgid=", "-o", "tpgid=", "-o", "comm="])
    except LaneError:
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    return [r for r in (line.split(None, 3) for line in lines) if len(r) == 4] or None


def foreground_beyond_shell(
    table: "list[list[str]]", pane_pid: str, is_shell: "Callable[[str], bool]"
) -> bool:
    """Whether the foreground process group of the pane whose first process is `pane_pid` holds a
    process `is_shell` does not call a shell. tmux names only the group's leader, so a harness launched
    by a wrapper script that did not `exec` shows as `bash` while its real process runs in that group.
    `comm` is a bare name on Linux and may be a path on macOS; a login shell shows as -bash."""
    group = next((r[2] for r in table if r[0] == pane_pid), None)
    if group is None or group.startswith("-") or group == "0":
        return False
    return any(r[1] == group and not is_shell(r[3].strip().rpartition("/")[2].lstrip("-")) for r in table)


# lanes.lane_command starts every lane as `<shell> -i -c '<run the launch, then exec a login shell>'
# loop-lane <launch> <shell>`: while argv[4] of the pane's first process is still this name, the lane is
# launching (rc files loading, the harness not started yet); once the launch ends, that shell has exec'd
# the user's login shell and the name is gone.
LAUNCH_ARGV0 = "loop-lane"


def _is_launching_shell(argv: "list[bytes]") -> bool:
    return len(argv) > 4 and argv[2] == b"-c" and argv[4] == LAUNCH_ARGV0.encode()


def _child_argvs(pid: str, depth: int) -> "list[list[bytes]]":
    """The argv of every descendant of `pid` down to `depth` levels (Linux /proc; [] elsewhere)."""
    parents = {pid}
    out: list[list[bytes]] = []
    for _ in range(depth):
        found: set[str] = set()
        for name in posix.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    stat = fh.read()
                ppid = stat[stat.rindex(b")") + 2 :].split()[1].decode()
                if ppid not in parents:
                    continue
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    out.append(fh.read().split(b"\0"))
            except (OSError, ValueError, IndexError):
                continue
            found.add(name)
        parents = found
        if not parents:
            break
    return out


def launching_pids(pids: "list[str]") -> "set[str]":
    """Which of `pids` (pane first processes) are still the launching shell of their lane (see
    LAUNCH_ARGV0): /proc/<pid>/cmdline where there is a /proc, else one `ps` for all of them."""
    found: set[str] = set()
    missing: list[str] = []
    for pid in pids:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            missing.append(pid)
            continue
        if _is_launching_shell(argv) or (
            # a sandboxed lane's pane runs bwrap, which runs the launching shell two processes down
            # (bwrap -> its pid-namespace init -> the shell): look through it
            argv[0].rpartition(b"/")[2] == b"bwrap"
            and any(_is_launching_shell(a) for a in _child_argvs(pid, 2))
        ):
            found.add(pid)
    if missing and not posix.access("/proc/self", posix.F_OK):
        try:
            proc = run(["ps", "-o", "pid=", "-o", "args=", "-p", ",".join(missing)])
        except LaneError:
            return found
        mark = f" -l {LAUNCH_ARGV0} "  # args is argv joined by spaces: ... exec "$2" -l loop-lane <launch>
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            pid, _, args = line.strip().partition(" ")
            if pid in missing and " -c " in args and mark in args:
                found.add(pid)
    return found


def panes_running_beyond_a_shell(panes: "list[Pane]", registry: "Registry") -> "set[str]":
    """The ids of `panes` (each showing a shell as its command) whose foreground group runs more than
    shells (see foreground_beyond_shell). One `ps` for all of them; without `ps`, the shell tmux shows
    is taken at its word."""
    table = process_table()
    if table is None:
        return set()
    return {p.pane_id for p in panes if foreground_beyond_shell(table, p.pid, registry.is_shell_process)}


# classify_screen's answers in this process, by everything it reads: the panes of a fleet often show the
# very same tail (idle agents of one harness), and each answer is the function's own, so a repeat is a
# lookup. Patterns and the home matcher are keyed by identity (a Registry makes each once). Cleared past
# _MEMO_MAX entries (a dispatch --wait-ready polls in one process).
_SCREENS: "dict[tuple[object, ...], tuple[str, str | None]]" = {}
_DIGESTS: "dict[tuple[str, ...], str]" = {}
_MEMO_MAX = 4096


def rows_digest(rows: "list[str]") -> str:
    """digest_of the rows joined by newlines, once per distinct tail in this process."""
    key = tuple(rows)
    found = _DIGESTS.get(key)
    if found is None:
        if len(_DIGESTS) >= _MEMO_MAX:
            _DIGESTS.clear()
        found = _DIGESTS[key] = digest_of("\n".join(rows))
    return found


def screen_verdict(pane: "Pane", lines: "list[str]", registry: "Registry") -> "Verdict":
    harness = pane_harness(pane, registry)
    rows = live_tail(lines, registry.tail)
    pats = registry.patterns(harness, bool(pane.harness_opt))
    key = (pats, registry.home, pane.title, *rows)
    found = _SCREENS.get(key)
    if found is None:
        if len(_SCREENS) >= _MEMO_MAX:
            _SCREENS.clear()
        found = _SCREENS[key] = classify_screen(rows, pats, registry.home, pane.title)
    status, detail = found
    if status == "unknown" and harness is None:
        # Not a known harness and nothing on screen looks like one: a plain program in the foreground.
        return Verdict("working", "busy", "process", None)
    return Verdict(status, detail, "screen", harness, rows)


def no_cache() -> bool:
    return getenv("LOOP_LANE_STATUS_NO_CACHE", "") in ("1", "true", "yes")


class DebounceCache:
    """When each pane was first/last seen idle with an unchanged screen (lets a poller skip the pause).

    A text file per tmux server, one line per pane: pane_id TAB pane_pid TAB digest TAB since TAB last."""

    def __init__(self, socket: str) -> None:
        self.socket = socket
        folder = None if no_cache() else cache_dir()
        self.enabled = folder is not None
        self.path = path_join(folder, "debounce-" + digest_of(socket or "default") + ".txt") if folder else ""
        self.entries = _pane_entries(self.path) if self.enabled else {}
        self.dirty = False

    @staticmethod
    def preload(socket: str) -> None:
        """Read the file of `socket`'s server now, for the next for_socket(socket) in this process."""
        _PRELOADED_DEBOUNCE[socket] = DebounceCache(socket)

    @staticmethod
    def for_socket(socket: str) -> "DebounceCache":
        """The cache of `socket`'s server: the one preload() read (once), else read now."""
        return _PRELOADED_DEBOUNCE.pop(socket, None) or DebounceCache(socket)

    def confirmed(self, pane: "Pane", digest: str, now: float, debounce_s: float, max_gap_s: float) -> bool:
        entry = self.entries.get(pane.pane_id)
        if not self.enabled or entry is None:
            return False
        pid, seen_digest, since, last = entry
        if pid != pane.pid or seen_digest != digest:
            return False
        return now - last <= max_gap_s and now - since >= debounce_s

    def note(self, pane: "Pane", verdict: "Verdict", now: float) -> None:
        if not self.enabled:
            return
        entry = self.entries.get(pane.pane_id)
        if verdict.status != "idle" or verdict.source != "screen":
            if entry is not None:
                del self.entries[pane.pane_id]
                self.dirty = True
            return
        same = entry is not None and entry[0] == pane.pid and entry[1] == verdict.digest
        if same and entry is not None and now - entry[3] < 1.0:
            return  # a repeat sighting within a second: not worth a file write (the gap allowed is 5 s)
        since = entry[2] if same and entry is not None else now
        self.entries[pane.pane_id] = (pane.pid, verdict.digest, since, now)
        self.dirty = True

    def forget(self, pane_id: str) -> None:
        """Drop a pane's idle sighting now (after input was sent to it) and save."""
        if self.entries.pop(pane_id, None) is not None:
            self.dirty = True
            self.save()

    def save(self) -> None:
        if self.enabled and self.dirty:
            lines = [f"{k}\t{v[0]}\t{v[1]}\t{v[2]!r}\t{v[3]!r}\n" for k, v in self.entries.items()]
            _atomic_write(self.path, "".join(lines).encode("utf-8", "surrogateescape"))


_PRELOADED_DEBOUNCE: "dict[str, DebounceCache]" = {}


def guess_socket_path() -> str:
    """The #{socket_path} tmux will most likely report for LOOP_TMUX_SOCKET's server (or the default
    server's), before the listing says: only a guess, to read a cache ahead (see cmd_status)."""
    sock = getenv("LOOP_TMUX_SOCKET", "")
    if sock:
        return sock
    return path_join(getenv("TMUX_TMPDIR") or "/tmp", f"tmux-{posix.getuid()}/default")


def _env_float(name: str, default: float) -> float:
    """A non-negative, finite number from the environment; anything else is the default, with a warning."""
    raw = getenv(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:  # NaN fails both comparisons
        warn(f"ignoring {name}={raw!r} (not a non-negative number of seconds); using {default:g}")
        return default
    return value


def classify_panes(
    targets: "list[Pane]", registry: "Registry", screens: "dict[str, list[str]] | None" = None
) -> "dict[str, Verdict]":
    """Verdicts for many panes: one chained capture (+ one confirming capture for unconfirmed idle).

    `screens` are captures already taken (a prefetch); only panes missing from it are captured."""
    verdicts: dict[str, Verdict] = {}
    need: list[Pane] = []
    for pane in targets:
        if pane.pane_id in verdicts:
            continue
        early = classify_without_screen(pane, registry)
        if early is not None:
            verdicts[pane.pane_id] = early
        else:
            need.append(pane)
    at_shell = {
        p.pane_id: p
        for p in targets
        if verdicts.get(p.pane_id) and verdicts[p.pane_id].detail == "exited-to-shell"
    }
    if at_shell:  # rare: only a lane that looks exited costs the `ps`
        for pane_id in panes_running_beyond_a_shell(list(at_shell.values()), registry):
            del verdicts[pane_id]  # read its screen like any running harness's
            need.append(at_shell.pop(pane_id))
        launching = launching_pids([p.pid for p in at_shell.values()]) if at_shell else set()
        for pane in at_shell.values():
            if pane.pid in launching:  # still starting its harness: booting, not exited
                harness = verdicts[pane.pane_id].harness
                verdicts[pane.pane_id] = Verdict("working", "booting", "process", harness)
    if not need:
        return verdicts
    hooks = read_hooks(need)
    socket = need[0].socket
    cache = DebounceCache.for_socket(socket)
    debounce_s = _env_float("LOOP_LANE_DEBOUNCE_S", 0.2)
    max_gap_s = _env_float("LOOP_LANE_DEBOUNCE_MAX_GAP_S", 5.0)
    have = screens or {}
    missing = [p.pane_id for p in need if p.pane_id not in have]
    stalled: set[str] = set()
    if missing:
        have = dict(have)
        got, stalled = capture_bounded(missing)
        have.update(got)
    screens = have
    now = time.time()
    unconfirmed: list[Pane] = []
    first_seen: dict[str, Verdict] = {}
    for pane in need:
        if pane.pane_id in stalled:  # its capture hung: nothing is known of its screen
            verdicts[pane.pane_id] = Verdict(
                "unknown", "tmux-timeout", "screen", pane_harness(pane, registry)
            )
            continue
        verdict = screen_verdict(pane, screens.get(pane.pane_id, []), registry)
        if verdict.status == "idle" and not cache.confirmed(pane, verdict.digest, now, debounce_s, max_gap_s):
            unconfirmed.append(pane)
            first_seen[pane.pane_id] = verdict
            cache.note(pane, verdict, now)
        else:
            cache.note(pane, verdict, now)
            verdicts[pane.pane_id] = verdict
    if unconfirmed:
        time.sleep(debounce_s)
        again, stalled = capture_bounded([p.pane_id for p in unconfirmed])
        now = time.time()
        for pane in unconfirmed:
            lines = again.get(pane.pane_id)
            if pane.pane_id in stalled:
                verdict = Verdict("unknown", "tmux-timeout", "screen", pane_harness(pane, registry))
            elif lines is None:
                verdict = Verdict("unknown", "no-pane", "screen", pane_harness(pane, registry))
            else:
                verdict = screen_verdict(pane, lines, registry)
            # Idle must be seen twice in a row; anything else seen second wins at once.
            cache.note(pane, verdict, now)
            verdicts[pane.pane_id] = verdict
    cache.save()
    if hooks:
        seen = ScreenSeen(socket)
        for pane in need:
            hooked = hooks.get(pane.pane_id)
            if hooked is not None:
                verdict = verdicts[pane.pane_id]
                changed_after = seen.note(pane, verdict.digest, now)
                verdicts[pane.pane_id] = reconcile(hooked, verdict, changed_after)
        seen.save()
    return verdicts


# ---- output ------------------------------------------------------------------------------------------------
def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# JSON string escapes: control characters, quote, backslash, and the lone surrogates that
# surrogateescape decoding makes of bytes that are not UTF-8 (json.loads gives the same str back).
_JSON_ESCAPES: "dict[int, str]" = {i: f"\\u{i:04x}" for i in range(0x20)}
_JSON_ESCAPES.update(
    {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0C: "\\f"}
)
_JSON_ESCAPES.update({i: f"\\u{i:04x}" for i in range(0xDC80, 0xDD00)})


def dump_json(value: object) -> str:
    """Compact JSON for None, bool, int, float, str, list and dict (stdlib `json` costs ~5 ms to import)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            return '"' + value + '"'  # nothing to escape (the usual case, and translate() is slow)
        return '"' + value.translate(_JSON_ESCAPES) + '"'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(_json_member(str(k), v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dump_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _json_member(key: str, value: object) -> str:
    """`"key": value` of a JSON object; a plain string value is written here (a fleet report is mostly
    strings: one call each was a fifth of a 96-lane poll)."""
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
    ):
        return f'{dump_json(key)}: "{value}"'
    return f"{dump_json(key)}: {dump_json(value)}"


def entry(lane: str, kind: str, target: str, verdict: "Verdict", ai: bool) -> "dict[str, object]":
    return {
        "lane": lane,
        "status": verdict.status,
        "target": target,
        "kind": kind,
        "detail": verdict.detail,
        "harness": verdict.harness,
        "source": verdict.source,
        "ai": ai,
    }


def _json_value(value: object) -> str:
    """dump_json(value), a plain string (nothing to escape: most of a report) written here."""
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
    ):
        return '"' + value + '"'
    return dump_json(value)


def entry_json(lane: str, kind: str, target: str, verdict: "Verdict", ai: bool) -> str:
    """dump_json(entry(...)), written as one string: a fleet report is 8 of these members per lane, and
    one call per member was a sixth of a 96-lane poll. When no text of the entry needs escaping (the
    usual case), the texts are checked once, joined, and written as they are."""
    status, source, detail, harness = verdict.status, verdict.source, verdict.detail, verdict.harness
    if (
        type(lane) is str
        and type(kind) is str
        and type(target) is str
        and type(status) is str
        and type(source) is str
        and (detail is None or type(detail) is str)
        and (harness is None or type(harness) is str)
        and type(ai) is bool
    ):
        joined = f"{lane}{kind}{target}{status}{source}{detail or ''}{harness or ''}"
        if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
            detail_json = "null" if detail is None else '"' + detail + '"'
            harness_json = "null" if harness is None else '"' + harness + '"'
            return (
                f'{{"lane": "{lane}", "status": "{status}", "target": "{target}", "kind": "{kind}", '
                f'"detail": {detail_json}, "harness": {harness_json}, '
                f'"source": "{source}", "ai": {"true" if ai else "false"}}}'
            )
    return (
        f'{{"lane": {_json_value(lane)}, "status": {_json_value(verdict.status)}, '
        f'"target": {_json_value(target)}, "kind": {_json_value(kind)}, '
        f'"detail": {_json_value(verdict.detail)}, "harness": {_json_value(verdict.harness)}, '
        f'"source": {_json_value(verdict.source)}, "ai": {dump_json(ai)}}}'
    )


def report_json(session: str, lanes: "dict[str, str]") -> str:
    """The LaneStatusReport document, as dump_json writes it, for lanes {name: its entry_json}."""
    members = ", ".join(f"{_json_value(name)}: {item}" for name, item in lanes.items())
    return (
        f'{{"contract_version": {dump_json(CONTRACT_VERSION)}, "session": {_json_value(session)}, '
        f'"generated_at": {_json_value(now_iso())}, "lanes": {{{members}}}}}'
    )


def pane_is_ai(pane: "Pane", registry: "Registry") -> bool:
    return registry.ai_harness(pane.harness_opt, (pane.command,)) is not None


def _answer_end(head: bytes) -> "bytes | None":
    """The last line of the prefetch answer whose start is `head` (Prefetch.prepare's end marker), b""
    for input that is no such answer (read to its end), None while its header line is incomplete."""
    line, found, _ = head.partition(b"\n")
    if not found:
        return None
    words = line.split(b" ")
    if len(words) < 2 or words[0] != PREFETCH_TAG.encode() or len(words[1]) != 24:
        return b""
    return b"%s-%s-end\n" % (words[0], words[1])


def _read_stdin(while_waiting: "Callable[[], None] | None") -> bytes:
    """stdin up to the end of the prefetch's answer; `while_waiting` runs first if that end has not
    arrived yet.

    tmux sends its answer as each command runs (the header and the listing first, the captures after),
    so what has arrived is read without waiting, and if the end has not, the work runs while tmux is
    still capturing (off the poll's critical path). The read stops at the answer's end marker line
    rather than at the end of the input: the tmux client closes its output only once it has exited,
    milliseconds after the answer is all there. A marker line that is not the answer's end (its nonce
    forged on a screen) stops the read early; Prefetch.read then finds the captures short and asks tmux
    again (a spawn, never a wrong answer)."""
    chunks: list[bytes] = []
    end: bytes | None = None
    tail = b""
    reader = sys.stdin.buffer  # nothing read through it before: the reads below come first
    pending = while_waiting
    if pending is not None:
        posix.set_blocking(0, False)
    try:
        while True:
            if pending is None:
                chunk = reader.read1(1 << 16)
            else:
                try:
                    chunk = posix.read(0, 1 << 16)
                except BlockingIOError:  # more to come: the work first, then wait for it
                    posix.set_blocking(0, True)
                    work, pending = pending, None
                    work()
                    continue
            if not chunk:
                break  # the end of the input (a failed tmux, no prefetch: /dev/null)
            chunks.append(chunk)
            if end is None:
                end = _answer_end(b"".join(chunks))
            tail = (tail + chunk)[-64:]
            if end and tail.endswith(end):
                break
    finally:
        if pending is not None:
            posix.set_blocking(0, True)
    return b"".join(chunks)


class Prefetch:
    """The tmux answer loop-lane-status.sh fetched while this interpreter was starting.

    The shell reads a tmux argv from a cache file written by the previous call (prepare(): one line,
    arguments separated by \\x1f) and pipes tmux's output to us on stdin. The argv prints a header
    line `lls2 <nonce> <pane numbers...>` (pane ids without their "%"), lists the session's panes
    and a marker line, captures each of those panes back to back, and ends with a marker line: no
    command between the captures (a marker after each cost the tmux server as much as the capture),
    which are cut apart by the heights the listing gave (split_by_height). The answer is used only
    where it checks out (same session, both markers, the line count the heights add up to); whatever
    is missing is asked of tmux again, so a stale file costs a spawn, never a wrong answer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.panes: list[Pane] | None = None
        self.screens: dict[str, list[str]] = {}
        self.old_argv: bytes | None = None

    def read(self, session: str, while_waiting: "Callable[[], None] | None" = None) -> None:
        """Read and check the answer on stdin. `while_waiting` runs when the answer's end has not arrived
        yet (tmux is still capturing), so work done then is off the poll's critical path (when the whole
        answer is already there, it is read at once and `while_waiting` is not run)."""
        self.old_argv = _read_bytes(self.path)
        try:
            with Deadline(tmux_timeout()):  # the tmux client the shell started: bounded like any other
                data = _read_stdin(while_waiting)
        except (OSError, ValueError, DeadlineError):
            return
        text = data.decode("utf-8", "surrogateescape")
        head, _, rest = text.partition("\n")
        words = head.split(" ")
        if len(words) < 2 or words[0] != PREFETCH_TAG or len(words[1]) != 24:
            return
        nonce, ids = words[1], ["%" + n for n in words[2:]]
        listed, found, rest = rest.partition(f"{PREFETCH_TAG}-{nonce}-list\n")
        if not found:
            return
        panes = parse_listing(listed, nonce)
        if not panes or any(p.session != session for p in panes):
            return
        self.panes = panes
        body, found, tail = rest.rpartition(f"{PREFETCH_TAG}-{nonce}-end\n")
        if found and not tail:  # the whole chain ran: every pane it names was there to capture
            self.screens = split_by_height(body, ids, {p.pane_id: p.height for p in panes})

    def prepare(self, session: str, panes: "list[Pane]") -> None:
        """Write the argv the next call's shell runs: this session's listing plus a capture of each pane."""
        ids = [p.pane_id for p in panes if p.pane_id[1:].isdigit() and p.pane_id.startswith("%")]
        nonce = None
        if self.old_argv:
            old = self.old_argv.rstrip(b"\n").split(b"\x1f")
            if len(old) > 3 and old[:2] == [b"display-message", b"-p"]:
                header = old[2].decode("utf-8", "replace").split(" ")
                if (
                    header[0] == PREFETCH_TAG
                    and ["%" + n for n in header[2:]] == ids
                    and len(header) > 1
                    and old[7:8] == [exact_session(session).encode("utf-8", "surrogateescape")]
                    and len(old) == 18 + 2 * len(ids)  # two words a capture (an older file had five)
                ):
                    return  # unchanged: nothing to write
                if len(header) > 1 and len(header[1]) == 24:
                    nonce = header[1]
        nonce = nonce or token()
        # display-message expands strftime sequences, so the header names panes without their "%".
        argv = ["display-message", "-p", " ".join([PREFETCH_TAG, nonce, *(i[1:] for i in ids)])]
        argv += [";", "list-panes", "-s", "-t", exact_session(session), "-F", listing_format(nonce)]
        argv += [";", "display-message", "-p", f"{PREFETCH_TAG}-{nonce}-list"]
        # No marker between captures: each is its pane's height in lines. Each capture is two words,
        # `capturep -pt%N`, the one before it ending in ";": tmux ends a command at any argument
        # whose last character is an unescaped ";" (cmd_parse_from_arguments). The shell reads this
        # file into an array before it can start tmux, on every poll, and that read costs per word:
        # two words a pane instead of five (";" "capture-pane" "-p" "-t" %N) took ~0.25 ms off it.
        for pane_id in ids:
            argv[-1] += ";"
            argv += ["capturep", "-pt" + pane_id]
        argv += [";", "display-message", "-p", f"{PREFETCH_TAG}-{nonce}-end"]
        if any("\x1f" in a or "\n" in a for a in argv):
            return  # a session name the one-line file format cannot hold: no prefetch for it
        data = "\x1f".join(argv).encode("utf-8", "surrogateescape") + b"\n"
        try:
            makedirs(dirname(self.path) or ".", 0o700)
        except OSError:
            return
        _atomic_write(self.path, data)


def cmd_status(args: "list[str]") -> int:
    session = lane = prefetch_path = None
    want_all = as_json = print_target = False
    it = iter(args)
    for arg in it:
        if arg == "--session":
            session = next(it, None)
        elif arg == "--lane":
            lane = next(it, None)
        elif arg == "--all":
            want_all = True
        elif arg == "--json":
            as_json = True
        elif arg == "--print-target":
            print_target = True
        elif arg == "--prefetch-file":
            prefetch_path = next(it, None)
        else:
            raise LaneError(f"unexpected argument {arg!r}")
    if not session or (lane is None) == (not want_all):
        raise LaneError("status needs --session S and one of --lane L / --all")
    # The registry first: while it loads, the tmux client the shell started (the prefetch) is still
    # capturing, and what comes after waits for its answer.
    cache = RegistryCache()
    registry = Registry(cache.harnesses, cache.sre)
    try:
        # the shell started the prefetch only from a file in its own folder; the answer is taken, and the
        # next call's file written, only there too (the folder may have changed hands since: own_dir)
        own = bool(prefetch_path) and own_dir(dirname(prefetch_path or "") or ".")
        prefetch = Prefetch(prefetch_path) if prefetch_path and own and not no_cache() else None
        if prefetch is not None:

            def while_waiting() -> None:
                # what the classification reads whatever the answer says, done while tmux captures
                registry.sre.warm()
                DebounceCache.preload(guess_socket_path())

            prefetch.read(session, while_waiting)
        panes = prefetch.panes if prefetch is not None and prefetch.panes is not None else list_panes(session)
        if prefetch is not None:
            prefetch.prepare(session, panes)
        screens = prefetch.screens if prefetch is not None else None
        return _report(session, lane, panes, registry, screens, as_json, print_target)
    finally:
        cache.save()


def _report(
    session: str,
    lane: "str | None",
    panes: "list[Pane]",
    registry: "Registry",
    screens: "dict[str, list[str]] | None",
    as_json: bool,
    print_target: bool,
) -> int:
    out: list[str] = []
    if lane is None:
        rows = all_lanes(panes)
        verdicts = classify_panes([p for _, _, p, _ in rows if p is not None], registry, screens)
        lanes: dict[str, tuple[str, str, Verdict, bool]] = {}
        for name, kind, pane, wid in rows:
            if pane is None:
                lanes[name] = (kind, wid or "", Verdict("unknown", "no-pane", "process", None), False)
            else:
                lanes[name] = (kind, pane.pane_id, verdicts[pane.pane_id], pane_is_ai(pane, registry))
        if as_json:
            out.append(report_json(session, {name: entry_json(name, *item) for name, item in lanes.items()}))
        else:
            for name, item in lanes.items():
                out.append(f"{name}\t{item[2].status}")
    else:
        kind, pane = resolve_lane(panes, lane)
        if print_target:
            out.append(pane.pane_id)
        else:
            verdict = classify_panes([pane], registry, screens)[pane.pane_id]
            if as_json:
                ai = pane_is_ai(pane, registry)
                out.append(report_json(session, {lane: entry_json(lane, kind, pane.pane_id, verdict, ai)}))
            else:
                out.append(verdict.status)
    sys.stdout.write("\n".join(out) + "\n" if out else "")
    return 0


# Claude Code hook events -> lane state ("" = remove the status file, None = leave it alone).
HOOK_EVENTS = {
    "SessionStart": "idle",
    "UserPromptSubmit": "working",
    "PreToolUse": "working",
    "PostToolUse": "working",  # a tool ran (after an approval, too): back to working
    "PostToolUseFailure": "working",
    "PermissionDenied": "working",  # the model is told and carries on
    "PermissionRequest": "awaiting-approval",
    "Stop": "idle",
    "StopFailure": "errored",  # the turn ended on an API error
    "SessionEnd": "",
}


def cmd_hook(args: "list[str]") -> int:
    """Record a harness hook event for the pane this process runs in. Never fails the harness."""
    if len(args) != 1:
        raise LaneError("hook needs exactly one EVENT argument")
    event = args[0]
    pane_id = getenv("TMUX_PANE", "")
    import json

    payload: dict[str, object] = {}
    if not sys.stdin.isatty():
        try:
            raw = sys.stdin.read(1 << 20)
            loaded = json.loads(raw) if raw.strip() else {}
            payload = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError, RecursionError):
            payload = {}
    if event == "auto":
        event = str(payload.get("hook_event_name", ""))
    state = HOOK_EVENTS.get(event)
    if event == "Notification":
        kind = str(payload.get("notification_type", ""))
        message = str(payload.get("message", ""))
        if kind == "permission_prompt" or (not kind and "permission" in message.lower()):
            state = "awaiting-approval"
        elif kind == "idle_prompt" or (not kind and "waiting for your input" in message.lower()):
            state = "idle"
    if not pane_id.startswith("%") or state is None:
        return 0
    tmux_env = getenv("TMUX", "")
    socket = tmux_env.split(",", 1)[0] if tmux_env else ""
    state_dir_opt = ""
    if not getenv("LOOP_LANE_HOOK_DIR") and not getenv("LOOP_TMUX_STATE_DIR"):
        proc = tmux("display-message", "-p", "-t", pane_id, "#{@loop_state_dir}", timeout=tmux_timeout())
        state_dir_opt = proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""
    directory = hook_dir(state_dir_opt)
    path = hook_file(directory, pane_id)
    if state == "":
        _unlink(path)
        return 0
    try:
        makedirs(directory)
    except OSError as exc:
        raise LaneError(f"cannot create {directory}: {exc}") from None
    _atomic_write(
        path, f"{state}\t{int(time.time())}\t{event}\t{socket}\n".encode("utf-8", "surrogateescape")
    )
    return 0


def main(argv: "list[str]") -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0
    verb, rest = argv[0], argv[1:]
    try:
        if verb == "status":
            rc = cmd_status(rest)
            sys.stdout.flush()  # here, so a reader that went away is a BrokenPipeError we handle
            return rc
        if verb == "hook":
            return cmd_hook(rest)
        raise LaneError(f"unknown verb {verb!r}")
    except LaneError as exc:
        sys.stderr.write(f"loop-lane-status: {exc}\n")
        return 1
    except BrokenPipeError:
        quiet_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def quiet_stdout() -> None:
    """The reader went away (`loop-lane-status --json --all s | head -c1`): not an error of ours. fd 1 goes
    to /dev/null so the final flush is quiet too."""
    try:
        devnull = posix.open("/dev/null", posix.O_WRONLY)
        posix.dup2(devnull, 1)
        posix.close(devnull)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
