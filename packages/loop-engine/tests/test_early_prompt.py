"""The checkpoint prompt off the critical path: a cycle that will ask its brain starts loop-checkpoint as it
begins (Thinker.start_prompt), and its prompt takes that answer only when nothing loop-checkpoint read
changed while the cycle observed, followed and ingested; else loop-checkpoint runs again. Against the
real loop-checkpoint (loop_substrate.Substrate), the rest of the substrate faked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import FakeSubstrate, Project
from loop_substrate import Substrate, client

NOOP = "```decision\nversion: 1\ncritique: nothing to do\nactions: []\n```\n"


@dataclass
class RealCheckpoint(FakeSubstrate):
    """The fake fleet, with the real checkpoint prompt (started early, taken or run again)."""

    real: Substrate | None = None
    starts: list[bool] = field(default_factory=list)

    def checkpoint_prompt(self, header_file: Path | None = None) -> str:
        assert self.real is not None
        return self.real.checkpoint_prompt(header_file)

    def start_checkpoint(self, header_file: Path | None = None) -> bool:
        assert self.real is not None
        self.starts.append(self.real.start_checkpoint(header_file))
        return self.starts[-1]

    def drop_early(self) -> None:
        assert self.real is not None
        self.real.drop_early()


@pytest.fixture
def real(project: Project, monkeypatch: pytest.MonkeyPatch) -> RealCheckpoint:
    monkeypatch.setattr(client, "RACY_NS", 0)  # every change below changes a size or a name
    client._drop_early()
    sub = RealCheckpoint(real=Substrate("s", project.root))
    sub.lanes, sub.project_root = project.substrate.lanes, project.root
    project.substrate = sub
    (project.root / ".loop" / "orchestrator-state.json").write_text('{"schema_version": 2, "loops": {}}\n')
    (project.root / "ops-wiki" / "index.md").write_text("# index\n")
    return sub


def _late_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    runs: list[list[str]] = []
    real = subprocess.run

    def counting(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        if any("loop-checkpoint" in str(a) for a in argv):
            runs.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting)
    return runs


def _cycle(project: Project, between: Callable[[], object] | None = None) -> str:
    prompts: list[str] = []

    def brain(prompt: str) -> str:
        prompts.append(prompt)
        return NOOP

    engine = project.engine(brain={"harness": "claude"}, brain_fn=brain)
    if between is not None:
        ingest = engine.thinker.ingest

        def ingest_then_change(obs: Any) -> None:
            ingest(obs)
            between()

        engine.thinker.ingest = ingest_then_change  # type: ignore[method-assign]
    engine.cycle(approval="manual")
    [prompt] = prompts
    return prompt


def test_the_cycle_takes_the_early_prompt_when_nothing_changed(
    project: Project, real: RealCheckpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.mail("web", subject="the only report", stamp="20260101-000001")
    _cycle(project)  # the first cycle mirrors the lanes into the state file: an input changed, run again
    late = _late_runs(monkeypatch)
    prompt = _cycle(project)
    assert real.starts == [True, True]
    assert late == []  # loop-checkpoint ran once, ahead of need
    assert "the only report" in prompt and not client._EARLY


def _acked(project: Project) -> None:
    box = project.root / ".loop" / "messages"
    [name] = [n for n in os.listdir(box) if n.endswith(".md")]
    os.rename(box / name, box / "processed" / name)


CHANGES: dict[str, Callable[[Project], object]] = {
    # sync_loops (or a lane) wrote the ledger
    "ledger": lambda p: (p.root / ".loop" / "orchestrator-state.json").write_text(
        '{"schema_version": 2, "objective": "the new objective", "loops": {}}\n'
    ),
    "ingest acked the mail": _acked,
    "a mail arrived": lambda p: p.mail("api", subject="a new report", stamp="20260101-000002"),
    "a lane wrote the wiki": lambda p: (p.root / "ops-wiki" / "index.md").write_text(
        "# index\n\n- new page\n"
    ),
    "the header was replaced": lambda p: (p.root / ".loop" / "engine-header.md").write_text("# My header\n"),
}
SEEN = {
    "ledger": "the new objective",
    "ingest acked the mail": "0 pending messages",
    "a mail arrived": "a new report",
    "a lane wrote the wiki": "new page",
    "the header was replaced": "# My header",
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_an_input_changed_during_the_cycle_runs_the_checkpoint_again(
    project: Project, real: RealCheckpoint, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    project.mail("web", subject="the only report", stamp="20260101-000001")
    _cycle(project)
    late = _late_runs(monkeypatch)
    prompt = _cycle(project, lambda: CHANGES[change](project))
    assert real.starts[-1] is True
    assert len(late) == 1  # the early answer was not taken
    assert SEEN[change] in prompt
    assert not client._EARLY  # nothing left running
