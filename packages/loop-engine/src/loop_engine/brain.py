"""External brains: a harness's one-shot template run as a subprocess, with a timeout and a live transcript.

The template comes from the harness registry (e.g. `claude -p {prompt}`). It is split shell-style and the
prompt goes in as ONE argv element: it never passes through a shell. stdout is copied into the transcript
as it arrives, so the transcript is live-tailable; with `brain.stream` on a claude brain, claude's
stream-json events are decoded and their text is written as it streams.

Failures are classified: `quota` (the harness reports a usage/rate limit; the reset time it reports is
parsed), `timeout`, `exit` (non-zero exit or no output), and — by the caller, when the answer holds no
valid decision block — `parse`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Literal

from loop_engine.events import iso, parse_iso, utcnow

FailureClass = Literal["quota", "timeout", "exit", "parse"]
DEFAULT_QUOTA_BACKOFF = timedelta(hours=1)
# an overloaded API or a per-minute rate limit clears in minutes, a spent usage quota in hours: without a
# stated reset time, the first gets the short back-off, anything naming a usage limit or quota the long one
TRANSIENT_BACKOFF = timedelta(minutes=5)
TRANSIENT_RE = re.compile(r"\b429\b|\b529\b|too many requests|rate[ _-]?limit|overloaded", re.IGNORECASE)
LASTING_RE = re.compile(
    r"usage limit|quota|limit reached|credit balance is too low|insufficient_quota", re.IGNORECASE
)

QUOTA_RE = re.compile(
    r"usage limit|rate[ _-]?limit|quota|\b429\b|\b529\b|too many requests|limit reached|resets? (?:at|in)\b"
    r"|credit balance is too low|insufficient_quota|overloaded",
    re.IGNORECASE,
)


class BrainError(Exception):
    """A brain call that produced no usable answer, with its class (quota / timeout / exit / parse)."""

    def __init__(
        self,
        failure_class: FailureClass,
        message: str,
        *,
        reset_at: datetime | None = None,
        exit_code: int | None = None,
        duration_s: float = 0.0,
        transcript: str | None = None,
    ) -> None:
        super().__init__(message)
        self.failure_class: FailureClass = failure_class
        self.reset_at = reset_at
        self.exit_code = exit_code
        self.duration_s = duration_s
        self.transcript = transcript


@dataclass(frozen=True)
class BrainAnswer:
    text: str
    duration_s: float
    transcript: str | None
    argv0: str


def build_argv(
    template: str,
    prompt: str,
    *,
    model: str | None = None,
    model_flag: str | None = None,
    extra_args: Sequence[str] = (),
    stream: bool = False,
    harness: str = "",
) -> list[str]:
    """Split the one-shot template shell-style; the prompt becomes ONE element (never shell-parsed).

    `{prompt}` standing alone is replaced by the prompt; inside a larger word (`--prompt={prompt}`) it is
    substituted within that one element. A template without `{prompt}` gets the prompt appended.
    """
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"one-shot template does not split: {exc}") from exc
    if not words:
        raise ValueError("empty one-shot template")
    out: list[str] = []
    placed = False
    for word in words:
        if "{prompt}" in word:
            out.append(prompt if word == "{prompt}" else word.replace("{prompt}", prompt))
            placed = True
        else:
            out.append(word)
    if not placed:
        out.append(prompt)
    # options go after the template's own words (`claude -p PROMPT --model M` — a subcommand or an option
    # that takes the prompt as its value stays intact)
    if model and model_flag:
        out += [*shlex.split(model_flag), model]
    out += list(extra_args)
    if stream and harness == "claude":
        out += ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]
    return out


def parse_reset(text: str, now: datetime | None = None) -> datetime | None:
    """The reset time a quota message reports, if it reports one we can read."""
    now = now or utcnow()
    m = re.search(r"\|\s*(\d{10})\b", text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)), tz=timezone.utc)
    m = re.search(r"\b(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)", text)
    if m:
        with contextlib.suppress(ValueError):
            return parse_iso(m.group(1).replace(" ", "T"))
    m = re.search(r"retry[- ]after[:=\s]+(\d+)", text, re.IGNORECASE)
    if m:
        return now + timedelta(seconds=int(m.group(1)))
    m = re.search(
        r"(?:in|after)\s+((?:\d+\s*(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b\s*)+)",
        text,
        re.IGNORECASE,
    )
    if m:
        total = 0
        for num, unit in re.findall(r"(\d+)\s*([a-z]+)", m.group(1), re.IGNORECASE):
            u = unit.lower()
            total += int(num) * (3600 if u.startswith("h") else 60 if u.startswith("m") else 1)
        if total > 0:
            return now + timedelta(seconds=total)
    m = re.search(r"resets?\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", text, re.IGNORECASE)
    if m:
        hour = int(m.group(1)) % 24
        if m.group(3):
            hour = hour % 12 + (12 if m.group(3).lower() == "pm" else 0)
        minute = int(m.group(2) or 0)
        if minute < 60:
            candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if candidate <= now:
                candidate += timedelta(days=1)
            return candidate
    return None


def classify_exit(output: str, code: int) -> tuple[FailureClass, datetime | None]:
    if QUOTA_RE.search(output):
        reset = parse_reset(output)
        if reset is None:
            transient = TRANSIENT_RE.search(output) and not LASTING_RE.search(output)
            reset = utcnow() + (TRANSIENT_BACKOFF if transient else DEFAULT_QUOTA_BACKOFF)
        return "quota", reset
    return "exit", None


class _StreamDecoder:
    """Turns claude stream-json lines into text for the transcript, and keeps the final answer."""

    def __init__(self) -> None:
        self.partial: list[str] = []
        self.assistant: list[str] = []
        self.result: str | None = None
        self.is_error = False

    def feed(self, line: str) -> str:
        try:
            event = json.loads(line)
        except ValueError:
            return line
        if not isinstance(event, dict):
            return ""
        kind = event.get("type")
        if kind == "stream_event":
            inner = event.get("event") or {}
            delta = inner.get("delta") if isinstance(inner, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("text"), str):
                self.partial.append(delta["text"])
                return str(delta["text"])
            return ""
        if kind == "assistant":
            message = event.get("message") or {}
            content = message.get("content") if isinstance(message, dict) else None
            texts = [
                str(c.get("text")) for c in content or [] if isinstance(c, dict) and c.get("type") == "text"
            ]
            self.assistant.extend(texts)
            return "" if self.partial else "".join(texts)
        if kind == "result":
            if isinstance(event.get("result"), str):
                self.result = event["result"]
            self.is_error = bool(event.get("is_error"))
            return "\n"
        return ""

    def answer(self) -> str:
        if self.result is not None:
            return self.result
        return "".join(self.assistant) or "".join(self.partial)


def run_oneshot(
    argv: Sequence[str],
    *,
    timeout_s: float,
    transcript: Path,
    header: str = "",
    stream: bool = False,
    abort: Callable[[], bool] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> BrainAnswer:
    """Run one brain call; raise BrainError (timeout / exit / quota) when it gives no answer."""
    transcript.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    decoder = _StreamDecoder() if stream else None
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    lock = threading.Lock()
    with transcript.open("w", encoding="utf-8") as tfile:
        tfile.write(header)
        tfile.write(f"started: {iso()}\nargv[0]: {argv[0]}\n--- output ---\n")
        tfile.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
                cwd=str(cwd) if cwd else None,
            )
        except OSError as exc:
            tfile.write(f"--- failed to start: {exc}\n")
            raise BrainError(
                "exit", f"cannot run {argv[0]}: {exc.strerror or exc}", transcript=str(transcript)
            ) from exc

        def pump(src: IO[bytes], sink: list[str], is_err: bool) -> None:
            for raw in iter(src.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                sink.append(line)
                shown = line if (is_err or decoder is None) else decoder.feed(line)
                with lock:
                    tfile.write(("[stderr] " + shown) if is_err else shown)
                    tfile.flush()

        assert proc.stdout is not None and proc.stderr is not None
        threads = [
            threading.Thread(target=pump, args=(proc.stdout, out_chunks, False), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, err_chunks, True), daemon=True),
        ]
        for t in threads:
            t.start()
        reason: str | None = None
        while proc.poll() is None:
            if time.monotonic() - started > timeout_s:
                reason = "timeout"
            elif abort is not None and abort():
                reason = "aborted"
            if reason:
                _kill_group(proc)
                break
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=5)
        duration = time.monotonic() - started
        with lock:
            tfile.write(f"\n--- exit {proc.returncode} after {duration:.2f}s ({reason or 'finished'})\n")
            tfile.flush()
    output = "".join(out_chunks)
    errors = "".join(err_chunks)
    if reason == "timeout":
        raise BrainError(
            "timeout",
            f"brain timed out after {timeout_s:g}s",
            duration_s=duration,
            transcript=str(transcript),
        )
    if reason == "aborted":
        raise BrainError(
            "exit", "brain call aborted (engine stopping)", duration_s=duration, transcript=str(transcript)
        )
    text = decoder.answer() if decoder is not None else output
    if proc.returncode != 0 or (decoder is not None and decoder.is_error) or not text.strip():
        klass, reset = classify_exit(output + "\n" + errors, proc.returncode or 0)
        last = (errors.strip() or output.strip() or "no output").splitlines()[-1][:300]
        raise BrainError(
            klass,
            f"brain exited {proc.returncode}: {last}",
            reset_at=reset,
            exit_code=proc.returncode,
            duration_s=duration,
            transcript=str(transcript),
        )
    return BrainAnswer(text=text, duration_s=duration, transcript=str(transcript), argv0=argv[0])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
