"""A real claude and a real codex as the engine's brain, against the stub model: one cycle each through
the real substrate, and the token counts the stub reported come back in the `brain-usage` event (claude's
`--output-format json` and stream-json `result`, codex's `exec --json` turn usage priced by
`engine.codex_pricing`), while the decision block is still read from the JSON output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_engine.events import EventLog
from loop_engine.paths import EnginePaths
from loop_schemas import EngineConfig
from loop_schemas.brain_usage import BrainUsageEvent
from loop_substrate import Substrate
from real_agents import RealSession, need_cli

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

DECISION = (
    "```decision\nversion: 1\ncritique: priced\nactions:\n  - kind: stop\n    rationale: nothing to do\n```"
)


def loop_project(real: RealSession) -> Path:
    """The real session's project as a loop project in a git repository (codex exec needs one)."""
    root = real.project
    (root / ".loop" / "messages" / "processed").mkdir(parents=True, exist_ok=True)
    (root / "ops-wiki").mkdir(exist_ok=True)
    (root / "ops-wiki" / "checkpoint.md").write_text(
        "# Checkpoint\n\nall quiet\n\n<!-- coord-decisions -->\n"
    )
    (root / "tasks" / "archive").mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
    return root


def one_cycle(
    real: RealSession, monkeypatch: pytest.MonkeyPatch, **config: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for key, value in real.env.items():
        monkeypatch.setenv(key, value)
    root = loop_project(real)
    paths = EnginePaths(root, real.session)
    engine = Engine(
        paths,
        Substrate(real.session, root, socket=real.socket),
        EffectiveConfig(model=EngineConfig.model_validate(config), source=None),
        brain_env=dict(real.env),
    )
    result = engine.cycle(approval="manual")
    events = list(EventLog(paths.events, real.session).read())
    usage = [e for e in events if e["event"] == "brain-usage"]
    assert result.outcome == "noop", (result, [e for e in events if e["event"] == "brain-failed"])
    assert "decision-noop" in [e["event"] for e in events], [e["event"] for e in events]
    assert len(usage) == 1, usage
    BrainUsageEvent.model_validate(usage[0])
    return usage[0], events


def tokens(event: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        event[k]
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "total_tokens",
        )
    )


@pytest.mark.parametrize("stream", [False, True])
def test_a_real_claude_brain_reports_the_stubs_usage(
    real: RealSession, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    need_cli("claude")
    real.stub.answer = DECISION
    real.stub.usage = {"input": 1_234, "cached": 2_000, "cache_creation": 300, "output": 456, "reasoning": 0}
    event, _ = one_cycle(real, monkeypatch, brain={"harness": "claude", "stream": stream, "timeout_s": 120})
    answered = [r for r in real.stub.main_requests() if not r["tool_result"]]
    assert len(answered) == 1, [r["user_texts"][-1][:80] for r in answered]  # one model call: exact counts
    assert (event["harness"], event["attempt"], event["attempt_status"]) == ("claude", 1, "success")
    assert event["usage_source"] == ("claude-stream-json" if stream else "claude-json")
    assert tokens(event) == (1_234, 300, 2_000, 456, 3_990)
    # claude prices the tokens itself: a cost from the provider
    assert (
        event["cost_source"] == "provider" and isinstance(event["cost_usd"], float) and event["cost_usd"] > 0
    )
    assert isinstance(event["model"], str) and event["model"]


def test_a_real_codex_brain_reports_the_stubs_usage_priced_by_codex_pricing(
    real: RealSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_cli("codex")
    real.stub.answer = DECISION
    real.stub.usage = {"input": 1_000, "cached": 3_000, "cache_creation": 0, "output": 200, "reasoning": 50}
    pricing = {"input": 2.0, "cached": 0.5, "output": 8.0}
    event, events = one_cycle(
        real, monkeypatch, brain={"harness": "codex", "timeout_s": 120}, codex_pricing=pricing
    )
    responses = [r for r in real.stub.main_requests() if r["api"] == "responses"]
    assert len(responses) == 1
    assert (event["harness"], event["usage_source"], event["cost_source"]) == (
        "codex",
        "codex-json",
        "computed",
    )
    # the stub (Responses API) said input 4000 of which 3000 cached, output 250 of which 50 reasoning;
    # codex passes them on as input_tokens 4000 / cached_input_tokens 3000 / output_tokens 250 /
    # reasoning_output_tokens 50: the 50 are inside the 250, so the event counts 250 once (the original
    # adds them again; CONTRACT "Brain usage and cost" says why we do not)
    assert event["input_tokens"] == 4_000 and event["cache_read_input_tokens"] == 3_000
    assert event["output_tokens"] == 250 and event["total_tokens"] == 4_250
    # (4000 - 3000)*2.0 + 3000*0.5 + 250*8.0, per 1M tokens
    assert event["cost_usd"] == pytest.approx(0.0055, abs=1e-12)
    answered = next(e for e in events if e["event"] == "brain-answered")
    transcript = Path(answered["transcript"]).read_text()
    assert "critique: priced" in transcript and '"turn.completed"' not in transcript
    assert json.dumps(event)  # the event is plain JSON
