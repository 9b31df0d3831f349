"""Lane identity (lane_status.Registry.ai_harness, lanes.infer_harness) and the caller check of human-only
commands (lib/identity.py), without tmux: tables over the registry, and synthetic process ancestries.
The same rules against a real tmux server and hostile lanes are in tests-integration/test_hostile_lane.py."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
LIB = TESTS.parent / "lib"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return sys.modules[name]


sys.path.insert(0, str(LIB))
lane_status = _load("lane_status", LIB / "lane_status.py")
lanes = _load("lanes", LIB / "lanes.py")
identity = _load("identity", LIB / "identity.py")


@pytest.fixture(scope="module")
def harnesses() -> dict:
    return lanes.load_registry()


@pytest.fixture(scope="module")
def registry(harnesses):
    return lane_status.Registry(harnesses)


# ---- the one answer: is this lane an AI lane? ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "command", "expected"),
    [
        ("claude", "2.1.197", "claude"),  # launched as claude (its process titles itself with its version)
        ("claude", "bash", "claude"),  # an AI lane that fell back to its shell is still an AI lane
        ("demo", "loop-demo-agent", "demo"),  # the demo agent is an AI harness
        ("demo", "python3", "demo"),  # launched as harness demo: tagged
        ("", "loop-demo-agent", "demo"),  # untagged, but the demo agent's own process name
        ("", "codex", "codex"),  # untagged, an agent's own binary name
        ("", "python3", None),  # python3 is not unique to any agent (the demo agent's `binary`)
        ("", "node", None),
        ("", "bash", None),
        ("", "sleep", None),
        ("shell", "bash", None),
        ("shell", "claude", "claude"),  # a shell lane where someone started an agent
        ("mprocs", "mprocs", None),  # a tool lane
        ("some-new-agent", "bash", "some-new-agent"),  # a name the registry does not know counts as AI
    ],
)
def test_ai_harness_table(registry, tag, command, expected):
    assert registry.ai_harness(tag, (command,)) == expected


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("python3 -c 'print(1)'", None),  # main: demo (matched the demo agent's binary)
        ("python3", None),
        ("python3 /x/shell/lib/demo_agent.py", None),
        ("env FOO=1 claude --model x", "claude"),
        ("cursor-agent", "cursor-agent"),
        ("loop-demo-agent", "demo"),
        ("mprocs", "mprocs"),
        ("sh -c 'claude'", None),
        ("", None),
    ],
)
def test_infer_harness_never_from_a_generic_binary(harnesses, cmd, expected):
    assert lanes.infer_harness(cmd, harnesses) == expected


# ---- the names a process goes by ------------------------------------------------------------------------


def test_names_of_a_version_titled_claude_and_an_interpreted_agent(tmp_path):
    # Claude Code's native install: comm and argv[0] may read as its version
    exe = "/home/u/.local/share/claude/versions/2.1.197"
    assert "claude" in identity.names_of("2.1.197", ["2.1.197"], exe)
    # npm's `#!/usr/bin/env node` bin: node runs /usr/local/bin/pi
    pi = tmp_path / "pi"
    pi.write_text("#!/usr/bin/env node\n")
    pi.chmod(0o755)
    assert "pi" in identity.names_of("node", ["node", str(pi), "--model", "x"], "/usr/bin/node")
    # relative to the process's cwd
    assert "pi" in identity.names_of("node", ["node", "pi"], "/usr/bin/node", str(tmp_path))
    # not executable (an argument, e.g. a file an editor opened), or an option: not a name
    (tmp_path / "codex").write_text("notes\n")
    assert "codex" not in identity.names_of("vim", ["vim", str(tmp_path / "codex")], "/usr/bin/vim")
    assert identity.names_of("-bash", ["-bash"], "/bin/bash") == ["bash"]


# ---- the caller check over synthetic ancestries ----------------------------------------------------------


def _p(pid: int, ppid: int, *names: str):
    return identity.Proc(pid, ppid, list(names), "")


@pytest.mark.parametrize(
    ("chain", "complete", "env", "ai"),
    [
        # a plain terminal: human
        ([_p(30, 20, "python3"), _p(20, 10, "bash"), _p(10, 1, "sshd"), _p(1, 0, "init")], True, {}, False),
        # an agent in a plain terminal, outside tmux, and its tool's shell calling loop-adr
        (
            [_p(30, 20, "python3"), _p(20, 11, "bash"), _p(11, 10, "claude"), _p(10, 1, "bash")],
            True,
            {},
            True,
        ),
        # the demo agent (argv[0] loop-demo-agent, comm python3) is an AI harness too
        (
            [_p(30, 20, "python3"), _p(20, 11, "bash"), _p(11, 1, "python3", "loop-demo-agent")],
            True,
            {},
            True,
        ),
        # a python3 program is not an agent
        ([_p(30, 20, "python3"), _p(20, 11, "bash"), _p(11, 1, "python3")], True, {}, False),
        # ancestry read only in part: refused when there is any sign of tmux, whatever TMUX says
        ([_p(30, 20, "python3")], False, {"TMUX_PANE": "%0"}, True),
        ([_p(30, 20, "python3")], False, {"TMUX": "/nonexistent,1,0"}, True),
        ([_p(30, 20, "python3")], False, {}, False),
    ],
)
def test_caller_verdict_table(registry, monkeypatch, chain, complete, env, ai):
    for key in ("TMUX", "TMUX_PANE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert identity.caller_verdict(registry, chain, complete).ai is ai


def test_a_tmux_server_whose_pane_cannot_be_found_refuses(registry, monkeypatch, tmp_path):
    """A tmux server among the ancestors that no candidate socket answers for: refused (not a human)."""
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path))
    monkeypatch.setenv("LOOP_TMUX_SOCKET", str(tmp_path / "nothing"))
    monkeypatch.setenv("TMUX", "/nonexistent,1,0")
    chain = [_p(30, 20, "python3"), _p(20, 999999, "bash"), _p(999999, 1, "tmux: server", "tmux")]
    verdict = identity.caller_verdict(registry, chain, True)
    assert verdict.ai and "cannot be found" in verdict.reason


def test_an_unreadable_registry_refuses():
    empty = lane_status.Registry({})
    assert identity.caller_verdict(empty, [_p(1, 0, "init")], True).ai


def test_cli_outside_tmux_is_a_human_and_usage_errors():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    proc = subprocess.run(
        [sys.executable, str(LIB / "identity.py"), "caller", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ai"] is False
    bad = subprocess.run(
        [sys.executable, str(LIB / "identity.py"), "caller", "--nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_refuses_under_a_harness_process(tmp_path):
    """A process whose argv[0] is an agent's (claude run in a plain terminal) calling require-human."""
    # `; exit $?`: bash would exec a lone command in place of itself, and the `claude` process would be gone
    inner = f"{sys.executable} {LIB / 'identity.py'} require-human loop-adr accept; exit $?"
    script = f"exec -a claude bash -c '{inner}'"
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"}
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("loop-adr: refusing 'accept': an AI harness is among its ancestors (claude")
    assert proc.stderr.count("\n") == 1
