"""Model outages: the failure_kind classifier, the brain-only back-off through real cycles with a failing
stub brain, and the human-approved re-pin to a harness's declared model_failover."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import Project
from loop_engine.brain import failure_kind, stderr_excerpt
from loop_engine.events import parse_iso, utcnow
from loop_schemas import Harness, ModelPins, action_views
from loop_schemas.policy import policy_events

STUB = r"""
import json, os, sys
mode = os.environ.get("STUB_BRAIN", "ok")
open(os.environ["STUB_BRAIN_LOG"], "a").write(json.dumps(sys.argv[1:]) + "\n")
if mode == "ok":
    print("```decision\nversion: 1\ncritique: fine\nactions:\n  - kind: stop\n    rationale: quiet\n```")
elif mode == "unavailable":
    print("working on it")
    print("Error: the model opus-a is currently unavailable\nplease retry later", file=sys.stderr)
    sys.exit(1)
elif mode == "quota":
    print("5-hour limit reached - resets 3pm", file=sys.stderr)
    sys.exit(1)
elif mode == "repin":
    print("```decision\nversion: 1\ncritique: c\nactions:\n  - kind: repin_model\n    harness: claude\n"
          "    model: opus-z\n    rationale: r\n```")
"""


@pytest.mark.parametrize(
    ("stdout", "stderr", "timed_out", "kind"),
    [
        ("", "Error: the model claude-opus-4-8 is unavailable", False, "model-unavailable"),
        ("", "unavailable right now: the model you asked for", False, "model-unavailable"),
        ("", "MODEL x UNAVAILABLE", False, "model-unavailable"),
        ("", "model " + "x" * 70 + " unavailable", False, "exit"),  # more than 60 characters apart
        ("Model gpt-9 is not available in your region", "", False, "model-unavailable"),  # stdout counts
        ("", "the model foo-1 is no longer available", False, "model-unavailable"),
        ("", "service currently unavailable", False, "model-unavailable"),
        ("", "API temporarily unavailable (503)", False, "model-unavailable"),
        ("", "usage limit reached; model opus unavailable", False, "model-unavailable"),  # before quota
        ("", "Claude usage limit reached|4102444800", False, "quota"),
        ("Claude usage limit reached", "", False, "exit"),  # quota is read on stderr only
        ("", "rate limit hit", True, "quota"),  # quota before timeout
        ("still thinking", "", True, "timeout"),
        ("temporarily unavailable", "", True, "model-unavailable"),  # before timeout
        ("", "segfault", False, "exit"),
    ],
)
def test_failure_kind(stdout: str, stderr: str, timed_out: bool, kind: str) -> None:
    assert failure_kind(stdout, stderr, timed_out=timed_out) == kind


def test_stderr_excerpt_is_the_last_280_characters_on_one_line() -> None:
    text = "first line\n" + "y" * 400 + "\n\tlast  words\n"
    excerpt = stderr_excerpt(text)
    assert len(excerpt) == 280 and "\n" not in excerpt and excerpt.endswith("y last words")


@pytest.fixture
def stub(tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "stub_brain.py"
    script.write_text(STUB)
    log = tmp_path / "brain.log"
    monkeypatch.setenv("STUB_BRAIN_LOG", str(log))
    project.substrate.oneshot["claude"] = f"{sys.executable} {script} -p {{prompt}}"
    return log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _expire(project: Project) -> None:
    data = json.loads(project.paths.backoff.read_text())
    data["until"] = "2000-01-01T00:00:00Z"
    project.paths.backoff.write_text(json.dumps(data))


def _names(project: Project, since: int) -> list[str]:
    return [e["event"] for e in project.events()][since:]


def test_model_unavailable_backs_off_only_the_brain(
    project: Project, stub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_BRAIN", "unavailable")
    engine = project.engine(brain={"harness": "claude", "model": "opus-a", "max_retries": 3})
    first = engine.cycle(approval="manual")
    assert first.outcome == "brain-failed" and len(_calls(stub)) == 1  # no retry into an outage
    names = _names(project, 0)
    i = names.index("brain-failed")
    assert names[i : i + 3] == ["brain-failed", "model-unavailable-backoff-set", "cycle-end"]
    failed = project.events("brain-failed")[0]
    assert failed["failure_class"] == failed["failure_kind"] == "model-unavailable"
    assert failed["stderr_excerpt"] == "Error: the model opus-a is currently unavailable please retry later"
    held = project.events("model-unavailable-backoff-set")[0]
    assert held["harness"] == "claude" and held["model"] == "opus-a" and held["model_failover"] is None
    left = parse_iso(held["deadline"]) - utcnow()
    assert timedelta(minutes=59) < left <= timedelta(minutes=60)  # brain.quota_backoff_minutes

    mark = len(project.events())
    project.mail("web", subject="news")
    second = engine.cycle(approval="manual")
    assert second.outcome == "skipped" and "model is unavailable" in second.detail
    assert len(_calls(stub)) == 1
    names = _names(project, mark)
    assert names[:3] == ["cycle-start", "observed", "cycle-skip"] and "brain-call" not in names
    assert project.events("observed")[-1]["pending_mail"] == 1  # observation went on
    skip = project.events("cycle-skip")[0]
    assert skip["reason"] == "model-unavailable-backoff" and skip["deadline"] == held["deadline"]

    _expire(project)
    monkeypatch.setenv("STUB_BRAIN", "ok")
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    mark = len(project.events())
    assert engine.cycle(approval="manual").outcome == "noop"
    names = _names(project, mark)
    assert names.index("model-unavailable-backoff-cleared") < names.index("brain-call")
    assert project.events("model-unavailable-backoff-cleared")[0]["reason"] == "expired"
    assert not project.paths.backoff.exists()
    models = policy_events()  # every line of these events is its loop-schemas model
    checked = [models[e["event"]].model_validate(e) for e in project.events() if e["event"] in models]
    assert len(checked) == 4


def test_quota_sets_its_own_backoff_with_the_resets_hint(
    project: Project, stub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_BRAIN", "quota")
    engine = project.engine(brain={"harness": "claude"})
    assert engine.cycle(approval="manual").outcome == "brain-failed"
    held = project.events("quota-backoff-set")[0]
    assert held["resets"] == "3pm" and held["harness"] == "claude"
    project.mail("web", subject="news")
    assert engine.cycle(approval="manual").outcome == "skipped"
    assert project.events("cycle-skip")[0]["reason"] == "quota-backoff"


def _with_failover(project: Project, monkeypatch: pytest.MonkeyPatch, failover: str) -> None:
    plain = project.substrate.registry

    def registry() -> list[Harness]:
        out = []
        for h in plain():
            data: dict[str, Any] = h.model_dump()
            if h.name == "claude":
                data["model_failover"] = failover
            out.append(Harness.model_validate(data))
        return out

    monkeypatch.setattr(project.substrate, "registry", registry)


def test_a_declared_failover_is_proposed_as_a_repin_a_human_approves_then_in_effect(
    project: Project, stub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_failover(project, monkeypatch, "opus-b")
    monkeypatch.setenv("STUB_BRAIN", "unavailable")
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    engine = project.engine(brain={"harness": "claude", "model": "opus-a"})
    assert engine.cycle(approval="full").outcome == "brain-failed"
    assert project.events("model-unavailable-backoff-set")[0]["model_failover"] == "opus-b"
    pending = json.loads(project.paths.pending.read_text())
    action = pending["decision"]["actions"][0]
    assert {k: action[k] for k in ("kind", "harness", "model", "from_model")} == {
        "kind": "repin_model",
        "harness": "claude",
        "model": "opus-b",
        "from_model": "opus-a",
    }
    assert pending["gates"][0]["gate_class"] == "destructive" and pending["gates"][0]["state"] == "queued"
    assert [e["kind"] for e in project.events("proposal-queued")] == ["repin_model"]
    view = action_views(pending)[0]
    assert view.kind == "repin_model" and view.preview == ["re-pin harness claude: opus-a -> opus-b"]
    assert not (project.paths.engine_dir / "model-pins.json").exists()  # nothing until a human approves

    engine.approve(pending["id"])
    pins = ModelPins.model_validate_json((project.paths.engine_dir / "model-pins.json").read_text())
    pin = pins.pins["claude"]
    assert (pin.model, pin.from_model, pin.decision_id, pin.approved_by) == (
        "opus-b",
        "opus-a",
        pending["id"],
        "human",
    )

    monkeypatch.setenv("STUB_BRAIN", "ok")
    mark = len(project.events())
    assert engine.cycle(approval="manual").outcome == "noop"  # the back-off held opus-a, not opus-b
    cleared = [e for e in project.events()[mark:] if e["event"] == "model-unavailable-backoff-cleared"]
    assert len(cleared) == 1 and "opus-b" in cleared[0]["reason"]
    assert _calls(stub)[-1][-4:] == ["--model", "opus-b", "--output-format", "json"]


def test_a_repin_the_brain_asks_for_never_runs_in_a_cycle(
    project: Project, stub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_BRAIN", "repin")
    engine = project.engine(brain={"harness": "claude"})
    result = engine.cycle(approval="full")
    assert result.outcome == "queued" and result.actions[0]["gate_class"] == "destructive"
    assert not (project.paths.engine_dir / "model-pins.json").exists()
