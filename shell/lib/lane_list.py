#!/usr/bin/env python3
"""lane_list: the windows of a tmux session and their lane metadata (`loop-tmux list-lanes`).

Stdlib only, python 3.8+. Run by loop-tmux.sh (`list-lanes`, through lib/codeboot.py) and imported by
lanes.py (its `list` and `find` verbs, and the names LaneError, LIST_FIELDS, lane_entry).

    lane_list.py list --session S [--json]    the table, or the loop_schemas.LaneList JSON document

The engine runs `list-lanes --json` at the start of every `loop-engine once`, beside its own start-up,
so this module imports only modules built into the interpreter (posix, sys, time, _signal): no os, re,
json, argparse or subprocess (together ~35 ms of CPU on every call). tmux is started with posix_spawnp
and asked ONE question: list-windows. Only when that fails is has-session asked, to tell a missing
session (`no tmux session 'S'`) from another tmux error. Every tmux call gives up after TMUX_TIMEOUT_S,
so a wedged tmux server is a one-line error, not a hang.

Environment: LOOP_TMUX_SOCKET (the tmux server socket; default: tmux's own).
"""

import _signal
import posix
import sys
import time

CONTRACT_VERSION = 1
TMUX_TIMEOUT_S = 60.0  # a wedged tmux server must not hang loop-tmux (as lanes.TMUX_TIMEOUT_S)
LIST_FIELDS = [
    "window_id",
    "window_name",
    "@loop_lane",
    "@loop_lane_harness",
    "@loop_lane_model",
    "@loop_lane_role",
    "@loop_lane_cmd",
    "@loop_lane_kind",
    "@loop_lane_repo",
    "@loop_lane_isolation",
    "@loop_lane_branch",
    "@loop_lane_worktree",
    "@loop_lane_sandbox",
]
_FS_ENCODING = sys.getfilesystemencoding()


class LaneError(Exception):
    """A one-line error (exit 1)."""


class UsageError(Exception):
    """A usage error (exit 2)."""


class _TimedOutError(Exception):
    pass


def _environ() -> "dict[object, object]":
    """The environment tmux gets: os.environ when a caller (lanes.py) imported os, else posix's own."""
    os_module = sys.modules.get("os")
    return dict(os_module.environ) if os_module is not None else dict(posix.environ)


def _getenv(name: str) -> str:
    os_module = sys.modules.get("os")
    if os_module is not None:
        return str(os_module.environ.get(name, ""))
    value = posix.environ.get(name.encode(_FS_ENCODING, "surrogateescape"))
    return "" if value is None else value.decode(_FS_ENCODING, "surrogateescape")


def _alarm(signum: int, frame: object) -> None:
    raise _TimedOutError()


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = posix.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def tmux(*args: str) -> "tuple[int, bytes, bytes]":
    """(exit code, stdout, stderr) of `tmux [-S $LOOP_TMUX_SOCKET] ARGS` (stdin inherited); LaneError
    when tmux cannot be started or has not answered within TMUX_TIMEOUT_S."""
    sock = _getenv("LOOP_TMUX_SOCKET")
    argv = ["tmux", "-S", sock, *args] if sock else ["tmux", *args]
    r_out, w_out = posix.pipe()
    r_err, w_err = posix.pipe()
    actions = [(posix.POSIX_SPAWN_DUP2, w_out, 1), (posix.POSIX_SPAWN_DUP2, w_err, 2)]
    try:
        pid = posix.posix_spawnp("tmux", argv, _environ(), file_actions=actions)
    except OSError as exc:
        for fd in (r_out, w_out, r_err, w_err):
            posix.close(fd)
        raise LaneError(f"cannot run tmux: {exc}") from None
    posix.close(w_out)
    posix.close(w_err)
    armed = False
    old: object = None
    try:
        try:
            old = _signal.signal(_signal.SIGALRM, _alarm)
            armed = True
            _signal.setitimer(_signal.ITIMER_REAL, TMUX_TIMEOUT_S)
        except ValueError:  # not the main thread: no deadline
            pass
        out = _read_all(r_out)  # tmux writes little to stderr: reading stdout first cannot block it
        err = _read_all(r_err)
    except _TimedOutError:
        try:  # noqa: SIM105 (contextlib costs an import)
            posix.kill(pid, _signal.SIGKILL)
        except OSError:
            pass
        posix.waitpid(pid, 0)
        raise LaneError(f"tmux {args[0] if args else ''} did not answer within {TMUX_TIMEOUT_S:g}s") from None
    finally:
        if armed:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            _signal.signal(_signal.SIGALRM, _signal.SIG_DFL if old is None else old)
        posix.close(r_out)
        posix.close(r_err)
    _, status = posix.waitpid(pid, 0)
    code = posix.WEXITSTATUS(status) if posix.WIFEXITED(status) else -posix.WTERMSIG(status)
    return code, out, err


def _tmux_error(code: int, err: bytes) -> LaneError:
    msg = err.decode("utf-8", "replace").strip().splitlines()
    return LaneError("tmux: " + (msg[-1] if msg else f"exit {code}"))


def session_rows(session: str) -> "list[dict[str, str]]":
    """Every window of `session` with LIST_FIELDS (values may hold any character): one list-windows call,
    fields separated by a random nonce. LaneError when there is no such session or tmux fails."""
    nonce = posix.urandom(12).hex()
    rec, sep = f"R{nonce}R", f"F{nonce}F"
    fmt = rec + sep.join("#{" + f + "}" for f in LIST_FIELDS)
    code, out, err = tmux("list-windows", "-t", "=" + session, "-F", fmt)
    if code != 0:
        if tmux("has-session", "-t", "=" + session)[0] != 0:
            raise LaneError(f"no tmux session {session!r}")
        raise _tmux_error(code, err)
    rows = []
    for chunk in out.decode("utf-8", "surrogateescape").split(rec)[1:]:
        body = chunk[:-1] if chunk.endswith("\n") else chunk
        values = body.split(sep)
        if len(values) != len(LIST_FIELDS):
            raise LaneError("tmux returned a malformed listing")
        rows.append({f: values[i] for i, f in enumerate(LIST_FIELDS)})
    return rows


def _utf8(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def lane_entry(row: "dict[str, str]") -> "dict[str, object]":
    """One loop_schemas.LaneEntry of a session_rows row (unset options are None)."""

    def opt(key: str) -> "str | None":
        value = _utf8(row["@loop_lane_" + key])
        return value if value != "" else None

    base = row["@loop_lane"] != "1"
    kind = opt("kind") or ("standing" if base else "worker")
    isolation = opt("isolation")
    return {
        "window": _utf8(row["window_name"]),
        "window_id": row["window_id"],
        "harness": opt("harness"),
        "model": opt("model"),
        "role": opt("role"),
        "cmd": opt("cmd"),
        "base": base,
        "kind": kind,
        "repo": opt("repo"),
        "isolation": isolation if isolation in ("shared", "worktree") else None,
        "branch": opt("branch"),
        "sandbox": opt("sandbox") == "1",
    }


# ---- output --------------------------------------------------------------------------------------------
# json.dumps(doc, ensure_ascii=False), written here: the stdlib json module costs ~5 ms to import (re,
# enum, ...). A string escapes what json's encoder escapes without ensure_ascii: the quote, the
# backslash and the control characters below 0x20 (\n \r \t \b \f by name, the others as \u00XX).
_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)}
_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0C: "\\f"})


def dump_json(value: object) -> str:
    """json.dumps(value, ensure_ascii=False) of None, bool, int, str, list and dict (str keys)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, dict):
        return "{" + ", ".join(dump_json(str(k)) + ": " + dump_json(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def show(value: object) -> str:
    """One-line rendering for human output: None is '-', control characters are escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def list_lanes(session: str, as_json: bool) -> int:
    """Write the session's lanes to stdout: the LaneList JSON document (as_json) or a table."""
    lanes = [lane_entry(r) for r in session_rows(session)]
    if as_json:
        doc = {
            "contract_version": CONTRACT_VERSION,
            "session": session,
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "lanes": lanes,
        }
        sys.stdout.write(dump_json(doc) + "\n")
        return 0
    head = ("WINDOW", "ID", "HARNESS", "MODEL", "KIND", "BASE", "ISOLATION", "SANDBOX", "ROLE", "CMD")
    rows = [head] + [
        (
            show(e["window"]),
            str(e["window_id"]),
            show(e["harness"]),
            show(e["model"]),
            str(e["kind"]),
            "yes" if e["base"] else "no",
            show(e["isolation"]),
            "yes" if e["sandbox"] else "no",
            show(e["role"]),
            show(e["cmd"]),
        )
        for e in lanes
    ]
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(len(head) - 1)]
    for r in rows:
        cells = [r[i][:40].ljust(widths[i]) for i in range(len(head) - 1)] + [r[-1]]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
    return 0


def _parse(argv: "list[str]") -> "tuple[str, bool]":
    """(session, json) of `list --session S [--json]` (loop-tmux.sh passes nothing else)."""
    if not argv or argv[0] != "list":
        raise UsageError("usage: lane_list.py list --session S [--json]")
    session = None
    as_json = False
    args = argv[1:]
    while args:
        arg = args.pop(0)
        if arg == "--json":
            as_json = True
        elif arg == "--session" and args:
            session = args.pop(0)
        elif arg.startswith("--session="):
            session = arg[len("--session=") :]
        else:
            raise UsageError(f"list: unexpected argument {arg!r}")
    if session is None:
        raise UsageError("list: --session S is required")
    return session, as_json


def main(argv: "list[str]") -> int:
    try:
        session, as_json = _parse(argv)
        rc = list_lanes(session, as_json)
        sys.stdout.flush()  # here, so a reader that went away is a BrokenPipeError we handle
        return rc
    except BrokenPipeError:  # the reader went away (`list-lanes --json | head -c1`): quiet, like a pipe
        try:
            devnull = posix.open("/dev/null", posix.O_WRONLY)
            posix.dup2(devnull, sys.stdout.fileno())
            posix.close(devnull)
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
