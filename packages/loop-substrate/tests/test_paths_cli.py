from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loop_substrate import SCRIPT_NAMES, SubstrateError, check_contract, script_path, shell_dir


def test_checkout_shell_dir_is_the_repository_shell() -> None:
    assert (shell_dir() / "CONTRACT_VERSION").read_text().strip() == "1"
    assert check_contract() == 1


def test_unknown_script_is_a_substrate_error() -> None:
    with pytest.raises(SubstrateError, match="not found"):
        script_path("loop-nope")


def test_entry_point_execs_the_script() -> None:
    existing = [n for n in SCRIPT_NAMES if _exists(n)]
    assert existing, "no substrate script found"
    for name in existing:
        code = f"from loop_substrate.cli import exec_script; exec_script({name!r}, ['--help'])"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (name, proc.stderr)
        assert "usage" in proc.stdout.lower(), name


def _exists(name: str) -> bool:
    try:
        script_path(name)
    except SubstrateError:
        return False
    return True


def test_missing_script_entry_point_fails_cleanly() -> None:
    code = "from loop_substrate.cli import exec_script; exec_script('loop-nope', [])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("loop-nope: not found in") and "Traceback" not in proc.stderr


# ---- the console scripts start nothing heavy before they exec bash ---------------------------------

STARTS = (
    "import sys\n"
    "from loop_substrate.cli import loop_digest\n"
    "print(sorted(m for m in {names} if m in sys.modules))\n"
)


def test_a_console_script_imports_nothing_heavy_before_it_execs_bash() -> None:
    """A pip-installed loop-digest (or any substrate CLI) is python starting only to exec bash: typing,
    pathlib and shutil (each of which imports re, enum and collections) cost that start ~25 ms."""
    names = ["typing", "pathlib", "shutil", "re", "enum", "collections", "fnmatch"]
    proc = subprocess.run(
        [sys.executable, "-c", STARTS.format(names=names)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"


_SEGMENTS = st.lists(st.sampled_from(["", ".", "..", "a", "b c", "shell"]), max_size=6)


@given(st.sampled_from(["", "/", "//", "///"]), _SEGMENTS, st.sampled_from(["", "/", "//"]))
@settings(max_examples=300, deadline=None)
def test_paths_as_text_are_what_pathlib_writes(root: str, segments: list[str], tail: str) -> None:
    from pathlib import PurePosixPath

    from loop_substrate import paths

    text = root + "/".join(segments) + tail
    assert paths._pure(text) == str(PurePosixPath(text))
    for name in ("shell", "scripts/x.sh"):
        assert paths._join(text, name) == str(PurePosixPath(text) / name)


def test_shell_dir_and_script_path_are_the_text_ones(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from loop_substrate import paths

    assert str(shell_dir()) == paths.shell_root()
    assert str(script_path("loop-digest")) == paths.script_file("loop-digest")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "loop-x.sh").write_text("")
    monkeypatch.setenv("LOOP_SHELL_DIR", f"{tmp_path}//./")
    assert shell_dir() == tmp_path and paths.shell_root() == str(tmp_path)
    assert script_path("loop-x") == tmp_path / "scripts" / "loop-x.sh"
    assert paths.script_file("loop-x") == str(tmp_path / "scripts" / "loop-x.sh")


def test_which_is_shutil_which(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import shutil

    from loop_substrate.cli import which

    folders = {n: tmp_path / n for n in ("dir", "plain", "exe", "exe2")}
    for folder in folders.values():
        folder.mkdir()
    (folders["dir"] / "tool").mkdir()  # a folder named like the command
    (folders["plain"] / "tool").write_text("")  # not executable
    for n in ("exe", "exe2"):
        (folders[n] / "tool").write_text("#!/bin/sh\n")
        (folders[n] / "tool").chmod(0o755)
    d, p, e, e2 = (str(folders[n]) for n in ("dir", "plain", "exe", "exe2"))
    monkeypatch.chdir(folders["exe2"])
    for path in (
        f"{d}:{p}:{e}:{e2}",
        f"{p}:{d}",
        f"{e2}:{e}",
        f"{e}/:{e2}",
        f":{d}",  # an empty entry is the current directory
        "",
        None,
    ):
        if path is None:
            monkeypatch.delenv("PATH", raising=False)
        else:
            monkeypatch.setenv("PATH", path)
        for cmd in ("tool", "bash", "no-such-tool"):
            assert which(cmd) == shutil.which(cmd), (path, cmd)
