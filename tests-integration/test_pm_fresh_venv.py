"""loop-pm installed from wheels into fresh venvs, with nothing else of the workspace:

- with loop-pm-jira: list-adapters shows jira; pull --dry-run against a local (fake) Jira shows the
  remote issues and writes nothing; pull then push round-trips; bad configuration is one line.
- with a third-party adapter (tests-integration/pm_test_adapter, depending on loop-schemas only):
  it is found through the entry point and syncs; its broken second entry point is reported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from loop_schemas import lint_tasks, parse_task

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECTIONS = (
    "Objective",
    "Context you need",
    "Deliverables",
    "Acceptance criteria",
    "Verification",
    "Out of scope",
)


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    home = Path.home() / ".local" / "bin" / "uv"
    return str(home) if home.exists() else None


UV = _uv()
pytestmark = pytest.mark.skipif(UV is None, reason="uv is needed to build wheels and make venvs")


def _load_fake() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fake_jira_for_venv_tests", HERE / "fake_jira.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake_jira = _load_fake()


def _run(
    *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert UV is not None
    out = tmp_path_factory.mktemp("wheels")
    built: dict[str, Path] = {}
    for name, src in {
        "loop-schemas": REPO / "packages" / "loop-schemas",
        "loop-pm": REPO / "packages" / "loop-pm",
        "loop-pm-jira": REPO / "packages" / "loop-pm-jira",
        "memo-pm-adapter": HERE / "pm_test_adapter",
    }.items():
        dest = out / name
        proc = _run(UV, "build", "--wheel", "--quiet", "--out-dir", str(dest), str(src))
        assert proc.returncode == 0, proc.stderr
        (wheel,) = dest.glob("*.whl")
        built[name] = wheel
    return built


def make_venv(root: Path, wheels: list[Path]) -> Path:
    assert UV is not None
    venv = root / "venv"
    proc = _run(UV, "venv", "--quiet", "--python", sys.executable, str(venv))
    assert proc.returncode == 0, proc.stderr
    proc = _run(UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *map(str, wheels))
    assert proc.returncode == 0, proc.stderr
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JIRA_", "MEMO_", "VIRTUAL_ENV", "PYTHON", "UV_"))
    }
    env.update(extra)
    return env


def write_task(project: Path, task_id: str, title: str, status: str = "open") -> Path:
    body = "\n".join(f"## {s}\n\n{title}: {s.lower()}.\n" for s in SECTIONS)
    path = project / "tasks" / f"{task_id}-{title.lower().replace(' ', '-')}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\nid: {task_id}\ntitle: {title}\nstatus: {status}\ndepends_on: []\nscope: s\njira:\n---\n\n"
        + body
    )
    return path


def digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------- jira


@pytest.fixture(scope="module")
def jira_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(
        tmp_path_factory.mktemp("jira-venv"),
        [wheels["loop-schemas"], wheels["loop-pm"], wheels["loop-pm-jira"]],
    )


@pytest.fixture
def jira() -> Iterator[Any]:
    server = fake_jira.FakeJiraServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_fresh_venv_with_jira(jira_venv: Path, jira: Any, tmp_path: Path) -> None:
    loop_pm = jira_venv / "bin" / "loop-pm"
    env = clean_env(
        JIRA_BASE_URL=jira.url,
        JIRA_EMAIL=fake_jira.EMAIL,
        JIRA_API_TOKEN=fake_jira.TOKEN,
        JIRA_ALLOW_INSECURE_BASE_URL="1",
        JIRA_PROJECT_KEY="TEAM",
    )
    # nothing of the workspace leaks in: the venv has only what was installed
    probe = _run(str(jira_venv / "bin" / "python"), "-c", "import loop_engine", env=env)
    assert probe.returncode != 0

    listing = _run(str(loop_pm), "list-adapters", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)["adapters"]
    assert (row["name"], row["distribution"], row["available"]) == ("jira", "loop-pm-jira", True)

    project = tmp_path / "proj"
    write_task(project, "T0001", "Local task")
    jira.state.add_issue("TEAM", "Remote one")
    jira.state.add_issue("TEAM", "Remote two", status="In Progress")
    jira.state.add_issue("TEAM", "Remote three")
    before = digest(project)
    dry = _run(str(loop_pm), "sync", "--adapter", "jira", "pull", "--dry-run", cwd=project, env=env)
    assert dry.returncode == 0, dry.stderr
    for key in ("TEAM-1", "TEAM-2", "TEAM-3"):
        assert key in dry.stdout
    assert digest(project) == before and jira.state.writes() == []

    pull = _run(str(loop_pm), "sync", "--adapter", "jira", "pull", cwd=project, env=env)
    assert pull.returncode == 0, pull.stderr
    push = _run(str(loop_pm), "sync", "--adapter", "jira", "push", cwd=project, env=env)
    assert push.returncode == 0, push.stderr
    local = parse_task((project / "tasks" / "T0001-local-task.md").read_text())
    assert local.frontmatter.jira == "TEAM-4"
    assert jira.state.issues["TEAM-4"].summary == "Local task"
    assert lint_tasks(project / "tasks") == []
    again = _run(str(loop_pm), "sync", "--adapter", "jira", "both", cwd=project, env=env)
    assert again.returncode == 0 and "nothing to do" in again.stdout

    for bad, needle in (
        ({"JIRA_BASE_URL": "::not a url::"}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": jira.url.replace("http://", "http://bot@")}, "user@"),
        ({"JIRA_ALLOW_INSECURE_BASE_URL": "0"}, "https://"),
        ({"JIRA_API_TOKEN": "nope"}, "HTTP 401"),
    ):
        proc = _run(str(loop_pm), "sync", "--adapter", "jira", "pull", cwd=project, env={**env, **bad})
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 1 and len(lines) == 1 and needle in lines[0], proc.stderr
        assert fake_jira.TOKEN not in proc.stderr


# ---------------------------------------------------------------------------------------- third party


def test_third_party_adapter_through_the_entry_point(wheels: dict[str, Path], tmp_path: Path) -> None:
    venv = make_venv(
        tmp_path / "memo", [wheels["loop-schemas"], wheels["loop-pm"], wheels["memo-pm-adapter"]]
    )
    python = str(venv / "bin" / "python")
    requires = _run(
        python, "-c", "import importlib.metadata as m; print(*m.requires('memo-pm-adapter'), sep='\\n')"
    )
    names = [line.split("<")[0].split(">")[0].split("=")[0].strip() for line in requires.stdout.splitlines()]
    assert names == ["loop-schemas"]  # a third-party adapter needs loop-schemas alone
    assert _run(python, "-c", "import loop_pm_jira").returncode != 0

    remote = tmp_path / "remote.json"
    env = clean_env(MEMO_PM_FILE=str(remote))
    loop_pm = str(venv / "bin" / "loop-pm")
    listing = _run(loop_pm, "list-adapters", "--json", env=env)
    assert listing.returncode == 0
    rows = {a["name"]: a for a in json.loads(listing.stdout)["adapters"]}
    assert rows["memo"]["available"] and rows["memo"]["distribution"] == "memo-pm-adapter"
    assert rows["memo"]["version"] == "0.3.0"
    broken = rows["memo-broken"]
    assert not broken["available"] and "No module named 'memo_pm_adapter.missing_module'" in broken["reason"]
    assert "memo-broken" in listing.stderr  # reported loudly, not skipped

    project = tmp_path / "proj"
    path = write_task(project, "T0001", "Third party")
    push = _run(loop_pm, "sync", "--adapter", "memo", "push", "--prefix", "EXT", cwd=project, env=env)
    assert push.returncode == 0, push.stderr
    assert parse_task(path.read_text()).frontmatter.jira == "EXT-1"
    data = json.loads(remote.read_text())
    data["issues"]["EXT-2"] = {"title": "From the tool", "status": "open", "description": "", "labels": []}
    data["issues"]["EXT-1"]["status"] = "done"
    remote.write_text(json.dumps(data))
    pull = _run(loop_pm, "sync", "--adapter", "memo", "pull", cwd=project, env=env)
    assert pull.returncode == 0, pull.stderr
    assert (project / "tasks" / "archive" / path.name).exists()
    assert parse_task((project / "tasks" / "T0002-from-the-tool.md").read_text()).frontmatter.jira == "EXT-2"
    log = (project / "ops-wiki" / "log.md").read_text()
    assert "sync | EXT-1 created from T0001" in log and "task | T0001 done" in log
    assert lint_tasks(project / "tasks") == []

    unavailable = _run(loop_pm, "sync", "--adapter", "memo", "pull", cwd=project, env=clean_env())
    assert unavailable.returncode == 1 and "MEMO_PM_FILE is not set" in unavailable.stderr
    broken = _run(loop_pm, "sync", "--adapter", "memo-broken", "pull", cwd=project, env=env)
    assert broken.returncode == 1 and "failed to load" in broken.stderr
