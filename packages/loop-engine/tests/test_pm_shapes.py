"""engine.pm.adapters in both shapes the original writes (bare names, `{name: ...}` mappings) and the
`pm-skip` event for an adapter loop-pm does not list (CONTRACT "The engine configuration")."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from loop_engine import pm
from loop_engine.basics import pm_adapters
from loop_engine.config import EffectiveConfig
from loop_engine.events import EventLog
from loop_schemas import EngineConfig

FAKE_PM = """#!/usr/bin/env python3
import json, sys
with open({log!r}, "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:] == ["list-adapters", "--json"]:
    print("an adapter said hello while it was imported")
    print(json.dumps({{"contract_version": 1, "adapters": [{{"name": "jira", "available": True}}]}}))
"""


def test_adapter_names_from_both_shapes() -> None:
    cfg = EngineConfig.model_validate(
        {
            "pm": {
                "adapters": [
                    "jira",
                    {"name": "jira", "project": "X"},
                    {"url": "nameless"},
                    {"name": "linear"},
                ]
            }
        }
    )
    assert pm_adapters(EffectiveConfig(model=cfg)) == ["jira", "linear"]
    assert cfg.unknown_keys() == []  # a mapping's other keys are ignored, not warned about


@pytest.fixture
def fake_loop_pm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    exe = bindir / "loop-pm"
    exe.write_text(FAKE_PM.format(log=str(log)))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setattr(pm, "_INSTALLED", {})
    return log


def test_unknown_adapter_is_skipped_with_an_event(tmp_path: Path, fake_loop_pm: Path) -> None:
    events = EventLog(tmp_path / "events.jsonl", "s1")
    cfg = EngineConfig.model_validate({"pm": {"adapters": [{"name": "jira"}, "linear", {"name": "no such"}]}})
    pm.sync(pm_adapters(EffectiveConfig(model=cfg)), "pull", events=events, cwd=str(tmp_path))
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    got = [(e["event"], e["adapter"], e.get("reason")) for e in lines]
    assert got == [
        ("pm-synced", "jira", None),
        ("pm-skip", "linear", "unknown-adapter"),
        ("pm-skip", "no such", "unknown-adapter"),
    ]
    calls = fake_loop_pm.read_text().splitlines()
    assert calls == ["list-adapters --json", "sync --adapter jira pull"]
    # the listing is asked again only while a configured name is missing from it
    pm.sync(["jira"], "push", events=events, cwd=str(tmp_path))
    assert fake_loop_pm.read_text().splitlines()[2:] == ["sync --adapter jira push"]


def test_quarantined_mail_is_not_pending_for_observe(tmp_path: Path) -> None:
    from loop_engine.observe import pending_mail

    box = tmp_path / "messages"
    (box / "failed").mkdir(parents=True)
    (box / "20260415-112233-web-to-coord.md").write_text("---\nsubject: live\n---\n")
    (box / "failed" / "20260415-112200-api-to-coord.md").write_text("---\nsubject: poison\n---\n")
    (box / "failed" / "20260415-112200-api-to-coord.md.ingest-failed.txt").write_text(
        "x ingest quarantined: t\n"
    )
    assert [m.subject for m in pending_mail(box)] == ["live"]
