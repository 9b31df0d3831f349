"""loop-tmux.sh add-lane / list-lanes / drop-lane on a real tmux server: metadata, JSON round trips of
tricky text, base-window protection, worktree lanes (clean / dirty teardown) and --wait-ready."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


retry_until = _load("_lanes_tmux_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2"}
TRICKY = "line one\nline \"two\" 'three' \\back\\slash\t$(id) `x` #{pane_id} ; naïve 日本 ✓ 🚀;"


@pytest.fixture
def session(tmux_server, shell_env, fake_harnesses):
    """A booted session `s` (monitor preset: no AI base lanes) rooted at the shell_env project."""
    shell_env.env.update(FAST)
    proc = shell_env.run("loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "monitor")
    assert proc.returncode == 0, proc.stderr
    return shell_env


def _lt(shell, *args: str, **kw):
    return shell.run("loop-tmux.sh", *args, **kw)


def _list(env) -> dict:
    proc = _lt(env, "list-lanes", "--session", "s", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _lane(env, window: str) -> dict:
    lanes = [lane for lane in _list(env)["lanes"] if lane["window"] == window]
    assert len(lanes) == 1, lanes
    return lanes[0]


def _wopt(server, window: str, name: str) -> str:
    return server.out("show-options", "-wqv", "-t", f"=s:{window}", name).rstrip("\n")


def test_add_lane_harness_sets_metadata_and_runs_it(session, tmux_server, tmp_path):
    repo = tmp_path / "sub pkg"
    repo.mkdir()
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "web2", "--harness", "claude",
        "--model", "opus 4", "--role", "impl", "--kind", "standing", "--auto-approve", "--repo", str(repo),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _wopt(tmux_server, "web2", "@loop_lane") == "1"
    assert _wopt(tmux_server, "web2", "@loop_lane_harness") == "claude"
    assert _wopt(tmux_server, "web2", "@loop_lane_model") == "opus 4"
    assert _wopt(tmux_server, "web2", "@loop_lane_role") == "impl"
    assert _wopt(tmux_server, "web2", "@loop_lane_kind") == "standing"
    assert _wopt(tmux_server, "web2", "@loop_lane_isolation") == "shared"
    launch = _wopt(tmux_server, "web2", "@loop_lane_launch")
    assert launch == "claude --dangerously-skip-permissions --model 'opus 4'"
    retry_until(
        lambda: (
            tmux_server.out("display", "-p", "-t", "=s:web2", "#{pane_current_command}").strip() == "claude"
        )
    )
    path = tmux_server.out("display", "-p", "-t", "=s:web2", "#{pane_current_path}").strip()
    assert path == str(repo)
    lane = _lane(session, "web2")
    assert lane == {
        "window": "web2",
        "window_id": lane["window_id"],
        "harness": "claude",
        "model": "opus 4",
        "role": "impl",
        "cmd": None,
        "base": False,
        "kind": "standing",
        "repo": str(repo),
        "isolation": "shared",
        "branch": None,
        "sandbox": False,
    }


def test_add_lane_cmd_defaults_to_worker_and_infers_the_harness(session, tmux_server):
    assert (
        _lt(session, "add-lane", "--session", "s", "--window", "watch", "--cmd", "sleep 300").returncode == 0
    )
    assert (
        _lt(session, "add-lane", "--session", "s", "--window", "cx", "--cmd", "codex --model m").returncode
        == 0
    )
    watch, cx = _lane(session, "watch"), _lane(session, "cx")
    assert watch["kind"] == "worker" and watch["cmd"] == "sleep 300" and watch["harness"] is None
    assert cx["harness"] == "codex" and cx["cmd"] == "codex --model m"
    retry_until(
        lambda: (
            tmux_server.out("display", "-p", "-t", "=s:watch", "#{pane_current_command}").strip() == "sleep"
        )
    )


def test_list_lanes_json_shape(session):
    doc = _list(session)
    assert set(doc) == {"contract_version", "session", "generated_at", "lanes"}
    assert doc["contract_version"] == 1 and doc["session"] == "s"
    assert doc["generated_at"].endswith("Z")
    assert [lane["window"] for lane in doc["lanes"]] == ["coord", "web", "infra", "validate", "ops", "docs"]
    for lane in doc["lanes"]:
        assert {"window", "harness", "model", "role", "cmd", "base", "kind"} <= set(lane)
        assert lane["base"] is True and lane["kind"] == "standing"
    web = doc["lanes"][1]
    assert web["harness"] is None and web["model"] is None and web["role"] is None and web["cmd"] is None


def test_list_lanes_runs_from_compiled_code(session, tmp_path):
    """The engine lists the lanes on every cycle: list-lanes runs lane_list.py through lib/codecache.py
    (compiled code in LOOP_LANE_STATUS_CACHE_DIR, python -S; codecache's own too, lib/codeboot.py
    starts it)."""
    cache = tmp_path / "cache"
    proc = _lt(
        session, "list-lanes", "--session", "s", "--json", env={"LOOP_LANE_STATUS_CACHE_DIR": str(cache)}
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name.split(".")[0] for p in (cache / "code").glob("*.code")) == ["codecache", "lane_list"]
    doc = json.loads(proc.stdout)
    assert {k: v for k, v in doc.items() if k != "generated_at"} == {
        k: v for k, v in _list(session).items() if k != "generated_at"
    }


def test_list_lanes_asks_tmux_one_question(session, tmux_server, tmp_path):
    """list-lanes costs ONE tmux client (list-windows, every window with its options); has-session is
    asked only after a failed listing, to name a missing session as before."""
    real = shutil.which("tmux")
    assert real
    shims = tmp_path / "shims"
    shims.mkdir()
    log = tmp_path / "tmux.log"
    (shims / "tmux").write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$3" >> "{log}"\nexec "{real}" "$@"\n')
    (shims / "tmux").chmod(0o755)
    env = {"PATH": f"{shims}{os.pathsep}{session.env['PATH']}"}
    for flags in (["--json"], []):
        proc = _lt(session, "list-lanes", "--session", "s", *flags, env=env)
        assert proc.returncode == 0 and proc.stdout, proc.stderr
        assert log.read_text().split() == ["list-windows"], flags
        log.unlink()
    missing = _lt(session, "list-lanes", "--session", "nope", "--json", env=env)
    assert (missing.returncode, missing.stdout, missing.stderr) == (
        1,
        "",
        "loop-tmux: no tmux session 'nope'\n",
    )
    assert log.read_text().split() == ["list-windows", "has-session"]


def test_a_session_whose_name_starts_with_a_dash_is_listed(shell_env, tmux_server):
    """tmux lets a session be named `-x`; list-lanes lists it like any other (argparse used to read
    `--session -x` as a missing value: exit 2)."""
    tmux_server.tmux("new-session", "-d", "-s", "-x")
    proc = _lt(shell_env, "list-lanes", "--session", "-x", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["session"] == "-x" and len(doc["lanes"]) == 1 and doc["lanes"][0]["base"] is True


def test_list_lanes_is_answered_before_bash_reads_the_rest_of_loop_tmux(session):
    """`list-lanes --session S [--json]` (the engine's form) is dispatched near the top of loop-tmux.sh:
    bash, which reads a script one command at a time, never parses the boot/add-lane code below it nor
    sources the harness registry (`bash -v` echoes each line bash reads). Any other form of list-lanes
    still reaches the full script (its --help, its usage errors)."""
    for flags in (["--json"], []):
        proc = subprocess.run(
            ["bash", "-v", str(TESTS.parent / "loop-tmux.sh"), "list-lanes", "--session", "s", *flags],
            capture_output=True,
            text=True,
            env=session.env,
            cwd=session.cwd,
            check=False,
        )
        assert proc.returncode == 0 and proc.stdout, proc.stderr
        assert "harness-registry.sh" not in proc.stderr and "tmux_main" not in proc.stderr
    helped = _lt(session, "list-lanes", "--session", "s", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: loop-tmux")
    for bad in (["--session"], ["--session", "s", "--bogus"]):
        proc = _lt(session, "list-lanes", *bad)
        assert proc.returncode == 2 and proc.stderr.endswith("Try 'loop-tmux --help'.\n"), proc.stderr


def test_tricky_text_round_trips_through_list_lanes(session, tmux_server):
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "odd", "--cmd", TRICKY + "\nsleep 300",
        "--role", TRICKY, "--model", TRICKY,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # tmux itself escapes control characters and backslashes in window NAMES; everything else stays.
    name = "w \"q\" 'a' ; naïve 日本 ✓ 🚀 $(id) #x"
    tmux_server.tmux("rename-window", "-t", "=s:odd", name)
    doc = _list(session)
    lane = next(lane for lane in doc["lanes"] if not lane["base"])
    assert lane["window"] == name
    assert lane["cmd"] == TRICKY + "\nsleep 300"
    assert lane["role"] == TRICKY
    assert lane["model"] == TRICKY
    # The human table stays one row per window.
    table = _lt(session, "list-lanes", "--session", "s")
    assert table.returncode == 0
    assert len(table.stdout.splitlines()) == 1 + 7


def test_add_lane_refuses_duplicates_and_bad_input(session, tmux_server):
    assert _lt(session, "add-lane", "--session", "s", "--window", "w1", "--cmd", "sleep 300").returncode == 0
    dup = _lt(session, "add-lane", "--session", "s", "--window", "w1", "--cmd", "sleep 300")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    base = _lt(session, "add-lane", "--session", "s", "--window", "web", "--harness", "pi")
    assert base.returncode == 1 and "already exists" in base.stderr
    for bad in ("1abc", "a", "has space", "a.b", "a:b", "ünï", "-x", "a\nb"):
        proc = _lt(session, "add-lane", "--session", "s", "--window", bad, "--cmd", "true")
        assert proc.returncode == 2, (bad, proc.stderr)
        assert "bad window name" in proc.stderr
    cases = [
        ["--window", "ok1"],  # neither --harness nor --cmd
        ["--window", "ok1", "--harness", "pi", "--cmd", "x"],
        ["--window", "ok1", "--harness", "nosuch"],
        ["--window", "ok1", "--harness", "pi", "--kind", "boss"],
        ["--window", "ok1", "--harness", "pi", "--bogus"],
        ["--harness", "pi"],
    ]
    for args in cases:
        proc = _lt(session, "add-lane", "--session", "s", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    nosess = _lt(session, "add-lane", "--session", "nope", "--window", "ok1", "--cmd", "true")
    assert nosess.returncode == 1 and "nope" in nosess.stderr
    names = tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
    assert names.count("w1") == 1 and "ok1" not in names


def test_session_defaults_to_the_current_tmux_session(session, tmux_server):
    pane = tmux_server.out("display", "-p", "-t", "=s:docs", "#{pane_id}").strip()
    inside = {"TMUX": f"{tmux_server.socket},1,0", "TMUX_PANE": pane}
    proc = _lt(session, "add-lane", "--window", "here", "--cmd", "sleep 300", env=inside)
    assert proc.returncode == 0, proc.stderr
    assert "here" in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
    listed = _lt(session, "list-lanes", "--json", env=inside)
    assert json.loads(listed.stdout)["session"] == "s"
    assert _lt(session, "drop-lane", "--window", "here", env=inside).returncode == 0
    outside = _lt(session, "list-lanes")
    assert outside.returncode == 2 and "--session" in outside.stderr


def test_drop_lane_rules(session, tmux_server):
    assert (
        _lt(session, "add-lane", "--session", "s", "--window", "tmp1", "--cmd", "sleep 300").returncode == 0
    )
    proc = _lt(session, "drop-lane", "--session", "s", "--window", "tmp1")
    assert proc.returncode == 0, proc.stderr
    names = tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
    assert "tmp1" not in names
    refused = _lt(session, "drop-lane", "--session", "s", "--window", "docs")
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert "docs" in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
    forced = _lt(session, "drop-lane", "--session", "s", "--window", "docs", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "docs" not in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
    missing = _lt(session, "drop-lane", "--session", "s", "--window", "ghost")
    assert missing.returncode == 1 and "ghost" in missing.stderr
    assert _lt(session, "drop-lane", "--session", "s").returncode == 2


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    (root / "README").write_text("hi\n")
    _git(root, "add", "README")
    _git(root, "commit", "-q", "-m", "init")
    return root


def test_worktree_lane_clean_teardown(session, tmux_server, repo):
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "iso", "--cmd", "sleep 300",
        "--repo", str(repo), "--worktree",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    wt = repo / ".loop" / "worktrees" / "s" / "iso"
    assert (wt / "README").is_file()
    assert _wopt(tmux_server, "iso", "@loop_lane_isolation") == "worktree"
    assert _wopt(tmux_server, "iso", "@loop_lane_branch") == "loop/s/iso"
    assert _git(wt, "rev-parse", "--abbrev-ref", "HEAD").strip() == "loop/s/iso"
    path = tmux_server.out("display", "-p", "-t", "=s:iso", "#{pane_current_path}").strip()
    assert path == str(wt)
    lane = _lane(session, "iso")
    assert lane["isolation"] == "worktree" and lane["branch"] == "loop/s/iso"
    # The canonical clone stays clean: the worktrees dir is ignored.
    assert _git(repo, "status", "--porcelain").strip() == ""
    drop = _lt(session, "drop-lane", "--session", "s", "--window", "iso")
    assert drop.returncode == 0, drop.stderr
    assert not wt.exists()
    assert "loop/s/iso" in _git(repo, "branch", "--list", "loop/s/iso")  # the branch is kept


def test_worktree_lane_dirty_is_kept_with_a_warning(session, tmux_server, repo):
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "iso2", "--cmd", "sleep 300",
        "--repo", str(repo), "--worktree",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    wt = repo / ".loop" / "worktrees" / "s" / "iso2"
    (wt / "work.txt").write_text("uncommitted\n")
    drop = _lt(session, "drop-lane", "--session", "s", "--window", "iso2")
    assert drop.returncode == 0, drop.stderr
    assert "warning" in drop.stderr and "uncommitted" in drop.stderr
    assert (wt / "work.txt").read_text() == "uncommitted\n"
    assert "iso2" not in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()


def test_worktree_needs_a_git_repo(session, tmux_server, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = _lt(session, "add-lane", "--session", "s", "--window", "iso3", "--cmd", "true",
               "--repo", str(plain), "--worktree")  # fmt: skip
    assert proc.returncode == 1 and "git" in proc.stderr
    assert "iso3" not in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()


def test_wait_ready_blocks_until_idle(session, tmux_server):
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "slow", "--cmd",
        "env FAKE_AGENT_WELCOME_S=1.5 claude", "--wait-ready", "--ready-timeout", "20",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ready" in proc.stdout
    screen = tmux_server.capture("=s:slow")
    assert "? for shortcuts" in screen  # the idle footer is up: the welcome screen is over


def test_wait_ready_times_out(session, tmux_server):
    started = time.monotonic()
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "stuck", "--cmd",
        "env FAKE_AGENT_WELCOME_S=60 claude", "--wait-ready", "--ready-timeout", "2",
    )  # fmt: skip
    # a lower bound only (load can only make it later): bash's whole-second SECONDS once gave up early
    assert time.monotonic() - started >= 2.0
    assert proc.returncode == 1
    assert "not idle" in proc.stderr
    assert "stuck" in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()


def test_worktree_in_a_repo_without_commits_is_one_clear_line(session, tmux_server, tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _git(fresh, "init", "-q")
    proc = _lt(
        session, "add-lane", "--session", "s", "--window", "iso3", "--cmd", "sleep 300",
        "--repo", str(fresh), "--worktree",
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"loop-tmux: add-lane --worktree: {fresh} has no commit yet"
        " (a worktree branches from HEAD; commit first)"
    ]
    assert "iso3" not in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()


@pytest.mark.parametrize("how", [("--cmd", "nosuch-binary-xyz --flag"), ("--harness", "claude")])
def test_add_lane_fails_when_its_command_does_not_exist(session, tmux_server, fake_harnesses, how):
    """Not `ok` and then an `idle (ready)` lane whose pane says `command not found`: a failure naming the
    binary, and no window left behind."""
    if how[0] == "--harness":
        (fake_harnesses / "claude").unlink()
    proc = _lt(session, "add-lane", "--session", "s", "--window", "ghost", *how)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert "\n" not in line and line.startswith("loop-tmux: add-lane: lane ghost not added: ")
    binary = how[1].split()[0]
    assert f"{binary}: command not found" in line or (binary in line and "not found" in line), line
    names = tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
    assert "ghost" not in names


def test_the_list_lanes_helper_imports_only_builtin_modules() -> None:
    """lane_list.py, which `loop-engine once` runs beside its own start-up, loads no module from a file
    (os, re, json, argparse and subprocess cost ~35 ms of CPU together): only the interpreter's builtins."""
    lib = Path(__file__).resolve().parents[1] / "lib"
    code = (
        "import sys; before = set(sys.modules); sys.path.insert(0, sys.argv[1]); import lane_list; "
        "print(sorted(m for m in set(sys.modules) - before if m not in sys.builtin_module_names))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(lib)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['lane_list']"


def test_lane_list_writes_what_json_dumps_writes() -> None:
    """lane_list writes its JSON by hand (the json module costs an import): byte for byte what
    json.dumps(doc, ensure_ascii=False) writes, for every kind of text a lane's options may hold."""
    sys.path.insert(0, str(TESTS.parent / "lib"))
    try:
        import lane_list
    finally:
        sys.path.pop(0)
    texts = [TRICKY, "", "\x00\x01\x1f\x7f\x80", "\u2028\u2029\ufeff", '"\\/', "\b\f\r\n\t", "\U0001f680 ok"]
    doc = {
        "contract_version": 1,
        "session": TRICKY,
        "lanes": [
            {"window": t, "harness": None, "base": i % 2 == 0, "sandbox": i % 2 == 1}
            for i, t in enumerate(texts)
        ],
        "none": [],
        "empty": {},
    }
    assert lane_list.dump_json(doc) == json.dumps(doc, ensure_ascii=False)


def test_the_list_helper_starts_without_the_modules_only_add_lane_needs() -> None:
    """The engine runs `list-lanes --json` on every cycle: lanes.py loads typing, tempfile (the add-window
    lock folder), hashlib (its lock name) and datetime only where they are used, never for `list`."""
    lib = Path(__file__).resolve().parents[1] / "lib"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import lanes; "
        "print(sorted(m for m in ('typing', 'tempfile', 'hashlib', 'datetime') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(lib)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "script, args",
    [
        ("loop-tmux.sh", ["--version"]),
        ("scripts/loop-checkpoint.sh", ["--print", "--project-root", "{root}"]),
    ],
)
def test_the_engines_per_cycle_scripts_run_no_command_but_their_helper(
    tmp_path: Path, script: str, args: list[str]
) -> None:
    """`list-lanes` and `checkpoint --print` run on every engine cycle: they find their own folder with
    bash alone (no dirname, no cd in a subshell) and start their python helper from LOOP_PYTHON, so a
    PATH that holds no command at all still runs them (each command they ran would cost a fork+exec)."""
    shell = Path(__file__).resolve().parents[1]
    root = tmp_path / "proj"
    (root / "ops-wiki").mkdir(parents=True)
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX"))}
    env.update(PATH=str(empty), LOOP_PYTHON=sys.executable, LOOP_LANE_STATUS_CACHE_DIR=str(tmp_path / "c"))
    proc = subprocess.run(
        ["/bin/bash", str(shell / script), *(a.replace("{root}", str(root)) for a in args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
