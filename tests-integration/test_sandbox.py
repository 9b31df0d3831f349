"""Sandboxed lanes on a real tmux server (a private socket) with real bubblewrap.

A sandboxed lane (`loop-tmux add-lane --sandbox`) runs its pane under bwrap. From inside such a lane --
commands typed into its pane -- the gates are out of reach: writing an ADR, `loop-adr accept`, editing a
task, driving the tmux server (its socket, a new window), reading ~/.ssh each fail with the file
untouched; editing a source file, `git commit` in its worktree, pytest and `loop-mail send` work, and
the mail reaches the main mailbox (the digest and the engine's observation see it, from: the lane).
The substrate works on it as on any lane: list-lanes, loop-lane-status's classification through
bwrap, dispatch, the watchdog's restart (inside the sandbox again). No bwrap: one line, exit 1.

Where bwrap cannot run (not Linux, not installed, no user namespaces) the tests skip with the reason;
under CI=true on Linux they fail instead (CI installs bubblewrap: tools/setup.sh).
"""

from __future__ import annotations

import json
import os
import platform
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
from loop_engine.gate import GateContext, LaneFacts, gate_actions
from loop_substrate.pytest_plugin import start_hermetic_server

pytestmark = pytest.mark.tmux

sys.path.insert(0, str(SHELL / "lib"))
import mail  # noqa: E402  (shell/lib: the one sweep implementation)

SESSION = "sbx"
FAKE_AGENT = SHELL / "tests" / "fake_agent.py"


def _bwrap_unusable() -> str:
    """Why bwrap cannot run here ("" when it can)."""
    if platform.system() != "Linux":
        return f"bubblewrap sandboxes need Linux ({platform.system()})"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    proc = subprocess.run(
        [sys.executable, str(SHELL / "lib" / "sandbox.py"), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stderr.strip() if proc.returncode != 0 else ""


def _need_bwrap() -> None:
    why = _bwrap_unusable()
    if not why:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and platform.system() == "Linux":
        pytest.fail(f"CI on Linux must run the sandbox tests: {why}")
    pytest.skip(why)


@dataclass
class Sbx:
    root: Path
    home: Path
    socket: str
    env: dict[str, str]
    wt: Path  # the worktree of the `box` lane
    out: Path  # inside the worktree: where the probe writes its results

    def run(self, *argv: str, cwd: Path | None = None, **kw: str) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, **kw)
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd or self.root,
            timeout=120,
            check=False,
        )

    def script(self, name: str, *args: str, **kw: str) -> subprocess.CompletedProcess[str]:
        return self.run("bash", str(SHELL / name), *args, **kw)

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("tmux", "-S", self.socket, *args)

    def pane(self, window: str) -> str:
        return self.tmux("display-message", "-p", "-t", f"={SESSION}:{window}", "#{pane_id}").stdout.strip()


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _project(root: Path, env: dict[str, str]) -> None:
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    proc = subprocess.run(
        ["bash", str(SHELL / "loop-adr.sh"), "new", "Sandboxed lanes"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=True,
    )
    assert (root / proc.stdout.strip()).is_file()
    (root / "tasks").mkdir()
    (root / "tasks" / "T0001-first.md").write_text("---\nid: T0001\ntitle: first\nstatus: todo\n---\n")
    (root / "src.py").write_text("VALUE = 1\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    (root / ".gitignore").write_text(".out/\n.agentlog/\n.loop/\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)


@pytest.fixture(scope="module")
def sbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sbx]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    _need_bwrap()
    base = tmp_path_factory.mktemp("sandbox")
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("FAKE PRIVATE KEY\n")
    agent_bin = base / "bin"
    agent_bin.mkdir()
    root = base / "proj"
    # the lane's harness: the fake agent TUI (a copy on PATH: the sandbox sees PATH, not this checkout),
    # logging into the project tree (writable inside the sandbox)
    shutil.copy(FAKE_AGENT, agent_bin / "fake_agent.py")
    shim = agent_bin / "claude"
    program = shlex.quote(str(agent_bin / "fake_agent.py"))
    shim.write_text(
        f"#!/usr/bin/env bash\nexec {shlex.quote(sys.executable)} {program} --play claude "
        f'--log-dir {shlex.quote(str(root / ".agentlog"))} "$@"\n'
    )
    shim.chmod(0o755)
    sockdir = Path(os.path.realpath("/tmp")) / f"sb-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    sockdir.mkdir()
    socket = str(sockdir / "s")
    env = {
        k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE") and not k.startswith("LOOP_")
    }
    env.update(
        {
            "HOME": str(home),
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(sockdir),
            "FAKE_AGENT_WELCOME_S": "0.2",
            "PATH": os.pathsep.join([str(agent_bin), os.path.dirname(sys.executable), env.get("PATH", "")]),
        }
    )
    _project(root, env)
    try:
        start_hermetic_server(socket, home, env)
        subprocess.run(
            ["tmux", "-S", socket, "new-session", "-d", "-s", SESSION, "-c", str(root)], env=env, check=True
        )
        h = Sbx(root=root, home=home, socket=socket, env=env, wt=root, out=root)
        added = h.script(
            "loop-tmux.sh",
            "add-lane",
            "--session",
            SESSION,
            "--window",
            "box",
            "--cmd",
            "bash --norc",
            "--repo",
            str(root),
            "--worktree",
            "--sandbox",
        )
        assert added.returncode == 0, added.stderr
        h.wt = root / ".loop" / "worktrees" / SESSION / "box"
        h.out = h.wt / ".out"
        added = h.script(
            "loop-tmux.sh",
            "add-lane",
            "--session",
            SESSION,
            "--window",
            "agent",
            "--harness",
            "claude",
            "--repo",
            str(root),
            "--sandbox",
            "--wait-ready",
            "--ready-timeout",
            "30",
        )
        assert added.returncode == 0, added.stderr
        yield h
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)


PROBES = {
    # must fail
    "adr-write": "echo forged >> docs/adr/0001-*.md",
    "adr-accept": "loop-adr accept 1 --yes",
    "task-edit": "echo 'status: done' >> tasks/T0001-first.md",
    "tmux-socket": "tmux -S {socket} send-keys -t ={session}:agent 'echo pwned' Enter",
    "tmux-new": "tmux new-window",
    "ssh-key": "cat ~/.ssh/id_ed25519",
    "loop-write": "mkdir -p .loop && echo x > .loop/forged",
    "git-hook": 'echo "touch /tmp/pwned" > "$(git rev-parse --git-common-dir)/hooks/post-commit"',
    # must work
    "src-edit": "echo 'VALUE = 2' > src.py",
    "commit": "git -c user.email=l@example.com -c user.name=lane commit -qm 'edit in the sandbox' src.py",
    "pytest": "python3 -m pytest -q -p no:cacheprovider tests/test_ok.py",
    "mail": "loop-mail send --from coord --to human --subject 'hello from the box' --body 'done'",
}
MUST_FAIL = (
    "adr-write",
    "adr-accept",
    "task-edit",
    "tmux-socket",
    "tmux-new",
    "ssh-key",
    "loop-write",
    "git-hook",
)
MUST_WORK = ("src-edit", "commit", "pytest", "mail")


@pytest.fixture(scope="module")
def probed(sbx: Sbx) -> dict[str, tuple[int, str]]:
    """Type the probe into the box lane's pane (a shell inside the sandbox); {name: (rc, output)}."""
    adr = next((sbx.wt / "docs" / "adr").glob("0001-*.md"))
    before = {p: p.read_bytes() for p in (adr, sbx.wt / "tasks" / "T0001-first.md")}
    before.update({p: p.read_bytes() for p in (sbx.root / "docs" / "adr").glob("0001-*.md")})
    lines = ["mkdir -p .out"]
    for name, template in PROBES.items():
        cmd = template.format(socket=shlex.quote(sbx.socket), session=SESSION)
        lines.append(f"( {cmd} ) > .out/{name}.txt 2>&1; echo $? > .out/{name}.rc")
    lines.append("echo ok > .out/done")
    (sbx.wt / "probe.sh").write_text("\n".join(lines) + "\n")
    sbx.tmux("send-keys", "-t", sbx.pane("box"), "-l", "bash probe.sh")
    sbx.tmux("send-keys", "-t", sbx.pane("box"), "Enter")
    retry_until((sbx.out / "done").is_file, timeout=60)
    got = {n: (int((sbx.out / f"{n}.rc").read_text()), (sbx.out / f"{n}.txt").read_text()) for n in PROBES}
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} changed from inside the sandbox"
    return got


@pytest.mark.parametrize("name", MUST_FAIL)
def test_the_gates_are_out_of_reach(probed: dict[str, tuple[int, str]], name: str, sbx: Sbx) -> None:
    rc, said = probed[name]
    assert rc != 0, f"{name} worked inside the sandbox: {said}"
    assert "FAKE PRIVATE KEY" not in said
    assert not (sbx.wt / ".loop" / "forged").exists()


def test_the_tmux_server_got_nothing(probed: dict[str, tuple[int, str]], sbx: Sbx) -> None:
    windows = sbx.tmux("list-windows", "-t", f"={SESSION}", "-F", "#{window_name}").stdout.split()
    assert len(windows) == 3, windows  # the session's first window, box and agent: no new window


@pytest.mark.parametrize("name", MUST_WORK)
def test_real_work_goes_on(probed: dict[str, tuple[int, str]], name: str) -> None:
    rc, said = probed[name]
    assert rc == 0, f"{name} failed inside the sandbox: {said}"


def test_edit_and_commit_land_in_the_worktree(probed: dict[str, tuple[int, str]], sbx: Sbx) -> None:
    assert (sbx.wt / "src.py").read_text() == "VALUE = 2\n"
    log = subprocess.run(
        ["git", "-C", str(sbx.wt), "log", "-1", "--format=%s"], capture_output=True, text=True, check=True
    )
    assert log.stdout.strip() == "edit in the sandbox"
    assert (sbx.root / "src.py").read_text() == "VALUE = 1\n"  # the main checkout is another tree


def test_mail_from_the_sandbox_reaches_the_mailbox_as_the_lane(
    probed: dict[str, tuple[int, str]], sbx: Sbx
) -> None:
    drop = sbx.root / ".loop" / "mail-drop" / "box"
    assert [p for p in drop.iterdir() if not p.name.startswith(".")], "the mail is not in the drop folder"
    digest = sbx.script("loop-digest.sh", "--project-root", str(sbx.root), "--once", "--json")
    assert digest.returncode == 0, digest.stderr
    pending = json.loads(digest.stdout)["mailbox"]["pending"]
    assert [(m["from"], m["to"], m["subject"]) for m in pending] == [("box", "human", "hello from the box")]
    assert not [p for p in drop.iterdir() if not p.name.startswith(".")]
    text = (sbx.root / ".loop" / "messages" / pending[0]["file"]).read_text()
    assert "from: box\n" in text and "from: coord" not in text  # the folder is the authority


def test_the_engine_sweeps_dropped_mail(sbx: Sbx, tmp_path: Path) -> None:
    from loop_engine.observe import mail_dropped, pending_mail
    from loop_substrate import Substrate

    sent = sbx.tmux(
        "send-keys",
        "-t",
        sbx.pane("box"),
        "-l",
        "loop-mail send --to coord --from box --subject engine-sees-it",
    )
    assert sent.returncode == 0
    sbx.tmux("send-keys", "-t", sbx.pane("box"), "Enter")
    mailbox = sbx.root / ".loop" / "messages"
    retry_until(lambda: mail_dropped(mailbox), timeout=30)
    Substrate(SESSION, sbx.root, socket=sbx.socket).sweep_mail(mailbox)
    assert not mail_dropped(mailbox)
    assert "engine-sees-it" in [m.subject for m in pending_mail(mailbox)]


def test_list_lanes_and_status_see_a_sandboxed_lane(sbx: Sbx) -> None:
    listed = sbx.script("loop-tmux.sh", "list-lanes", "--session", SESSION, "--json")
    assert listed.returncode == 0, listed.stderr
    lanes = {lane["window"]: lane for lane in json.loads(listed.stdout)["lanes"]}
    assert lanes["box"]["sandbox"] is True and lanes["agent"]["sandbox"] is True
    table = sbx.script("loop-tmux.sh", "list-lanes", "--session", SESSION)
    assert "SANDBOX" in table.stdout
    status = sbx.script("loop-lane-status.sh", "--json", "--all", SESSION)
    assert status.returncode == 0, status.stderr
    agent = json.loads(status.stdout)["lanes"]["agent"]
    assert agent["ai"] is True and agent["status"] == "idle", agent
    pane_pid = sbx.tmux("display-message", "-p", "-t", sbx.pane("agent"), "#{pane_pid}").stdout.strip()
    assert Path(f"/proc/{pane_pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"bwrap")


def test_dispatch_reaches_the_sandboxed_agent(sbx: Sbx) -> None:
    sent = sbx.script("loop-dispatch.sh", "--session", SESSION, "agent", "hello sandboxed agent")
    assert sent.returncode == 0, sent.stderr
    log = sbx.root / ".agentlog" / "claude.log"
    retry_until(lambda: log.is_file() and b"hello sandboxed agent" in log.read_bytes(), timeout=30)


def test_the_watchdog_restarts_inside_the_sandbox(sbx: Sbx) -> None:
    pane = sbx.pane("agent")
    old_pid = sbx.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").stdout.strip()
    # the agent exits: the pane falls back to the shell -- inside the sandbox
    sbx.tmux("send-keys", "-t", pane, "C-d")  # the fake agent quits on C-d at an empty composer
    retry_until(
        lambda: (
            sbx.tmux("display-message", "-p", "-t", pane, "#{pane_current_command}").stdout.strip()
            in ("bash", "sh", "zsh")
        ),
        timeout=30,
    )
    once = sbx.run(
        "bash",
        str(SHELL / "lib" / "lane-health.sh"),
        "once",
        "--session",
        SESSION,
        "--state-dir",
        str(sbx.root / ".loop" / "state"),
    )
    assert once.returncode == 0, once.stderr
    new_pid = sbx.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").stdout.strip()
    assert new_pid != old_pid
    assert Path(f"/proc/{new_pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"bwrap")
    retry_until(
        lambda: (
            sbx.tmux("display-message", "-p", "-t", pane, "#{pane_current_command}").stdout.strip()
            not in ("bash", "sh", "zsh", "bwrap")
        ),
        timeout=30,
    )


def test_no_bwrap_is_one_line_and_no_lane(sbx: Sbx) -> None:
    missing = str(sbx.root / "no-such-bwrap")
    added = sbx.script(
        "loop-tmux.sh",
        "add-lane",
        "--session",
        SESSION,
        "--window",
        "nobox",
        "--cmd",
        "sleep 60",
        "--sandbox",
        LOOP_SANDBOX_BWRAP=missing,
    )
    assert added.returncode == 1
    assert added.stderr.count("\n") == 1 and "apt-get install bubblewrap" in added.stderr, added.stderr
    windows = sbx.tmux("list-windows", "-t", f"={SESSION}", "-F", "#{window_name}").stdout.split()
    assert "nobox" not in windows
    booted = sbx.script(
        "loop-tmux.sh",
        "--session",
        "sbx2",
        "--project-root",
        str(sbx.root),
        "--preset",
        "validation-only",
        "--sandbox-all",
        "--no-attach",
        LOOP_SANDBOX_BWRAP=missing,
    )
    assert booted.returncode == 1 and "apt-get install bubblewrap" in booted.stderr, booted.stderr
    assert sbx.tmux("has-session", "-t", "=sbx2").returncode != 0


def test_boot_sandboxes_what_lane_config_says(sbx: Sbx) -> None:
    config = sbx.root / "boot-lanes.yaml"
    config.write_text(
        "lanes:\n  web:\n    harness: claude\n    sandbox: true\n  docs:\n    cmd: sleep 3600\n"
    )
    plan = sbx.script(
        "loop-tmux.sh",
        "--session",
        "sbx3",
        "--project-root",
        str(sbx.root),
        "--preset",
        "monitor",
        "--sandbox-all",
        "--print-cmds",
        "--json",
    )
    assert plan.returncode == 0, plan.stderr
    lanes = json.loads(plan.stdout)["lanes"]
    assert lanes["coord"]["sandbox"] is False and lanes["ops-top"]["sandbox"] is True
    booted = sbx.script(
        "loop-tmux.sh",
        "--session",
        "sbx3",
        "--project-root",
        str(sbx.root),
        "--preset",
        "monitor",
        "--coord-cmd",
        "sleep 3600",
        "--lane-config",
        str(config),
        "--no-attach",
        "--boot-check",
        "3",
    )
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert "boot-check: ok web" in booted.stdout, booted.stdout
    listed = json.loads(sbx.script("loop-tmux.sh", "list-lanes", "--session", "sbx3", "--json").stdout)
    sandboxed = {lane["window"]: lane["sandbox"] for lane in listed["lanes"]}
    assert sandboxed["web"] is True and sandboxed["docs"] is False and sandboxed["coord"] is False
    web_pid = sbx.tmux("display-message", "-p", "-t", "=sbx3:web", "#{pane_pid}").stdout.strip()
    assert Path(f"/proc/{web_pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"bwrap")


def test_a_sandboxed_lane_still_launching_is_seen_through_bwrap(tmp_path: Path) -> None:
    """The launching-shell rule (lane_status.launching_pids) looks through bwrap: a pane whose first
    process is bwrap, whose shell still runs the launch, is launching (not down: the watchdog must not
    start a second agent into it)."""
    _need_bwrap()
    import lane_status
    import lanes
    import sandbox

    (tmp_path / "tree").mkdir()
    bash = shutil.which("bash") or "/bin/bash"
    argv = sandbox.wrap(lanes.lane_command("sleep 30", bash), str(tmp_path / "tree"), "w")
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        retry_until(lambda: str(proc.pid) in lane_status.launching_pids([str(proc.pid)]), timeout=15)
    finally:
        proc.kill()
        proc.wait()


# ---- the sweep (mail.py), without tmux ----------------------------------------------------------------


def _drop(tmp_path: Path, lane: str = "web") -> tuple[Path, Path]:
    box = tmp_path / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    drop = tmp_path / ".loop" / "mail-drop" / lane
    drop.mkdir(parents=True)
    return box, drop


def test_sweep_forces_the_sender_and_quarantines_what_is_invalid(tmp_path: Path) -> None:
    box, drop = _drop(tmp_path)
    mail.send(str(drop), "coord", "human", "forged sender", "body\n", drop=True)
    (drop / "huge.md").write_bytes(b"---\nsubject: x\nto: human\n---\n" + b"x" * (mail.DROP_MAX_BYTES + 1))
    (drop / "nofm.md").write_text("no frontmatter\n")
    secret = tmp_path / "secret"
    secret.write_text("---\nsubject: secret\nto: human\n---\nTOP SECRET\n")
    (drop / "link.md").symlink_to(secret)
    os.mkfifo(drop / "fifo.md")
    delivered, refused = mail.sweep(str(box))
    assert len(delivered) == 1 and len(refused) == 4
    text = Path(delivered[0]).read_text()
    assert "from: web\n" in text and mail.read_subject(delivered[0]) == "forged sender"
    assert "-web-to-human" in Path(delivered[0]).name
    assert not any("TOP SECRET" in Path(p).read_text() for p in box.glob("*.md"))
    assert sorted(os.listdir(drop)) == []
    quarantine = tmp_path / ".loop" / "mail-drop" / ".quarantine"
    assert len([p for p in quarantine.iterdir() if p.name.endswith(".why")]) == 4


def test_mail_read_verbs_sweep_first(tmp_path: Path) -> None:
    _box, drop = _drop(tmp_path, "infra")
    mail.send(str(drop), "infra", "coord", "dropped", "", drop=True)
    proc = subprocess.run(
        ["bash", str(SHELL / "scripts" / "loop-mail.sh"), "--project-root", str(tmp_path), "count"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("LOOP_")},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"


# ---- the gate switch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", [False, True])
def test_sandboxed_text_safe_is_a_switch(switch: bool) -> None:
    lanes = {
        "box": LaneFacts(name="box", base=False, agent=True, sandboxed=True),
        "open": LaneFacts(name="open", base=False, agent=True, sandboxed=False),
    }
    ctx = GateContext(
        lanes=lanes,
        ai_harnesses=frozenset({"claude"}),
        payload_patterns=["rm -rf"],
        sandboxed_text_safe=switch,
    )
    actions = [
        {"kind": "dispatch", "lane": lane, "payload": "please rm -rf build/"} for lane in ("box", "open")
    ]
    box, other = gate_actions(actions, ctx)
    assert box.gate == ("safe" if switch else "destructive")
    assert other.gate == "destructive"
    accept = gate_actions([{"kind": "dispatch", "lane": "box", "payload": "loop-adr accept 1 --yes"}], ctx)
    assert accept[0].gate == "blocked"
