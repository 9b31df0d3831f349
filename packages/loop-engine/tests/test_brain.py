"""External brains: argv building, the subprocess, live transcripts, failure classes, back-off, budget."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from engine_fakes import Project, retry_until
from loop_engine.brain import BrainError, build_argv, parse_reset, run_oneshot
from loop_engine.events import parse_iso, utcnow

FAKE_BRAIN = r"""
import json, os, sys, time
mode = os.environ.get("FAKE_BRAIN", "ok")
open(os.environ["FAKE_BRAIN_LOG"], "a").write(json.dumps(sys.argv[1:]) + "\n")
if mode == "ok":
    print("thinking...", flush=True)
    print("```decision\nversion: 1\ncritique: fine\nactions:\n  - kind: dispatch\n    lane: web\n"
          "    payload: do the thing\n    rationale: because\n```")
elif mode == "slow":
    print("first line", flush=True)
    time.sleep(30)
elif mode == "quota":
    print("Claude AI usage limit reached|4102444800", file=sys.stderr)
    sys.exit(1)
elif mode == "exit":
    print("segfault-ish", file=sys.stderr)
    sys.exit(3)
elif mode == "garbage":
    print("I think we should just run rm -rf")
elif mode == "quota0":  # some harnesses print their limit notice on stdout and exit 0
    print("Claude AI usage limit reached|4102444800")
elif mode == "prose-quota":  # an answer that merely talks about a quota
    print("I looked at the quota service and the usage dashboard: nothing needs doing.")
elif mode == "env":
    print(os.environ.get("LOOP_ENGINE_CHILD_TOKEN", "-"))
elif mode == "stream":
    pieces = ["```decision\nversion: 1\n", "critique: streamed\nactions:\n",
              "  - kind: stop\n    rationale: done\n```"]
    for piece in pieces:
        print(json.dumps({"type": "stream_event", "event": {"type": "content_block_delta",
                          "delta": {"type": "text_delta", "text": piece}}}), flush=True)
    print(json.dumps({"type": "result", "result": "".join(pieces), "is_error": False}))
"""


@pytest.fixture
def brain(tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake_brain.py"
    script.write_text(FAKE_BRAIN)
    log = tmp_path / "brain.log"
    monkeypatch.setenv("FAKE_BRAIN_LOG", str(log))
    project.substrate.oneshot["claude"] = f"{sys.executable} {script} -p {{prompt}}"
    return log


def test_prompt_is_one_argv_element_never_shell_parsed() -> None:
    nasty = "a b; rm -rf / $(reboot) `id` 'q' \"dq\"\n{prompt} C-c"
    argv = build_argv("claude -p {prompt}", nasty, model="opus", model_flag="--model", extra_args=["--x"])
    assert argv == ["claude", "-p", nasty, "--model", "opus", "--x"]
    assert build_argv("tool --prompt={prompt}", "a b")[-1] == "--prompt=a b"
    assert build_argv("amp -x", "hi") == ["amp", "-x", "hi"]
    with pytest.raises(ValueError):
        build_argv("claude 'unclosed", "x")


def test_parse_reset_forms() -> None:
    now = utcnow()
    assert parse_reset("limit reached|4102444800") == parse_iso("2100-01-01T00:00:00Z")
    got = parse_reset("try again in 2h 30m", now)
    assert got is not None and abs((got - now) - timedelta(hours=2, minutes=30)) < timedelta(seconds=1)
    assert parse_reset("Retry-After: 60", now) == now + timedelta(seconds=60)
    assert parse_reset("no idea") is None


def test_transcript_is_written_while_the_brain_runs(
    tmp_path: Path, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "slow")
    transcript = tmp_path / "t.log"
    stop = threading.Event()
    errors: list[BaseException] = []

    def go() -> None:
        try:
            run_oneshot(
                [sys.executable, str(tmp_path / "fake_brain.py"), "x"],
                timeout_s=20,
                transcript=transcript,
                abort=stop.is_set,
            )
        except BrainError as exc:
            errors.append(exc)

    t = threading.Thread(target=go)
    t.start()
    retry_until(lambda: transcript.exists() and "first line" in transcript.read_text(), timeout=10)
    stop.set()
    t.join(10)
    assert errors and "aborted" in str(errors[0])


def test_timeout_class(tmp_path: Path, brain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "slow")
    with pytest.raises(BrainError) as info:
        run_oneshot(
            [sys.executable, str(tmp_path / "fake_brain.py"), "x"], timeout_s=0.5, transcript=tmp_path / "t"
        )
    assert info.value.failure_class == "timeout"


def test_engine_with_external_brain_queues_its_decision(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "ok")
    engine = project.engine(brain={"harness": "claude", "model": "opus"})
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    argv = json.loads(brain.read_text().splitlines()[0])
    prompt = argv[1]
    assert argv[0] == "-p" and argv[2:] == ["--model", "opus", "--output-format", "json"]
    assert "<<<BEGIN DATA checkpoint" in prompt and "all quiet" in prompt and "```decision" in prompt
    answered = project.events("brain-answered")[0]
    assert answered["duration_s"] >= 0 and Path(answered["transcript"]).read_text().count("thinking...") == 1
    assert len(json.loads(project.paths.budget.read_text())["calls"]) == 1


def test_quota_backs_off_only_the_brain(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "quota")
    engine = project.engine(brain={"harness": "claude", "max_retries": 3})
    first = engine.cycle(approval="manual")
    assert first.outcome == "brain-failed" and first.detail.startswith("quota")
    failed = project.events("brain-failed")
    assert len(failed) == 1 and failed[0]["failure_class"] == "quota"  # no retry on quota
    assert failed[0]["reset_at"] == "2100-01-01T00:00:00Z"
    calls = len(brain.read_text().splitlines())
    project.mail("web", subject="news")
    second = engine.cycle(approval="manual")
    assert second.outcome == "skipped" and "backing off" in second.detail
    assert len(brain.read_text().splitlines()) == calls  # brain not called
    observed = project.events("observed")
    assert observed[-1]["pending_mail"] == 1  # observation went on


def test_exit_and_parse_failures_are_classified_and_retried(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "exit")
    engine = project.engine(brain={"harness": "claude", "max_retries": 1})
    assert engine.cycle(approval="full").outcome == "brain-failed"
    assert [e["failure_class"] for e in project.events("brain-failed")] == ["exit", "exit"]
    monkeypatch.setenv("FAKE_BRAIN", "garbage")
    project.mail("web", subject="change")
    assert engine.cycle(approval="full").outcome == "brain-failed"
    assert [e["failure_class"] for e in project.events("brain-failed")][-2:] == ["parse", "parse"]
    assert project.substrate.sent == []


def test_budget_caps_brain_calls(project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "ok")
    engine = project.engine(brain={"harness": "claude", "max_calls_per_hour": 1})
    assert engine.cycle(approval="manual").outcome == "queued"
    engine.reject(json.loads(project.paths.pending.read_text())["id"], "test")
    result = engine.cycle(approval="manual")
    assert result.outcome == "skipped" and "budget" in result.detail
    assert len(brain.read_text().splitlines()) == 1


def test_stream_json_is_decoded(project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "stream")
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    engine = project.engine(brain={"harness": "claude", "stream": True})
    result = engine.cycle(approval="manual")
    assert result.outcome == "noop"
    argv = json.loads(brain.read_text().splitlines()[0])
    assert "stream-json" in argv
    transcript = Path(project.events("brain-answered")[0]["transcript"]).read_text()
    assert "critique: streamed" in transcript and '"type"' not in transcript


def test_missing_oneshot_template_is_an_exit_failure(project: Project) -> None:
    engine = project.engine(brain={"harness": "pi"})
    assert engine.cycle(approval="manual").outcome == "brain-failed"
    assert project.events("brain-failed")[0]["failure_class"] == "exit"


def test_a_retry_never_goes_over_the_hourly_budget(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: the budget was checked once per cycle, so the retry of the call that hit the cap
    # made max_calls_per_hour + 1 calls
    monkeypatch.setenv("FAKE_BRAIN", "garbage")
    engine = project.engine(brain={"harness": "claude", "max_calls_per_hour": 1, "max_retries": 1})
    assert engine.cycle(approval="manual").outcome == "brain-failed"
    assert len(brain.read_text().splitlines()) == 1
    assert len(engine.recent_calls()) == 1
    assert [e["failure_class"] for e in project.events("brain-failed")] == ["parse"]


def test_headless_ingest_spends_the_brain_budget_and_waits_when_it_is_spent(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: a headless ingest ran the brain's harness outside the hourly budget (and through a quota
    # back-off), so a busy mailbox made more one-shot calls than max_calls_per_hour allows
    monkeypatch.setenv("FAKE_BRAIN", "ok")
    project.mail("web", subject="report")
    engine = project.engine(brain={"harness": "claude", "max_calls_per_hour": 1}, ingest={"mode": "headless"})
    result = engine.cycle(approval="manual")
    assert len(project.events("ingest-headless-done")) == 1
    assert len(brain.read_text().splitlines()) == 1  # the ingest; the cycle's brain call is over the cap
    assert result.outcome == "skipped" and "budget" in result.detail
    project.mail("web", subject="another")
    engine.cycle(approval="manual")
    assert len(brain.read_text().splitlines()) == 1
    waiting = project.events("ingest-waiting")
    assert len(waiting) == 1 and "brain budget spent" in waiting[0]["reason"]


def test_a_quota_hit_by_headless_ingest_backs_off_the_brain_and_the_set_is_ingested_after_reset(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: a quota failure of the headless ingest call set no back-off, so the same cycle's brain
    # call hit the limit again; and the pending set was remembered as handed over, so it was never
    # ingested after the limit reset
    monkeypatch.setenv("FAKE_BRAIN", "quota")
    project.mail("web", subject="report")
    engine = project.engine(brain={"harness": "claude"}, ingest={"mode": "headless"})
    result = engine.cycle(approval="manual")
    assert [e["failure_class"] for e in project.events("ingest-failed")] == ["quota"]
    assert len(brain.read_text().splitlines()) == 1  # the ingest only: the brain waits for the reset
    assert result.outcome == "skipped" and "backing off" in result.detail
    assert json.loads(project.paths.backoff.read_text())["until"] == "2100-01-01T00:00:00Z"

    project.paths.backoff.write_text(json.dumps({"until": "2000-01-01T00:00:00Z"}))  # the limit reset
    monkeypatch.setenv("FAKE_BRAIN", "ok")
    engine.cycle(approval="manual")
    assert len(project.events("ingest-headless-done")) == 1  # the same pending set, ingested now
    assert len(project.events("brain-answered")) == 1


@pytest.mark.parametrize(
    ("output", "hours"),
    [
        ("API Error: 529 Overloaded", 5 / 60),  # the API is busy for a moment: minutes, not an hour
        ("Error: 429 Too Many Requests", 5 / 60),
        ("rate limit exceeded, slow down", 5 / 60),
        ("Claude usage limit reached.", 1),  # a spent quota: the long back-off
        ("insufficient_quota (HTTP 429)", 1),
    ],
)
def test_a_transient_overload_backs_off_for_minutes_a_spent_quota_for_an_hour(
    output: str, hours: float
) -> None:
    from datetime import timedelta

    from loop_engine.brain import classify_exit
    from loop_engine.events import utcnow

    before = utcnow()
    klass, reset = classify_exit(output, 1)
    assert klass == "quota" and reset is not None
    assert abs((reset - before) - timedelta(hours=hours)) < timedelta(seconds=30)
    assert classify_exit("segfault", 1) == ("exit", None)


def test_a_quota_notice_printed_with_exit_0_backs_off_instead_of_retrying(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BRAIN", "quota0")
    engine = project.engine(brain={"harness": "claude", "max_retries": 3})
    first = engine.cycle(approval="manual")
    assert first.outcome == "brain-failed" and first.detail.startswith("quota"), first.detail
    failed = project.events("brain-failed")
    assert [f["failure_class"] for f in failed] == ["quota"]  # backed off, not retried as a parse failure
    assert failed[0]["reset_at"] == "2100-01-01T00:00:00Z"
    assert len(brain.read_text().splitlines()) == 1
    assert json.loads(project.paths.backoff.read_text())["until"] == "2100-01-01T00:00:00Z"
    # prose that merely mentions a quota is still a parse failure, retried, with no back-off
    project.paths.backoff.unlink()
    monkeypatch.setenv("FAKE_BRAIN", "prose-quota")
    project.mail("web", subject="change")
    assert engine.cycle(approval="manual").outcome == "brain-failed"
    assert [f["failure_class"] for f in project.events("brain-failed")][1:] == ["parse"] * 4
    assert not project.paths.backoff.exists()


@pytest.mark.parametrize(
    ("text", "klass"),
    [
        ("Claude AI usage limit reached|4102444800", "quota"),
        ("5-hour limit reached - resets 3pm", "quota"),
        ("You've hit your usage limit. Upgrade or try again later.", "quota"),
        ("Error: You exceeded your current quota, please check your plan.", "quota"),
        ("The quota service is fine; nothing to do.", None),
        ("We are near the usage limit of the API gateway. " * 20, None),  # long: a real answer
        ("usage limit reached\n```decision\nversion: 1\n```", None),  # holds a block: parse it
        ("", None),
    ],
)
def test_quota_answer_only_for_a_short_limit_notice(text: str, klass: str | None) -> None:
    from loop_engine.brain import BrainAnswer, quota_answer

    err = quota_answer(BrainAnswer(text=text, duration_s=0.1, transcript=None, argv0="x"))
    assert (err.failure_class if err else None) == klass
    if err is not None:
        assert err.reset_at is not None and err.reset_at > utcnow()


def test_a_brain_child_is_recorded_while_it_runs_and_the_record_removed_after(
    tmp_path: Path, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "fake_brain.py"
    children = tmp_path / "children"
    monkeypatch.setenv("FAKE_BRAIN", "slow")
    seen: list[dict[str, object]] = []

    def abort() -> bool:  # polled while the child runs: look at the record, then stop the call
        records = list(children.glob("*.json"))
        if records:
            seen.append(json.loads(records[0].read_text()))
        return bool(seen)

    with pytest.raises(BrainError, match="aborted"):
        run_oneshot(
            [sys.executable, str(script)],
            timeout_s=60,
            transcript=tmp_path / "t.log",
            abort=abort,
            children=children,
        )
    entry = seen[0]
    assert isinstance(entry["pid"], int) and entry["pid"] > 1 and entry["start"]
    assert entry["owner"] == os.getpid() and entry["transcript"] == str(tmp_path / "t.log")
    assert list(children.glob("*.json")) == []  # gone once the child is gone
    # the token the record holds is in the child's environment (how a reaper proves it is ours)
    monkeypatch.setenv("FAKE_BRAIN", "env")
    answer = run_oneshot([sys.executable, str(script)], timeout_s=60, transcript=tmp_path / "u.log")
    assert len(answer.text.strip()) == 32 and answer.text.strip() != str(entry["token"])


def test_a_brain_call_is_noticed_when_its_child_ends_not_at_the_next_fixed_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call waits on the child itself (its waits start under a millisecond and grow), so a brain that
    answers at once is not held for a whole timeout/abort tick; the tick stays the longest wait."""
    from loop_engine import brain

    script = tmp_path / "b.py"
    script.write_text("import time\ntime.sleep(0.3)\nprint('answer')\n")
    waits: list[float] = []
    real_sleep = brain.time.sleep

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(brain.time, "sleep", sleep)
    answer = run_oneshot([sys.executable, str(script)], timeout_s=60, transcript=tmp_path / "t.log")
    assert answer.text.strip() == "answer"
    assert waits and waits[0] < 0.01
    assert max(waits) <= brain.WAIT_TICK_S


def test_while_waiting_runs_while_the_brain_runs(tmp_path: Path) -> None:
    """The caller's preparation runs once, in the call, while the child is still running: this child
    answers only after it sees the file the preparation writes (else it gives up after 10 s, past the
    call's 5 s timeout)."""
    marker = tmp_path / "prepared"
    script = tmp_path / "b.py"
    script.write_text(
        "import os, sys, time\n"
        "end = time.monotonic() + 10\n"
        f"while not os.path.exists({str(marker)!r}) and time.monotonic() < end:\n"
        "    time.sleep(0.01)\n"
        f"print('saw it' if os.path.exists({str(marker)!r}) else 'never saw it')\n"
    )
    calls: list[int] = []

    def prepare() -> None:
        calls.append(1)
        marker.write_text("x")

    answer = run_oneshot(
        [sys.executable, str(script)], timeout_s=5, transcript=tmp_path / "t.log", while_waiting=prepare
    )
    assert answer.text.strip() == "saw it" and calls == [1]


def test_a_preparation_that_fails_never_fails_the_brain_call(tmp_path: Path) -> None:
    script = tmp_path / "b.py"
    script.write_text("print('answer')\n")

    def prepare() -> None:
        raise RuntimeError("cannot prepare")

    answer = run_oneshot(
        [sys.executable, str(script)], timeout_s=60, transcript=tmp_path / "t.log", while_waiting=prepare
    )
    assert answer.text.strip() == "answer"


def test_the_engine_prepares_reading_the_answer_while_its_brain_thinks_not_the_ingests(
    project: Project, brain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the brain's process runs, the engine builds what reading a decision needs (the decision
    and queued-decision validators, the gate's patterns): once per brain call, never for the headless
    ingest's one-shot call."""
    monkeypatch.setenv("FAKE_BRAIN", "ok")
    project.mail("web", subject="report")
    engine = project.engine(brain={"harness": "claude"}, ingest={"mode": "headless"})
    assert engine.thinker.while_brain_thinks == engine._ready_for_answer
    prepared: list[int] = []
    ready = engine.thinker.while_brain_thinks

    def counted() -> None:
        prepared.append(len(project.events("ingest-headless-done")))  # the ingest's call ended before
        ready()

    engine.thinker.while_brain_thinks = counted
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    assert len(project.events("ingest-headless-done")) == 1
    assert prepared == [1]  # in the brain's call (after the ingest's), not in the ingest's own
