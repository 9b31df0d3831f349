"""Loops sync (CONTRACT "loop-engine", Engine resilience): each cycle the ledger's `loops` follow the tasks'
`loop:` fields (tasks/ and tasks/archive/): status in-progress while a task of the loop is open,
in-progress or review, else done; a missing name from ops-wiki/loops/<id>.md's `# ` title (minus `loop:`),
else the id; written only on change, event `loops-sync {loops, derived}`; bad task YAML skipped; every
other field kept."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import Project, retry_until
from loop_schemas import file_lock


def _task(project: Project, tid: str, loop: str, status: str = "open", archived: bool = False) -> Path:
    path = project.task(tid, f"t{tid[-1]}", status=status, archived=archived)
    path.write_text(path.read_text().replace("scope: one thing\n", f"scope: one thing\nloop: {loop}\n"))
    return path


def _ledger(project: Project) -> Path:
    return project.root / ".loop" / "orchestrator-state.json"


def _write(project: Project, doc: dict[str, Any]) -> None:
    _ledger(project).write_text(json.dumps(doc, indent=2) + "\n")


def _read(project: Project) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_ledger(project).read_text())
    return doc


LEDGER = {
    "schema_version": 2,
    "updated_at": "2026-01-01T00:00:00Z",
    "objective": "ship billing",
    "custom_key": {"kept": True},
    "loops": {
        "billing": {"status": "implement", "branch": "loop/s/billing", "commits": ["abc"], "extra": 1},
        "untouched": {"status": "spec", "name": "Untouched"},
        "named": {"status": "in-progress", "name": "Hand-picked name"},
    },
}


def test_a_cycle_derives_status_and_missing_names_from_the_tasks(project: Project) -> None:
    _write(project, LEDGER)
    (project.root / "ops-wiki" / "loops").mkdir()
    (project.root / "ops-wiki" / "loops" / "search.md").write_text("intro\n# loop: Search revamp\n\nbody\n")
    (project.root / "ops-wiki" / "loops" / "named.md").write_text("# loop: Not used\n")
    _task(project, "T0001", "billing", status="done", archived=True)
    _task(project, "T0002", "billing", status="review")
    _task(project, "T0003", "search", status="done", archived=True)
    _task(project, "T0004", "search", status="dropped", archived=True)
    _task(project, "T0005", "named", status="done", archived=True)
    project.task("T0006", "no-loop")
    bad = project.root / "tasks" / "T0007-bad.md"
    bad.write_text("---\nid: T0007\ntitle: [unclosed\nloop: ghost\nstatus: open\n---\nbody\n")
    project.engine().cycle(approval="manual")
    doc = _read(project)
    assert doc["loops"] == {
        # status follows the open task; branch, commits and unknown fields stay; no page: the id is the name
        "billing": {
            "status": "in-progress",
            "branch": "loop/s/billing",
            "commits": ["abc"],
            "extra": 1,
            "name": "billing",
        },
        "untouched": {"status": "spec", "name": "Untouched"},  # no task names it
        "named": {"status": "done", "name": "Hand-picked name"},  # a name is never replaced
        "search": {"status": "done", "name": "Search revamp"},  # a new row: every task done or dropped
    }
    assert "ghost" not in doc["loops"]  # the task that does not parse is skipped
    assert [e["error"][:5] for e in project.events("task-invalid")] == ["YAML:"]
    assert doc["objective"] == "ship billing" and doc["custom_key"] == {"kept": True}
    assert doc["updated_at"] != "2026-01-01T00:00:00Z"
    (event,) = project.events("loops-sync")
    assert (event["loops"], event["derived"]) == (4, 3)
    assert event["changed"] == ["billing", "named", "search"]


def test_nothing_is_written_when_nothing_changed(project: Project) -> None:
    _write(project, LEDGER)
    _task(project, "T0001", "billing")
    engine = project.engine()
    engine.cycle(approval="manual")
    assert len(project.events("loops-sync")) == 1
    before = _ledger(project).read_bytes()
    os.utime(_ledger(project), (1, 1))
    engine.cycle(approval="manual")
    assert _ledger(project).read_bytes() == before and _ledger(project).stat().st_mtime == 1
    assert len(project.events("loops-sync")) == 1
    # the last open task closes: the loop is done
    path = next((project.root / "tasks").glob("T0001-*.md"))
    path.write_text(path.read_text().replace("status: open", "status: done"))
    engine.cycle(approval="manual")
    assert _read(project)["loops"]["billing"]["status"] == "done"
    assert len(project.events("loops-sync")) == 2


def test_an_invalid_ledger_is_left_as_it_is(project: Project) -> None:
    _ledger(project).write_text('{"schema_version": 1, "loops": {}}\n')
    _task(project, "T0001", "billing")
    project.engine().cycle(approval="manual")
    assert _ledger(project).read_text() == '{"schema_version": 1, "loops": {}}\n'
    assert not project.events("loops-sync")
    assert project.events("state-invalid")


def test_no_ledger_no_write(project: Project) -> None:
    _task(project, "T0001", "billing")
    project.engine().cycle(approval="manual")
    assert not _ledger(project).exists() and not project.events("loops-sync")


def test_the_write_waits_for_the_ledgers_lock(project: Project) -> None:
    _write(project, LEDGER)
    _task(project, "T0001", "search")
    engine = project.engine()
    release = threading.Event()
    held = threading.Event()

    def holder() -> None:
        with file_lock(_ledger(project)):
            held.set()
            release.wait(10)
            # another writer's change, made under the lock: the sync must read it, not overwrite it
            doc = _read(project)
            doc["loops"]["untouched"]["branch"] = "written-meanwhile"
            _write(project, doc)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    done: list[Any] = []
    cycle = threading.Thread(target=lambda: done.append(engine.cycle(approval="manual")))
    cycle.start()
    retry_until(lambda: project.events("observed"))
    assert "search" not in _read(project)["loops"]
    release.set()
    thread.join()
    cycle.join(10)
    assert done
    doc = _read(project)
    assert doc["loops"]["search"]["status"] == "in-progress"
    assert doc["loops"]["untouched"]["branch"] == "written-meanwhile"


@pytest.mark.parametrize("title", ["# loop:Billing v2", "# Billing v2", "# LOOP: Billing v2"])
def test_the_name_drops_a_leading_loop_prefix(project: Project, title: str) -> None:
    _write(project, {"schema_version": 2, "loops": {}})
    (project.root / "ops-wiki" / "loops").mkdir()
    (project.root / "ops-wiki" / "loops" / "billing.md").write_text(f"{title}\n")
    _task(project, "T0001", "billing")
    project.engine().cycle(approval="manual")
    assert _read(project)["loops"]["billing"] == {"status": "in-progress", "name": "Billing v2"}
