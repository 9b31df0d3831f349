"""Checkpoint overflow (CONTRACT "loop-engine", checkpoint overflow): when loop-checkpoint exits 3 (the prompt
is above its token ceiling) the cycle does not stop: event `checkpoint-overflow {error}`, and the brain
still runs on the header alone plus an order to trim checkpoint.md and index.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fakes import Project
from loop_engine.early import header_path
from loop_engine.thinking import OVERFLOW_ORDER
from loop_substrate import SubstrateError

DECISION = """```decision
version: 1
critique: the checkpoint is over the ceiling
actions:
  - kind: dispatch
    lane: docs
    mode: text
    payload: "Trim ops-wiki/checkpoint.md and ops-wiki/index.md."
    rationale: the prompt must fit again
```
"""

CEILING_LINE = "loop-checkpoint: prompt is ~60000 tokens, above the ceiling of 48000"


def _failing(code: int):
    def checkpoint_prompt(header_file: Path | None = None) -> str:
        raise SubstrateError(["bash", "/x/scripts/loop-checkpoint.sh", "--print"], code, CEILING_LINE)

    return checkpoint_prompt


def test_an_overflow_runs_the_brain_on_the_header_and_the_order_to_trim(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(project.substrate, "checkpoint_prompt", _failing(3))
    prompts: list[str] = []

    def brain(prompt: str) -> str:
        prompts.append(prompt)
        return DECISION

    engine = project.engine(brain={"harness": "claude"}, brain_fn=brain)
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued" and result.brain_called, result
    header = header_path(project.paths).read_text()
    assert prompts == [
        header.rstrip() + "\n\n" + OVERFLOW_ORDER + "\n\nAnswer now with exactly one ```decision block.\n"
    ]
    assert "ops-wiki/checkpoint.md and ops-wiki/index.md" in OVERFLOW_ORDER
    (event,) = project.events("checkpoint-overflow")
    assert event["error"] == f"loop-checkpoint.sh: {CEILING_LINE} (exit 3)"
    kinds = [e["event"] for e in project.events()]
    assert kinds.index("checkpoint-overflow") < kinds.index("brain-call") < kinds.index("cycle-end")
    assert not project.events("brain-failed")


def test_another_checkpoint_failure_is_still_a_failed_brain_call(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(project.substrate, "checkpoint_prompt", _failing(1))
    called: list[str] = []
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda p: called.append(p) or DECISION)
    result = engine.cycle(approval="manual")
    assert result.outcome == "brain-failed" and called == []
    assert not project.events("checkpoint-overflow")
    (failed,) = project.events("brain-failed")
    assert failed["stage"] == "prompt"
