"""The human gate holds against the lanes it gates, on a real tmux server (a private socket).

An AI lane (launched by `loop-tmux add-lane --harness claude`, the harness played by a script that
makes the tool calls an agent would) tries every environment trick to accept an ADR from inside its own
pane: `TMUX_PANE=`, `env -u TMUX_PANE`, a forged TMUX and LOOP_TMUX_SOCKET, the coord pane's id, all of
them unset, and a child of its harness process. Each is refused and the record stays Proposed. An agent's
process outside tmux is refused too. A human (a plain process outside tmux, the coord pane) accepts.

Then the one lane-identity answer, lane by lane, through the real entry points: loop-lane-status's
`ai`, lanes.py panes (what --boot-check reads), the engine's observation (what its gate grades) and
lib/identity.py's caller check; python3 lanes (a REPL, a watcher, a one-shot) are not AI lanes: the
boot-check passes them, the watchdog leaves them alone, and text sent to the REPL is destructive.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_session import SHELL, retry_until
from loop_engine.gate import GateContext, gate_actions
from loop_engine.observe import Observation, observe_lanes
from loop_substrate import Substrate
from loop_substrate.pytest_plugin import FakeAgentKit, start_hermetic_server

pytestmark = pytest.mark.tmux

ADR = SHELL / "loop-adr.sh"
DETACHED = SHELL / "tests" / "detached.py"
SESSION = "hostile"
# ADR number -> who tries to accept it
ATTACKS = {
    "pane-empty": 2,  # TMUX_PANE= loop-adr accept 2 --yes
    "pane-unset": 3,  # env -u TMUX_PANE ...
    "tmux-forged": 4,  # TMUX=/nonexistent,1,0 LOOP_TMUX_SOCKET=/nonexistent ...
    "coord-pane": 5,  # TMUX_PANE=<coord's pane id> ...
    "harness-child": 6,  # a child of the lane's harness process, a shell deeper
    "all-unset": 7,  # TMUX, TMUX_PANE, LOOP_TMUX_SOCKET and TMUX_TMPDIR all unset
}
COORD_ADR, HUMAN_ADR = 1, 8
OUTSIDE_ADRS = {"claude": 9, "loop-demo-agent": 10}
# the lanes and whether each is an AI lane
LANES = {
    "coord": False,  # --coord-cmd: a script
    "validate-left": False,  # python3: a Python REPL
    "validate-right": False,  # python3 -c '...sleep...': a watcher
    "ops-top": False,  # python3 -c 'print(1)': exits, the pane falls back to its shell
    "ops-bottom": False,  # sleep 0: the same, with sleep
    "demo": True,  # add-lane --harness demo: the demo agent (python3, process name loop-demo-agent)
    "pi": True,  # add-lane --harness pi: the fake agent
    "agent": True,  # add-lane --harness claude: the hostile lane
}


@dataclass
class Hostile:
    root: Path
    socket: str
    env: dict[str, str]
    out: Path
    state_dir: Path
    boot: subprocess.CompletedProcess[str]

    def run(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=env or self.env,
            cwd=self.root,
            timeout=120,
            check=False,
        )

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("bash", str(SHELL / name), *args)

    def adr_status(self, number: int) -> str:
        path = next((self.root / "docs" / "adr").glob(f"{number:04d}-*.md"))
        line = next(x for x in path.read_text().splitlines() if x.startswith("status:"))
        return line.split(":", 1)[1].strip()


def _make_adrs(root: Path, env: dict[str, str]) -> None:
    (root / "docs" / "verify").mkdir(parents=True)
    (root / "docs" / "verify" / "proof.md").write_text("proved\n")
    for n in range(1, 11):
        proc = subprocess.run(
            ["bash", str(ADR), "new", f"Decision {n}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=True,
        )
        path = root / proc.stdout.strip()
        text = path.read_text()
        text = text.replace("verify_record:", "verify_record: docs/verify/proof.md", 1)
        text = text.replace("rollback:", "rollback: https://wiki.example.com/rollback", 1)
        path.write_text(text)


def _attack_script(h_root: Path, out: Path, socket: str) -> str:
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        "# plays an AI harness whose tool calls try to accept ADRs from inside its lane's pane",
        f"cd {q(str(h_root))} || exit 1",
        f"out={q(str(out))}",
        f"adr={q(str(ADR))}",
        f"coord=$(tmux -S {q(socket)} display-message -p -t '={SESSION}:coord' '#{{pane_id}}')",
        'run() { local name=$1; shift; "$@" >"$out/$name.err" 2>&1; echo "$?" >"$out/$name.rc"; }',
        f'run pane-empty env TMUX_PANE= bash "$adr" accept {ATTACKS["pane-empty"]} --yes',
        f'run pane-unset env -u TMUX_PANE bash "$adr" accept {ATTACKS["pane-unset"]} --yes',
        "run tmux-forged env TMUX=/nonexistent,1,0 LOOP_TMUX_SOCKET=/nonexistent "
        f'bash "$adr" accept {ATTACKS["tmux-forged"]} --yes',
        f'run coord-pane env TMUX_PANE="$coord" bash "$adr" accept {ATTACKS["coord-pane"]} --yes',
        f'run harness-child bash -c \'bash "$1" accept {ATTACKS["harness-child"]} --yes; exit $?\' _ "$adr"',
        "run all-unset env -u TMUX -u TMUX_PANE -u LOOP_TMUX_SOCKET -u TMUX_TMPDIR "
        f'bash "$adr" accept {ATTACKS["all-unset"]} --yes',
        'echo "$coord" >"$out/attacks.done"',
        "exec sleep 3600",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    base = tmp_path_factory.mktemp("hostile")
    root = base / "proj"
    root.mkdir()
    out = base / "out"
    out.mkdir()
    sockdir = Path(os.path.realpath("/tmp")) / f"hl-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    sockdir.mkdir()
    socket = str(sockdir / "s")
    kit = FakeAgentKit(base / "fakebin")
    attack_bin = base / "attackbin"
    attack_bin.mkdir()
    (base / "attacks.sh").write_text(_attack_script(root, out, socket))
    shim = attack_bin / "claude"  # the lane's harness: the attack script, under a name that is not an agent's
    shim.write_text(f"#!/bin/sh\nexec bash {shlex.quote(str(base / 'attacks.sh'))}\n")
    shim.chmod(0o755)
    coord = base / "coord.sh"
    coord.write_text(
        f"cd {shlex.quote(str(root))} || exit 1\n"
        f"bash {shlex.quote(str(ADR))} accept {COORD_ADR} --yes >{shlex.quote(str(out / 'coord.err'))} 2>&1\n"
        f"echo $? >{shlex.quote(str(out / 'coord.rc'))}\n"
        "exec sleep 3600\n"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE") and not k.startswith("LOOP_")
    }
    env.update(
        {
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(sockdir),
            "FAKE_AGENT_WELCOME_S": "0.2",
            "LOOP_DEMO_WORK_S": "0.2",
            "PATH": f"{attack_bin}{os.pathsep}{kit.bin}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    _make_adrs(root, env)
    state_dir = base / "state"
    try:
        start_hermetic_server(socket, base / "home", env)
        boot = subprocess.run(
            [
                "bash",
                str(SHELL / "loop-tmux.sh"),
                "--project",
                SESSION,
                "--project-root",
                str(root),
                "--state-dir",
                str(state_dir),
                "--preset",
                "monitor",
                "--coord-cmd",
                f"bash {shlex.quote(str(coord))}",
                "--validate-left-cmd",
                "python3",
                "--validate-right-cmd",
                "python3 -c 'import time; time.sleep(3600)'",
                "--ops-top-cmd",
                "python3 -c 'print(1)'",
                "--ops-bottom-cmd",
                "sleep 0",
                "--boot-check",
                "2",
                "--no-attach",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            timeout=120,
            check=False,
        )
        h = Hostile(root=root, socket=socket, env=env, out=out, state_dir=state_dir, boot=boot)
        for window, harness in (("demo", "demo"), ("pi", "pi"), ("agent", "claude")):
            added = h.script(
                "loop-tmux.sh", "add-lane", "--session", SESSION, "--window", window, "--harness", harness
            )
            assert added.returncode == 0, added.stderr
        retry_until(lambda: (out / "attacks.done").is_file() and (out / "coord.rc").is_file(), timeout=60)
        yield h
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)


# ---- loop-adr accept from the lanes it gates -------------------------------------------------------------


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_no_env_trick_accepts_from_inside_an_ai_lane(hostile: Hostile, attack: str) -> None:
    err = (hostile.out / f"{attack}.err").read_text()
    assert (hostile.out / f"{attack}.rc").read_text().strip() == "1", err
    assert "refusing 'accept'" in err and "AI lane" in err and "harness claude" in err, err
    assert "Traceback" not in err
    assert hostile.adr_status(ATTACKS[attack]) == "Proposed"


@pytest.mark.parametrize("name", sorted(OUTSIDE_ADRS))
def test_an_agent_process_outside_tmux_cannot_accept(hostile: Hostile, name: str) -> None:
    """claude run in a plain terminal (argv[0] claude), or the demo agent (loop-demo-agent), and a tool
    call of theirs: no tmux anywhere, the harness among the ancestors refuses."""
    env = {k: v for k, v in hostile.env.items() if k not in ("LOOP_TMUX_SOCKET", "TMUX_TMPDIR")}
    number = OUTSIDE_ADRS[name]
    inner = f"bash {shlex.quote(str(ADR))} accept {number} --yes; exit $?"
    proc = hostile.run("bash", "-c", f"exec -a {name} bash -c {shlex.quote(inner)}", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "refusing 'accept': an AI harness is among its ancestors" in proc.stderr
    assert hostile.adr_status(number) == "Proposed"


def test_a_human_outside_tmux_and_the_coord_pane_accept(hostile: Hostile) -> None:
    coord_err = (hostile.out / "coord.err").read_text()
    assert (hostile.out / "coord.rc").read_text().strip() == "0", coord_err
    assert hostile.adr_status(COORD_ADR) == "Accepted"
    # a human's own shell: outside the test runner's ancestry (an agent may be running this suite)
    proc = hostile.run(sys.executable, str(DETACHED), "bash", str(ADR), "accept", str(HUMAN_ADR), "--yes")
    assert proc.returncode == 0, proc.stderr
    assert hostile.adr_status(HUMAN_ADR) == "Accepted"


# ---- one answer to "is this lane an AI lane?" ------------------------------------------------------------


def _pane_rows(h: Hostile) -> dict[str, list[str]]:
    proc = h.run(sys.executable, str(SHELL / "lib" / "lanes.py"), "panes", "--session", SESSION)
    assert proc.returncode == 0, proc.stderr
    fields = proc.stdout.split("\0")[:-1]
    rows = [fields[i : i + 8] for i in range(0, len(fields), 8)]
    return {row[0]: row for row in rows}


def test_one_lane_identity_answer_through_every_entry_point(hostile: Hostile) -> None:
    retry_until(
        lambda: (
            "demo agent ready"
            in hostile.run(
                "tmux", "-S", hostile.socket, "capture-pane", "-p", "-t", f"={SESSION}:demo"
            ).stdout
        )
    )
    status = json.loads(hostile.script("loop-lane-status.sh", "--session", SESSION, "--json", "--all").stdout)
    panes = _pane_rows(hostile)  # what --boot-check reads
    views, _ai, _ = observe_lanes(Substrate(SESSION, hostile.root, socket=hostile.socket))
    pids = {
        line.split(" ")[0]: line.split(" ")[1]
        for line in hostile.run(
            "tmux",
            "-S",
            hostile.socket,
            "list-panes",
            "-s",
            "-t",
            f"={SESSION}",
            "-F",
            "#{pane_id} #{pane_pid}",
        ).stdout.splitlines()
    }
    seen = {}
    for lane in LANES:
        pane = status["lanes"][lane]["target"]
        caller = hostile.run(
            sys.executable, str(SHELL / "lib" / "identity.py"), "caller", "--pid", pids[pane], "--json"
        )
        seen[lane] = (
            status["lanes"][lane]["ai"],
            panes[lane][7] != "",
            views[lane].agent,  # the engine's view (every AI lane here is up)
            json.loads(caller.stdout)["ai"],
        )
    assert seen == {lane: (ai, ai, ai, ai) for lane, ai in LANES.items()}


def test_boot_check_passes_python3_lanes(hostile: Hostile) -> None:
    assert hostile.boot.returncode == 0, hostile.boot.stdout + hostile.boot.stderr
    assert "boot-check: 0 AI lane(s) checked, 0 FAIL" in hostile.boot.stdout


def test_the_watchdog_leaves_python3_and_sleep_lanes_alone(hostile: Hostile) -> None:
    def at_shell() -> bool:
        listing = hostile.run(
            "tmux",
            "-S",
            hostile.socket,
            "list-panes",
            "-t",
            f"={SESSION}:ops",
            "-F",
            "#{pane_current_command}",
        ).stdout.split()
        return len(listing) == 2 and set(listing) <= {"bash", "zsh", "sh", "dash", "ksh", "fish"}

    retry_until(at_shell)
    proc = hostile.script(
        "lib/lane-health.sh", "once", "--session", SESSION, "--state-dir", str(hostile.state_dir)
    )
    assert proc.returncode == 0, proc.stderr
    log = hostile.state_dir / "lane-restarts.jsonl"
    restarted = [json.loads(x).get("lane") for x in log.read_text().splitlines()] if log.is_file() else []
    assert "ops-top" not in restarted and "ops-bottom" not in restarted


def test_text_to_a_python_repl_lane_is_destructive(hostile: Hostile) -> None:
    views, ai, _ = observe_lanes(Substrate(SESSION, hostile.root, socket=hostile.socket))
    ctx = GateContext(lanes=Observation(lanes=views).lane_facts(), ai_harnesses=ai)
    repl, agent = gate_actions(
        [
            {"kind": "dispatch", "lane": "validate-left", "payload": "print(1)", "mode": "text"},
            {"kind": "dispatch", "lane": "pi", "payload": "print(1)", "mode": "text"},
        ],
        ctx,
    )
    assert repl.gate == "destructive", repl.reasons
    assert any("does not run an AI agent" in r for r in repl.reasons)
    assert agent.gate == "safe", agent.reasons
