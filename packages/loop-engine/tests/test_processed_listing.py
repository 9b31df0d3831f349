"""processed/ grows without bound (every acked message stays there): a cycle must cost the same with 0 or
50k of them. Its count comes from the mail index (listed again only when the folder changed), and the
recent names the engine follows reports and replies through (observe.acked_mail) from the engine's own
listing, reused while the folder is unchanged. A listing taken in the same clock tick as the folder's last
change is never trusted, and a forged listing hides nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest
from engine_fakes import Project
from loop_engine import observe
from loop_engine.asks import AskBook
from loop_schemas import Snapshot


def _processed(project: Project) -> Path:
    folder = project.root / ".loop" / "messages" / "processed"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _listings(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[str]:
    """Every listing of `folder` (os.listdir and os.scandir, whoever asks)."""
    seen: list[str] = []
    real_listdir, real_scandir = os.listdir, os.scandir

    def listdir(path: os.PathLike[str] | str = ".") -> list[str]:
        if Path(path) == folder:
            seen.append("listdir")
        return real_listdir(path)

    def scandir(path: os.PathLike[str] | str = ".") -> os._ScandirIterator[str]:
        if Path(path) == folder:
            seen.append("scandir")
        return real_scandir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(os, "scandir", scandir)
    return seen


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")  # UTC, as loop-mail names


def _ask(project: Project, ask_id: str = "a-7") -> None:
    """An open ask: while it is in flight the cycle follows processed/ for its reply."""
    AskBook(project.paths.asks).record(ask_id, lane="web", decision_id="d-1", timeout_s=3600, task="T0001")


def _state(project: Project, ask_id: str = "a-7") -> str:
    return str(json.loads(project.paths.asks.read_text())[ask_id]["state"])


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float = 5.0) -> None:
    """The engine's clock `seconds` ahead: processed/'s last change is then no longer racily new."""
    monkeypatch.setattr(observe, "_now_ns", lambda: time.time_ns() + int(seconds * 1e9))


def test_the_processed_count_comes_from_the_mail_index_while_the_folder_is_unchanged(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _processed(project)
    for i in range(3):
        (folder / f"20250101-00000{i}-web-to-coord.md").write_text("---\nsubject: old\n---\n")
    (folder / ".20250101-000009-web-to-coord.md").write_text("a temporary: no message")
    then = time.time() - 60
    os.utime(folder, (then, then))
    project.engine().cycle(approval="manual")
    snap = Snapshot.model_validate_json(project.paths.snapshot.read_text())
    assert snap.processed_count == 3  # counted as loop-digest counts (dot-files are not messages)
    index = json.loads(project.paths.mail_index.read_text())
    assert index["processed"]["count"] == 3
    # what another run (loop-digest, an earlier cycle) counted for the folder as it is: no listing
    index["processed"]["count"] = 12345
    project.paths.mail_index.write_text(json.dumps(index))
    listed = _listings(monkeypatch, folder)
    project.engine().cycle(approval="manual")
    assert listed == []
    assert Snapshot.model_validate_json(project.paths.snapshot.read_text()).processed_count == 12345
    # a message acked since: the folder changed, so it is counted again
    (folder / "20250102-000000-web-to-coord.md").write_text("---\nsubject: new\n---\n")
    project.engine().cycle(approval="manual")
    assert listed == ["listdir"]
    assert Snapshot.model_validate_json(project.paths.snapshot.read_text()).processed_count == 4


def test_processed_is_not_listed_again_while_unchanged_and_a_reply_acked_since_still_counts(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ask(project)
    folder = _processed(project)
    (folder / "20250101-000000-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nold history\n")
    then = time.time() - 60
    os.utime(folder, (then, then))  # the mail index's count keys on its mtime
    _later(monkeypatch)  # and its ctime (now) is no longer racily new to the engine's listing
    listed = _listings(monkeypatch, folder)
    project.engine().cycle(approval="manual")
    acked_listings = listed.count("listdir")
    assert acked_listings >= 1 and _state(project) == "open"
    assert project.paths.acked_names.is_file()
    listed.clear()
    project.engine().cycle(approval="manual")
    project.engine().cycle(approval="manual")
    assert listed == []  # nothing changed: neither the count nor the recent names listed it
    (folder / f"{_stamp()}-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nthe answer\n")
    project.engine().cycle(approval="manual")
    assert "listdir" in listed
    assert _state(project) == "answered"


def test_a_reply_acked_in_the_same_clock_tick_as_the_listing_still_counts(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system whose timestamps did not move (the kernel's coarse clock: a rename in the same tick as
    the last one leaves processed/'s times equal): a listing taken then is not reused."""
    _ask(project)
    folder = _processed(project)
    (folder / "20250101-000000-web-to-coord.md").write_text("---\nsubject: old\n---\n")
    frozen = observe._folder_key(folder)
    monkeypatch.setattr(observe, "_folder_key", lambda _folder: list(frozen))
    project.engine().cycle(approval="manual")
    assert _state(project) == "open"
    (folder / f"{_stamp()}-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nthe answer\n")
    assert observe._folder_key(folder) == frozen  # to the engine, the folder looks unchanged
    project.engine().cycle(approval="manual")
    assert _state(project) == "answered"


def _forged(project: Project, folder: Path, **fields: object) -> None:
    key = observe._folder_key(folder)
    now = observe._now_ns()
    doc: dict[str, object] = {
        "version": observe.ACKED_VERSION,
        "key": key,
        "since": "20000101-000000",
        "taken_ns": now - 1_000_000,
        "names": [],
    }
    doc.update(fields)
    if doc.get("taken_ns") == "racy":
        doc["taken_ns"] = max(key[2], key[3]) + 1
    project.paths.acked_names.parent.mkdir(parents=True, exist_ok=True)
    project.paths.acked_names.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "fields",
    [
        {"version": 99},
        {"key": [0, 0, 0, 0]},
        {"taken_ns": "racy"},  # claims a listing taken in the folder's last clock tick
        {"taken_ns": 2**62},  # in the future
        {"taken_ns": 1},  # long ago
        {"since": "99999999-999999"},  # a listing of later names only
        {"names": [1, 2]},
        {"names": "x"},
    ],
    ids=["version", "key", "racy", "future", "old", "since", "names-types", "names-shape"],
)
def test_a_forged_listing_hides_no_reply(
    project: Project, monkeypatch: pytest.MonkeyPatch, fields: dict[str, object]
) -> None:
    _ask(project)
    folder = _processed(project)
    (folder / f"{_stamp()}-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nthe answer\n")
    _later(monkeypatch)
    _forged(project, folder, **fields)
    project.engine().cycle(approval="manual")
    assert _state(project) == "answered"


def test_a_listing_that_looks_right_hides_nothing_for_longer_than_its_age_limit(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ask(project)
    folder = _processed(project)
    (folder / f"{_stamp()}-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nthe answer\n")
    _later(monkeypatch, 300)  # the folder last changed five minutes ago
    _forged(project, folder, taken_ns=observe._now_ns() - 60 * 10**9)  # and was listed a minute ago
    project.engine().cycle(approval="manual")
    assert _state(project) == "open"  # a lane wrote the engine's cache: believed, for a while
    _later(monkeypatch, 300 + observe.ACKED_MAX_AGE_NS / 1e9)
    project.engine().cycle(approval="manual")
    assert _state(project) == "answered"


def test_a_damaged_listing_is_listed_again(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _ask(project)
    folder = _processed(project)
    (folder / f"{_stamp()}-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nthe answer\n")
    project.paths.acked_names.parent.mkdir(parents=True, exist_ok=True)
    project.paths.acked_names.write_bytes(b"\xff{not json")
    project.engine().cycle(approval="manual")
    assert _state(project) == "answered"
