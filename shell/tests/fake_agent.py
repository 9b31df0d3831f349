#!/usr/bin/env python3
"""fake_agent: a stdlib-only terminal UI that plays an AI coding harness inside a tmux pane, for tests.

Usage: fake_agent.py --play NAME --log-dir DIR [any other args: accepted and ignored, e.g. --model X]

It draws the harness's chrome (welcome banner, prompt box, footer), reads stdin in raw mode,
enables bracketed paste (ESC[?2004h) so `tmux paste-buffer -p` wraps pastes in ESC[200~ ... ESC[201~,
and behaves like the real thing:

  welcome  for FAKE_AGENT_WELCOME_S seconds: banner only, no prompt; every key or paste received
           now is SWALLOWED (not submitted; recorded as a "swallowed" event), like a TUI still booting.
  idle     the harness's prompt box + footer, with the composer's current text in it.
  busy     after each submission, FAKE_AGENT_BUSY_S seconds of a spinner line ending in
           "esc to interrupt" -- drawn ABOVE the still-visible prompt box, as real harnesses do.
           Escape or C-c while busy interrupts (back to idle, "interrupt" event). Like Claude Code,
           the claude profile puts the interrupted prompt back into its composer on Escape
           (FAKE_AGENT_RESTORE_ON_ESC=1/0 turns that on/off for any profile).
  approval when a submission contains FAKE_AGENT_APPROVAL_ON: an approval prompt; y / 1 / Enter
           approve, n / 3 / Escape deny ("approval" event with answer yes|no), then busy -> idle.
  error    when a submission contains FAKE_AGENT_ERROR_ON: after the busy spell the reply is the
           harness's API-error line (the prompt comes back; the error stays on screen).
  crash    when a submission contains FAKE_AGENT_CRASH_ON, or FAKE_AGENT_CRASH_AFTER_S seconds after
           start: prints an error to stderr and exits FAKE_AGENT_EXIT_CODE (default 1).
  detached with FAKE_AGENT_DETACHED_PIDFILE=F, at start it leaves behind a process that outlives the
           pane, like codex's `codex app-server`: forked, setsid() into its own session, forked again
           (so init adopts it), it writes its pid to F and sleeps; it ignores SIGHUP.

Input: a bracketed paste is inserted into the composer as one unit (newlines included, never
submitting); the next Enter (CR or LF outside a paste) submits the composer. Typed bytes are appended,
Backspace deletes, C-u clears the composer, C-d on an empty composer quits (exit 0). An empty
submission is ignored. `/clear` clears the transcript (no busy spell) and is recorded like any other.

Records, in DIR (created if missing):
  DIR/<log-name>.log           every submission, exactly the bytes received, each followed by "\\n"
                               (so "/clear" is a line of its own; a pasted multi-line prompt is one
                               submission whose own newlines are kept as received).
  DIR/<log-name>.events.jsonl  one JSON object per line: {"t", "event", ...}; events: start, ready,
                               submit (b64 = exact bytes, text = utf-8 with replacement), swallowed,
                               interrupt, restored (b64: the prompt put back on Escape), approval
                               (answer), clear, crash, exit.

Environment knobs (all optional):
  FAKE_AGENT_WELCOME_S     seconds of welcome/booting screen before the prompt appears (default 0.3)
  FAKE_AGENT_BUSY_S        seconds busy after each submission (default 1.0)
  FAKE_AGENT_APPROVAL_ON   substring that makes a submission ask for approval (default: none)
  FAKE_AGENT_ERROR_ON      substring that makes the reply an API error line (default: none)
  FAKE_AGENT_CRASH_ON      substring that makes the agent crash on submission (default: none)
  FAKE_AGENT_CRASH_AFTER_S crash this many seconds after start (default: never)
  FAKE_AGENT_EXIT_CODE     exit code of a crash (default 1)
  FAKE_AGENT_LOG_NAME      base name of the log files (default: the --play name)
  FAKE_AGENT_HOME_TEXT     extra text shown on the idle screen's header (for home-pattern tests)
  FAKE_AGENT_RESTORE_ON_ESC 1: Escape while busy puts the interrupted prompt back in the composer
                           (default 1 for claude, 0 for the rest)
  FAKE_AGENT_DETACHED_PIDFILE  leave a detached process behind and write its pid here (see detached)
  FAKE_AGENT_IGNORE_CTRL_U 1: C-u does not clear the composer (an input box that cannot be emptied)
  FAKE_AGENT_CLEAR_S     `/clear` takes this long (default 0): meanwhile the screen still shows the old idle
                         frame (empty input box, idle footer) and every paste or key is dropped (event
                         "swallowed", source "clearing"); then the transcript is redrawn

Profiles: claude, codex, pi, opencode and cursor-agent have their own chrome; hermes, droid, forge,
amp and openclaw share a generic one; any other --play name gets a bare screen ("» " prompt, no
footer) that no harness pattern should match.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import select
import signal
import sys
import tempfile
import time

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
SPINNER = "·✢✳✶✻✽"
BRAILLE = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ESC_WAIT_S = 0.04


def _box(lines: list[str], width: int = 58) -> list[str]:
    out = ["╭" + "─" * width + "╮"]
    for line in lines:
        out.append("│ " + line.ljust(width - 2)[: width - 2] + " │")
    out.append("╰" + "─" * width + "╯")
    return out


# Per-harness chrome. Keys:
#   welcome   banner lines (shown while booting; claude/codex keep them above the prompt afterwards)
#   keep_banner  True when the banner stays on screen once idle (claude, codex)
#   prompt    the composer line prefix;  box: "rule" (rules above/below) | "box" (rounded box) | "bar"
#   footer    footer lines under the prompt;  busy: format with {spin} and {secs}
#   approval  lines of the approval prompt;  error: the API-error reply line;  reply: a normal reply
PROFILES: dict[str, dict[str, object]] = {
    "claude": {
        "welcome": _box(
            [
                "✻ Welcome to Claude Code!",
                "",
                "  /help for help, /status for your current setup",
                "",
                "  cwd: {cwd}",
            ],
            51,
        ),
        "keep_banner": True,
        "prompt": "> ",
        "box": "rule",
        "footer": ["  ? for shortcuts"],
        "busy": "{spin} Thinking… ({secs}s · ↑ 1.2k tokens · esc to interrupt)",
        "approval": _box(
            [
                "Bash command",
                "",
                "  rm -rf build/",
                "  Remove build output",
                "",
                "Do you want to proceed?",
                "❯ 1. Yes",
                "  2. Yes, and don't ask again for rm commands in {cwd}",
                "  3. No, and tell Claude what to do differently (esc)",
            ],
            70,
        ),
        "error": (
            '  ⎿  API Error: 500 {"type":"error","error":{"type":"api_error",'
            '"message":"Internal server error"}}'
        ),
        "reply": "● Done. (fake claude)",
        "echo": "> {first}",
        "paste_label": "[Pasted text #{n} +{lines} lines]",
        "restore_on_escape": True,
    },
    "codex": {
        "welcome": _box(
            [
                ">_ OpenAI Codex (v0.46.0)",
                "",
                "model:     gpt-5-codex   /model to change",
                "directory: {cwd}",
            ],
            50,
        ),
        "keep_banner": True,
        "prompt": "› ",
        "box": "bar",
        "footer": ["  100% context left · ? for shortcuts"],
        "busy": "{braille} Working ({secs}s • esc to interrupt)",
        "approval": [
            "  Would you like to run the following command?",
            "",
            "  $ rm -rf build/",
            "",
            "› 1. Yes, proceed (y)",
            "  2. Yes, and don't ask again for this command (a)",
            "  3. No, and tell Codex what to do differently (esc)",
            "",
            "  Press enter to confirm or esc to cancel",
        ],
        "error": "■ stream error: unexpected status 500 Internal Server Error; retrying 5/5",
        "reply": "• Done. (fake codex)",
        "echo": "› {first}",
    },
    "pi": {
        "welcome": [" pi v0.40.0", "", " Loading extensions and models…"],
        "keep_banner": False,
        "prompt": "",
        "box": "rule",
        "footer": [" {cwd} (main)", " ↑0 ↓0 R0 W0 $0.000 0.0%/200k (auto)            claude-sonnet-4-5"],
        "busy": "{braille} Working... (esc to interrupt)",
        "approval": [" Allow tool call bash: rm -rf build/ ?", " [y] yes   [n] no"],
        "error": " Error: 500 Internal server error",
        "reply": " Done. (fake pi)",
        "echo": " {first}",
    },
    "opencode": {
        "welcome": ["", "  █▀▀█ █▀▀█ █▀▀ █▀▀▄ █▀▀ █▀▀█ █▀▀▄ █▀▀", "  opencode v0.15.0 — starting…"],
        "keep_banner": False,
        "prompt": "┃ ",
        "box": "bar",
        "footer": ["  enter send   ctrl+p commands   tab agents      Build  claude-sonnet-4-5"],
        "busy": "{braille} Working…  esc interrupt",
        "approval": [
            "△ Permission required",
            "  $ rm -rf build/",
            "  enter accept   a accept always   esc reject",
        ],
        "error": "  Error: AI_APICallError: Internal server error",
        "reply": "  Done. (fake opencode)",
        "echo": "┃ {first}",
    },
    "cursor-agent": {
        "welcome": ["  Cursor Agent", "  v2025.10.02 — loading…"],
        "keep_banner": False,
        "prompt": "→ ",
        "box": "box",
        "footer": ["  Auto · 0% · / commands · @ files · ! shell"],
        "busy": "{braille} Generating…  ctrl+c to stop · esc to interrupt",
        "approval": ["  Run this command?", "  $ rm -rf build/", "  → Run (y)  Skip (esc or n)"],
        "error": "  Error: Connection failed. If the problem persists, please check your internet connection",
        "reply": "  Done. (fake cursor-agent)",
        "echo": "  {first}",
    },
}

GENERIC: dict[str, object] = {
    "welcome": ["  {title}", "  starting…"],
    "keep_banner": False,
    "prompt": "> ",
    "box": "box",
    "footer": ["  ? for help · /commands"],
    "busy": "{braille} Working… (esc to interrupt)",
    "approval": ["  Allow command? rm -rf build/", "  [y] yes  [n] no"],
    "error": "  Error: API request failed (500 Internal Server Error)",
    "reply": "  Done. (fake {title})",
    "echo": "> {first}",
}


# Any name that is not a known harness gets a bare screen no registry pattern should claim
# (tests of LOOP_LANE_IDLE_HOME_PATTERN rely on that).
BARE: dict[str, object] = {
    "welcome": [" {title}"],
    "keep_banner": False,
    "prompt": "» ",
    "box": "bar",
    "footer": [],
    "busy": "{braille} thinking",
    "approval": ["  approve? [y/n]"],
    "error": "  failed",
    "reply": "  ok",
    "echo": "» {first}",
}
GENERIC_NAMES = ("hermes", "droid", "forge", "amp", "openclaw")


def _env_float(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        sys.stderr.write(f"fake_agent: {name} is not a number: {raw!r}\n")
        raise SystemExit(2) from None


class FakeAgent:
    def __init__(self, name: str, log_dir: str) -> None:
        self.name = name
        self.profile = dict(GENERIC if name in PROFILES or name in GENERIC_NAMES else BARE)
        self.profile.update(PROFILES.get(name, {}))
        try:
            os.makedirs(log_dir, exist_ok=True)
        except OSError:
            pass
        if not os.access(log_dir, os.W_OK):  # e.g. a sandboxed lane, where PATH's folders are read-only:
            # the agent still plays its harness, and records into a folder of its own instead
            fallback = tempfile.mkdtemp(prefix=f"fake-agent-{name}-")
            sys.stderr.write(f"fake_agent: {log_dir} is not writable here; recording into {fallback}\n")
            log_dir = fallback
        self.log_dir = log_dir
        log_name = os.environ.get("FAKE_AGENT_LOG_NAME") or name
        self.log_path = os.path.join(log_dir, f"{log_name}.log")
        self.events_path = os.path.join(log_dir, f"{log_name}.events.jsonl")
        self.welcome_s = _env_float("FAKE_AGENT_WELCOME_S", 0.3) or 0.0
        self.busy_s = _env_float("FAKE_AGENT_BUSY_S", 1.0) or 0.0
        self.crash_after = _env_float("FAKE_AGENT_CRASH_AFTER_S", None)
        try:
            self.exit_code = int(os.environ.get("FAKE_AGENT_EXIT_CODE", "1") or "1")
        except ValueError:
            self.exit_code = 1
        self.approval_on = os.environ.get("FAKE_AGENT_APPROVAL_ON", "").encode()
        self.error_on = os.environ.get("FAKE_AGENT_ERROR_ON", "").encode()
        self.crash_on = os.environ.get("FAKE_AGENT_CRASH_ON", "").encode()
        self.home_text = os.environ.get("FAKE_AGENT_HOME_TEXT", "")
        restore = os.environ.get("FAKE_AGENT_RESTORE_ON_ESC", "")
        self.restore_on_escape = restore == "1" if restore else bool(self.profile.get("restore_on_escape"))
        self.last_submitted = b""
        self.ignore_ctrl_u = os.environ.get("FAKE_AGENT_IGNORE_CTRL_U", "") == "1"
        self.clear_s = _env_float("FAKE_AGENT_CLEAR_S", 0.0) or 0.0
        self.clear_until = 0.0
        self.start = time.monotonic()
        self.state = "welcome" if self.welcome_s > 0 else "idle"
        self.busy_until = 0.0
        self.busy_started = 0.0
        self.composer = bytearray()
        self.paste_count = 0
        self.pasted_lines = 0
        self.transcript: list[str] = []
        self.pending = b""
        self.pending_since = 0.0
        self.in_paste = False
        self.paste_buf = bytearray()
        self.last_frame = ""
        self.cwd = os.getcwd().replace(os.path.expanduser("~"), "~", 1)
        self.pending_error = False

    # ---- records -------------------------------------------------------------------------------
    def event(self, kind: str, **fields: object) -> None:
        record: dict[str, object] = {"t": round(time.time(), 3), "event": kind, "agent": self.name}
        record.update(fields)
        with open(self.events_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def record_submission(self, data: bytes) -> None:
        with open(self.log_path, "ab") as fh:
            fh.write(data + b"\n")
        self.event(
            "submit",
            b64=base64.b64encode(data).decode("ascii"),
            text=data.decode("utf-8", "replace"),
            state=self.state,
        )

    # ---- rendering -----------------------------------------------------------------------------
    def fmt(self, text: str, **extra: object) -> str:
        secs = int(time.monotonic() - self.busy_started) if self.busy_started else 0
        tick = int(time.monotonic() * 10)
        values: dict[str, object] = {
            "cwd": self.cwd,
            "title": self.name,
            "spin": SPINNER[tick % len(SPINNER)],
            "braille": BRAILLE[tick % len(BRAILLE)],
            "secs": secs,
            "first": "",
            "n": self.paste_count,
            "lines": self.pasted_lines,
        }
        values.update(extra)
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text

    def fmt_boxed(self, text: str) -> str:
        """fmt() that keeps a "│ … │" box line at its width after placeholders expand."""
        out = self.fmt(text)
        if text.startswith("│ ") and text.endswith(" │") and len(out) != len(text):
            inner = len(text) - 4
            out = "│ " + out[2:-2].rstrip().ljust(inner)[:inner] + " │"
        return out

    def composer_line(self) -> str:
        text = bytes(self.composer).decode("utf-8", "replace")
        nl = text.count("\n") + text.count("\r")
        label = self.profile.get("paste_label")
        if nl >= 2 and isinstance(label, str):
            return self.fmt(label, lines=nl)
        first = text.replace("\r", "\n").split("\n", 1)[0]
        first = first.replace("\t", "    ")
        if nl:
            first += f" … (+{nl} lines)"
        return first

    def frame(self) -> str:
        cols, rows = 80, 24
        try:
            size = os.get_terminal_size(sys.stdout.fileno())
            cols, rows = size.columns, size.lines
        except OSError:
            pass
        width = max(20, cols - 1)
        p = self.profile
        lines: list[str] = []
        welcome = [self.fmt_boxed(str(x)) for x in p["welcome"]]  # type: ignore[union-attr]
        if self.state == "welcome":
            lines.extend(welcome)
            return self._finish(lines, width, rows)
        if p.get("keep_banner"):
            lines.extend(welcome)
            lines.append("")
        if self.home_text:
            lines.append(self.home_text)
            lines.append("")
        lines.extend(self.transcript[-6:])
        if self.state == "approval":
            lines.append("")
            lines.extend(self.fmt_boxed(str(x)) for x in p["approval"])  # type: ignore[union-attr]
            return self._finish(lines, width, rows)
        if self.state == "busy":
            lines.append("")
            lines.append(self.fmt(str(p["busy"])))
        lines.append("")
        prompt = str(p["prompt"]) + self.composer_line()
        style = p.get("box")
        rule = "─" * width
        if style == "rule":
            lines.extend([rule, prompt, rule])
        elif style == "box":
            inner = width - 4
            lines.append("╭" + "─" * (width - 2) + "╮")
            lines.append("│ " + prompt.ljust(inner)[:inner] + " │")
            lines.append("╰" + "─" * (width - 2) + "╯")
        else:
            lines.append(prompt)
            lines.append("")
        lines.extend(self.fmt(str(x)) for x in p["footer"])  # type: ignore[union-attr]
        return self._finish(lines, width, rows)

    def _finish(self, lines: list[str], width: int, rows: int) -> str:
        out = [line[:width] for line in lines]
        if len(out) > rows:
            out = out[-rows:]
        return "\x1b[H\x1b[2J" + "\r\n".join(out)

    def draw(self, force: bool = False) -> None:
        frame = self.frame()
        if force or frame != self.last_frame:
            os.write(sys.stdout.fileno(), frame.encode("utf-8"))
            self.last_frame = frame

    # ---- behaviour -----------------------------------------------------------------------------
    def go_busy(self) -> None:
        self.state = "busy"
        self.busy_started = time.monotonic()
        self.busy_until = self.busy_started + self.busy_s

    def crash(self, why: str) -> None:
        self.event("crash", reason=why)
        self.restore()
        sys.stderr.write(f"\r\nError: {self.name} crashed ({why})\r\n")
        sys.stderr.flush()
        os._exit(self.exit_code)

    def submit(self) -> None:
        data = bytes(self.composer)
        self.composer = bytearray()
        self.pasted_lines = 0
        if not data.strip():
            return
        self.record_submission(data)
        self.last_submitted = data
        first = data.decode("utf-8", "replace").replace("\r", "\n").split("\n", 1)[0]
        if data.strip() == b"/clear":
            if self.clear_s > 0:  # taken slowly: the old idle frame stays up, input is dropped
                self.state = "clearing"
                self.clear_until = time.monotonic() + self.clear_s
                return
            self.finish_clear()
            return
        self.transcript = [self.fmt(str(self.profile["echo"]), first=first[:200])]
        if self.crash_on and self.crash_on in data:
            self.crash("FAKE_AGENT_CRASH_ON")
        self.pending_error = bool(self.error_on and self.error_on in data)
        if self.approval_on and self.approval_on in data:
            self.state = "approval"
            return
        self.go_busy()

    def finish_clear(self) -> None:
        """Like Claude Code: a fresh transcript that starts with the /clear itself."""
        self.transcript = [self.fmt(str(self.profile["echo"]), first="/clear")]
        self.event("clear")
        self.state = "idle"

    def answer_approval(self, yes: bool) -> None:
        self.event("approval", answer="yes" if yes else "no")
        if yes:
            self.go_busy()
        else:
            self.transcript.append("  ⎿  Denied by user")
            self.state = "idle"

    def finish_busy(self) -> None:
        self.state = "idle"
        self.busy_started = 0.0
        if self.pending_error:
            self.transcript.append(self.fmt(str(self.profile["error"])))
        else:
            self.transcript.append(self.fmt(str(self.profile["reply"])))
        self.pending_error = False

    def on_paste(self, data: bytes) -> None:
        if self.state == "welcome":
            self.event("swallowed", b64=base64.b64encode(data).decode("ascii"), source="paste")
            return
        if self.state == "clearing":
            self.event("swallowed", b64=base64.b64encode(data).decode("ascii"), source="clearing")
            return
        if self.state == "approval":
            return
        self.composer += data
        self.paste_count += 1

    def on_escape(self) -> None:
        if self.state == "clearing":
            self.event("swallowed", b64=base64.b64encode(b"\x1b").decode("ascii"), source="clearing")
        elif self.state == "welcome":
            self.event("swallowed", b64=base64.b64encode(b"\x1b").decode("ascii"), source="key")
        elif self.state == "busy":
            self.event("interrupt", key="escape")
            self.state = "idle"
            self.busy_started = 0.0
            self.transcript.append("  ⎿  Interrupted by user")
            if self.restore_on_escape:  # the interrupted prompt goes back into the composer
                self.composer = bytearray(self.last_submitted) + self.composer
                self.event("restored", b64=base64.b64encode(self.last_submitted).decode("ascii"))
        elif self.state == "approval":
            self.answer_approval(False)

    def on_key(self, b: int) -> None:
        ch = bytes([b])
        if self.state == "welcome":
            self.event("swallowed", b64=base64.b64encode(ch).decode("ascii"), source="key")
            return
        if self.state == "clearing":
            self.event("swallowed", b64=base64.b64encode(ch).decode("ascii"), source="clearing")
            return
        if self.state == "approval":
            if ch in (b"y", b"Y", b"1", b"\r", b"\n"):
                self.answer_approval(True)
            elif ch in (b"n", b"N", b"3"):
                self.answer_approval(False)
            return
        if ch in (b"\r", b"\n"):
            self.submit()
        elif ch in (b"\x7f", b"\x08"):
            text = bytes(self.composer).decode("utf-8", "replace")[:-1]
            self.composer = bytearray(text.encode("utf-8"))
        elif ch == b"\x15":
            if not self.ignore_ctrl_u:
                self.composer = bytearray()
        elif ch == b"\x03":
            if self.state == "busy":
                self.event("interrupt", key="C-c")
                self.state = "idle"
                self.busy_started = 0.0
            else:
                self.composer = bytearray()
        elif ch == b"\x04":
            if not self.composer:
                self.event("exit", reason="C-d")
                self.restore()
                os._exit(0)
        elif b >= 0x20 or ch == b"\t":
            self.composer += ch

    def feed(self, data: bytes, now: float) -> None:
        """Parse raw input: bracketed pastes, escape sequences, single keys (handles split reads)."""
        if data:
            if not self.pending:
                self.pending_since = now
            self.pending += data
        buf = self.pending
        i = 0
        n = len(buf)
        while i < n:
            if self.in_paste:
                j = buf.find(PASTE_END, i)
                if j < 0:
                    keep = 0
                    for k in range(min(len(PASTE_END) - 1, n - i), 0, -1):
                        if PASTE_END.startswith(buf[n - k :]):
                            keep = k
                            break
                    self.paste_buf += buf[i : n - keep]
                    i = n - keep
                    break
                self.paste_buf += buf[i:j]
                i = j + len(PASTE_END)
                self.in_paste = False
                self.on_paste(bytes(self.paste_buf))
                self.paste_buf = bytearray()
                continue
            b = buf[i]
            if b != 0x1B:
                self.on_key(b)
                i += 1
                continue
            rest = buf[i:]
            if rest.startswith(PASTE_START):
                self.in_paste = True
                self.paste_buf = bytearray()
                i += len(PASTE_START)
                continue
            incomplete = len(rest) == 1
            if not incomplete and rest[1:2] == b"[":
                k = 2
                while k < len(rest) and 0x20 <= rest[k] <= 0x3F:
                    k += 1  # parameter / intermediate bytes
                if k >= len(rest):
                    incomplete = True
                else:
                    i += k + 1  # a CSI sequence (arrow keys, focus events): ignored
                    continue
            elif not incomplete and rest[1:2] == b"O":
                if len(rest) < 3:
                    incomplete = True
                else:
                    i += 3
                    continue
            if incomplete and now - self.pending_since < ESC_WAIT_S:
                break  # wait briefly for the rest of the sequence
            self.on_escape()
            i += 1
        self.pending = buf[i:]
        if self.pending:
            self.pending_since = now if i else self.pending_since

    def restore(self) -> None:
        with contextlib.suppress(OSError):
            os.write(sys.stdout.fileno(), b"\x1b[?2004l")
        saved = getattr(self, "saved_tty", None)
        if saved is not None:
            import termios

            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, saved)

    def leave_detached(self, pidfile: str) -> None:
        """Leave a process behind that outlives the pane (see `detached` in the module doc)."""
        first = os.fork()
        if first:
            os.waitpid(first, 0)
            return
        try:
            os.setsid()
            if os.fork():
                os._exit(0)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            tmp = f"{pidfile}.{os.getpid()}"
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(f"{os.getpid()}\n")
            os.replace(tmp, pidfile)
            while True:
                time.sleep(60)
        finally:
            os._exit(0)

    def run(self) -> int:
        import termios
        import tty

        pidfile = os.environ.get("FAKE_AGENT_DETACHED_PIDFILE", "")
        if pidfile:
            self.leave_detached(pidfile)

        fd = sys.stdin.fileno()
        self.saved_tty = None
        if os.isatty(fd):
            self.saved_tty = termios.tcgetattr(fd)
            tty.setraw(fd)
        os.write(sys.stdout.fileno(), b"\x1b[?2004h")
        self.event("start", argv=sys.argv[1:], welcome_s=self.welcome_s, busy_s=self.busy_s)

        def on_term(signum: int, _frame: object) -> None:
            self.event("exit", reason=f"signal {signum}")
            self.restore()
            os._exit(0)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        signal.signal(signal.SIGWINCH, lambda *_: setattr(self, "last_frame", ""))
        if self.state == "idle":
            self.event("ready")
        self.draw(force=True)
        try:
            while True:
                now = time.monotonic()
                if self.crash_after is not None and now - self.start >= self.crash_after:
                    self.crash("FAKE_AGENT_CRASH_AFTER_S")
                if self.state == "welcome" and now - self.start >= self.welcome_s:
                    self.state = "idle"
                    self.event("ready")
                if self.state == "busy" and now >= self.busy_until:
                    self.finish_busy()
                if self.state == "clearing" and now >= self.clear_until:
                    self.finish_clear()
                busy = self.state in ("busy", "welcome", "clearing")
                timeout = 0.1 if busy or self.crash_after else 0.5
                if self.pending:
                    timeout = ESC_WAIT_S
                try:
                    ready, _, _ = select.select([fd], [], [], timeout)
                except InterruptedError:
                    ready = []
                if ready:
                    try:
                        data = os.read(fd, 65536)
                    except InterruptedError:
                        data = b""
                    if not data:
                        self.event("exit", reason="eof")
                        return 0
                    self.feed(data, time.monotonic())
                elif self.pending:
                    self.feed(b"", time.monotonic())
                self.draw()
        finally:
            self.restore()


def read_events(log_dir: str | os.PathLike[str], log_name: str) -> list[dict[str, object]]:
    """The events a fake agent logged (for tests): a list of dicts, oldest first; [] when none yet."""
    path = os.path.join(os.fspath(log_dir), f"{log_name}.events.jsonl")
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def read_submissions(log_dir: str | os.PathLike[str], log_name: str) -> list[bytes]:
    """Every submission a fake agent received, as the exact bytes (for tests), oldest first."""
    return [
        base64.b64decode(str(e["b64"])) for e in read_events(log_dir, log_name) if e.get("event") == "submit"
    ]


def tricky_prompt() -> str:
    """4 KiB of what breaks naive dispatch: quotes, $(…), backticks, key names, tabs, unicode, 50 newlines."""
    head = (
        "Fix the \"quoted\" and 'single' cases; don't run $(rm -rf ~) or `id` or ${HOME};\n"
        "keys as text: C-c Enter Escape C-d M-x \\; ; # {braces} %s %% \\n \\t\n"
        "\ttabbed\tcolumns\there — naïve café 日本語 ✓ 🚀\n"
    )
    body = "".join(
        f"line {i:02d}: echo \"$((i+1))\" | sed 's/x/y/' && printf '%s\\n' `date`\n" for i in range(47)
    )
    text = head + body
    text += "x" * (4096 - len(text.encode()) - 1) + "!"
    return text


def spawn_window(
    socket: str,
    env: dict[str, str],
    session: str,
    window: str,
    command: str,
    agent_env: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    split: str | None = None,
) -> str:
    """For tests: run `command` in a new window (the session is created on first use) of the tmux
    server at `socket`, started with `env`; `agent_env` is added for this command only, `options` are
    set as window options (e.g. {"@loop_lane": "1"}); `split` ("-h" / "-v") splits the existing window
    `window` instead. Returns the new pane id."""
    import shlex
    import subprocess

    if agent_env:
        command = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in agent_env.items()) + " " + command

    def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", socket, *args], capture_output=True, text=True, env=env, check=check
        )

    target = f"={session}:"
    if split:
        args = ["split-window", "-d", split, "-t", f"{target}{window}", "-P", "-F", "#{pane_id}", command]
    elif tmux("has-session", "-t", target, check=False).returncode != 0:
        args = ["new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-n", window]
        args += ["-P", "-F", "#{pane_id}", command]
    else:
        args = ["new-window", "-d", "-t", target, "-n", window, "-P", "-F", "#{pane_id}", command]
    pane = tmux(*args).stdout.strip()
    for key, value in (options or {}).items():
        tmux("set-option", "-w", "-t", pane, key, value)
    return pane


def _take_harness_name(name: str, log_dir: str, argv: list[str]) -> None:
    """Re-exec once through a symlink named after the harness, so tmux's #{pane_current_command}
    (the basename of argv[0]) reads e.g. "claude" as it would for the real binary, not "python3".
    FAKE_AGENT_REEXEC=0 turns this off."""
    if os.environ.get("FAKE_AGENT_REEXEC", "1") == "0" or os.environ.get("_FAKE_AGENT_REEXECED"):
        return
    if not name or "/" in name or name.startswith(".") or not sys.executable:
        return
    bindir = os.path.join(os.path.abspath(log_dir), ".bin")
    link = os.path.join(bindir, name)
    try:
        os.makedirs(bindir, exist_ok=True)
        if not os.path.islink(link):
            tmp = f"{link}.{os.getpid()}"
            os.symlink(sys.executable, tmp)
            os.replace(tmp, link)
        env = dict(os.environ, _FAKE_AGENT_REEXECED="1")
        os.execve(link, [link, os.path.abspath(__file__), *argv], env)
    except OSError:
        return  # keep running as python3: only the process name differs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fake_agent", description="Play an AI harness TUI for tests.")
    parser.add_argument("--play", required=True, help="harness name to play (claude, codex, pi, …)")
    parser.add_argument("--log-dir", required=True, help="directory for <name>.log and <name>.events.jsonl")
    args, _unknown = parser.parse_known_args(argv)
    _take_harness_name(args.play, args.log_dir, argv)
    agent = FakeAgent(args.play, args.log_dir)
    try:
        return agent.run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
