"""Substrate.registry() against the real shell/: the listing is kept per user and install, so a cycle does
not run bash and python for data that changes only with an install."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from loop_substrate import Substrate
from loop_substrate.paths import shell_dir


@pytest.fixture
def shell_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of shell/ (its sources stamped a minute old) and a private cache folder."""
    copy = tmp_path / "shell"
    shutil.copytree(shell_dir(), copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    old = time.time() - 60
    for name in ("lib/harness-registry.sh", "lib/registry.py"):
        os.utime(copy / name, (old, old))
    monkeypatch.setenv("LOOP_SHELL_DIR", str(copy))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return copy


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    runs: list[Any] = []
    real = Substrate.run

    def counting(self: Substrate, cli: str, args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runs.append((cli, list(args)))
        return real(self, cli, args, **kwargs)

    monkeypatch.setattr(Substrate, "run", counting)
    return runs


def _cache_file(tmp_path: Path) -> Path:
    [found] = (tmp_path / "cache" / "loop-substrate").glob("harness-registry-*.json")
    return found


def test_the_registry_is_listed_once_then_read_from_the_cache(
    shell_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _count_runs(monkeypatch)
    first = Substrate("s", tmp_path).registry()
    assert runs == [("lib/harness-registry.sh", ["list", "--json"])]
    second = Substrate("s", tmp_path).registry()
    assert len(runs) == 1
    assert second == first and any(h.name == "claude" for h in second)
    cache = _cache_file(tmp_path)
    assert cache.stat().st_mode & 0o777 == 0o600 and cache.parent.stat().st_mode & 0o777 == 0o700


def test_an_edited_registry_is_listed_again(
    shell_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Substrate("s", tmp_path).registry()
    script = shell_copy / "lib" / "harness-registry.sh"
    script.write_text(script.read_text() + "\n# edited\n")
    runs = _count_runs(monkeypatch)
    Substrate("s", tmp_path).registry()
    assert len(runs) == 1


def test_a_just_edited_registry_is_not_cached(
    shell_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.utime(shell_copy / "lib" / "registry.py")  # now: within the clock tick a second edit could share
    runs = _count_runs(monkeypatch)
    Substrate("s", tmp_path).registry()
    Substrate("s", tmp_path).registry()
    assert len(runs) == 2


@pytest.mark.parametrize("damage", ["bad json", "other-writable", "forged-key"])
def test_a_damaged_writable_or_stale_cache_is_a_miss(
    shell_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    Substrate("s", tmp_path).registry()
    cache = _cache_file(tmp_path)
    if damage == "bad json":
        cache.write_text("{")
    elif damage == "other-writable":
        cache.chmod(0o666)
    else:
        cache.write_text(cache.read_text().replace(str(shell_copy), "/elsewhere"))
    runs = _count_runs(monkeypatch)
    assert any(h.name == "pi" for h in Substrate("s", tmp_path).registry())
    assert len(runs) == 1


def test_an_unwritable_cache_folder_is_no_error(
    shell_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    (tmp_path / "not-a-folder").write_text("a file")
    runs = _count_runs(monkeypatch)
    assert Substrate("s", tmp_path).registry()
    assert Substrate("s", tmp_path).registry()
    assert len(runs) == 2
