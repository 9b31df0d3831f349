"""start_checkpoint: `loop-checkpoint --print` started ahead of need, its answer taken by checkpoint_prompt()
only when nothing it reads changed since it started (else it runs again), against the real shell: the
prompt a cycle gets is the one a late run would print, byte for byte."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loop_substrate import Substrate, client


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "ops-wiki").mkdir(parents=True)
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n\nstate\n\n<!-- coord-decisions -->\n")
    (root / "ops-wiki" / "index.md").write_text("# index\n")
    box = root / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    (root / ".loop" / "orchestrator-state.json").write_text('{"schema_version": 2, "loops": {}}\n')
    for i in range(3):
        (box / f"20260101-00000{i}-web-to-coord.md").write_text(f"---\nsubject: report {i}\n---\nbody\n")
    (root / "header.md").write_text("# Engine header\n")
    return root


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inputs count as settled at once (the racy rule has its own test): every change a test makes
    changes a size or a name, so it is seen whatever the clock tick."""
    monkeypatch.setattr(client, "RACY_NS", 0)
    client._drop_early()


def _late_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every loop-checkpoint run the client starts the ordinary way (not ahead of need)."""
    runs: list[list[str]] = []
    real = subprocess.run

    def counting(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        if any("loop-checkpoint" in str(a) for a in argv):
            runs.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting)
    return runs


def _ended(sub: Substrate) -> None:
    """Wait until the early run has printed its answer (so a change made next comes after it)."""
    [(_env, _cwd, proc, _check)] = list(client._EARLY.values())
    proc.wait(timeout=30)


def test_an_early_prompt_is_taken_when_nothing_changed_and_is_the_late_one_byte_for_byte(
    project: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = Substrate("s", project)
    header = project / "header.md"
    late = _late_runs(monkeypatch)
    assert sub.start_checkpoint(header) is True
    early = sub.checkpoint_prompt(header)
    assert late == []  # the early run's answer: loop-checkpoint ran once
    assert not client._EARLY
    assert "report 2" in early and early.startswith("# Engine header")
    assert sub.checkpoint_prompt(header) == early  # a late run prints the same bytes
    assert len(late) == 1


def _rewrite(path: Path, text: str) -> Callable[[Path], object]:
    return lambda root: (root / path).write_text(text)


CHANGES: dict[str, Callable[[Path], object]] = {
    "header": _rewrite(Path("header.md"), "# Engine header, edited by improve\n"),
    "checkpoint.md": _rewrite(Path("ops-wiki/checkpoint.md"), "# checkpoint\n\nnew state\n"),
    "index.md": _rewrite(Path("ops-wiki/index.md"), "# index\n\n- a page\n"),
    "index.md removed": lambda root: (root / "ops-wiki" / "index.md").unlink(),
    "ledger": _rewrite(
        Path(".loop/orchestrator-state.json"),
        '{"schema_version": 2, "objective": "ship it", "loops": {}}\n',
    ),
    "mail arrived": _rewrite(
        Path(".loop/messages/20260101-000009-api-to-coord.md"), "---\nsubject: new one\n---\n"
    ),
    "mail acked": lambda root: os.rename(
        root / ".loop/messages/20260101-000000-web-to-coord.md",
        root / ".loop/messages/processed/20260101-000000-web-to-coord.md",
    ),
    "mail edited in place": _rewrite(
        Path(".loop/messages/20260101-000001-web-to-coord.md"), "---\nsubject: report 1, corrected\n---\n"
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_an_early_prompt_is_not_taken_when_an_input_changed_since_it_started(
    project: Path, settled: None, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    sub = Substrate("s", project)
    header = project / "header.md"
    late = _late_runs(monkeypatch)
    assert sub.start_checkpoint(header) is True
    _ended(sub)
    CHANGES[change](project)  # ingest acked a mail, sync_loops wrote the ledger, a lane wrote the wiki...
    got = sub.checkpoint_prompt(header)
    assert len(late) == 1  # it ran again
    assert sub.checkpoint_prompt(header) == got  # and what it answered is what a late run prints


def test_a_racily_new_input_starts_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An input changed within the clock tick of the look (here: just written) could change again unseen:
    nothing is started early, the prompt runs when needed."""
    client._drop_early()
    (project / "ops-wiki" / "index.md").write_text("# index, just now\n")
    sub = Substrate("s", project)
    assert client.checkpoint_inputs(project, project / "header.md") is None
    assert sub.start_checkpoint(project / "header.md") is False
    assert not client._EARLY


def test_the_inputs_settle_once_older_than_the_tick(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    later = time.time_ns() + 2 * client.RACY_NS
    monkeypatch.setattr(time, "time_ns", lambda: later)
    assert client.checkpoint_inputs(project, project / "header.md") is not None


def test_another_header_or_environment_does_not_take_the_early_answer(
    project: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = Substrate("s", project)
    late = _late_runs(monkeypatch)
    assert sub.start_checkpoint(project / "header.md") is True
    other = project / "other-header.md"
    other.write_text("# Another header\n")
    assert sub.checkpoint_prompt(other).startswith("# Another header")
    assert len(late) == 1 and len(client._EARLY) == 1  # the early one waits for its own caller
    monkeypatch.setenv("LOOP_CHECKPOINT_TOKEN_CEILING", "40000")
    sub.checkpoint_prompt(project / "header.md")
    assert len(late) == 2 and not client._EARLY  # started in another environment: killed, run again


def test_an_early_prompt_nobody_takes_is_stopped(
    project: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = Substrate("s", project)
    assert sub.start_checkpoint(project / "header.md") is True
    [(_env, _cwd, proc, _check)] = list(client._EARLY.values())
    sub.drop_early()
    assert not client._EARLY and proc.poll() is not None


def test_a_second_start_of_the_same_read_walks_no_inputs(
    project: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`once` starts the prompt before the cycle code loads; the cycle's own start then finds it filed and
    returns at once, without a second walk of the mailbox (one stat per pending mail)."""
    sub = Substrate("s", project)
    header = project / "header.md"
    assert sub.start_checkpoint(header) is True
    walks: list[Path] = []
    real = client.checkpoint_inputs

    def counting(root: Path, header_file: Path | None, mailbox: Path | None = None) -> Any:
        walks.append(root)
        return real(root, header_file, mailbox)

    monkeypatch.setattr(client, "checkpoint_inputs", counting)
    assert sub.start_checkpoint(header) is False
    assert walks == [] and len(client._EARLY) == 1
    assert "report 2" in sub.checkpoint_prompt(header)
    assert len(walks) == 1  # the one check that the early answer's inputs held
