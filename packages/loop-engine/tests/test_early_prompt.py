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


# `once` as `python -m loop_engine` runs it, with Substrate.start_checkpoint watched: each call records
# whether the cycle code was loaded yet (the answer is then the real one)
ONCE = (
    "import json, runpy, sys\n"
    "from loop_substrate import client\n"
    "record = sys.argv.pop(1)\n"
    "real = client.Substrate.start_checkpoint\n"
    "calls = []\n"
    "def watched(self, header_file=None):\n"
    "    calls.append({'cycle_loaded': 'loop_engine.cycle' in sys.modules, 'header': str(header_file)})\n"
    "    with open(record, 'w') as out:\n"
    "        json.dump(calls, out)\n"
    "    return real(self, header_file)\n"
    "client.Substrate.start_checkpoint = watched\n"
    "sys.argv[0] = 'loop-engine'\n"
    "runpy.run_module('loop_engine', run_name='__main__', alter_sys=True)\n"
)


def _once_starts(root: Path, tmp: Path) -> list[dict[str, Any]]:
    """The start_checkpoint calls of one `loop-engine once` (no tmux server: it stops at require_session)."""
    import json
    import sys

    record = tmp / "starts.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX"))}
    env["LOOP_TMUX_SOCKET"] = str(tmp / "no-server")
    proc = subprocess.run(
        [sys.executable, "-c", ONCE, str(record), "--project-root", str(root), "--session", "s", "once"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return list(json.loads(record.read_text())) if record.exists() else []


@pytest.mark.parametrize("brain", ["claude", "builtin"])
def test_once_starts_the_prompt_before_the_cycle_code_loads(tmp_path: Path, brain: str) -> None:
    """`once` starts loop-checkpoint as soon as its config says the brain is a harness: it runs while the
    cycle code loads, not after (the builtin brain needs no prompt: nothing starts)."""
    root = tmp_path / "proj"
    (root / ".loop" / "messages").mkdir(parents=True)
    (root / "lane-config.yaml").write_text(f"engine:\n  brain: {{harness: {brain}}}\n")
    starts = _once_starts(root, tmp_path)
    if brain == "builtin":
        assert starts == []
    else:
        assert [s["cycle_loaded"] for s in starts] == [False]
        assert starts[0]["header"].endswith("header.md")


def test_once_starts_no_prompt_while_a_decision_is_pending(project: Project, tmp_path: Path) -> None:
    (project.root / "lane-config.yaml").write_text("engine:\n  brain: {harness: claude}\n")
    project.paths.pending.parent.mkdir(parents=True, exist_ok=True)
    project.paths.pending.write_text("{}\n")
    assert _once_starts(project.root, tmp_path) == []


def test_the_packaged_header_is_the_package_resource(project: Project) -> None:
    """header_path names the packaged header by the module's own folder (no importlib.resources readers on
    the early path): the same file the package's resources hold; a project's own header wins."""
    from importlib import resources

    from loop_engine.early import header_path

    packaged = header_path(project.paths)
    assert packaged == Path(str(resources.files("loop_engine").joinpath("header.md")))
    assert packaged.is_file()
    project.paths.header_override.write_text("# My header\n")
    assert header_path(project.paths) == project.paths.header_override
