"""External brains: a harness's one-shot template run as a subprocess, with a timeout and a live transcript.

The template comes from the harness registry (e.g. `claude -p {prompt}`). It is split shell-style and the
prompt goes in as ONE argv element: it never passes through a shell. stdout is copied into the transcript
as it arrives, so the transcript is live-tailable. claude is asked for `--output-format json` (with
`brain.stream`, stream-json, whose text is written as it streams) and codex for `exec --json`: the answer
and the call's token usage and cost are read from that output (loop_engine.usage).

Failures are classified (`failure_kind`, tested in this order): `model-unavailable` (stdout or stderr
says the model is unavailable), `quota` (stderr reports a usage/rate limit; the reset time it reports is
parsed), `timeout`, `exit` (non-zero exit or no output); and — by the caller, when the answer holds no
valid decision block — `parse` (or `quota` / `model-unavailable`, see `notice_answer`: a short notice
printed with exit 0).

Each child runs in its own process group, so a kill -9 of the engine does not take it down. Every child
is therefore recorded (`children/<token>.json` under the engine dir: its pid = group id, its start time,
the owner's pid and start time) before it can matter, and the record is removed when the child ends. A
later daemon start, `stop` or `once` reaps a recorded child whose owner is dead (`reap_orphans`): only a
process proven to be that child (the random token in its environment, or its start time) is signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Literal

from loop_schemas import atomic_write, read_project_text
from loop_schemas.fsread import ENGINE_CAP

from loop_engine.events import iso, parse_iso, utcnow
from loop_engine.lazyre import Lazy, served
from loop_engine.usage import UNAVAILABLE, OutputDecoder, OutputFormat, Usage, output_format

FailureKind = Literal["model-unavailable", "quota", "timeout", "exit"]
FailureClass = Literal["model-unavailable", "quota", "timeout", "exit", "parse"]
DEFAULT_QUOTA_BACKOFF = timedelta(hours=1)
# an overloaded API or a per-minute rate limit clears in minutes, a spent usage quota in hours: without a
# stated reset time, the first gets the short back-off, anything naming a usage limit or quota the long one
TRANSIENT_BACKOFF = timedelta(minutes=5)
_transient_re = Lazy(r"\b429\b|\b529\b|too many requests|rate[ _-]?limit|overloaded", re.IGNORECASE)
_lasting_re = Lazy(
    r"usage limit|quota|limit reached|credit balance is too low|insufficient_quota"
    r"|(?:hit|reached) your (?:\S+ )?limit",
    re.IGNORECASE,
)

_quota_re = Lazy(
    r"usage limit|rate[ _-]?limit|quota|\b429\b|\b529\b|too many requests|limit reached|resets? (?:at|in)\b"
    r"|credit balance is too low|insufficient_quota|overloaded|(?:hit|reached) your (?:\S+ )?limit",
    re.IGNORECASE,
)
# a harness that prints its quota notice and exits 0 answers with a line or two; a real answer that only
# mentions a quota in its prose is longer, or holds a decision block
QUOTA_ANSWER_MAX = 600
_quota_answer_re = Lazy(
    r"usage limit|limit reached|(?:hit|reached) your (?:\S+ )?limit|credit balance is too low"
    r"|insufficient_quota|quota (?:exceeded|reached|exhausted)|exceeded your (?:current )?quota",
    re.IGNORECASE,
)
# model-unavailable (stdout OR stderr, any case): "model" within 60 characters of "unavailable" (either
# order), "model ... not available" / "model ... no longer available" (on one line), "currently
# unavailable", "temporarily unavailable"
_model_unavailable_re = Lazy(
    r"model[\s\S]{0,60}?unavailable|unavailable[\s\S]{0,60}?model"
    r"|model\b[^\n]*?\b(?:not|no longer) available"
    r"|currently unavailable|temporarily unavailable",
    re.IGNORECASE,
)
# the patterns read a failed call's output or a short answer, never a plain decision: each compiles on its
# first use (loop_engine.lazyre); their public names are served by __getattr__
_PUBLIC_PATTERNS = {
    "TRANSIENT_RE": _transient_re,
    "LASTING_RE": _lasting_re,
    "QUOTA_RE": _quota_re,
    "QUOTA_ANSWER_RE": _quota_answer_re,
    "MODEL_UNAVAILABLE_RE": _model_unavailable_re,
}


def __getattr__(name: str) -> re.Pattern[str]:
    return served(__name__, _PUBLIC_PATTERNS, name)


STDERR_EXCERPT_MAX = 280
CHILD_TOKEN_ENV = "LOOP_ENGINE_CHILD_TOKEN"  # noqa: S105 (a variable name)
# (pid, start) of the process this one gets SIGKILL with (PR_SET_PDEATHSIG), set by the watch daemon's
# forked cycle child: its brain children's records name it, so a reaper sees them orphaned as soon as the
# daemon is dead
DIES_WITH: tuple[int, str | None] | None = None


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
        stderr: str = "",
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.usage = usage  # what the failed attempt's output reported (None: no output to read)
        self.failure_class: FailureClass = failure_class
        self.stderr_excerpt = stderr_excerpt(stderr)
        self.reset_at = reset_at
        self.exit_code = exit_code
        self.duration_s = duration_s
        self.transcript = transcript

    @property
    def failure_kind(self) -> FailureKind:
        """The output's class; an answer with no valid decision block (`parse`) is an `exit`."""
        return "exit" if self.failure_class == "parse" else self.failure_class


def failure_kind(stdout: str, stderr: str, *, timed_out: bool) -> FailureKind:
    """What a failed call's output says, tested in order: model-unavailable (stdout or stderr), quota
    (stderr only), timeout (the call ran out of time), else exit."""
    if _model_unavailable_re().search(stdout) or _model_unavailable_re().search(stderr):
        return "model-unavailable"
    if _quota_re().search(stderr):
        return "quota"
    return "timeout" if timed_out else "exit"


def stderr_excerpt(stderr: str) -> str:
    """The last 280 characters of stderr, its whitespace runs (line breaks too) folded to one space."""
    return " ".join(stderr.split())[-STDERR_EXCERPT_MAX:]


@dataclass(frozen=True)
class BrainAnswer:
    """A brain call's answer: its text, time, transcript, the program run and its use."""

    text: str
    duration_s: float
    transcript: str | None
    argv0: str
    usage: Usage = UNAVAILABLE


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
    # the harness's machine-readable output (usage.output_format): claude json / stream-json, codex --json
    out += output_format(harness, stream, [*words, *extra_args])[1]
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
    if _quota_re().search(output):
        reset = parse_reset(output)
        if reset is None:
            transient = _transient_re().search(output) and not _lasting_re().search(output)
            reset = utcnow() + (TRANSIENT_BACKOFF if transient else DEFAULT_QUOTA_BACKOFF)
        return "quota", reset
    return "exit", None


def quota_answer(answer: BrainAnswer) -> BrainError | None:
    """A failure dressed as an answer: exit 0, no decision block, a short notice that the model is
    unavailable (`model-unavailable`, tested first) or that a usage limit is spent (`quota`).

    Some harnesses print such a notice on stdout and exit 0. Only a short text with no ```decision fence
    counts; for quota it must name a spent limit (QUOTA_ANSWER_RE, stricter than LASTING_RE: no bare
    "quota"): a real answer that mentions a quota in its prose is a `parse` failure (retried).
    """
    text = answer.text.strip()
    if not text or len(text) > QUOTA_ANSWER_MAX or "```" in text:
        return None
    if _model_unavailable_re().search(text):
        return BrainError(
            "model-unavailable",
            f"brain answered that the model is unavailable: {text.splitlines()[-1][:300]}",
            exit_code=0,
            duration_s=answer.duration_s,
            transcript=answer.transcript,
        )
    if not _quota_answer_re().search(text):
        return None
    reset = parse_reset(text) or (utcnow() + DEFAULT_QUOTA_BACKOFF)
    return BrainError(
        "quota",
        f"brain answered with a quota notice: {text.splitlines()[-1][:300]}",
        reset_at=reset,
        exit_code=0,
        duration_s=answer.duration_s,
        transcript=answer.transcript,
    )


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
    children: Path | None = None,
    output: OutputFormat | None = None,
    pricing: dict[str, Any] | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> BrainAnswer:
    """Run one brain call; raise BrainError (timeout / exit / quota) when it gives no answer.

    `output` is the format the harness prints (usage.output_format; default: claude stream-json with
    `stream`, else text): the answer and its usage are read from it, `pricing` prices codex's.
    With `children` (a folder), the child is recorded there while it runs (see `reap_orphans`).
    `while_waiting` runs once in this thread as soon as the child runs (the caller prepares what reading
    the answer needs while the brain thinks); an exception it raises is dropped (it only prepares: the
    work it did not do is done, and fails if it must, where it is needed), and so never ends the call.
    """
    transcript.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    child_env = dict(os.environ if env is None else env)
    child_env[CHILD_TOKEN_ENV] = token
    record = children / f"{token}.json" if children is not None else None
    entry: dict[str, Any] = {
        "token": token,
        "pid": None,
        "start": None,
        "owner": os.getpid(),
        "owner_start": process_start(os.getpid()),
        **({"owner_dies_with": DIES_WITH[0], "owner_dies_with_start": DIES_WITH[1]} if DIES_WITH else {}),
        "transcript": str(transcript),
        "argv0": argv[0],
        "started_at": iso(),
    }
    if record is not None:
        # written before the child exists: a kill between the spawn and the second write still leaves
        # the token, which finds the child (Linux). Not fsynced: the record matters only while its
        # processes live, none outlives a power loss, and reap_orphans drops a damaged record.
        record.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(record, json.dumps(entry) + "\n", durable=False)
    try:
        return _run_recorded(
            argv,
            timeout_s=timeout_s,
            transcript=transcript,
            header=header,
            decoder=OutputDecoder(output or ("claude-stream-json" if stream else "text"), pricing),
            abort=abort,
            env=child_env,
            cwd=cwd,
            record=record,
            entry=entry,
            while_waiting=while_waiting,
        )
    finally:
        if record is not None and record.exists() and not _recorded_alive(entry):
            with contextlib.suppress(OSError):
                record.unlink()


WAIT_TICK_S = 0.05  # how often a brain call in flight looks at its timeout and the abort


def _ended(proc: subprocess.Popen[bytes], tick: float) -> bool:
    """True once `proc` has ended, waiting for it at most `tick` seconds."""
    try:
        proc.wait(timeout=tick)
    except subprocess.TimeoutExpired:
        return False
    return True


def _recorded_alive(entry: dict[str, Any]) -> bool:
    pid = entry.get("pid")
    return isinstance(pid, int) and process_alive(pid)


def _run_recorded(
    argv: Sequence[str],
    *,
    timeout_s: float,
    transcript: Path,
    header: str,
    decoder: OutputDecoder,
    abort: Callable[[], bool] | None,
    env: dict[str, str],
    cwd: Path | None,
    record: Path | None,
    entry: dict[str, Any],
    while_waiting: Callable[[], None] | None = None,
) -> BrainAnswer:
    started = time.monotonic()
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
        if record is not None:
            entry.update(pid=proc.pid, start=process_start(proc.pid))
            try:
                atomic_write(record, json.dumps(entry) + "\n", durable=False)
            except BaseException:
                _kill_group(proc)
                raise

        def pump(src: IO[bytes], sink: list[str], is_err: bool) -> None:
            for raw in iter(src.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                sink.append(line)
                shown = line if is_err else decoder.feed(line)
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
        try:
            if while_waiting is not None:
                with contextlib.suppress(Exception):  # preparation only: see run_oneshot
                    while_waiting()
            # wait() returns as soon as the child ends (it polls from 0.5 ms up): a brain that answers in
            # 5 ms costs 5 ms, not a whole tick; the timeout and the abort are still looked at each tick
            while not _ended(proc, WAIT_TICK_S):
                if time.monotonic() - started > timeout_s:
                    reason = "timeout"
                elif abort is not None and abort():
                    reason = "aborted"
                if reason:
                    _kill_group(proc)
                    break
        except BaseException:  # never leave the child running behind an exception
            _kill_group(proc)
            raise
        for t in threads:
            t.join(timeout=5)
        duration = time.monotonic() - started
        with lock:
            tfile.write(f"\n--- exit {proc.returncode} after {duration:.2f}s ({reason or 'finished'})\n")
            tfile.flush()
    output = "".join(out_chunks)
    errors = "".join(err_chunks)
    usage = decoder.usage()
    if reason == "aborted":
        raise BrainError(
            "exit",
            "brain call aborted (engine stopping)",
            duration_s=duration,
            transcript=str(transcript),
            stderr=errors,
            usage=usage,
        )
    text = decoder.answer()
    if reason == "timeout" or proc.returncode != 0 or decoder.is_error or not text.strip():
        kind = failure_kind(output, errors, timed_out=reason == "timeout")
        reset = classify_exit(errors, proc.returncode or 0)[1] if kind == "quota" else None
        last = (errors.strip() or output.strip() or "no output").splitlines()[-1][:300]
        what = (
            f"brain timed out after {timeout_s:g}s"
            if reason == "timeout"
            else f"brain exited {proc.returncode}"
        )
        raise BrainError(
            kind,
            what if kind == "timeout" else f"{what}: {last}",
            reset_at=reset,
            exit_code=None if reason == "timeout" else proc.returncode,
            duration_s=duration,
            transcript=str(transcript),
            stderr=errors,
            usage=usage,
        )
    return BrainAnswer(text=text, duration_s=duration, transcript=str(transcript), argv0=argv[0], usage=usage)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# ---------------------------------------------------------------------------- recorded children


def _linux() -> bool:
    return sys.platform.startswith("linux") and Path("/proc/self/stat").exists()


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _ps(field: str, pid: int) -> str | None:
    try:
        out = subprocess.run(
            ["ps", "-o", f"{field}=", "-p", str(pid)],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.strip()
    return text if out.returncode == 0 and text else None


def process_start(pid: int) -> str | None:
    """When process `pid` started (an opaque string, equal for the same process), or None."""
    if _linux():
        fields = _proc_stat(pid)
        # field 22 of /proc/<pid>/stat, the start time in clock ticks since boot
        return f"linux:{fields[19]}" if fields and len(fields) > 19 else None
    lstart = _ps("lstart", pid)
    return f"ps:{lstart}" if lstart else None


def process_alive(pid: int) -> bool:
    """True when `pid` runs (a zombie, which only waits for its parent, is not alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _linux():
        fields = _proc_stat(pid)
        return fields is not None and fields[0] != "Z"
    state = _ps("stat", pid)
    return state is not None and not state.startswith("Z")


def _has_token(pid: int, token: str) -> bool:
    """Linux: the process's environment holds our token (proof it is the child we started, or its own)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{CHILD_TOKEN_ENV}={token}".encode() in raw.split(b"\0")


def _proven(entry: dict[str, Any]) -> list[int]:
    """The live processes proven to be the recorded child (or, on Linux, its descendants)."""
    token = str(entry.get("token") or "")
    pid = entry.get("pid")
    found: set[int] = set()
    if isinstance(pid, int) and pid > 1 and pid != os.getpid() and process_alive(pid):
        start = entry.get("start")
        if (start and process_start(pid) == start) or (token and _linux() and _has_token(pid, token)):
            found.add(pid)
    if token and _linux():
        with contextlib.suppress(OSError):
            for name in os.listdir("/proc"):
                pid_n = int(name) if name.isdigit() else 0
                if pid_n not in (0, os.getpid()) and _has_token(pid_n, token) and process_alive(pid_n):
                    found.add(pid_n)
    return sorted(found)


def _owner_alive(entry: dict[str, Any]) -> bool:
    """The process that started the child still runs (then the child is not an orphan). An owner that
    dies with another process (`owner_dies_with`: the watch daemon's forked cycle) is dead as soon as
    that one is, even while its own SIGKILL is still on the way."""
    owner = entry.get("owner")
    if not isinstance(owner, int):
        return False
    if owner == os.getpid():
        return True
    parent = entry.get("owner_dies_with")
    if isinstance(parent, int) and not _runs(parent, entry.get("owner_dies_with_start")):
        return False
    return _runs(owner, entry.get("owner_start"))


def _runs(pid: int, recorded: Any) -> bool:
    if not process_alive(pid):
        return False
    now = process_start(pid)
    # a different start time is another process that reused the pid; an unreadable one is given the
    # benefit of the doubt (never reap a child whose owner might be alive)
    return not (recorded and now and now != recorded)


def _signal_all(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if os.getpgid(pid) == pid:  # a group leader: its whole group (the brain's own children)
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)


def _wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if process_alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if process_alive(p)]
    return left


def reap_orphans(children: Path, *, term_grace_s: float = 3.0) -> list[dict[str, Any]]:
    """Stop every recorded child whose owner is dead: SIGTERM its group, a short wait, then SIGKILL.

    Only processes proven to be the recorded child are signalled (its token in its environment on
    Linux, else its recorded start time); a recorded pid now used by another process is left alone.
    Returns one entry per orphan record handled: pid, transcript, outcome (`terminated`, `killed`,
    `survived`, `gone` — it had already ended — or `not-proven` — alive but not provably ours).
    """
    try:
        names = sorted(children.iterdir())
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for path in names:
        if path.suffix != ".json":
            continue
        try:
            entry = json.loads(read_project_text(path, ENGINE_CAP))
        except (OSError, ValueError, RecursionError):
            entry = None
        if not isinstance(entry, dict):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        if _owner_alive(entry):
            continue  # a live engine's call (the daemon's, a `once`, an `improve`): not ours to stop
        pids = _proven(entry)
        pid = entry.get("pid")
        if not pids:
            alive = isinstance(pid, int) and process_alive(pid)
            outcome = "not-proven" if alive else "gone"
        else:
            _signal_all(pids, signal.SIGTERM)
            left = _wait_gone(pids, term_grace_s)
            outcome = "terminated"
            if left:
                _signal_all(left, signal.SIGKILL)
                outcome = "survived" if _wait_gone(left, 5.0) else "killed"
        if outcome != "survived":
            with contextlib.suppress(OSError):
                path.unlink()
        out.append(
            {
                "pid": pid,
                "pids": pids,
                "owner": entry.get("owner"),
                "transcript": entry.get("transcript"),
                "outcome": outcome,
            }
        )
    return out
