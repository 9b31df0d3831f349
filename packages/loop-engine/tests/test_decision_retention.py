"""Decision retention (CONTRACT "The engine configuration", engine.checkpoint.keep_decisions): filing keeps
the newest `keep_decisions` `### ` entries below the coord-decisions marker; the older ones go to
ops-wiki/decisions-archive.md first (oldest first, byte for byte), then checkpoint.md is rewritten; a
crash between the two steps duplicates, never loses; keep < 1 is off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_fakes import Project
from loop_engine import queue as q

MARKER = "<!-- coord-decisions -->"
HEAD = "# Checkpoint\n\nstate above\n\n" + MARKER + "\n"
PREAMBLE = "Filed by the engine, newest first.\n\n"


def _entry(n: int) -> str:
    return f"### hand-{n} · 2026-01-0{n}\nwhy {n}   \n\n"


def _seed(project: Project, count: int) -> list[str]:
    """`count` hand-written entries below the marker, newest (highest number) first."""
    entries = [_entry(n) for n in range(count, 0, -1)]
    (project.root / "ops-wiki" / "checkpoint.md").write_text(HEAD + PREAMBLE + "".join(entries))
    return entries


def _doc(n: int) -> dict[str, Any]:
    action = {"kind": "dispatch", "lane": "web", "mode": "text", "payload": f"task {n}"}
    return {"id": f"d-{n}", "decision": {"critique": f"crit {n}", "actions": [action]}}


OUT = [{"index": 0, "state": "done", "error": None}]


def _archive(project: Project) -> Path:
    return project.root / "ops-wiki" / "decisions-archive.md"


def _below(project: Project) -> tuple[str, list[str]]:
    text = (project.root / "ops-wiki" / "checkpoint.md").read_text()
    head, marker, tail = text.partition(MARKER + "\n")
    assert head + marker == HEAD
    return q.split_entries(tail)


def test_filing_keeps_the_newest_and_appends_the_older_to_the_archive_first(project: Project) -> None:
    old = _seed(project, 4)  # hand-4 .. hand-1
    assert q.file_decision(project.paths, _doc(5), OUT, "human", keep=3)
    lead, entries = _below(project)
    assert lead == PREAMBLE  # the text above the first entry stays where it was
    # kept: d-5 (above the newest), hand-4, hand-3
    assert entries[0].startswith("<!-- engine-decision d-5 -->\n### d-5 · ")
    assert entries[0].endswith("<!-- /engine-decision -->\n")
    assert entries[1:] == old[:2]
    # archived, oldest first, byte for byte, under the archive's title
    assert _archive(project).read_text() == q.ARCHIVE_HEAD + "\n" + _entry(1) + _entry(2)
    # the next filing appends (the archive is never rewritten from scratch)
    assert q.file_decision(project.paths, _doc(6), OUT, "human", keep=3)
    assert _archive(project).read_text() == q.ARCHIVE_HEAD + "\n" + _entry(1) + _entry(2) + "\n" + _entry(3)
    ids = [e.split("\n")[0] for e in _below(project)[1]]
    assert ids == ["<!-- engine-decision d-6 -->", "<!-- engine-decision d-5 -->", "### hand-4 · 2026-01-04"]


def test_keep_below_one_is_off(project: Project) -> None:
    old = _seed(project, 12)
    for keep in (0, -1):
        assert q.file_decision(project.paths, _doc(20 + keep), OUT, "human", keep=keep)
    assert not _archive(project).exists()
    _, entries = _below(project)
    assert len(entries) == 14 and entries[2:] == old


def test_the_default_keeps_ten(project: Project) -> None:
    _seed(project, 10)
    assert q.file_decision(project.paths, _doc(11), OUT, "human")
    assert len(_below(project)[1]) == 10
    assert _archive(project).read_text() == q.ARCHIVE_HEAD + "\n" + _entry(1)


def test_a_crash_between_archive_and_rewrite_duplicates_never_loses(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(project, 3)
    real = q.atomic_write

    def crash_on_checkpoint(path: Any, data: Any, **kw: Any) -> None:
        if Path(path).name == "checkpoint.md":
            raise KeyboardInterrupt("killed between the two writes")
        real(path, data, **kw)

    monkeypatch.setattr(q, "atomic_write", crash_on_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        q.file_decision(project.paths, _doc(4), OUT, "human", keep=2)
    # the archive already holds hand-1 and hand-2; checkpoint.md still holds everything it held
    assert _archive(project).read_text() == q.ARCHIVE_HEAD + "\n" + _entry(1) + _entry(2)
    assert len(_below(project)[1]) == 3
    monkeypatch.setattr(q, "atomic_write", real)
    assert q.file_decision(project.paths, _doc(5), OUT, "human", keep=2)
    archive = _archive(project).read_text()
    checkpoint = (project.root / "ops-wiki" / "checkpoint.md").read_text()
    for n in (1, 2, 3):  # every decision is somewhere; hand-1 and hand-2 twice in the archive at worst
        assert f"### hand-{n} " in archive + checkpoint
    assert archive.count("### hand-2 ") == 2 and "### d-5 " in checkpoint


def test_an_archive_that_cannot_be_written_keeps_every_entry(project: Project) -> None:
    old = _seed(project, 3)
    _archive(project).mkdir()  # a folder where the archive should be
    assert q.file_decision(project.paths, _doc(4), OUT, "human", keep=1)
    assert _below(project)[1][1:] == old


def test_the_engine_files_with_the_configured_keep(project: Project) -> None:
    old = _seed(project, 3)
    project.task("T0001", "first")
    engine = project.engine(checkpoint={"keep_decisions": 2})
    result = engine.cycle(approval="manual")
    engine.approve(str(result.decision_id))
    _, entries = _below(project)
    assert entries[0].startswith(f"<!-- engine-decision {result.decision_id} -->") and entries[1] == old[0]
    assert len(entries) == 2
    assert _archive(project).read_text() == q.ARCHIVE_HEAD + "\n" + _entry(1) + _entry(2)
    # the approval mode's own filing (decisions.py) reads the same key
    project.task("T0002", "second")
    engine.cycle(approval="auto")
    assert len(_below(project)[1]) == 2
    assert _archive(project).read_text().endswith(_entry(2) + "\n" + _entry(3))
