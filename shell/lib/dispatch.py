#!/usr/bin/env python3
"""dispatch: deliver a prompt into a lane's tmux pane, at most once (the engine of loop-dispatch.sh).

Stdlib only, python 3.8+. loop-dispatch.sh parses the user's flags and runs:
  dispatch.py (--session S --lane L | --window T [--session S]) [--mode command|text] [--no-enter]
              [--verify] [--wait-ready] [--ready-timeout SECS] [--interrupt] [--no-clear] [--answer]
              (--payload-file F | --payload-stdin | --payload-stdin-exact)
The payload is read from a file or stdin as bytes, never from argv and never through a shell.

Delivery: `load-buffer -b <unique> -` (payload on stdin) chained with `paste-buffer -p -r -d`
(bracketed, newlines kept as LF, buffer deleted), a pause, `send-keys Enter`, then recapture. How the
Enter is judged depends on the program kind (see program_kind): a TUI (a registry harness of kind ai)
must take the text out of its input box (the screen changes); when it does not, only the Enter is
retried. A line-mode program (shell, tool or unknown harness: cat, a `for line in stdin` loop, a REPL,
a shell prompt) gets exactly one Enter, judged by the echo or the cursor moving on. The text is never
pasted twice.

An Enter into an open permission prompt would answer it, so a lane that shows one is refused (checked
before anything is sent and again right before each paste) unless --wait-ready waits it out or
--answer types the payload into it as the answer.
Exit 0 delivered, 1 not delivered (reason on stderr).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import time

if not getattr(sys, "pycache_prefix", None):
    sys.dont_write_bytecode = True  # never leave __pycache__ in an installed shell/lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lane_status as ls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class DispatchError(Exception):
    """Not delivered (exit 1)."""


class ApprovalShownError(DispatchError):
    """The lane shows a permission prompt that an Enter would answer (exit 1)."""


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
    "LOOP_DISPATCH_CLEAR_INPUT_TRIES",
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


def screen_and_cursor(pane_id: str) -> str:
    """The visible screen and the cursor position (one tmux client): what a line-mode program's
    terminal shows. An Enter it takes moves the cursor on even when nothing else is printed."""
    proc = ls.tmux(
        "capture-pane",
        "-p",
        "-t",
        pane_id,
        ";",
        "display-message",
        "-p",
        "-t",
        pane_id,
        "#{cursor_x},#{cursor_y},#{history_size}",
    )
    return proc.stdout.decode("utf-8", "surrogateescape") if proc.returncode == 0 else ""


def one_line(text: str, limit: int = 80) -> str:
    """Screen text made safe for a one-line message: printable characters only, trimmed, shortened."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    clean = " ".join(clean.split())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def program_kind(harness: str | None, registry: ls.Registry) -> str:
    """ "tui" for an AI lane's harness (Registry.is_ai, the lane-identity rule: it draws an input box
    and clears it when it takes a prompt); "line" for everything else (a shell or tool lane, or a program no
    registry harness names: cat, a REPL, a `for line in stdin` loop), whose terminal echoes the text
    and moves the cursor on at Enter."""
    return "tui" if registry.is_ai(harness) else "line"


def approval_shown(pane: ls.Pane, registry: ls.Registry) -> str | None:
    """The permission-prompt line the pane's screen shows right now (one line), or None.

    A lane of a known non-AI harness (shell, tool) has no permission prompt; any other pane is read
    with its harness's approval pattern (every AI harness's, when its harness is not known)."""
    harness = ls.pane_harness(pane, registry)
    fields = registry.harnesses.get(harness or "")
    if isinstance(fields, dict) and fields.get("kind") != "ai":
        return None
    lines = ls.capture_many([pane.pane_id]).get(pane.pane_id) or []
    rows = ls.live_tail(lines)
    pats = registry.patterns(harness)
    status, _detail = ls.classify_screen(rows, pats, registry.home)
    if status != "awaiting-approval" or pats.approval is None:
        return None
    for row in reversed(rows):
        if pats.approval.search(row):
            return one_line(row) or "a permission prompt"
    return "a permission prompt"


def refuse_approval(label: str, shown: str) -> ApprovalShownError:
    return ApprovalShownError(
        f"lane {label} is awaiting approval ({shown!r}); not delivered: an Enter would answer it "
        "(--wait-ready waits until it is answered, --answer sends the payload as the answer)"
    )


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
    pane: ls.Pane,
    payload: bytes,
    delay: float,
    enter: bool,
    verify: bool,
    what: str = "prompt",
    kind: str = "tui",
    guard: Callable[[], None] | None = None,
    box: Submission | None = None,
) -> None:
    """Paste once, pause, Enter; recapture, and (a TUI only) retry only the Enter. `guard` runs right
    before the paste and raises to stop it. With `box` (a TUI whose input box the registry's
    input_pattern finds) the paste must show up in the input box and, after Enter, leave it and be
    seen submitted (Submission.confirm). Raises DispatchError if not delivered."""
    if guard is not None:
        guard()
    look = screen if kind == "tui" else screen_and_cursor
    before = look(pane.pane_id)
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
    pasted = look(pane.pane_id)
    if verify and pasted == before:
        raise DispatchError(
            f"the {what} did not show up in {pane.pane_id} after the paste; Enter not sent (not delivered)"
        )
    if box is not None:
        box.pasted(before, pasted)
    if not enter:
        return
    confirm_s = env_float("LOOP_DISPATCH_ENTER_CONFIRM_S", 1.5)
    if kind != "tui":
        # A line-mode program gets exactly one Enter: its terminal echoes the line and moves the cursor
        # on (or the program prints); a second Enter would be an empty line of input.
        ls.tmux("send-keys", "-t", pane.pane_id, "Enter")
        if changed_within(pane.pane_id, look, pasted, confirm_s):
            return
        raise DispatchError(
            f"Enter was sent once to the line-mode program in {pane.pane_id} but neither an echo nor the "
            f"cursor moved within {confirm_s:g}s; not retried, not re-pasted (the {what} may still be "
            "unread)"
        )
    retries = int(env_float("LOOP_DISPATCH_ENTER_RETRIES", 2))
    for _attempt in range(retries + 1):
        ls.tmux("send-keys", "-t", pane.pane_id, "Enter")
        if box is not None and box.box_text is not None:
            if box.left_within(confirm_s):
                box.confirm(confirm_s)
                return
        elif changed_within(pane.pane_id, look, pasted, confirm_s):
            return
    raise DispatchError(
        f"Enter was not taken by {pane.pane_id} after {retries + 1} tries; the {what} may still sit "
        "in the input box (not delivered, not re-pasted)"
    )


def split_at_input(text: str, pattern: re.Pattern[str]) -> tuple[str, str | None]:
    """(the screen above the input box, the box's text as input_text reads it); (the whole screen,
    None) when no line is an input box."""
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        match = pattern.search(lines[i].rstrip())
        if match:
            found = (match.group(1) if match.groups() else "").strip(" │┃|")
            return "\n".join(lines[:i]), found
    return text, None


def squeezed(text: str) -> str:
    return " ".join(text.split())


class Submission:
    """Proof that a TUI took a pasted prompt, read from its input box (registry input_pattern): the
    paste shows up in the box; Enter empties the box; and the prompt is seen submitted: its first or
    last 40 characters are echoed above the box once more than before the paste, or the lane turned
    working (a lane already working before the paste queues the prompt: the box emptying suffices).
    A paste swallowed by a harness still busy with something else (a /clear being taken) shows none of
    these, so it is reported as not delivered; nothing is ever pasted again."""

    def __init__(
        self, pane: ls.Pane, registry: ls.Registry, pattern: re.Pattern[str], payload: bytes, what: str
    ) -> None:
        self.pane = pane
        self.registry = registry
        self.pattern = pattern
        self.what = what
        text = squeezed(payload.decode("utf-8", "replace"))
        self.ends = {text[:40], text[-40:]} - {""}
        self.echoes_before = 0
        self.box_text: str | None = None
        self.was_working = status_of(pane, registry).status == "working"

    def echoes(self, above: str) -> int:
        """How often the prompt's first or last 40 characters show above the box, its rows joined as
        wrapped at a space or inside a word (a long prompt's head may have scrolled off the screen)."""
        rows = [squeezed(row) for row in above.split("\n")]
        joined = (squeezed(" ".join(rows)), "".join(rows))
        return max(text.count(end) for text in joined for end in self.ends) if self.ends else 0

    def pasted(self, before: str, pasted: str) -> None:
        """Check the paste landed in the box (box_text stays None when no input box is found: then
        the screen reacting to Enter is all the proof there is, as for any TUI)."""
        self.echoes_before = self.echoes(split_at_input(before, self.pattern)[0])
        self.box_text = split_at_input(pasted, self.pattern)[1]
        if self.box_text == "":
            raise DispatchError(
                f"the {self.what} did not show up in the input box of {self.pane.pane_id} after the paste "
                "(the harness dropped it); Enter not sent, not re-pasted (not delivered)"
            )

    def left_within(self, limit: float) -> bool:
        """Whether the input box stops showing what the paste put there within `limit` seconds."""
        deadline = time.monotonic() + limit
        while True:
            box = split_at_input(screen(self.pane.pane_id), self.pattern)[1]
            if box is not None and box != self.box_text:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def confirm(self, limit: float) -> None:
        deadline = time.monotonic() + limit
        while True:
            above, _box = split_at_input(screen(self.pane.pane_id), self.pattern)
            if self.echoes(above) > self.echoes_before:
                return
            try:
                pane = describe_target(self.pane.pane_id, None)
            except ls.LaneError:
                pane = self.pane
            if self.was_working:
                return  # a lane busy before the paste queues the prompt: the box emptying is the proof
            if status_of(pane, self.registry).status == "working":
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        raise DispatchError(
            f"the input box of {self.pane.pane_id} emptied but the {self.what} was not seen submitted "
            f"within {limit:g}s (no echo above the box, the lane did not start working); not re-pasted "
            "(not delivered)"
        )


def changed_within(pane_id: str, look: Callable[[str], str], seen: str, limit: float) -> bool:
    """Whether look(pane_id) differs from `seen` within `limit` seconds (polled)."""
    deadline = time.monotonic() + limit
    while True:
        if look(pane_id) != seen:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def takes_a_prompt(verdict: ls.Verdict) -> bool:
    """Idle; or errored by the hook, whose only errored event (StopFailure) fires when a turn ended on
    an API error with the harness back at its prompt."""
    return verdict.status == "idle" or (verdict.status == "errored" and verdict.source == "hook")


def wait_until_idle(pane: ls.Pane, registry: ls.Registry, timeout: float) -> tuple[bool, str]:
    """Poll the pane (re-read each time: its command changes while a lane boots) until it is idle (or
    see takes_a_prompt); (ready?, the last status seen). A lane awaiting approval is waited out like a
    busy one.

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
            return False, "gone"  # the pane is gone
        verdict = status_of(pane, registry)
        if takes_a_prompt(verdict):
            return True, verdict.status
        now = time.monotonic()
        if verdict.detail == "dead" or now >= deadline:
            return False, verdict.status
        if verdict.detail == "exited-to-shell" and now - start >= grace:
            return False, verdict.status
        time.sleep(0.2)


def clear_first(
    pane: ls.Pane, registry: ls.Registry, guard: Callable[[], None], pattern: re.Pattern[str] | None
) -> None:
    """Send /clear to an idle claude lane and wait until it has provably taken it; a permission
    prompt that shows up meanwhile stops it (`guard` raises).

    With the harness's input_pattern the wait needs positive evidence, never the old idle screen seen
    again: Enter (retried while the box still holds `/clear`) empties the input box, the screen above
    the box changes (the transcript is redrawn), and then the lane is idle (debounced). `/clear`
    still in the box after the retries: DispatchError, nothing of the payload pasted. No change or no
    idle within LOOP_DISPATCH_CLEAR_TIMEOUT: a warning, and the payload is delivered (its own
    delivery check reports a paste the harness drops)."""
    timeout = env_float("LOOP_DISPATCH_CLEAR_TIMEOUT", 8.0)
    start = time.monotonic()
    if pattern is None:
        try:
            paste_and_enter(
                pane, b"/clear", min(0.3, timeout), enter=True, verify=False, what="/clear", guard=guard
            )
        except ApprovalShownError:
            raise
        except DispatchError as exc:
            ls.warn(f"could not confirm /clear ({exc}); delivering anyway")
            return
    else:
        above_before = split_at_input(screen(pane.pane_id), pattern)[0]
        paste_and_enter(
            pane, b"/clear", min(0.3, timeout), enter=False, verify=False, what="/clear", guard=guard
        )
        confirm_s = env_float("LOOP_DISPATCH_ENTER_CONFIRM_S", 1.5)
        retries = int(env_float("LOOP_DISPATCH_ENTER_RETRIES", 2))
        box: str | None = "/clear"
        for _attempt in range(retries + 1):
            ls.tmux("send-keys", "-t", pane.pane_id, "Enter")
            box = box_emptied_within(pane.pane_id, pattern, confirm_s)
            if box == "":
                break
        if box != "":
            what = "no input box was found" if box is None else f"it still holds {one_line(box, 40)!r}"
            raise DispatchError(
                f"Enter did not take the /clear in {pane.pane_id} after {retries + 1} tries ({what}); "
                "the payload was not pasted (not delivered)"
            )
        deadline = start + timeout
        while True:
            above, box = split_at_input(screen(pane.pane_id), pattern)
            if box == "" and above != above_before:
                break
            if time.monotonic() >= deadline:
                ls.warn(f"{pane.pane_id} did not redraw after /clear within {timeout:g}s; delivering anyway")
                return
            time.sleep(0.05)
    ls.DebounceCache(pane.socket).forget(pane.pane_id)
    remaining = max(0.0, timeout - (time.monotonic() - start))
    if not wait_until_idle(pane, registry, remaining)[0]:
        ls.warn(f"{pane.pane_id} did not settle after /clear within {timeout:g}s; delivering anyway")


def box_emptied_within(pane_id: str, pattern: re.Pattern[str], limit: float) -> str | None:
    """Poll until the input box reads empty, at most `limit` seconds; the box's last text (None: no
    input box on the screen)."""
    deadline = time.monotonic() + limit
    while True:
        box = split_at_input(screen(pane_id), pattern)[1]
        if box == "" or time.monotonic() >= deadline:
            return box
        time.sleep(0.05)


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
    folder = ls.cache_dir()
    if folder is None:  # not a private folder: a lock there could be held by anyone
        return None
    path = ls.path_join(folder, f"dispatch-{key}.lock")
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
        elif arg == "--answer":
            args["answer"] = True
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
    interrupt = bool(args.get("interrupt"))
    if args.get("answer"):
        refuse_unsafe(pane, label, harness, registry)
        lock = pane_lock(pane)
        try:
            answer(pane, payload, label, registry)
        finally:
            if lock is not None:
                os.close(lock)
        return 0
    if not wait_ready:  # with --wait-ready a lane still booting may sit at its launching shell a moment
        refuse_unsafe(pane, label, harness, registry)
        if not interrupt:  # --interrupt's Escape declines an open prompt; the guard checks after it
            verdict = status_of(pane, registry)
            if verdict.status == "awaiting-approval":
                raise refuse_approval(
                    label, approval_shown(pane, registry) or f"the {verdict.source} says so"
                )
    if interrupt:
        ls.tmux("send-keys", "-t", pane.pane_id, "Escape")
        time.sleep(env_float("LOOP_DISPATCH_INTERRUPT_WAIT", 1.0))
    if wait_ready:
        if args.get("ready_timeout"):
            timeout = seconds("--ready-timeout", str(args["ready_timeout"]))
        else:
            timeout = env_float("LOOP_DISPATCH_READY_TIMEOUT", 60.0)
        ready, last = wait_until_idle(pane, registry, timeout)
        try:
            pane = describe_target(pane.pane_id, None)
        except ls.LaneError:
            raise DispatchError(f"lane {label}: its pane {pane.pane_id} is gone; not delivered") from None
        refuse_unsafe(pane, label, harness, registry)
        if not ready:
            raise DispatchError(
                f"lane {label} was not ready (idle) within {timeout:g}s (last seen: {last}); not delivered"
            )
    lock = pane_lock(pane)  # one delivery at a time per pane: /clear, paste, Enter, confirmation
    try:
        deliver(pane, payload, args, harness, registry, interrupt, label)
    finally:
        if lock is not None:
            os.close(lock)
    return 0


def answer(pane: ls.Pane, payload: bytes, label: str, registry: ls.Registry) -> None:
    """--answer: type the payload as keys into the permission prompt the lane shows (no Enter: a
    harness menu takes a digit or letter at once), then wait for the screen to react."""
    text = payload.decode("utf-8", "replace")
    if not text.isprintable():
        raise DispatchError("an --answer is typed as keys and must be printable text (e.g. 1, 2, y or n)")
    shown = approval_shown(pane, registry)
    if shown is None:
        raise DispatchError(f"lane {label} shows no permission prompt; the answer was not sent")
    before = screen(pane.pane_id)
    proc = ls.tmux("send-keys", "-l", "-t", pane.pane_id, "--", text)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise DispatchError(f"typing the answer failed ({msg or 'tmux error'}); not delivered")
    ls.DebounceCache(pane.socket).forget(pane.pane_id)
    if not changed_within(pane.pane_id, screen, before, env_float("LOOP_DISPATCH_ENTER_CONFIRM_S", 1.5)):
        raise DispatchError(
            f"the answer {text!r} was typed into lane {label} but its prompt ({shown!r}) did not react"
        )


def clear_input(pane: ls.Pane, harness: str | None, registry: ls.Registry, label: str) -> None:
    """After an interrupt, empty the input box of a harness that puts the interrupted prompt back
    into it (registry clear_input_keys), proven by recapture (registry input_pattern): the steer must
    not be appended to the old prompt. Raises DispatchError (nothing pasted) when it cannot be proven."""
    fields = registry.harnesses.get(harness or "", {})
    keys = str(fields.get("clear_input_keys") or "").split()
    if not keys:
        return
    pattern = ls._compile(fields.get("input_pattern"), "input_pattern", registry.sre)
    if pattern is None:
        raise DispatchError(
            f"lane {label}: {harness} has no input_pattern to prove its input box empty after the "
            "interrupt; not delivered"
        )
    tries = max(1, int(env_float("LOOP_DISPATCH_CLEAR_INPUT_TRIES", 8)))
    left: str | None = None
    for _attempt in range(tries):
        shown = screen(pane.pane_id)
        ls.tmux("send-keys", "-t", pane.pane_id, *keys)
        changed_within(pane.pane_id, screen, shown, 0.3)
        left = input_text(screen(pane.pane_id), pattern)
        if left == "":
            return
    what = "no input box was found" if left is None else f"it still holds {one_line(left, 40)!r}"
    raise DispatchError(
        f"lane {label}: could not prove its input box empty after the interrupt ({what}); not delivered"
    )


def input_text(text: str, pattern: re.Pattern[str]) -> str | None:
    """The text of the input box: group 1 of the lowest screen line `pattern` matches (box edges and
    spaces trimmed), or None when no line matches."""
    for line in reversed(text.split("\n")):
        match = pattern.search(line.rstrip())
        if match:
            return (match.group(1) if match.groups() else "").strip(" │┃|")
    return None


def deliver(
    pane: ls.Pane,
    payload: bytes,
    args: dict[str, object],
    harness: str | None,
    registry: ls.Registry,
    interrupt: bool,
    label: str,
) -> None:
    def guard() -> None:  # the prompt may have appeared since the last look
        shown = approval_shown(pane, registry)
        if shown is not None:
            raise refuse_approval(label, shown)

    kind = program_kind(harness, registry)
    fields = registry.harnesses.get(harness or "", {})
    pattern = ls._compile(fields.get("input_pattern"), "input_pattern", registry.sre) if fields else None
    if interrupt:
        clear_input(pane, harness, registry, label)
    no_clear = bool(args.get("no_clear")) or env_flag("LOOP_DISPATCH_NO_CLEAR")
    fresh = harness == "claude" and not interrupt and not no_clear
    if fresh and status_of(pane, registry).status == "idle":
        clear_first(pane, registry, guard, pattern)
    if os.environ.get("LOOP_DISPATCH_PASTE_DELAY", "") != "":
        delay = env_float("LOOP_DISPATCH_PASTE_DELAY", 2.0)
    elif args["mode"] == "text":
        per_harness = fields.get("paste_delay") if isinstance(fields, dict) else None
        delay = float(per_harness) if isinstance(per_harness, (int, float)) and per_harness > 0 else 2.0
    else:
        delay = env_float("LOOP_DISPATCH_COMMAND_DELAY", 0.3)
    try:
        paste_and_enter(
            pane,
            payload,
            delay,
            enter=bool(args["enter"]),
            verify=bool(args["verify"]),
            kind=kind,
            guard=guard,
            box=Submission(pane, registry, pattern, payload, "prompt")
            if kind == "tui" and pattern is not None and bool(args["enter"])
            else None,
        )
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
