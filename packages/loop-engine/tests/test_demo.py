"""loop-demo without tmux: the seeded project, its lane-config, the CLI's errors, and the demo agent's
reports driving the REAL engine (config, built-in brain, gate, task moves) through a whole DAG."""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from engine_fakes import FakeSubstrate
from loop_engine import asks as asks_mod
from loop_engine import builtin, demo
from loop_engine import config as config_mod
from loop_engine.cycle import Engine
from loop_engine.paths import EnginePaths
from loop_engine.tasks import load_tasks, mentions, ready_tasks, task_of_payload
from loop_schemas import Harness, load_lane_config, parse_task
from loop_substrate import script_path, shell_dir

IDS = [t.id for t in demo.TASKS]


def _agent() -> ModuleType:
    path = shell_dir() / "lib" / "demo_agent.py"
    spec = importlib.util.spec_from_file_location("_demo_agent_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _demo(root: Path, *, auto: bool = False, work_s: str | None = "0.5") -> demo.Demo:
    return demo.Demo(root=root, session="loop-demo", socket=None, auto=auto, work_s=work_s, env={})


@pytest.fixture
def made(tmp_path: Path) -> demo.Demo:
    d = _demo(tmp_path / "proj", auto=True)
    d.root.mkdir()
    d.make_project()
    return d


# ---------------------------------------------------------------------------- the seeded project
def test_a_seeded_task_is_written_by_the_one_task_writer() -> None:
    """A title YAML reads otherwise (`: `, ` #`, a leading quote) is quoted: loop-task-lint's subset reader
    and loop-schemas read the file the same (the demo once wrote `title: {title}` bare)."""
    from loop_schemas._shared import frontmatter as subset

    tricky = demo.SeedTask("T0009", "x", "Fix: the 'auth' flow # now", ("T0001",), "'web' only", "Do it.")
    for task in (*demo.TASKS, tricky):
        text = demo.task_text(task)
        data, body = subset.parse(text)
        parsed = parse_task(text)
        assert (data["id"], data["title"], data["scope"]) == (task.id, task.title, task.scope)
        assert (parsed.frontmatter.title, parsed.frontmatter.scope) == (task.title, task.scope)
        assert data["depends_on"] == list(task.depends_on) == parsed.frontmatter.depends_on
        assert parsed.body == body


def test_seeded_tasks_form_a_dag_that_unlocks_in_three_waves() -> None:
    for task in demo.TASKS:
        parsed = parse_task(demo.task_text(task)).frontmatter
        assert (parsed.id, parsed.title, parsed.status.value) == (task.id, task.title, "open")
        assert tuple(parsed.depends_on) == task.depends_on
    known = {t.id for t in demo.TASKS}
    assert all(dep in known for t in demo.TASKS for dep in t.depends_on)

    def wave(done: set[str]) -> list[str]:
        from loop_engine.tasks import TaskView

        tasks = [
            TaskView(t.id, t.title, "review" if t.id in done else "open", t.depends_on, Path(t.id), "", False)
            for t in demo.TASKS
        ]
        return [t.id for t in ready_tasks(tasks)]

    assert wave(set()) == ["T0001", "T0002"]
    assert wave({"T0001"}) == ["T0002"]
    assert wave({"T0001", "T0002"}) == ["T0003"]
    assert wave({"T0001", "T0002", "T0003"}) == ["T0004"]


def test_make_project_is_a_loop_init_project_that_task_lint_accepts(made: demo.Demo) -> None:
    root = made.root
    for path in (".loop/orchestrator-state.json", "ops-wiki/checkpoint.md", "AGENTS.md", "tasks/README.md"):
        assert (root / path).is_file(), path
    assert sorted(p.name[:5] for p in (root / "tasks").glob("T*.md")) == IDS
    lint = subprocess.run(
        ["bash", str(script_path("loop-task-lint")), "--project-root", str(root), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
    report = json.loads(lint.stdout)
    assert report["ok"] is True and report["task_count"] == len(demo.TASKS)


@pytest.mark.parametrize("auto", [False, True])
def test_lane_config_runs_demo_agents_and_the_builtin_brain(tmp_path: Path, auto: bool) -> None:
    d = _demo(tmp_path / "p", auto=auto, work_s="0.25")
    d.root.mkdir()
    d.make_project()
    loaded = load_lane_config(d.lane_config)
    engine = loaded.engine
    assert engine.approval_mode == ("auto" if auto else "manual")
    assert engine.brain.harness == "builtin"
    assert engine.min_cycle_interval_s <= 2 and engine.poll_interval_s <= 2
    for lane in demo.AGENT_LANES:
        spec = loaded.config.lanes[lane]
        assert spec.harness == "demo"
        argv = shlex.split(spec.cmd or "")
        assert Path(argv[1]).name == "demo_agent.py" and Path(argv[1]).is_file()
        assert argv[argv.index("--lane") + 1] == lane
        assert argv[argv.index("--project-root") + 1] == str(d.root)
        assert argv[argv.index("--work-s") + 1] == "0.25"
    # docs runs the demo agent too: the engine's ingest nudge is read, logged and acked (not pending forever)
    assert loaded.config.lanes["docs"].role == "docs" and demo.AGENT_LANES == ("web", "infra", "docs")
    cfg = config_mod.load(d.root)
    assert cfg.brain_harness == config_mod.BUILTIN


def test_coord_pane_runs_the_deck_with_what_its_engine_calls_need(
    made: demo.Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "_sibling_or_path", lambda name: f"/opt/bin/{name}")
    made.socket = "/tmp/sock dir/s"
    argv = shlex.split(made.coord_cmd() or "")
    assert argv[0] == "env"
    assert "LOOP_DECK_ENGINE=/opt/bin/loop-engine" in argv
    assert f"LOOP_LANE_CONFIG={made.lane_config}" in argv
    assert "LOOP_TMUX_SOCKET=/tmp/sock dir/s" in argv
    deck = argv.index("/opt/bin/loop-deck")
    assert argv[deck + 1 :] == [
        "--project-root",
        str(made.root),
        "--session",
        "loop-demo",
        "--socket",
        "/tmp/sock dir/s",
    ]


def test_without_the_deck_coord_keeps_the_digest(made: demo.Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "_sibling_or_path", lambda name: None)
    assert made.coord_cmd() is None


def test_engine_wrapper_runs_this_interpreter(made: demo.Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        demo, "_sibling_or_path", lambda name: "/opt/bin/loop-deck" if name == "loop-deck" else None
    )
    argv = shlex.split(made.coord_cmd() or "")
    engine = next(a.split("=", 1)[1] for a in argv if a.startswith("LOOP_DECK_ENGINE="))
    proc = subprocess.run([engine, "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "approve" in proc.stdout


# ---------------------------------------------------------------------------- the report protocol
def test_demo_agent_reports_name_the_task_the_builtin_brain_dispatched(made: demo.Demo) -> None:
    agent = _agent()
    tasks, problems = load_tasks(made.root / "tasks")
    assert problems == []
    for task in tasks:
        subject, task_id = agent.reply_for(builtin.task_payload(task, "web", made.root))
        assert task_id == task.id
        assert subject == f"done {task.id}: {task.title}"
        assert mentions(subject) == {task.id}
        assert asks_mod.reply_to(subject) is None


def test_demo_agent_answers_an_ask_with_its_re_subject() -> None:
    agent = _agent()
    ask = asks_mod.new_ask_id()
    payload = "Status check on T0003: is it done?" + asks_mod.reply_instructions(
        ask, "infra", Path("/srv/proj")
    )
    subject, _ = agent.reply_for(payload)
    assert asks_mod.reply_to(subject) == ask


class DemoFleet(FakeSubstrate):
    """Two demo lanes whose 'agent' answers each dispatch at once with the real demo agent's report."""

    def registry(self) -> list[Harness]:
        return [*super().registry(), Harness(name="demo", kind="ai")]


def test_the_demo_config_takes_every_seeded_task_to_review(made: demo.Demo) -> None:
    agent = _agent()
    fleet = DemoFleet()
    fleet.set("coord", harness=None, base=True)
    for lane in demo.DEMO_LANES:
        fleet.set(lane, harness="demo", base=True, role="impl")
    fleet.set("docs", harness="shell", base=True, role="docs")
    reports: list[str] = []
    fleet.on_dispatch = lambda lane, text: reports.append(agent.report(str(made.root), lane, text))
    cfg = config_mod.load(made.root)
    assert cfg.approval_mode == "auto"
    engine = Engine(EnginePaths(made.root, "loop-demo"), fleet, cfg)
    waves = []
    for _ in range(6):
        before = len(fleet.sent)
        result = engine.cycle()
        waves.append(sorted(str(task_of_payload(s["text"])) for s in fleet.sent[before:]))
        if result.outcome == "noop":
            break
    statuses = {t.id: t.status for t in load_tasks(made.root / "tasks")[0]}
    assert statuses == dict.fromkeys(IDS, "review")
    assert [w for w in waves if w] == [["T0001", "T0002"], ["T0003"], ["T0004"]]
    assert all(s["mode"] == "text" and s["lane"] in demo.DEMO_LANES for s in fleet.sent)
    assert len(reports) == len(IDS)
    assert (
        made.root / ".loop" / "sessions" / "loop-demo" / "engine" / "pending-decision.json"
    ).exists() is False


def test_manual_mode_queues_the_first_wave_for_a_human(tmp_path: Path) -> None:
    d = _demo(tmp_path / "m", auto=False)
    d.root.mkdir()
    d.make_project()
    fleet = DemoFleet()
    for lane in demo.DEMO_LANES:
        fleet.set(lane, harness="demo", base=True, role="impl")
    engine = Engine(EnginePaths(d.root, "loop-demo"), fleet, config_mod.load(d.root))
    result = engine.cycle()
    assert result.outcome == "queued" and fleet.sent == []
    assert [(a["kind"], a["gate_class"]) for a in result.actions] == [("dispatch", "safe")] * 2
    assert d.pending_decision()
    reason = d.timeout_reason(5, d.task_statuses())
    assert reason.startswith("timed out after 5s: 0 of 4 tasks in review (T0001 open")
    assert "waits for approval" in reason and "\n" not in reason


# ---------------------------------------------------------------------------- the command line
def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = demo.main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--until-done"],
        ["--until-done", "0"],
        ["--until-done", "-3"],
        ["--until-done", "nan"],
        ["--story", "bogus"],
    ],
)
def test_bad_flags_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(args, capsys)
    assert code == 2
    assert "loop-demo: error:" in err and "Traceback" not in err


def test_a_non_empty_project_root_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    code, err = _main(["--project-root", str(tmp_path), "--no-attach"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "not empty" in err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_a_file_as_project_root_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    code, err = _main(["--project-root", str(target)], capsys)
    assert code == 2 and "not a directory" in err


def test_bad_work_seconds_are_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOP_DEMO_WORK_S", "soon")
    code, err = _main(["--project-root", str(tmp_path / "new")], capsys)
    assert code == 2 and "LOOP_DEMO_WORK_S" in err
    assert not (tmp_path / "new").exists()


def test_no_tmux_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = _main(["--project-root", str(tmp_path / "new"), "--no-attach"], capsys)
    assert code == 1
    assert err == "loop-demo: tmux is required (3.3 or newer) and was not found on PATH\n"


def test_help_names_every_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loop_engine.demo", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    for flag in (
        "--project-root",
        "--story",
        "--auto",
        "--no-attach",
        "--until-done",
        "--keep",
        "LOOP_DEMO_WORK_S",
    ):
        assert flag in proc.stdout


@pytest.mark.parametrize("line", ["id: T0042", "id: 'T0042'", 'id: "T0042"'])
def test_demo_agent_reads_the_task_id_as_the_engine_does(line: str) -> None:
    payload = f"---\n{line}\ntitle: Quoted ids\nstatus: open\ndepends_on: []\nscope: x\n---\nbody\n"
    subject, task_id = _agent().reply_for(payload)
    assert task_id == task_of_payload(payload) == "T0042"
    assert subject == "done T0042: Quoted ids"


# ---------------------------------------------------------------------------- --story verify
def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_verify_story_project_has_a_pane_less_worktree_lane_the_engine_builds_and_verifies(
    tmp_path: Path,
) -> None:
    from loop_engine import runs, verify
    from loop_schemas import load_state

    d = demo.Demo(
        root=tmp_path / "p", session="loop-demo", socket=None, auto=True, work_s=None, env={}, story="verify"
    )
    d.root.mkdir()
    d.make_project()
    assert [t.id for t in d.tasks] == ["T0001"]
    # the project: main with one commit of its own files; the loop's files stay untracked
    assert _git(d.root, "symbolic-ref", "--short", "HEAD") == "main"
    assert _git(d.root, "ls-files").split() == [".gitignore", "Makefile", "README.md"]
    # the worktree lane as add-lane --worktree makes one: branch, worktree, ledger row; no pane in the config
    branch = "loop/loop-demo/builder"
    tree = d.root / ".loop" / "worktrees" / "loop-demo" / "builder"
    assert _git(tree, "symbolic-ref", "--short", "HEAD") == branch
    assert load_state(d.root / ".loop" / "orchestrator-state.json").loops["builder"].branch == branch
    loaded = load_lane_config(d.lane_config)
    assert sorted(loaded.config.lanes) == ["docs"]
    cmd = loaded.engine.build.cmd
    assert cmd is not None and cmd[1].endswith("demo_agent.py") and cmd[2:4] == ["--build", "{worktree}"]
    assert loaded.engine.verify.base == "main"
    # the engine's build argv (the brief appended, one element): a real commit, then the report by mail
    task = next(t for t in load_tasks(d.root / "tasks")[0] if t.id == "T0001")
    brief = runs.wrap_brief(builtin.task_payload(task, "builder", d.root), tree, branch)
    built = subprocess.run(
        runs.build_argv(cmd, tree, brief), cwd=tree, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    assert _git(tree, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        "T0001: Add a module that describes this task (demo agent, a simulation: no AI)",
        "",
        "demo_t0001.py",
        "test_demo_t0001.py",
    ]
    mails = list((d.root / ".loop" / "messages").glob("*-builder-to-coord.md"))
    assert (
        len(mails) == 1
        and 'subject: "done T0001: Add a module that describes this task"' in mails[0].read_text()
    )
    # the gate the story's loop-verify finds: make check runs the new unit test
    gate = subprocess.run(["make", "check"], cwd=tree, capture_output=True, text=True, check=False)
    assert gate.returncode == 0 and "Ran 1 test" in gate.stderr
    # the lenses: LOOP_VERIFY_CMD is the demo agent's one-shot reviewer, answering one ```verdict block
    env = d.verify_env()
    assert Path(env["PATH"].split(":")[0], "loop-verify").exists()
    diff = _git(tree, "diff", "main", "HEAD")
    answers = {}
    for lens in ("code-review", "silent-failure", "adversarial"):
        prompt = verify.lens_prompt(lens, diff, "a" * 40, "b" * 40, truncated=False, token="tok123")
        out = subprocess.run(
            shlex.split(env["LOOP_VERIFY_CMD"]),
            input=prompt,
            capture_output=True,
            text=True,
            env={"LOOP_VERIFY_LENS": lens},
            check=True,
        ).stdout
        answers[lens] = verify.parse_answer(lens, out, "tok123")
    assert {k: v.verdict for k, v in answers.items()} == {
        "code-review": "pass",
        "silent-failure": "pass",
        "adversarial": "concerns",
    }
    finding = answers["adversarial"].findings[0]
    assert finding.severity == "low" and "demo_t0001.py, test_demo_t0001.py" in finding.detail
