"""Every audience's install, done for real from wheels built here (`uv build --package X --wheel`):

- `pip install loop-engine` into a fresh venv: every CLI on the venv's PATH, and loop-demo runs the whole
  loop from it with the venv NOT on PATH (substrate CLIs are reached by their installed paths);
- `uv tool install loop-engine --with-executables-from loop-substrate` into an empty tool dir;
- `uv tool install loop-deck --with-executables-from loop-substrate` likewise;
- `make install BIN=<dir>` for bash-only users: the linked CLIs answer --help.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from live_session import REPO
from loop_substrate import SCRIPT_NAMES
from loop_substrate.pytest_plugin import start_hermetic_server

pytestmark = [pytest.mark.slow]

PACKAGES = ("loop-schemas", "loop-substrate", "loop-engine", "loop-deck")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    return uv


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four wheels, and a constraints file pinning each to the version just built (so an index can
    never substitute a same-named distribution)."""
    uv = _uv()
    out = tmp_path_factory.mktemp("installs") / "dist"
    for package in PACKAGES:
        subprocess.run(
            [uv, "build", "--package", package, "--wheel", "--out-dir", str(out)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    pins = []
    for package in PACKAGES:
        wheel = next(out.glob(package.replace("-", "_") + "-*.whl"))
        pins.append(f"{package}=={wheel.name.split('-')[1]}")
    (out / "constraints.txt").write_text("\n".join(pins) + "\n")
    return out


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "TMUX", "TMUX_PANE", "PYTHONPATH") and not k.startswith("LOOP_")
    }
    env.update(extra)
    return env


def _answers_help(bindir: Path, names: list[str]) -> None:
    """Each name resolves on PATH to bindir and its --help exits 0 with a usage text."""
    env = _clean_env(PATH=f"{bindir}{os.pathsep}{SYSTEM_PATH}")
    for name in names:
        found = shutil.which(name, path=env["PATH"])
        assert found is not None and Path(found).parent == bindir, f"{name} is not on PATH from {bindir}"
        proc = subprocess.run(
            [name, "--help"], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert proc.returncode == 0, f"{name} --help exited {proc.returncode}: {proc.stderr.strip()}"
        assert "usage" in (proc.stdout + proc.stderr).lower(), name


@pytest.fixture(scope="module")
def pip_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = _uv()
    venv = tmp_path_factory.mktemp("pip") / "venv"
    subprocess.run([uv, "venv", "--quiet", "--seed", "--python", "python3", str(venv)], check=True)
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--find-links",
            str(dist),
            "-c",
            str(dist / "constraints.txt"),
            "loop-engine",
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return venv


def test_pip_install_loop_engine_puts_every_cli_on_the_venv_path(pip_venv: Path) -> None:
    _answers_help(pip_venv / "bin", ["loop-engine", "loop-demo", "loop-verify", *SCRIPT_NAMES])
    assert not (pip_venv / "bin" / "loop-deck").exists()  # the deck is its own audience


@pytest.mark.tmux
def test_loop_demo_runs_from_a_venv_holding_only_loop_engine(pip_venv: Path, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    sockdir = Path(os.path.realpath("/tmp")) / f"linst-{os.getpid()}"
    sockdir.mkdir(exist_ok=True)
    socket = str(sockdir / "s")
    # the venv is NOT on PATH: loop-demo must reach the substrate by its installed paths
    env = _clean_env(
        PATH=SYSTEM_PATH,
        LOOP_TMUX_SOCKET=socket,
        TMUX_TMPDIR=str(sockdir),
        LOOP_DEMO_WORK_S="0.5",
        TERM="xterm-256color",
    )
    try:
        start_hermetic_server(
            socket, tmp_path / "home", env
        )  # pane shells read none of this machine's rc files
        proc = subprocess.run(
            [
                str(pip_venv / "bin" / "loop-demo"),
                "--project-root",
                str(tmp_path / "proj"),
                "--auto",
                "--no-attach",
                "--until-done",
                "150",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=200,
            check=False,
        )
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    assert "coord: loop-digest (loop-deck is not installed)" in proc.stdout
    assert "every seeded task is in review (4 of 4)" in proc.stdout
    statuses = [
        line
        for p in sorted((tmp_path / "proj" / "tasks").glob("T*.md"))
        for line in p.read_text().splitlines()
    ]
    assert [s for s in statuses if s.startswith("status:")] == ["status: review"] * 4


def _uv_tool(dist: Path, base: Path, package: str) -> Path:
    uv = _uv()
    tool_dir, bin_dir = base / "tools", base / "bin"
    env = _clean_env(UV_TOOL_DIR=str(tool_dir), UV_TOOL_BIN_DIR=str(bin_dir))
    proc = subprocess.run(
        [
            uv,
            "tool",
            "install",
            "--find-links",
            str(dist),
            "-c",
            str(dist / "constraints.txt"),
            package,
            "--with-executables-from",
            "loop-substrate",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return bin_dir


def test_uv_tool_install_loop_engine_with_the_substrate_executables(dist: Path, tmp_path: Path) -> None:
    bin_dir = _uv_tool(dist, tmp_path, "loop-engine")
    names = ["loop-engine", "loop-demo", "loop-verify", *SCRIPT_NAMES]
    assert sorted(p.name for p in bin_dir.iterdir()) == sorted(names)
    _answers_help(bin_dir, names)


def test_uv_tool_install_loop_deck_with_the_substrate_executables(dist: Path, tmp_path: Path) -> None:
    bin_dir = _uv_tool(dist, tmp_path, "loop-deck")
    names = ["loop-deck", *SCRIPT_NAMES]
    assert sorted(p.name for p in bin_dir.iterdir()) == sorted(names)
    _answers_help(bin_dir, names)


def test_make_install_links_the_shell_clis_for_bash_only_users(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "bin"
    proc = subprocess.run(
        [make, "-s", "-C", str(REPO), "install", f"BIN={bin_dir}"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    linked = sorted(p.name for p in bin_dir.iterdir())
    # what print-paths promises is what install links, and it covers every substrate CLI
    promised = subprocess.run(
        [make, "-s", "-C", str(REPO), "print-paths", f"BIN={bin_dir}"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=True,
    ).stdout.splitlines()
    assert sorted(Path(line.split(" -> ")[0]).name for line in promised) == linked
    assert set(SCRIPT_NAMES) <= set(linked)
    for link in bin_dir.iterdir():
        assert link.is_symlink() and Path(os.readlink(link)).is_relative_to(REPO / "shell")
    _answers_help(bin_dir, linked)
