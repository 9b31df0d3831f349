#!/usr/bin/env python3
"""dispatch: deliver a prompt into a lane's tmux pane, at most once (the engine of loop-dispatch.sh).

Stdlib only, python 3.8+. loop-dispatch.sh parses the user's flags and runs:
  dispatch.py (--session S --lane L | --window T [--session S]) [--mode command|text] [--no-enter]
              [--verify] [--wait-ready] [--ready-timeout SECS] [--interrupt] [--no-clear]
              (--payload-file F | --payload-stdin | --payload-stdin-exact)
The payload is read from a file or stdin as bytes, never from argv and never through a shell.

Delivery: `load-buffer -b <unique> -` (payload on stdin) chained with `paste-buffer -p -r -d`
(bracketed, newlines kept as LF, buffer deleted), a pause, `send-keys Enter`, then recapture until the
screen changes; when it does not, only the Enter is retried. The text is never pasted twice.
Exit 0 delivered, 1 not delivered (reason on stderr).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

if not getattr(sys, "pycache_prefix", None):
    sys.dont_write_bytecode = True  # never leave __pycache__ in an installed shell/lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lane_status as ls


class DispatchError(Exception):
    """Not delivered (exit 1)."""


def seconds(name: str, raw: str) -> float:
    """A non-negative, finite number of seconds (DispatchError, one line, otherwise)."""
    try:
        value = float(raw)
    except ValueError:
        raise DispatchError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 <= value < float("inf"):  # NaN fails both comparisons
        raise DispatchError(f"{name} must be a finite, non-negative number of seconds, got {raw!r}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    return seconds(name, raw)


NUMBER_ENV = (
    "LOOP_DISPATCH_PASTE_DELAY",
    "LOOP_DISPATCH_COMMAND_DELAY",
    "LOOP_DISPATCH_CLEAR_TIMEOUT",
    "LOOP_DISPATCH_READY_TIMEOUT",
    "LOOP_DISPATCH_INTERRUPT_WAIT",
    "LOOP_DISPATCH_SHELL_GRACE_S",
    "LOOP_DISPATCH_ENTER_RETRIES",
    "LOOP_DISPATCH_ENTER_CONFIRM_S",
)

# Bracketed-paste markers inside a payload would end the paste early: what follows an ESC[201~
# would reach the harness as typed keys (a CR in it pressing Enter mid-prompt). They are removed.
PASTE_MARKERS = (b"\x1b[200~", b"\x1b[201~")


def without_paste_markers(payload: bytes) -> bytes:
    """PAYLOAD with every bracketed-paste start/end marker removed (repeatedly: removing one may
    join the bytes around it into another)."""
    while True:
        out = payload
        for marker in PASTE_MARKERS:
            out = out.replace(marker, b"")
        if out == payload:
            return out
        payload = out


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def screen(pane_id: str) -> str:
    lines = ls.capture_many([pane_id]).get(pane_id)
    return "\n".join(lines) if lines is not None else ""


def describe_target(target: str, session: str | None) -> ls.Pane:
    """The pane a --window target names. Session parts are made exact (=name) so tmux cannot prefix-match.

    The target is resolved by `list-panes -t`, which fails for a window or pane that does not exist;
    `display-message -t` would not: it falls back to some other pane (or prints empty fields for a
    missing %N), and a prompt meant for a lane that is gone must not land in another one."""
    if target.startswith(("%", "@", "=")):
        exact = target
    elif ":" in target:
        exact = "=" + target
    elif session:
        exact = f"={session}:{target}"
    else:
        exact = target
    nonce = ls.token()
    picked = f"~{nonce}@"
    proc = ls.tmux(
        "list-panes",
        "-t",
        exact,
        "-F",
        ls.listing_format(nonce),
        ";",
        "display-message",
        "-p",
        "-t",
        exact,
        picked + "#{pane_id}",
    )
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise ls.LaneError(f"no such pane {target!r} ({msg or 'tmux failed'})")
    text = proc.stdout.decode("utf-8", "surrogateescape")
    listing, _, chosen = text.rpartition(picked)
    pane_id = chosen.strip()
    for pane in ls.parse_listing(listing, nonce):
        if pane.pane_id == pane_id:
            return pane
    raise ls.LaneError(f"no such pane {target!r}")


def status_of(pane: ls.Pane, registry: ls.Registry) -> ls.Verdict:
    return ls.classify_panes([pane], registry)[pane.pane_id]


def paste_and_enter(
    pane: ls.Pane, payload: bytes, delay: float, enter: bool, verify: bool, what: str = "prompt"
) -> None:
    """Paste once, pause, Enter; recapture and retry only the Enter. Raises DispatchError if not delivered."""
    before = screen(pane.pane_id)
    buf = f"loop-dispatch-{os.getpid()}-{ls.token()}"
    proc = ls.tmux(
        "load-buffer",
        "-b",
        buf,
        "-",
        ";",
        "paste-buffer",
        "-p",
        "-r",
        "-d",
        "-b",
        buf,
        "-t",
        pane.pane_id,
        stdin=payload,
    )
    if proc.returncode != 0:
        ls.tmux("delete-buffer", "-b", buf)
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise DispatchError(f"paste of the {what} failed ({msg or 'tmux error'}); nothing delivered")
    if delay:
        time.sleep(delay)
    pasted = screen(pane.pane_id)
    if verify and pasted == before:
        raise DispatchError(
            f"the {what} did not show up in {pane.pane_id} after the paste; Enter not sent (not delivered)"
        )
    if not enter:
        return
    retries = int(env_float("LOOP_DISPATCH_ENTER_RETRIES", 2))
    confirm_s = env_float("LOOP_DISPATCH_ENTER_CONFIRM_S", 1.5)
    for _attempt in range(retries + 1):
        ls.tmux("send-keys", "-t", pane.pane_id, "Enter")
        deadline = time.monotonic() + confirm_s
        while True:
            if screen(pane.pane_id) != pasted:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    raise DispatchError(
        f"Enter was not taken by {pane.pane_id} after {retries + 1} tries; the {what} may still sit "
        "in the input box (not delivered, not re-pasted)"
    )


def wait_until_idle(pane: ls.Pane, registry: ls.Registry, timeout: float) -> bool:
    """Poll the pane (re-read each time: its command changes while a lane boots) until it is idle.

    A dead pane ends the wait at once. A lane at a bare shell ends it only once that has lasted
    LOOP_DISPATCH_SHELL_GRACE_S (default 3 s): a freshly launched harness sits in the shell that starts
    it for a moment before its own process takes the pane."""
    start = time.monotonic()
    deadline = start + timeout
    grace = env_float("LOOP_DISPATCH_SHELL_GRACE_S", 3.0)
    while True:
        try:
            pane = describe_target(pane.pane_id, None)
        except ls.LaneError:
            return False  # the pane is gone
        verdict = status_of(pane, registry)
        if verdict.status == "idle":
            return True
        now = time.monotonic()
        if verdict.detail == "dead" or now >= deadline:
            return False
        if verdict.detail == "exited-to-shell" and now - start >= grace:
            return False
        time.sleep(0.2)


def clear_first(pane: ls.Pane, registry: ls.Registry) -> None:
    """Send /clear to an idle claude lane and wait for it to settle; warn (never fail) if unconfirmed."""
    timeout = env_float("LOOP_DISPATCH_CLEAR_TIMEOUT", 8.0)
    start = time.monotonic()
    try:
        paste_and_enter(pane, b"/clear", min(0.3, timeout), enter=True, verify=False, what="/clear")
    except DispatchError as exc:
        ls.warn(f"could not confirm /clear ({exc}); delivering anyway")
        return
    ls.DebounceCache(pane.socket).forget(pane.pane_id)
    remaining = max(0.0, timeout - (time.monotonic() - start))
    if not wait_until_idle(pane, registry, remaining):
        ls.warn(f"{pane.pane_id} did not settle after /clear within {timeout:g}s; delivering anyway")


def refuse_unsafe(pane: ls.Pane, label: str, harness: str | None, registry: ls.Registry) -> None:
    """Raise DispatchError for a dead pane, or an AI lane whose pane fell back to a bare shell."""
    if pane.dead:
        raise DispatchError(f"lane {label} is a dead pane ({pane.pane_id}); not delivered")
    if (
        registry.is_ai(harness)
        and registry.is_shell_process(pane.command)
        and not ls.panes_running_beyond_a_shell([pane], registry)
    ):
        raise DispatchError(
            f"lane {label} should run {harness} but its pane is at a bare shell ({pane.command}); "
            "not delivered (a prompt pasted into a shell would run as commands)"
        )


def pane_lock(pane: ls.Pane) -> int | None:
    """Take this pane's dispatch lock (an flock in the private cache dir; a killed holder never leaves
    it taken) and return its fd, or None when no lock file can be made. Concurrent dispatches to one
    lane otherwise interleave: every paste lands in the composer before the first Enter, and the
    prompts are submitted as one."""
    key = ls.digest_of(f"{pane.socket}\0{pane.pane_id}")
    path = ls.path_join(ls.cache_dir(), f"dispatch-{key}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


def read_payload(args: dict[str, object]) -> bytes:
    if args.get("payload_file") is not None:
        path = str(args["payload_file"])
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ls.LaneError(f"cannot read {path}: {exc.strerror}") from None
        return data.rstrip(b"\r\n") if args.get("strip", True) else data
    data = sys.stdin.buffer.read()
    if args.get("exact"):
        return data
    return data.rstrip(b"\r\n")


def parse(argv: list[str]) -> dict[str, object]:
    args: dict[str, object] = {"mode": "command", "enter": True, "verify": False, "wait_ready": False}
    it = iter(argv)
    for arg in it:
        if arg in ("--session", "--lane", "--window", "--mode", "--ready-timeout", "--payload-file"):
            value = next(it, None)
            if value is None:
                raise ls.LaneError(f"{arg} needs a value")
            args[arg[2:].replace("-", "_")] = value
        elif arg == "--no-enter":
            args["enter"] = False
        elif arg == "--verify":
            args["verify"] = True
        elif arg == "--wait-ready":
            args["wait_ready"] = True
        elif arg == "--interrupt":
            args["interrupt"] = True
        elif arg == "--no-clear":
            args["no_clear"] = True
        elif arg == "--payload-stdin":
            args["stdin"] = True
        elif arg == "--payload-stdin-exact":
            args["stdin"] = True
            args["exact"] = True
        else:
            raise ls.LaneError(f"unexpected argument {arg!r}")
    if args["mode"] not in ("command", "text"):
        raise ls.LaneError("--mode must be command or text")
    return args


def run(argv: list[str]) -> int:
    args = parse(argv)
    payload = without_paste_markers(read_payload(args))
    if not payload:
        raise DispatchError("the payload is empty; nothing to deliver")
    for name in NUMBER_ENV:  # a bad value fails here, before anything reaches the pane
        env_float(name, 0.0)
    session = args.get("session")
    registry = ls.Registry(ls.load_registry())
    if args.get("window") is not None:
        pane = describe_target(str(args["window"]), str(session) if session else None)
        label = str(args["window"])
    else:
        panes = ls.list_panes(str(session))
        _kind, pane = ls.resolve_lane(panes, str(args["lane"]))
        label = str(args["lane"])
    harness = ls.pane_harness(pane, registry)
    wait_ready = bool(args.get("wait_ready"))
    if not wait_ready:  # with --wait-ready a lane still booting may sit at its launching shell a moment
        refuse_unsafe(pane, label, harness, registry)
    interrupt = bool(args.get("interrupt"))
    if interrupt:
        ls.tmux("send-keys", "-t", pane.pane_id, "Escape")
        time.sleep(env_float("LOOP_DISPATCH_INTERRUPT_WAIT", 1.0))
    if wait_ready:
        if args.get("ready_timeout"):
            timeout = seconds("--ready-timeout", str(args["ready_timeout"]))
        else:
            timeout = env_float("LOOP_DISPATCH_READY_TIMEOUT", 60.0)
        ready = wait_until_idle(pane, registry, timeout)
        try:
            pane = describe_target(pane.pane_id, None)
        except ls.LaneError:
            raise DispatchError(f"lane {label}: its pane {pane.pane_id} is gone; not delivered") from None
        refuse_unsafe(pane, label, harness, registry)
        if not ready:
            raise DispatchError(f"lane {label} was not ready (idle) within {timeout:g}s; not delivered")
    lock = pane_lock(pane)  # one delivery at a time per pane: /clear, paste, Enter, confirmation
    try:
        deliver(pane, payload, args, harness, registry, interrupt)
    finally:
        if lock is not None:
            os.close(lock)
    return 0


def deliver(
    pane: ls.Pane,
    payload: bytes,
    args: dict[str, object],
    harness: str | None,
    registry: ls.Registry,
    interrupt: bool,
) -> None:
    no_clear = bool(args.get("no_clear")) or env_flag("LOOP_DISPATCH_NO_CLEAR")
    fresh = harness == "claude" and not interrupt and not no_clear
    if fresh and status_of(pane, registry).status == "idle":
        clear_first(pane, registry)
    if os.environ.get("LOOP_DISPATCH_PASTE_DELAY", "") != "":
        delay = env_float("LOOP_DISPATCH_PASTE_DELAY", 2.0)
    elif args["mode"] == "text":
        fields = registry.harnesses.get(harness or "", {})
        per_harness = fields.get("paste_delay") if isinstance(fields, dict) else None
        delay = float(per_harness) if isinstance(per_harness, (int, float)) and per_harness > 0 else 2.0
    else:
        delay = env_float("LOOP_DISPATCH_COMMAND_DELAY", 0.3)
    try:
        paste_and_enter(pane, payload, delay, enter=bool(args["enter"]), verify=bool(args["verify"]))
    finally:
        ls.DebounceCache(pane.socket).forget(pane.pane_id)


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0
    try:
        return run(argv)
    except (DispatchError, ls.LaneError) as exc:
        sys.stderr.write(f"loop-dispatch: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
