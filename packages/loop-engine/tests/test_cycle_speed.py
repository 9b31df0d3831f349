"""What keeps a cycle cheap: the pending mail read once across runs, the session probe's reads reused by
the observation that follows it, and fsync only for what a crash must not lose."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import Project
from loop_engine import mailhead, observe
from loop_engine.observe import pending_mail
from loop_schemas import Lane, file_lock

DECISION = (
    "```decision\nversion: 1\ncritique: c\nactions:\n"
    "  - {kind: dispatch, lane: web, payload: 'do it', rationale: r}\n```\n"
)


def _age(path: Path, seconds: float = 60.0) -> None:
    """Stamp a file as written `seconds` ago (a head is cached only once its file is not racily new)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []
    real = observe.read_mail_head

    def counting(path: Path) -> tuple[str | None, str | None]:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(observe, "read_mail_head", counting)
    return reads


def test_pending_mail_heads_are_read_once_across_runs(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [project.mail(f"lane{i}", subject=f"report {i}", stamp=f"20260101-00000{i}") for i in range(3)]
    for p in paths:
        _age(p)
    reads = _count_reads(monkeypatch)
    box, cache = project.paths.mailbox, project.paths.mail_heads
    first = pending_mail(box, cache)
    assert len(reads) == 3
    assert cache.is_file()
    mailhead._HEAD_CACHE.clear()  # a fresh process: only the file remembers
    second = pending_mail(box, cache)
    assert len(reads) == 3  # nothing read again
    assert [(m.name, m.sender, m.recipient, m.subject, m.task) for m in second] == [
        (m.name, m.sender, m.recipient, m.subject, m.task) for m in first
    ]
    assert [m.subject for m in second] == ["report 0", "report 1", "report 2"]


def test_a_rewritten_message_is_read_again_and_a_gone_one_drops_out(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = project.mail("web", subject="first", stamp="20260101-000001")
    b = project.mail("infra", subject="other", stamp="20260101-000002")
    _age(a)
    _age(b)
    box, cache = project.paths.mailbox, project.paths.mail_heads
    pending_mail(box, cache)
    mailhead._HEAD_CACHE.clear()
    a.write_text("---\nsubject: second version\n---\nbody\n")
    _age(a, 30)
    b.unlink()
    reads = _count_reads(monkeypatch)
    items = pending_mail(box, cache)
    assert [m.subject for m in items] == ["second version"]
    assert reads == [a]
    heads = json.loads(cache.read_text())["heads"]
    assert list(heads) == [a.name]


def test_a_new_message_is_not_remembered_until_it_is_older_than_the_clock_tick(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.mail("web", subject="just now")
    box, cache = project.paths.mailbox, project.paths.mail_heads
    pending_mail(box, cache)
    mailhead._HEAD_CACHE.clear()
    reads = _count_reads(monkeypatch)
    pending_mail(box, cache)
    assert len(reads) == 1  # racily new: read again, never trusted from the cache


@pytest.mark.parametrize(
    "damage",
    [
        b"{not json",
        b"\xff\xfe",
        b'{"version": 2, "mailbox": "/elsewhere", "heads": {}}',
        b'{"version": 2, "mailbox": null, "heads": []}',
    ],
)
def test_a_damaged_or_foreign_cache_reads_as_empty_and_is_rebuilt(project: Project, damage: bytes) -> None:
    p = project.mail("web", subject="hello there", stamp="20260101-000001")
    _age(p)
    box, cache = project.paths.mailbox, project.paths.mail_heads
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(damage)
    assert [m.subject for m in pending_mail(box, cache)] == ["hello there"]
    assert json.loads(cache.read_text())["heads"][p.name][2] == "hello there"


def test_a_cache_entry_that_disagrees_with_its_name_is_not_trusted(project: Project) -> None:
    p = project.mail("web", subject="real", stamp="20260101-000001")
    _age(p)
    box, cache = project.paths.mailbox, project.paths.mail_heads
    pending_mail(box, cache)
    mailhead._HEAD_CACHE.clear()
    doc = json.loads(cache.read_text())
    doc["heads"][p.name][2:] = ["forged", None, "coord", "web"]  # claims another sender
    cache.write_text(json.dumps(doc))
    [item] = pending_mail(box, cache)
    assert (item.sender, item.recipient, item.subject) == ("web", "coord", "real")


def test_the_session_probe_serves_the_next_observation(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    calls: list[str] = []
    sub = project.substrate
    real_list = sub.list_lanes

    def listing() -> list[Lane]:
        calls.append("list")
        return real_list()

    sub.list_lanes = listing  # type: ignore[method-assign]
    engine = project.engine()
    engine.require_session()
    assert (calls, sub.status_calls) == (["list"], 1)
    engine.cycle(approval="manual")
    assert (calls, sub.status_calls) == (["list"], 1)  # nothing asked twice
    engine.cycle(approval="manual")
    assert (calls, sub.status_calls) == (["list", "list"], 2)  # a probe serves one observation


def test_a_probe_taken_before_another_cycle_ran_is_not_used(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    calls: list[str] = []
    sub = project.substrate
    real_list = sub.list_lanes

    def listing() -> list[Lane]:
        calls.append("list")
        return real_list()

    sub.list_lanes = listing  # type: ignore[method-assign]
    engine = project.engine()
    engine.require_session()
    with file_lock(project.paths.cycle_lock):  # another cycle holds the lock: this one waits for it
        import threading

        done = threading.Event()
        thread = threading.Thread(target=lambda: (engine.cycle(approval="manual"), done.set()))
        thread.start()
        time.sleep(0.2)
        assert not done.is_set()
    thread.join(10)
    assert done.is_set()
    assert (calls, sub.status_calls) == (["list", "list"], 2)  # the observation asked again


def _fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        names.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return names


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names fds through /proc")
def test_a_queued_decision_is_fsynced_and_the_event_log_and_transcript_are_not(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = project.mail("web", subject="hi", stamp="20260101-000001")
    _age(p)
    project.substrate.set("web", "idle", "pi", False)
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda _prompt: DECISION)
    names = _fsynced(monkeypatch)
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    assert any(n.startswith(".pending-decision.json.") for n in names)  # the decision survives a crash
    assert not any("events.jsonl" in n for n in names)
    assert not any(n.endswith(".log") or ".log." in n for n in names)  # the transcript
    assert not any("mail-heads" in n for n in names)  # a cache
    assert names.count(next(n for n in names if n.startswith(".pending-decision.json."))) == 1
    assert len(names) <= 6, names


def test_records_the_brain_runs_while_its_child_lives_are_not_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loop_engine.brain import run_oneshot

    calls: list[Any] = []
    monkeypatch.setattr(os, "fsync", calls.append)
    answer = run_oneshot(
        ["/bin/sh", "-c", "echo hi"],
        timeout_s=10,
        transcript=tmp_path / "t.log",
        header="h\n",
        children=tmp_path / "children",
    )
    assert "hi" in answer.text
    assert calls == []
