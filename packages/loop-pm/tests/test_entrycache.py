"""loop_pm.entrycache: the plugin listing reused without importlib.metadata, and always its answer.

Each test installs a fake distribution (a *.dist-info folder with entry points in both groups) in a
folder put first on sys.path, lets the cache be written (retried until the racy rule lets it: the files
were just made), then changes something and checks that the listing is importlib.metadata's again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from loop_pm import entrycache, plugins
from loop_schemas.pm import ADAPTER_GROUP, COMMAND_GROUP

MODULE = '''import click


@click.group()
def group() -> None:
    """Fake verbs."""


class Adapter:
    pass
'''


def retry_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def write_dist(site: Path, name: str, commands: str = "", adapters: str = "") -> Path:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    text = ""
    if commands:
        text += f"[{COMMAND_GROUP}]\n{commands}\n"
    if adapters:
        text += f"[{ADAPTER_GROUP}]\n{adapters}\n"
    (info / "entry_points.txt").write_text(text)
    return info


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder first on sys.path holding fake_pm_dist (command group and adapter) and its module; the
    cache on, in tmp_path, with a racy window of 50 ms."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_pm_mod.py").write_text(MODULE)
    write_dist(site, "fake_pm_dist", "fake = fake_pm_mod:group", "fake = fake_pm_mod:Adapter")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(entrycache, "CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(entrycache, "RACY_NS", 50_000_000)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return site


def scanned(group: str) -> list[plugins.PluginEntry]:
    """importlib.metadata's answer, no cache involved."""
    return plugins._scan(group)


def settle() -> entrycache.Listing:
    """List (which writes the cache once the racy rule allows) until the cache answers; its listing."""

    def cached() -> entrycache.Listing | None:
        plugins.discover(COMMAND_GROUP)
        return entrycache.load(plugins.GROUPS)

    listing = retry_until(cached)
    assert listing, "the cache was never written"
    return listing  # type: ignore[return-value]


def assert_is_metadatas_answer() -> None:
    for group in plugins.GROUPS:
        assert plugins.discover(group) == scanned(group)


def test_the_cached_listing_is_importlib_metadatas(site: Path) -> None:
    listing = settle()
    for group in plugins.GROUPS:
        assert [plugins.PluginEntry(*row) for row in listing[group]] == scanned(group)
        assert (
            "fake",
            "fake_pm_mod:" + ("group" if group == COMMAND_GROUP else "Adapter"),
            "fake_pm_dist",
            "1.0",
        ) in [(e.name, e.value, e.distribution, e.version) for e in plugins.discover(group)]
    # loaded from the cache (no EntryPoint): the very object importlib.metadata's EntryPoint.load gives
    cached = next(e for e in plugins.discover(COMMAND_GROUP) if e.name == "fake")
    real = next(e for e in scanned(COMMAND_GROUP) if e.name == "fake")
    assert cached.entry_point is None and real.entry_point is not None
    assert cached.load() is real.load()


def test_a_listing_from_the_cache_needs_no_importlib_metadata(site: Path, tmp_path: Path) -> None:
    """A fresh process finds the plugins without importing importlib.metadata once the cache holds."""
    code = (
        "import sys\n"
        "from loop_pm import entrycache, plugins\n"
        f"entrycache.CACHE_DIR = {str(tmp_path / 'cache')!r}\n"
        "entrycache.RACY_NS = 50_000_000\n"
        f"names = [e.name for e in plugins.discover({COMMAND_GROUP!r})]\n"
        "print('fake' in names, 'importlib.metadata' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def run() -> list[str]:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=site, check=True
        ).stdout.split()

    assert run() == ["True", "True"]  # the first one reads the metadata (and writes the cache)
    assert retry_until(lambda: run() == ["True", "False"])


def test_a_new_distribution_is_listed(site: Path) -> None:
    settle()
    write_dist(site, "second_pm_dist", "second = fake_pm_mod:group")
    assert entrycache.load(plugins.GROUPS) is None
    assert "second" in [e.name for e in plugins.discover(COMMAND_GROUP)]
    assert_is_metadatas_answer()


def test_a_removed_distribution_is_gone(site: Path) -> None:
    settle()
    info = site / "fake_pm_dist-1.0.dist-info"
    for child in info.iterdir():
        child.unlink()
    info.rmdir()
    assert entrycache.load(plugins.GROUPS) is None
    assert "fake" not in [e.name for e in plugins.discover(COMMAND_GROUP)]
    assert_is_metadatas_answer()


def test_an_entry_points_file_edited_in_place_is_read_again(site: Path) -> None:
    """Same size, same mtime (put back): its ctime still moves."""
    settle()
    file = site / "fake_pm_dist-1.0.dist-info" / "entry_points.txt"
    before = file.stat()
    text = file.read_text().replace("fake = fake_pm_mod:group", "fake = fake_pm_mod:Group")
    # a later ctime than the one the cache holds, whatever the clock's grain
    retry_until(lambda: time.time_ns() - before.st_ctime_ns > 50_000_000)
    with open(file, "r+", encoding="utf-8") as fh:
        fh.write(text)
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert file.stat().st_size == before.st_size and file.stat().st_mtime_ns == before.st_mtime_ns
    assert entrycache.load(plugins.GROUPS) is None
    assert [e.value for e in plugins.discover(COMMAND_GROUP) if e.name == "fake"] == ["fake_pm_mod:Group"]
    assert_is_metadatas_answer()


def test_a_version_change_is_read_again(site: Path) -> None:
    settle()
    (site / "fake_pm_dist-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake_pm_dist\nVersion: 2.5\n"
    )
    assert [e.version for e in plugins.discover(COMMAND_GROUP) if e.name == "fake"] == ["2.5"]
    assert_is_metadatas_answer()


def test_another_interpreter_or_sys_path_misses(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settle()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "version", sys.version + " (another)")
        assert entrycache.load(plugins.GROUPS) is None
    assert entrycache.load(plugins.GROUPS) is not None
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(site)])
    assert entrycache.load(plugins.GROUPS) is None
    assert "fake" not in [e.name for e in plugins.discover(COMMAND_GROUP)]


def test_inputs_younger_than_the_racy_window_are_not_stored(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entrycache, "RACY_NS", 3600 * 1_000_000_000)
    assert_is_metadatas_answer()
    assert not (Path(str(entrycache.CACHE_DIR))).exists()


def test_nothing_is_written_where_bytecode_is_not(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert_is_metadatas_answer()
    assert not (Path(str(entrycache.CACHE_DIR))).exists()


def test_without_a_cache_to_write_only_the_asked_group_is_read(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where nothing can be stored, a listing costs what it did before the cache: one group's scan."""
    asked: list[str] = []
    real = plugins.entry_points

    def recording(group: str) -> object:
        asked.append(group)
        return real(group)

    monkeypatch.setattr(plugins, "entry_points", recording)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert "fake" in [e.name for e in plugins.discover(COMMAND_GROUP)]
    assert asked == [COMMAND_GROUP]


def test_another_distribution_finder_means_no_cache(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settle()

    class Finder:
        @staticmethod
        def find_distributions(*args: object, **kwargs: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [Finder, *sys.meta_path])
    assert entrycache.load(plugins.GROUPS) is None
    file = Path(str(entrycache.cache_file()))
    file.unlink()
    assert_is_metadatas_answer()
    assert not file.exists()


def test_an_entry_point_of_another_form_leaves_the_listing_uncached(site: Path) -> None:
    write_dist(site, "extras_pm_dist", "extras = fake_pm_mod:group [cli]")
    retry_until(
        lambda: time.time_ns() - (site / "extras_pm_dist-1.0.dist-info").stat().st_ctime_ns > 100_000_000
    )
    assert_is_metadatas_answer()
    assert not (Path(str(entrycache.CACHE_DIR))).exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: b"",
        lambda doc: b"{",
        lambda doc: b"[]",
        lambda doc: b"\xff\xfe",
        lambda doc: b" " * (entrycache.CAP + 1),
        lambda doc: json.dumps({**doc, "inputs": "no"}).encode(),
        lambda doc: json.dumps({**doc, "inputs": [[1, 2]]}).encode(),
        lambda doc: json.dumps({**doc, "groups": {COMMAND_GROUP: []}}).encode(),
        lambda doc: json.dumps(
            {**doc, "groups": {g: [["x", 1, None, None]] for g in doc["groups"]}}
        ).encode(),
        lambda doc: json.dumps(
            {**doc, "groups": {g: [["x", "os:system; x", None, None]] for g in doc["groups"]}}
        ).encode(),
        lambda doc: json.dumps(
            {**doc, "groups": {g: [["x", "m:a", 3, None]] for g in doc["groups"]}}
        ).encode(),
        lambda doc: json.dumps({**doc, "key": {**doc["key"], "version": entrycache.VERSION + 1}}).encode(),
    ],
)
def test_a_damaged_or_foreign_file_is_no_cache(
    site: Path, damage: Callable[[dict[str, object]], bytes]
) -> None:
    settle()
    file = Path(str(entrycache.cache_file()))
    file.write_bytes(damage(json.loads(file.read_bytes())))
    assert entrycache.load(plugins.GROUPS) is None
    assert_is_metadatas_answer()


def test_a_cache_that_cannot_be_written_is_only_slower(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(entrycache, "CACHE_DIR", str(blocker / "cache"))
    assert_is_metadatas_answer()
