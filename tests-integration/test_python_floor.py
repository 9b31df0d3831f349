"""The Python floors the docs promise, proven on real interpreters where this machine has them:

- the bash substrate's stdlib helpers (`shell/lib/*.py`) run on python3 >= 3.8 (CONTRACT.md): every helper
  imports under 3.8, and the scripts run end to end on a real tmux server with that python3 first on PATH;
- every distribution declares requires-python >= 3.10: loop-engine installed alone from its wheel into a
  3.10 venv answers --help for each console script and runs a cycle of the engine on a live session.

The interpreters come from LOOP_TEST_PYTHON38 / LOOP_TEST_PYTHON310, else from pyenv's versions folder
($PYENV_ROOT, default ~/.pyenv); without one the test is skipped. (`shell/tests` can run whole on an
old python3 too: LOOP_TEST_PYTHON=<python3.8> pytest shell/tests.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_session import REPO

pytestmark = [pytest.mark.slow, pytest.mark.tmux]

SHELL = REPO / "shell"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _interpreter(minor: int) -> str:
    """A python 3.<minor>: LOOP_TEST_PYTHON3<minor>, else pyenv's newest 3.<minor>.x; skip without one."""
    explicit = os.environ.get(f"LOOP_TEST_PYTHON3{minor}")
    candidates = [Path(explicit)] if explicit else []
    if not explicit:
        root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
        found = [
            p for p in root.glob(f"3.{minor}.*/bin/python3") if re.fullmatch(rf"3\.{minor}\.\d+", p.parts[-3])
        ]
        candidates = sorted(found, key=lambda p: int(p.parts[-3].split(".")[2]), reverse=True)
    for python in candidates:
        proc = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if proc.returncode == 0 and proc.stdout.strip() == f"3.{minor}":
            return str(python)
    pytest.skip(f"no python 3.{minor} here (set LOOP_TEST_PYTHON3{minor})")


def _env(path_first: Path, sockdir: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": f"{path_first}{os.pathsep}{SYSTEM_PATH}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
        "SHELL": "/bin/bash",
        "LOOP_TMUX_SOCKET": str(sockdir / "s"),
        "TMUX_TMPDIR": str(sockdir),
    }
    env.update(extra)
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False)
    assert proc.returncode == 0, f"{argv[0]} {argv[1:3]} exited {proc.returncode}: {proc.stderr.strip()}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


@pytest.fixture
def sockdir() -> Iterator[Path]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    path = Path(os.path.realpath("/tmp")) / f"lpf-{os.getpid()}-{os.urandom(3).hex()}"
    path.mkdir()
    try:
        yield path
    finally:
        subprocess.run(["tmux", "-S", str(path / "s"), "kill-server"], capture_output=True, check=False)
        shutil.rmtree(path, ignore_errors=True)


def test_the_shell_helpers_run_on_python_3_8(tmp_path: Path, sockdir: Path) -> None:
    py38 = _interpreter(8)
    venv = tmp_path / "py38"
    subprocess.run([py38, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    # every helper imports (module-level code, decorators and stdlib names are evaluated) on 3.8
    modules = sorted(p.stem for p in (SHELL / "lib").glob("*.py"))
    probe = (
        "import importlib, sys; "
        "sys.path.insert(0, sys.argv[1]); [importlib.import_module(m) for m in sys.argv[2:]]"
    )
    proc = subprocess.run(
        [str(bindir / "python3"), "-c", probe, str(SHELL / "lib"), *modules],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # the scripts end to end, with the 3.8 python3 first on PATH and as LOOP_PYTHON
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj ünï"
    root.mkdir()
    env = _env(bindir, sockdir, home, LOOP_PYTHON=str(bindir / "python3"))
    init = json.loads(
        _run(["bash", str(SHELL / "loop-init.sh"), "--project-root", str(root), "--json"], env, root)
    )
    assert init["contract_version"] == 1
    boot = [
        "bash",
        str(SHELL / "loop-tmux.sh"),
        "--session",
        "floor",
        "--project-root",
        str(root),
        "--no-attach",
    ]
    lanes = ["--web-cmd", "bash", "--infra-cmd", "bash", "--docs-cmd", "bash", "--preset", "all-pi"]
    _run([*boot, *lanes], env, root)
    listing = json.loads(
        _run(["bash", str(SHELL / "loop-tmux.sh"), "list-lanes", "--session", "floor", "--json"], env, root)
    )
    assert "web" in {lane["window"] for lane in listing["lanes"]}
    status = json.loads(
        _run(["bash", str(SHELL / "loop-lane-status.sh"), "--json", "--all", "floor"], env, root)
    )
    assert status["contract_version"] == 1 and status["lanes"]
    marker = "floor-3.8-ü"
    _run(["bash", str(SHELL / "loop-dispatch.sh"), "--session", "floor", "web", f"echo {marker}"], env, root)
    digest = json.loads(
        _run(["bash", str(SHELL / "loop-digest.sh"), "--project-root", str(root), "--json"], env, root)
    )
    assert digest["contract_version"] == 1
    mail = ["bash", str(SHELL / "scripts" / "loop-mail.sh"), "--project-root", str(root), "send"]
    _run([*mail, "--from", "web", "--to", "coord", "--subject", "ü 3.8", "--body", "b"], env, root)
    adr = _run(
        ["bash", str(SHELL / "loop-adr.sh"), "--project-root", str(root), "new", "Pick 3.8"], env, root
    )
    assert Path(adr.strip()).is_file()
    captured = subprocess.run(
        ["tmux", "-S", str(sockdir / "s"), "capture-pane", "-p", "-t", "=floor:web"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert marker in captured


def _build(package: str, out: Path) -> None:
    subprocess.run(
        ["uv", "build", "--package", package, "--wheel", "--out-dir", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_loop_engine_installs_and_runs_on_python_3_10(tmp_path: Path, sockdir: Path) -> None:
    py310 = _interpreter(10)
    if shutil.which("uv") is None:
        pytest.skip("uv is not installed")
    dist = tmp_path / "dist"
    packages = ("loop-schemas", "loop-substrate", "loop-engine")
    for package in packages:
        _build(package, dist)
    pins = [f"{p}=={next(dist.glob(p.replace('-', '_') + '-*.whl')).name.split('-')[1]}" for p in packages]
    (dist / "constraints.txt").write_text("\n".join(pins) + "\n")
    venv = tmp_path / "v310"
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("LOOP_")
    }
    subprocess.run(
        ["uv", "venv", "--quiet", "--python", py310, str(venv)], check=True, env=clean, timeout=120
    )
    proc = subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "--find-links",
            str(dist),
            "-c",
            str(dist / "constraints.txt"),
            "loop-engine",
        ],
        capture_output=True,
        text=True,
        env=clean,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    bindir = venv / "bin"
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    env = _env(bindir, sockdir, home)
    scripts = sorted(p.name for p in bindir.glob("loop-*"))
    assert "loop-engine" in scripts and "loop-tmux" in scripts
    for name in scripts:
        assert "usage" in _run([name, "--help"], env, root).lower(), name
    _run(["loop-init", "--project-root", str(root)], env, root)
    lanes = ["--web-cmd", "bash", "--infra-cmd", "bash", "--docs-cmd", "bash", "--preset", "all-pi"]
    _run(["loop-tmux", "--session", "floor", "--project-root", str(root), "--no-attach", *lanes], env, root)
    cycle = json.loads(_run(["loop-engine", "--session", "floor", "once", "--json"], env, root))
    assert cycle["contract_version"] == 1 and cycle["brain_called"] is True
    status = json.loads(_run(["loop-engine", "--session", "floor", "status", "--json"], env, root))
    assert status["session"] == "floor"
