"""`brain-usage` through the real cycle: a fake `claude` and a fake `codex` on PATH print the JSON their
real CLIs print (`claude -p --output-format json|stream-json`, `codex exec --json`), the registry's own
one-shot templates call them, and each attempt's event carries the tokens and cost they reported."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import Project
from loop_schemas.brain_usage import BrainUsageEvent

FAKE = r"""
import json, os, sys
argv = sys.argv[1:]
name = os.environ["FAKE_CLI_NAME"]
open(os.environ["FAKE_CLI_LOG"], "a").write(json.dumps([name] + argv) + "\n")
mode = os.environ.get("FAKE_CLI", "ok")
decision = ("```decision\nversion: 1\ncritique: costed\nactions:\n  - kind: dispatch\n    lane: web\n"
            "    payload: do the thing\n    rationale: because\n```")
text = "I read the checkpoint; nothing else to say." if mode == "garbage" else decision
if mode == "plain":
    print(text)
    sys.exit(0)
if name == "claude":
    fmt = argv[argv.index("--output-format") + 1] if "--output-format" in argv else "text"
    failed = mode == "error"
    result = {"type": "result", "subtype": "success", "is_error": failed,
              "result": "API Error: 500 stub" if failed else text,
              "total_cost_usd": 0.0123,
              "usage": {"input_tokens": 1200, "cache_creation_input_tokens": 100,
                        "cache_read_input_tokens": 5000, "output_tokens": 345},
              "modelUsage": {"claude-sonnet-4-6": {"inputTokens": 1200, "outputTokens": 345}}}
    if mode == "nocost":
        del result["total_cost_usd"]
    if fmt == "stream-json":
        print(json.dumps({"type": "system", "subtype": "init"}), flush=True)
        for piece in (text[:25], text[25:]):
            print(json.dumps({"type": "stream_event", "event": {"type": "content_block_delta",
                              "delta": {"type": "text_delta", "text": piece}}}), flush=True)
        print(json.dumps(result))
    elif fmt == "json":
        print(json.dumps(result))
    else:
        print(text)
    sys.exit(1 if failed else 0)
if name == "codex":
    if "--json" not in argv:
        print(text)
        sys.exit(0)
    events = [{"type": "thread.started", "thread_id": "t"}, {"type": "turn.started"},
              {"type": "item.completed",
               "item": {"id": "i0", "type": "agent_message", "text": "let me look"}},
              {"type": "turn.completed", "usage": {"input_tokens": 200000, "cached_input_tokens": 150000,
               "cache_write_input_tokens": 0, "output_tokens": 4000, "reasoning_output_tokens": 1000}},
              {"type": "turn.started"},
              {"type": "item.completed", "item": {"id": "i1", "type": "agent_message", "text": text}},
              {"type": "turn.completed", "usage": {"input_tokens": 100000, "cached_input_tokens": 90000,
               "cache_write_input_tokens": 0, "output_tokens": 2000, "reasoning_output_tokens": 0}}]
    for event in events:
        print(json.dumps(event), flush=True)
    sys.exit(0)
print(text)
"""

CODEX_TOKENS = {
    "input_tokens": 300_000,
    "cache_read_input_tokens": 240_000,
    "cache_creation_input_tokens": 0,
    "output_tokens": 6_000,  # 4000 + 2000: the 1000 reasoning tokens are inside the 4000
    "total_tokens": 306_000,
}


@pytest.fixture
def clis(tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`claude`, `codex` and `pi` on PATH (one fake), called through the registry's real templates."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = tmp_path / "fake_cli.py"
    script.write_text(FAKE)
    for name in ("claude", "codex", "pi"):
        exe = bindir / name
        exe.write_text(f'#!/bin/sh\nFAKE_CLI_NAME={name} exec {sys.executable} {script} "$@"\n')
        exe.chmod(0o755)
    log = tmp_path / "cli.log"
    monkeypatch.setenv("FAKE_CLI_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    project.substrate.oneshot.update(
        {"claude": "claude -p {prompt}", "codex": "codex exec {prompt}", "pi": "pi -p {prompt}"}
    )
    return log


def usage_events(project: Project) -> list[dict[str, Any]]:
    found = project.events("brain-usage")
    for event in found:
        BrainUsageEvent.model_validate(event)  # every line is its loop-schemas model
    return found


def tokens(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in CODEX_TOKENS}


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_claude_json_usage_and_cost_come_back_in_the_event_and_the_decision_still_parses(
    project: Project, clis: Path
) -> None:
    engine = project.engine(brain={"harness": "claude"})
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    pending = json.loads(project.paths.pending.read_text())
    assert pending["decision"]["critique"] == "costed"
    assert pending["decision"]["actions"][0]["payload"] == "do the thing"
    assert calls(clis)[0][0] == "claude" and calls(clis)[0][-2:] == ["--output-format", "json"]
    [event] = usage_events(project)
    assert {k: event[k] for k in ("harness", "model", "usage_source", "cost_source", "cost_usd")} == {
        "harness": "claude",
        "model": "claude-sonnet-4-6",
        "usage_source": "claude-json",
        "cost_source": "provider",
        "cost_usd": 0.0123,
    }
    assert (event["attempt"], event["attempt_status"]) == (1, "success")
    assert tokens(event) == {
        "input_tokens": 1_200,
        "cache_read_input_tokens": 5_000,
        "cache_creation_input_tokens": 100,
        "output_tokens": 345,
        "total_tokens": 6_645,
    }
    call = project.events("brain-call")[0]
    assert event["call_id"] == call["call_id"] and event["cycle_id"] == call["cycle_id"]
    kinds = [e["event"] for e in project.events()]
    assert kinds.index("brain-call") < kinds.index("brain-usage") < kinds.index("brain-answered")
    transcript = Path(project.events("brain-answered")[0]["transcript"]).read_text()
    assert "critique: costed" in transcript and '"total_cost_usd"' not in transcript


def test_claude_stream_json_result_event_gives_the_usage(
    project: Project, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = project.engine(brain={"harness": "claude", "stream": True, "model": "sonnet"})
    assert engine.cycle(approval="manual").outcome == "queued"
    argv = calls(clis)[0]
    assert argv.count("--output-format") == 1 and "stream-json" in argv
    [event] = usage_events(project)
    assert (event["usage_source"], event["cost_source"], event["cost_usd"]) == (
        "claude-stream-json",
        "provider",
        0.0123,
    )
    assert event["model"] == "claude-sonnet-4-6"  # what claude reported, over the alias asked for
    assert event["total_tokens"] == 6_645
    # no total_cost_usd: the tokens are known, the cost is not (unpriced, never 0)
    monkeypatch.setenv("FAKE_CLI", "nocost")
    engine.reject(json.loads(project.paths.pending.read_text())["id"], "again")
    project.mail("web", subject="news")
    assert engine.cycle(approval="manual").outcome == "queued"
    last = usage_events(project)[-1]
    assert (last["cost_source"], last["cost_usd"], last["total_tokens"]) == ("unpriced", None, 6_645)


def test_codex_usage_is_summed_over_turns_and_priced_by_codex_pricing(project: Project, clis: Path) -> None:
    pricing = {"input": 1.25, "cached": 0.125, "output": 10.0}
    engine = project.engine(brain={"harness": "codex", "model": "gpt-5.5"}, codex_pricing=pricing)
    assert engine.cycle(approval="manual").outcome == "queued"
    assert json.loads(project.paths.pending.read_text())["decision"]["critique"] == "costed"
    assert calls(clis)[0][:2] == ["codex", "exec"] and calls(clis)[0][-1] == "--json"
    [event] = usage_events(project)
    assert tokens(event) == CODEX_TOKENS
    assert (event["usage_source"], event["cost_source"], event["model"]) == (
        "codex-json",
        "computed",
        "gpt-5.5",
    )
    # 300000 input > 272000: long context. (60000*1.25 + 240000*0.125)*2 + 6000*10*1.5, per 1M tokens
    assert event["cost_usd"] == pytest.approx(0.300, abs=1e-9)


@pytest.mark.parametrize("pricing", [None, {}, {"input": 1.25}])
def test_codex_without_a_rate_is_unpriced_with_its_tokens(
    project: Project, clis: Path, pricing: dict[str, Any] | None
) -> None:
    engine = project.engine(brain={"harness": "codex"}, codex_pricing=pricing)
    assert engine.cycle(approval="manual").outcome == "queued"
    [event] = usage_events(project)
    assert (event["cost_source"], event["cost_usd"], event["model"]) == ("unpriced", None, None)
    assert tokens(event) == CODEX_TOKENS


def test_every_attempt_gets_its_event_a_failed_one_too(
    project: Project, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CLI", "error")
    engine = project.engine(brain={"harness": "claude", "max_retries": 1})
    assert engine.cycle(approval="manual").outcome == "brain-failed"
    events = usage_events(project)
    assert [(e["attempt"], e["attempt_status"], e["cost_usd"]) for e in events] == [
        (1, "failed", 0.0123),
        (2, "failed", 0.0123),
    ]
    # an answer with no decision block was still paid for
    monkeypatch.setenv("FAKE_CLI", "garbage")
    project.mail("web", subject="again")
    assert engine.cycle(approval="manual").outcome == "brain-failed"
    assert [e["failure_class"] for e in project.events("brain-failed")][-1] == "parse"
    last = usage_events(project)[-1]
    assert (last["attempt_status"], last["cost_source"], last["total_tokens"]) == (
        "failed",
        "provider",
        6_645,
    )


def test_output_that_is_not_json_and_other_harnesses_give_unavailable_never_zero(
    project: Project, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CLI", "plain")  # a claude that ignores --output-format: its text still decides
    engine = project.engine(brain={"harness": "claude", "model": "opus"})
    assert engine.cycle(approval="manual").outcome == "queued"
    [event] = usage_events(project)
    assert (event["usage_source"], event["cost_source"], event["cost_usd"]) == ("none", "unavailable", None)
    assert event["model"] == "opus" and set(tokens(event).values()) == {None}
    engine.reject(json.loads(project.paths.pending.read_text())["id"], "again")
    monkeypatch.setenv("FAKE_CLI", "ok")
    pi = project.engine(brain={"harness": "pi"})
    project.mail("web", subject="news")
    assert pi.cycle(approval="manual").outcome == "queued"
    assert calls(clis)[-1] == ["pi", "-p", calls(clis)[-1][2]]  # nothing added to another harness's argv
    event = usage_events(project)[-1]
    assert (event["harness"], event["cost_source"], event["total_tokens"]) == ("pi", "unavailable", None)


def test_the_builtin_brain_costs_a_known_zero_and_an_in_process_brain_is_unavailable(
    project: Project,
) -> None:
    project.task("T0001", "a")
    project.substrate.set("docs", "idle", "pi", True)  # no lane works: a stop is obeyed, not suspected
    engine = project.engine()
    assert engine.cycle(approval="manual").outcome == "queued"
    engine.reject(json.loads(project.paths.pending.read_text())["id"], "again")
    [event] = usage_events(project)
    assert (event["harness"], event["usage_source"], event["cost_source"], event["cost_usd"]) == (
        "builtin",
        "builtin",
        "computed",
        0.0,
    )
    assert set(tokens(event).values()) == {0}
    block = "```decision\nversion: 1\ncritique: x\nactions:\n  - kind: stop\n    rationale: y\n```"
    project.mail("web", subject="news")
    assert project.engine(brain_fn=lambda _p: block).cycle(approval="manual").outcome == "noop"
    event = usage_events(project)[-1]
    assert (event["harness"], event["cost_source"], event["total_tokens"]) == ("fn", "unavailable", None)


def test_a_negative_or_non_numeric_rate_is_refused_with_one_line(project: Project) -> None:
    from click.testing import CliRunner
    from loop_engine.cli import main

    def config(text: str) -> Any:
        (project.root / "lane-config.yaml").write_text(text)
        return CliRunner().invoke(
            main, ["--project-root", str(project.root), "--session", "s", "config", "--json"]
        )

    for bad in ("{input: -1.25, output: 10}", "{input: 1, output: 10, cached: -0.1}", "{output: lots}"):
        out = config(f"engine:\n  codex_pricing: {bad}\n")
        assert out.exit_code == 1 and "Traceback" not in out.output, out.output
        assert len(out.output.strip().splitlines()) == 1 and "codex_pricing" in out.output, out.output
    out = config("engine:\n  codex_pricing: {input: 1.25, output: 10}\n")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert json.dumps(shown).count('"long_context_threshold": 272000') == 1
