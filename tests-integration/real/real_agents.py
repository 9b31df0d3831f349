"""The real agent CLIs (claude, codex, pi) in loop lanes, each against a stub model: shared by the
conformance tests in this folder.

Every test gets its own stub server (random port), its own private HOME with the CLI presets, and its
own tmux server started with that environment (a tmux server passes only PATH to new windows, so the
lanes' HOME and API settings must be in the server's start environment).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from loop_substrate.pytest_plugin import start_hermetic_server
from stub_model import Stub

REPO = Path(__file__).resolve().parents[2]
SHELL = REPO / "shell"
HOOK = SHELL / "hooks" / "loop-lane-hook.sh"
HARNESSES = ("claude", "codex", "pi")
# The versions tools/install-real-agents.sh pins (README lists them too).
VERSIONS = {"claude": "2.1.197", "codex": "0.171.0", "pi": "0.73.1"}
CLAUDE_KEY = "sk-ant-api03-stub-key-0123456789abcdefghijKLMNOPQRST"
OPENAI_KEY = "sk-stub-openai-0123456789"
MODEL = "stub-model"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def agents_bin() -> Path:
    """The folder holding claude, codex and pi (installed by tools/install-real-agents.sh)."""
    explicit = os.environ.get("LOOP_REAL_AGENTS_BIN")
    if explicit:
        return Path(explicit)
    base = os.environ.get("LOOP_REAL_AGENTS_DIR") or str(
        Path.home() / ".cache" / "loop-orchestrator" / "real-agents"
    )
    return Path(base) / "node_modules" / ".bin"


def need_cli(harness: str) -> Path:
    """The CLI's path; a missing CLI fails under CI=true (setup must have installed it), else skips."""
    path = agents_bin() / harness
    if not os.access(path, os.X_OK):
        why = f"{harness} is not installed in {agents_bin()} (run: bash tools/install-real-agents.sh)"
        if in_ci():
            pytest.fail(why)
        pytest.skip(why)
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed") if in_ci() else pytest.skip("tmux is not installed")
    return path


def retry_until(
    predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.25, what: str = ""
) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what or 'condition'} not met within {timeout}s (last value: {last!r})")


def write_presets(home: Path, project: Path, base_url: str) -> dict[str, str]:
    """Private HOME presets for the three CLIs, pointed at the stub; returns the lanes' environment."""
    home.mkdir(parents=True, exist_ok=True)
    proj = str(project)
    # Claude Code: onboarding done (else it probes api.anthropic.com and exits), the key approved, the
    # project trusted; the loop hook subscribed to every event it maps.
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "lastOnboardingVersion": VERSIONS["claude"],
                "numStartups": 5,
                "autoUpdates": False,
                "customApiKeyResponses": {"approved": [CLAUDE_KEY[-20:]], "rejected": []},
                "projects": {
                    proj: {
                        "hasTrustDialogAccepted": True,
                        "hasCompletedProjectOnboarding": True,
                        "allowedTools": [],
                    }
                },
            }
        )
    )
    (home / ".claude").mkdir(exist_ok=True)
    # codex: a provider on the stub, an api-key auth.json (else "Sign in with ChatGPT"), no retries.
    codex_home = home / ".codex"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{MODEL}"\n'
        'model_provider = "stub"\n'
        'approval_policy = "on-request"\n'
        'sandbox_mode = "read-only"\n'
        "check_for_update_on_startup = false\n"
        "[model_providers.stub]\n"
        'name = "stub"\n'
        f'base_url = "{base_url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "STUB_OPENAI_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
        f'[projects."{proj}"]\n'
        'trust_level = "trusted"\n'
    )
    (codex_home / "auth.json").write_text(json.dumps({"OPENAI_API_KEY": OPENAI_KEY}))
    # pi: a custom provider on the stub (Chat Completions).
    agent = home / ".pi" / "agent"
    agent.mkdir(parents=True, exist_ok=True)
    (agent / "models.json").write_text(
        json.dumps(
            {
                "providers": {
                    "stub": {
                        "baseUrl": f"{base_url}/v1",
                        "api": "openai-completions",
                        "apiKey": OPENAI_KEY,
                        "models": [
                            {
                                "id": MODEL,
                                "name": "Stub",
                                "reasoning": False,
                                "input": ["text"],
                                "contextWindow": 128000,
                                "maxTokens": 4096,
                                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                            }
                        ],
                    }
                }
            }
        )
    )
    (agent / "settings.json").write_text(json.dumps({"defaultProvider": "stub", "defaultModel": MODEL}))
    path = os.pathsep.join(
        [
            str(agents_bin()),
            str(Path(shutil.which("node") or "/usr/bin/node").parent),
            "/usr/local/bin",
            "/usr/bin",
            "/bin",
        ]
    )
    return {
        "HOME": str(home),
        "PATH": path,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SHELL": "/bin/bash",
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": CLAUDE_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CODEX_HOME": str(codex_home),
        "STUB_OPENAI_KEY": OPENAI_KEY,
        "PI_OFFLINE": "1",
    }


@dataclass
class RealSession:
    """A stub, a private HOME and a private tmux server holding one session of real-agent lanes."""

    base: Path
    stub: Stub
    project: Path
    socket: str
    env: dict[str, str]
    session: str = "real"
    lanes: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        script: str,
        *args: str,
        timeout: float = 120,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full = dict(self.env)
        full.update(env or {})
        proc = subprocess.run(
            ["bash", str(SHELL / script), *args],
            capture_output=True,
            text=True,
            env=full,
            cwd=self.project,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"{script} {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}\n"
                f"screen:\n{self.screens()}"
            )
        return proc

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def add_lane(self, window: str, harness: str, *extra: str) -> None:
        need_cli(harness)
        self.run(
            "loop-tmux.sh",
            "add-lane",
            "--session",
            self.session,
            "--window",
            window,
            "--harness",
            harness,
            *extra,
            timeout=180,
        )
        self.lanes[window] = harness

    def status(self, lane: str) -> dict[str, object]:
        proc = self.run("loop-lane-status.sh", "--json", self.session, lane, timeout=30)
        doc = json.loads(proc.stdout)
        entry = doc["lanes"][lane]
        assert isinstance(entry, dict)
        return entry

    def word(self, lane: str) -> tuple[str, object, object]:
        e = self.status(lane)
        return (str(e["status"]), e["detail"], e["source"])

    def wait_status(
        self, lane: str, status: str, detail: object = None, source: str | None = None, timeout: float = 90
    ) -> dict[str, object]:
        seen: list[tuple[str, object, object]] = []

        def check() -> object:
            e = self.status(lane)
            seen.append((str(e["status"]), e["detail"], e["source"]))
            ok = e["status"] == status and (detail is None or e["detail"] == detail)
            return e if ok and (source is None or e["source"] == source) else None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = check()
            if got:
                return got  # type: ignore[return-value]
            time.sleep(0.3)
        pytest.fail(
            f"lane {lane}: never {status}/{detail}/{source} within {timeout}s; "
            f"last seen {seen[-5:]}\nscreen:\n{self.capture(lane)}"
        )

    def pane(self, lane: str) -> str:
        proc = self.tmux("display-message", "-p", "-t", f"={self.session}:={lane}", "#{pane_id}")
        return proc.stdout.strip()

    def capture(self, lane: str) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", self.pane(lane)).stdout

    def screens(self) -> str:
        return "\n".join(f"--- {lane}\n{self.capture(lane)}" for lane in self.lanes)

    def wait_screen(self, lane: str, needle: str, timeout: float = 60) -> str:
        def seen() -> str:
            screen = self.capture(lane)
            return screen if needle in screen else ""

        return str(retry_until(seen, timeout, what=f"{needle!r} on lane {lane}"))

    def keys(self, lane: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.pane(lane), *keys)

    def dispatch(
        self, lane: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "loop-dispatch.sh", "--session", self.session, lane, *args, check=check, timeout=timeout
        )

    def wait_prompt(self, text: str, timeout: float = 60) -> dict[str, object]:
        """The first main request whose newest user text contains `text`."""

        def find() -> object:
            for r in self.stub.main_requests():
                if any(text in t for t in r["user_texts"]):
                    return r
            return None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = find()
            if found:
                return found  # type: ignore[return-value]
            time.sleep(0.25)
        pytest.fail(f"no model request with {text!r} within {timeout}s\nscreens:\n{self.screens()}")

    def install_claude_hook(self) -> None:
        """Subscribe the loop hook (shell/hooks/claude-settings.json) for claude lanes added from now on."""
        settings = json.loads((SHELL / "hooks" / "claude-settings.json").read_text())
        for groups in settings["hooks"].values():
            for group in groups:
                for hook in group["hooks"]:
                    hook["command"] = hook["command"].replace("loop-lane-hook", str(HOOK), 1)
        (Path(self.env["HOME"]) / ".claude" / "settings.json").write_text(json.dumps(settings))

    def allow_retries(self) -> None:
        """Let each CLI retry a failed request (the presets say no retries), for lanes added from now on."""
        self.tmux("set-environment", "-g", "CLAUDE_CODE_MAX_RETRIES", "6")
        config = Path(self.env["CODEX_HOME"]) / "config.toml"
        text = config.read_text().replace("request_max_retries = 0", "request_max_retries = 6")
        config.write_text(text.replace("stream_max_retries = 0", "stream_max_retries = 6"))
        settings = Path(self.env["HOME"]) / ".pi" / "agent" / "settings.json"
        doc = json.loads(settings.read_text())
        doc["retry"] = {"enabled": True, "maxRetries": 6, "baseDelayMs": 2000}
        settings.write_text(json.dumps(doc))

    def pane_pids(self) -> list[int]:
        out = self.tmux("list-panes", "-a", "-F", "#{pane_pid}").stdout.split()
        return [int(p) for p in out if p.isdigit()]

    def close(self) -> None:
        self.stub.stop()
        self.tmux("kill-server")
        kill_strays(self.base)
        shutil.rmtree(Path(self.socket).parent, ignore_errors=True)


def kill_strays(home_base: Path) -> None:
    """End every process still running with this test's HOME (codex's detached app-server survives the
    pane and the tmux server), by pid: only processes whose environment names this test's folder."""
    mark = str(home_base).encode()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue
        if b"HOME=" + mark in environ:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def start_session(tmp: Path) -> RealSession:
    base = Path(os.path.realpath(tmp))
    stub = Stub(str(base / "requests.jsonl")).start()
    project = base / "proj"
    project.mkdir()
    env = write_presets(base / "home", project, stub.base_url)
    sockdir = tempfile.mkdtemp(prefix="lr-", dir="/tmp")
    socket = os.path.join(sockdir, "s")
    hooks = base / "hooks"
    hooks.mkdir()
    env.update(
        {
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": sockdir,
            "LOOP_LANE_HOOK_DIR": str(hooks),
            "LOOP_LANE_STATUS_CACHE_DIR": str(base / "lscache"),
        }
    )
    start_hermetic_server(socket, base / "home", env)
    rs = RealSession(base=base, stub=stub, project=project, socket=socket, env=env)
    proc = rs.tmux("new-session", "-d", "-s", rs.session, "-c", str(project), "-n", "base")
    assert proc.returncode == 0, proc.stderr
    return rs
