"""Headless ingest (CONTRACT "loop-engine", Engine resilience): its own harness (`ingest.harness`, "" = the
brain's), the harness's auto-approve flag (`ingest.auto_approve`), its own timeout (`ingest.timeout_s`);
and poison mail: a failed or timed-out headless ingest moves the oldest pending message still there to
.loop/messages/failed/<name> beside <name>.ingest-failed.txt, event `ingest-quarantined {file, reason}`,
one message per failure, never deleted, and the cycle goes on."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import Project
from loop_engine.observe import pending_mail
from loop_schemas import Harness

# a one-shot CLI on PATH: logs its argv, then does what INGEST_CLI says
CLI = """#!{python}
import json, os, sys, time
open(os.environ["INGEST_CLI_LOG"], "a").write(json.dumps(sys.argv[1:]) + "\\n")
mode = os.environ.get("INGEST_CLI", "exit")
if mode == "exit":
    print("ingest blew up on a message", file=sys.stderr)
    sys.exit(4)
if mode == "sleep":
    time.sleep(60)
if mode == "quota":
    print("Claude AI usage limit reached|4102444800", file=sys.stderr)
    sys.exit(1)
print("ingested")
"""

STOP = (
    "```decision\nversion: 1\ncritique: quiet\nactions:\n  - kind: stop\n    rationale: nothing to do\n```\n"
)
NOTE_RE = re.compile(r"^\d{8}T\d{6}Z ingest quarantined: (.+)\n$")


@pytest.fixture
def cli(tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`ingestor` on PATH as the one-shot CLI of harness codex (auto-approve flag `--yolo`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ingestor"
    script.write_text(CLI.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "cli.log"
    monkeypatch.setenv("INGEST_CLI_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    project.substrate.oneshot["codex"] = "ingestor exec {prompt}"
    real = project.substrate.registry

    def registry() -> list[Harness]:
        return [
            h.model_copy(update={"auto_approve_flag": "--yolo"}) if h.name == "codex" else h for h in real()
        ]

    monkeypatch.setattr(project.substrate, "registry", registry)
    return log


def _engine(project: Project, **ingest: Any) -> Any:
    # no lane works: the brain's stop is obeyed (the defensive stop re-probes a working lane)
    project.substrate.set("docs", "idle", "pi", True)
    return project.engine(
        brain={"harness": "claude", "model": "brain-model"},
        ingest={"mode": "headless", "harness": "codex", **ingest},
        brain_fn=lambda _prompt: STOP,
    )


def _failed(project: Project) -> Path:
    return project.root / ".loop" / "messages" / "failed"


def _pending(project: Project) -> list[str]:
    return [m.name for m in pending_mail(project.root / ".loop" / "messages")]


def test_a_failing_headless_ingest_quarantines_the_oldest_message_and_the_cycle_goes_on(
    project: Project, cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CLI", "exit")
    poison = project.mail("web", subject="poison", stamp="20260101-000001")
    body = poison.read_bytes()
    newer = project.mail("infra", subject="fine", stamp="20260101-000002")
    engine = _engine(project)
    result = engine.cycle(approval="manual")
    assert result.outcome == "noop" and result.brain_called  # the cycle went on to its brain
    # the ingest ran the ingest harness's CLI, with its auto-approve flag and without the brain's model
    (argv,) = [json.loads(line) for line in cli.read_text().splitlines()]
    assert argv[0] == "exec" and "--yolo" in argv and "brain-model" not in argv
    moved = _failed(project) / poison.name
    assert moved.read_bytes() == body and not poison.exists()
    note = (_failed(project) / f"{poison.name}.ingest-failed.txt").read_text()
    m = NOTE_RE.match(note)
    assert m, note
    assert m.group(1).startswith("exit: ")
    (event,) = project.events("ingest-quarantined")
    assert event["file"] == poison.name and event["reason"] == m.group(1)
    assert _pending(project) == [newer.name]  # one message per failure
    # the next cycle hands the rest to ingest again; a second failure quarantines the next one
    engine.cycle(approval="manual")
    assert sorted(p.name for p in _failed(project).iterdir()) == sorted(
        [poison.name, f"{poison.name}.ingest-failed.txt", newer.name, f"{newer.name}.ingest-failed.txt"]
    )
    assert _pending(project) == []
    assert len(project.events("ingest-quarantined")) == 2


def test_a_timed_out_headless_ingest_quarantines_with_its_own_timeout(
    project: Project, cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CLI", "sleep")
    poison = project.mail("web", subject="slow poison")
    engine = _engine(project, timeout_s=1)
    result = engine.cycle(approval="manual")
    assert result.outcome == "noop"
    note = (_failed(project) / f"{poison.name}.ingest-failed.txt").read_text()
    m = NOTE_RE.match(note)
    assert m and m.group(1).startswith("timeout: "), note
    assert (_failed(project) / poison.name).is_file() and _pending(project) == []
    (failed,) = project.events("ingest-failed")
    assert failed["failure_class"] == "timeout"


def test_a_quota_failure_quarantines_nothing_and_a_success_nothing(
    project: Project, cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CLI", "quota")
    mail = project.mail("web", subject="innocent")
    _engine(project).cycle(approval="manual")
    assert [e["failure_class"] for e in project.events("ingest-failed")] == ["quota"]
    assert not _failed(project).exists() and _pending(project) == [mail.name]
    monkeypatch.setenv("INGEST_CLI", "ok")
    project.mail("infra", subject="another")
    _engine(project).cycle(approval="manual")
    assert len(project.events("ingest-headless-done")) == 1
    assert not _failed(project).exists() and not project.events("ingest-quarantined")


def test_auto_approve_off_and_the_brains_harness_by_default(
    project: Project, cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CLI", "ok")
    project.mail("web", subject="one")
    _engine(project, auto_approve=False).cycle(approval="manual")
    (argv,) = [json.loads(line) for line in cli.read_text().splitlines()]
    assert "--yolo" not in argv
    # ingest.harness "" is the brain's harness (claude has no one-shot here: the ingest fails on it)
    project.mail("infra", subject="two")
    _engine(project, harness="").cycle(approval="manual")
    assert len(cli.read_text().splitlines()) == 1
    (failed,) = project.events("ingest-failed")
    assert "'claude'" in failed["error"]


def test_the_boot_check_reads_the_ingest_harness_key(project: Project) -> None:
    # regression: the boot check looked for `ingest.harness` among unknown keys, where a declared key never is
    from loop_engine.policy import boot_problems
    from loop_schemas import EngineConfig

    cfg = EngineConfig.model_validate(
        {"brain": {"harness": "claude"}, "ingest": {"mode": "headless", "harness": "shell"}}
    )
    problems = boot_problems(cfg, project.substrate.registry(), environ={})
    assert "the headless ingest harness 'shell' has no oneshot_template in the registry" in problems
