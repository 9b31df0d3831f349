"""Task states move on reports only: mail from the task's lane, newer than the engine's own record of the
dispatch, done-shaped, naming the task (issue 15, item 4)."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest
from engine_fakes import Project, retry_until
from loop_engine.observe import pending_mail
from loop_engine.reports import done_shaped, reported_tasks
from loop_engine.tasks import load_tasks


def _status(project: Project, tid: str) -> str:
    tasks, _ = load_tasks(project.root / "tasks")
    return next(t.status for t in tasks if t.id == tid)


def _stamp(delta_s: float = 0.0) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delta_s)).strftime("%Y%m%d-%H%M%S")


def _next_second() -> None:
    """Wait (at most a second) for the wall clock to reach the next whole second."""
    start = int(time.time())
    retry_until(lambda: int(time.time()) > start, timeout=3, interval=0.01)


def _dispatched(project: Project) -> str:
    engine = project.engine()
    engine.cycle(approval="auto")
    assert _status(project, "T0001") == "in-progress"
    return str(project.substrate.sent[0]["lane"])


def test_a_question_from_the_lane_holding_one_task_does_not_move_it(project: Project) -> None:
    """Fails on the old engine: any mail from a lane holding one task moved that task to review."""
    project.task("T0001", "a")
    lane = _dispatched(project)
    question = project.mail(lane, subject="question: I am blocked, which database?")
    noted = project.mail(lane, subject="T0001: halfway there", extra="task: T0001\n")
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "in-progress"
    assert project.events("task-review") == []
    assert question.exists() and noted.exists()  # still mail for the coordinator, nothing consumed
    assert json.loads(project.paths.assignments.read_text())["T0001"]["state"] == "in-progress"


def test_a_report_written_before_the_dispatch_does_not_move_the_task(project: Project) -> None:
    """Fails on the old engine: a done report already in the mailbox moved the task as soon as it was
    dispatched. Also a forged name stamped in the future does not pass: the file's ctime predates the
    dispatch, and a lane cannot set a ctime."""
    project.task("T0001", "a")
    for lane in ("web", "infra"):
        project.mail(lane, subject="done T0001: written a minute early", stamp=_stamp(-60))
        project.mail(lane, subject="done T0001: forged for later", stamp=_stamp(3600))
        project.mail(lane, subject="done: bare and forged", stamp=_stamp(3600))
    _next_second()
    lane = _dispatched(project)
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "in-progress"
    assert project.events("task-review") == []
    report = project.mail(lane, subject="done T0001: finished after the dispatch")
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "review"
    assert [e["mail"] for e in project.events("task-review")] == [report.name]


def test_a_done_report_after_the_dispatch_moves_the_task(project: Project) -> None:
    project.task("T0001", "a")
    lane = _dispatched(project)
    other = "web" if lane == "infra" else "infra"
    project.mail(other, subject="done T0001: not my task")  # another lane cannot report it
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "in-progress"
    project.mail(lane, subject="Done T0001: added the index")
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "review"
    (event,) = project.events("task-review")
    assert event["task"] == "T0001" and event["lane"] == lane


def test_a_lane_holding_one_task_may_leave_the_id_out_of_a_done_report(project: Project) -> None:
    project.task("T0001", "a")
    lane = _dispatched(project)
    project.mail(lane, subject="finished: the migration runs")
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "review"


def test_the_task_field_names_the_task_of_a_done_report(project: Project) -> None:
    project.task("T0001", "a")
    lane = _dispatched(project)
    project.mail(lane, subject="complete", extra="task: T0001\n")
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "review"


def test_the_dispatch_time_is_taken_before_the_text_is_sent(project: Project) -> None:
    """A lane that reports while the dispatch is still being delivered (the dispatch ran across a second
    boundary) has sent a report newer than the dispatch: it counts."""
    project.task("T0001", "a")
    project.substrate.set("infra", "working", "claude", True)  # only web is idle: it gets T0001

    def quick_lane(lane: str, text: str) -> None:
        project.mail(lane, subject="done T0001: that was quick")
        _next_second()

    project.substrate.on_dispatch = quick_lane
    project.engine().cycle(approval="auto")
    project.substrate.on_dispatch = None
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "review"


def _held(project: Project, *tids: str, ago_s: float = 60) -> dict[str, dt.datetime]:
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=ago_s)
    return {tid: when for tid in tids}


def _item(project: Project, path: Path):  # type: ignore[no-untyped-def]
    return next(m for m in pending_mail(project.root / ".loop" / "messages") if m.path == path)


def test_a_lane_holding_two_tasks_must_name_the_one_it_reports(project: Project) -> None:
    bare = _item(project, project.mail("web", subject="done: one of them"))
    named = _item(project, project.mail("web", subject="done T0002: the second"))
    by_field = _item(project, project.mail("web", subject="done", extra="task: T0001\n"))
    foreign = _item(project, project.mail("web", subject="done T0009: not held"))
    held = _held(project, "T0001", "T0002")
    assert reported_tasks(bare, held) == []
    assert reported_tasks(named, held) == ["T0002"]
    assert reported_tasks(by_field, held) == ["T0001"]
    assert reported_tasks(foreign, held) == []
    assert reported_tasks(foreign, _held(project, "T0001")) == []  # names a task it does not hold


def test_a_message_whose_ctime_predates_the_dispatch_is_no_report(project: Project) -> None:
    path = project.mail("web", subject="done T0001: backdated", stamp=_stamp(3600))
    old = time.time() - 600
    os.utime(path, (old, old))  # mtime is the lane's to set; ctime is not, and it is what counts
    item = _item(project, path)
    assert reported_tasks(item, _held(project, "T0001", ago_s=60)) == ["T0001"]
    assert reported_tasks(item, _held(project, "T0001", ago_s=-120)) == []  # dispatched after it was written


def test_done_shaped_subjects() -> None:
    for subject in ("done T0001: x", "Done", "  finished: x", "COMPLETE.", "completed T0001", "done:x"):
        assert done_shaped(subject), subject
    for subject in (None, "", "question: done?", "re:a-1", "doneness", "undone", "done-ish", "not done"):
        assert not done_shaped(subject), subject


def test_an_acked_report_counts_whatever_the_engine_s_time_zone(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Message names are stamped in UTC (loop-mail); the engine listed processed/ from a local-time stamp,
    so east of UTC an acked report was never seen and its task stuck in progress."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        project.task("T0001", "a")
        lane = _dispatched(project)
        processed = project.root / ".loop" / "messages" / "processed"
        (processed / f"{_stamp()}-{lane}-to-coord.md").write_text(
            "---\nsubject: done T0001: acked early\n---\n"
        )
        project.engine().cycle(approval="auto")
        assert _status(project, "T0001") == "review"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
