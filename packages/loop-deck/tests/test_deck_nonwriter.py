"""The whole path for real: loop_substrate.Substrate running the CLIs (loop-substrate's recorders stand in
for the bash scripts), the real runner, a `loop-engine` on PATH. Proves the argv that reached each CLI,
and that a session of every action leaves the project tree exactly as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from deck_fakes import NOW, PENDING, SESSION, settle, write_fake_engine, write_pending_decision
from loop_deck.app import DeckApp, make_app
from loop_deck.widgets import KeyedTable
from loop_substrate.testing import FakeSubstrate
from textual.widgets import Input, TextArea

pytestmark = pytest.mark.anyio

LANES = {
    "contract_version": 1,
    "session": SESSION,
    "generated_at": "2026-11-24T10:00:00Z",
    "lanes": {
        "coord": {"status": "idle", "target": "%0", "kind": "fixed"},
        "web": {"status": "working", "target": "%1", "kind": "fixed", "harness": "claude"},
        "w2": {"status": "idle", "target": "%5", "kind": "dynamic", "harness": "pi"},
    },
}
LIST = {
    "contract_version": 1,
    "session": SESSION,
    "generated_at": "2026-11-24T10:00:00Z",
    "lanes": [
        {
            "window": "coord",
            "harness": None,
            "model": None,
            "role": None,
            "cmd": None,
            "base": True,
            "kind": "standing",
        },
        {
            "window": "web",
            "harness": "claude",
            "model": None,
            "role": "impl",
            "cmd": None,
            "base": True,
            "kind": "standing",
        },
        {
            "window": "w2",
            "harness": "pi",
            "model": None,
            "role": "helper",
            "cmd": None,
            "base": False,
            "kind": "worker",
        },
    ],
}


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


@pytest.fixture
def wired(fake_substrate: FakeSubstrate, project: Path, tmp_path: Path) -> tuple[FakeSubstrate, DeckApp]:
    fake_substrate.respond("loop-lane-status", LANES)
    fake_substrate.respond("loop-tmux", LIST)
    fake_substrate.respond("loop-dispatch", "", stderr="")
    fake_substrate.respond("loop-engine", "approved d-20261124-0001: 3 action(s) run, 0 failed\n")
    write_fake_engine(fake_substrate.bin, fake_substrate.root)
    write_pending_decision(project)
    app = make_app(
        project,
        SESSION,
        socket=str(tmp_path / "no-such-tmux-socket"),
        auto_refresh=False,
        clock=lambda: NOW,
        self_pane=None,
    )
    return fake_substrate, app


async def test_every_action_reaches_its_cli_with_the_exact_argv(
    wired: tuple[FakeSubstrate, DeckApp], project: Path
) -> None:
    fake, app = wired
    root = str(project)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        fleet = app.query_one("#fleet", KeyedTable)
        assert fleet.keys == ["coord", "web", "w2"]
        assert fleet.row("w2")[:2] == ["w2", "idle"] and fleet.row("w2")[4:] == ["pi", "helper"]
        assert fake.calls("loop-lane-status")[0]["args"] == ["--json", "--all", SESSION]
        assert fake.calls("loop-tmux")[0]["args"] == ["list-lanes", "--session", SESSION, "--json"]
        pending = project / ".loop" / "sessions" / SESSION / "engine" / "pending-decision.json"
        digest = hashlib.sha256(pending.read_bytes()).hexdigest()
        await pilot.press("y", "y")
        await settle(app, pilot)
        await pilot.press("N", *"later", "enter")
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        engine = [c["args"] for c in fake.calls("loop-engine")]
        prefix = ["--project-root", root, "--session", SESSION]
        assert engine == [
            [*prefix, "approve", PENDING["id"], "--expect-digest", digest],
            [*prefix, "reject", PENDING["id"], "--reason", "later"],
            [*prefix, "pause"],
        ]
        fleet.focus()
        fleet.move_cursor(row=2)
        await pilot.press("d")
        app.screen.query_one("#text", TextArea).insert("line 1\n'quoted' $(not run)")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        sent = fake.calls("loop-dispatch")[-1]
        assert sent["args"] == ["--session", SESSION, "--mode", "text", "w2", "-"]
        assert sent["stdin"] == "line 1\n'quoted' $(not run)"
        await pilot.press("x", "y")
        await settle(app, pilot)
        assert [c["args"] for c in fake.calls("loop-tmux")][-2:] == [
            ["drop-lane", "--session", SESSION, "--window", "w2"],
            ["list-lanes", "--session", SESSION, "--json"],
        ]
        await pilot.press("n")
        app.screen.query_one("#window", Input).value = "probe"
        app.screen.query_one("#cmd", Input).value = "scripts/probe.sh --every 5"
        app.screen.query_one("#window", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert fake.calls("loop-tmux")[-2]["args"] == [
            "add-lane",
            "--session",
            SESSION,
            "--window",
            "probe",
            "--cmd",
            "scripts/probe.sh --every 5",
        ]
        assert "ok: " in str(app.query_one("#cmdlog").render())


async def test_the_deck_writes_no_file_of_the_project(
    wired: tuple[FakeSubstrate, DeckApp], project: Path
) -> None:
    fake, app = wired
    (project / "ops-wiki").mkdir()
    (project / "ops-wiki" / "log.md").write_text("# log\n")
    before = tree(project)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        fleet = app.query_one("#fleet", KeyedTable)
        fleet.focus()
        fleet.move_cursor(row=1)
        keys = ["y", "y", "N", "enter", "p", "c", "y", "g", "s"]
        await pilot.press(*keys)
        app.screen.query_one("#text", TextArea).insert("steer text")
        await pilot.press("ctrl+s", "d")
        app.screen.query_one("#text", TextArea).insert("dispatch text")
        await pilot.press("ctrl+s", "x", *"web", "enter", "r")
        adrs = app.query_one("#adr-table", KeyedTable)
        adrs.move_cursor(row=adrs.keys.index("2"))
        await pilot.press(
            "a", *"accept 2", "enter", "m", "enter", "escape", "b", "l", "o", "question_mark", "escape"
        )
        await settle(app, pilot)
        for _ in range(3):
            app.refresh_now()
            await settle(app, pilot)
        ran = {c["cli"] for c in fake.calls()}
        assert {"loop-engine", "loop-dispatch", "loop-tmux", "loop-adr", "loop-lane-status"} <= ran
        pending = project / ".loop" / "sessions" / SESSION / "engine" / "pending-decision.json"
        assert [c.argv[-1] for c in app.commands_run] == [
            hashlib.sha256(pending.read_bytes()).hexdigest(),  # approve ID --expect-digest SHA256
            PENDING["id"],
            "pause",
            "once",
            "%1",
            "-",
            "-",
            "--force",
            "--yes",
        ]
    assert tree(project) == before
    assert not (project / ".loop" / "sessions" / SESSION / "deck-crash.log").exists()


async def test_task_verdicts_run_loop_task_and_the_deck_writes_nothing(
    wired: tuple[FakeSubstrate, DeckApp], project: Path
) -> None:
    # loop-task is the human's CLI for done / reopen / drop: the deck runs it (here the recorder stands in
    # for shell/loop-task.sh), shows the command, and leaves every file as it was
    import shlex
    import sys

    from deck_fakes import write_task

    fake, app = wired
    script = fake.shell / "loop-task.sh"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f"exec {shlex.quote(sys.executable)} {shlex.quote(str(fake.root / 'recorder.py'))} "
        f'{shlex.quote(str(fake.root))} loop-task "$@"\n'
    )
    script.chmod(0o755)
    fake.respond("loop-task", "T0001: review -> done (tasks/archive/T0001-a-task.md)\n")
    write_task(project, "T0001", "review")
    write_task(project, "T0002", "dropped", "old idea", archived=True)
    before = tree(project)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("t", "D", "y")
        await settle(app, pilot)
        tasks = app.query_one("#tasks-table", KeyedTable)
        tasks.focus()
        tasks.move_cursor(row=tasks.keys.index("T0002"))
        await pilot.pause()
        await pilot.press("O", "y")
        await settle(app, pilot)
        assert [c["args"] for c in fake.calls("loop-task")] == [
            ["--project-root", str(project), "done", "T0001"],
            ["--project-root", str(project), "reopen", "T0002"],
        ]
        cmdlog = str(app.query_one("#cmdlog").render())
        assert f"$ {script} --project-root {project} reopen T0002" in cmdlog and "ok: T0001" in cmdlog
    assert tree(project) == before
