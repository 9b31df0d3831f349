"""The file-reading verbs' verdict cache (loop_engine/readcache.py): `status` and `config --json` read
the effective config and the state file's verdict from .loop/cache/engine-reads.json while their inputs
hold. One truth: a cached verdict equals a fresh computation, and any change of an input misses."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from loop_engine import config as config_mod
from loop_engine import readcache
from loop_engine.cli import state_problem
from loop_engine.paths import EnginePaths
from loop_engine.readcache import ReadCache

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lane-config.example.yaml"
OLD_NS = time.time_ns() - 3600 * 10**9  # an hour ago: older than the racy window


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in config_mod.INPUT_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "bench")


def age(*paths: Path, ns: int = OLD_NS) -> None:
    for path in paths:
        os.utime(path, ns=(ns, ns))


def make(root: Path, text: str) -> Path:
    (root / ".loop").mkdir(parents=True, exist_ok=True)
    cfg = root / "lane-config.yaml"
    cfg.write_text(text)
    age(cfg, root)
    return cfg


def facts(root: Path) -> config_mod.ConfigFacts:
    cache = ReadCache(root / ".loop")
    out = config_mod.load_facts(root, cache)
    cache.save()
    return out


def cached_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> config_mod.ConfigFacts:
    """load_facts that must not load: a miss fails the test."""

    def no_load(_root: Path) -> Any:
        raise AssertionError("the config was loaded again: the cache missed")

    with monkeypatch.context() as m:
        m.setattr(config_mod, "load", no_load)
        return facts(root)


CONFIGS = [
    "",
    "engine:\n  brain:\n    harness: builtin\n",
    EXAMPLE.read_text(),
    "engine:\n  approval_mode: auto\n  surprise: 1\n  brain:\n    max_calls_per_hour: 3\n    model: m\n"
    "odd: 2\n",
]


@pytest.mark.parametrize("text", CONFIGS)
def test_a_cached_verdict_equals_a_fresh_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    make(tmp_path, text)
    first = facts(tmp_path)
    assert first == config_mod.load(tmp_path).facts()
    again = cached_only(tmp_path, monkeypatch)
    assert again == first
    assert (again.approval_mode, again.brain_harness, again.max_calls_per_hour) == (
        (cfg := config_mod.load(tmp_path)).approval_mode,
        cfg.brain_harness,
        int(cfg.model.brain.max_calls_per_hour),
    )


def test_an_overlay_and_an_env_override_are_in_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    overlay = tmp_path / "lane-config.bench.yaml"
    overlay.write_text("engine:\n  approval_mode: full\n")
    age(overlay, tmp_path)
    monkeypatch.setenv("LOOP_ENGINE_BRAIN_MAX_CALLS_PER_HOUR", "7")
    first = facts(tmp_path)
    assert first == config_mod.load(tmp_path).facts()
    assert (first.approval_mode, first.max_calls_per_hour, len(first.sources)) == ("full", 7, 2)
    assert cached_only(tmp_path, monkeypatch) == first


def miss_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    facts(tmp_path)
    cached_only(tmp_path, monkeypatch)  # a hit before the change
    change()
    loads: list[Path] = []
    real = config_mod.load

    def counting(root: Path) -> config_mod.EffectiveConfig:
        loads.append(root)
        return real(root)

    monkeypatch.setattr(config_mod, "load", counting)
    assert facts(tmp_path) == real(tmp_path).facts()
    assert loads, "the change was not seen: the cache answered"


def test_an_edit_in_place_of_the_same_size_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def edit() -> None:
        cfg = tmp_path / "lane-config.yaml"
        cfg.write_text("engine:\n  approval_mode: full\n")
        age(cfg, ns=OLD_NS + 10**9)

    miss_after(tmp_path, monkeypatch, edit)
    assert facts(tmp_path).approval_mode == "full"


def test_a_new_overlay_beside_the_config_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def overlay() -> None:
        (tmp_path / "lane-config.bench.yml").write_text("engine:\n  approval_mode: manual\n")
        age(tmp_path / "lane-config.bench.yml", tmp_path, ns=OLD_NS + 10**9)

    miss_after(tmp_path, monkeypatch, overlay)
    assert facts(tmp_path).approval_mode == "manual"


def test_another_host_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    miss_after(tmp_path, monkeypatch, lambda: monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "other"))


def test_another_machine_name_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LANE_CONFIG_HOSTNAME the overlay is named after the machine (uname's nodename)."""
    import socket

    monkeypatch.delenv("LANE_CONFIG_HOSTNAME")
    make(tmp_path, "")
    (tmp_path / "lane-config.elsewhere.yaml").write_text("engine:\n  approval_mode: full\n")
    age(tmp_path / "lane-config.elsewhere.yaml", tmp_path)
    assert socket.gethostname() != "elsewhere"
    assert facts(tmp_path).approval_mode == "manual"
    real = os.uname()
    fake = os.uname_result((real.sysname, "elsewhere", real.release, real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    monkeypatch.setattr(socket, "gethostname", lambda: "elsewhere")
    assert facts(tmp_path).approval_mode == "full"


def test_an_env_override_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    miss_after(tmp_path, monkeypatch, lambda: monkeypatch.setenv("LOOP_ENGINE_APPROVAL_MODE", "full"))
    assert facts(tmp_path).approval_mode == "full"


def test_a_config_moved_to_dot_loop_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def move() -> None:
        shutil.move(tmp_path / "lane-config.yaml", tmp_path / ".loop" / "lane-config.yaml")
        age(tmp_path, tmp_path / ".loop", ns=OLD_NS + 10**9)

    miss_after(tmp_path, monkeypatch, move)


def test_other_code_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    miss_after(tmp_path, monkeypatch, lambda: monkeypatch.setattr(readcache, "code_signature", lambda: "x"))


@pytest.mark.parametrize("damage", ["{", "[]", '{"version": 1}', "\x00\xff", "null"])
def test_a_damaged_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    facts(tmp_path)
    (tmp_path / ".loop" / "cache" / readcache.CACHE_NAME).write_text(damage)
    assert facts(tmp_path).approval_mode == "auto"
    assert cached_only(tmp_path, monkeypatch).approval_mode == "auto"


def test_a_damaged_entry_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    facts(tmp_path)
    file = tmp_path / ".loop" / "cache" / readcache.CACHE_NAME
    doc = json.loads(file.read_text())
    doc["entries"]["config"]["value"]["engine"] = "auto"
    file.write_text(json.dumps(doc))
    assert facts(tmp_path).approval_mode == "auto"
    assert cached_only(tmp_path, monkeypatch).approval_mode == "auto"


def test_a_racy_config_is_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file written within RACY_NS of now may change again in the same tick at the same size."""
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    age(tmp_path / "lane-config.yaml", ns=time.time_ns())
    facts(tmp_path)
    with pytest.raises(AssertionError, match="cache missed"):
        cached_only(tmp_path, monkeypatch)


def test_an_invalid_config_is_never_stored(tmp_path: Path) -> None:
    make(tmp_path, "engine:\n  approval_mode: sometimes\n")
    for _ in range(2):
        with pytest.raises(config_mod.ConfigError, match="approval_mode"):
            facts(tmp_path)
    assert not (tmp_path / ".loop" / "cache" / readcache.CACHE_NAME).exists()


def test_a_read_only_cache_still_answers(tmp_path: Path) -> None:
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    (tmp_path / ".loop" / "cache").write_text("a file where the folder goes")
    assert facts(tmp_path).approval_mode == "auto"
    assert facts(tmp_path).approval_mode == "auto"


def test_the_state_verdict_follows_the_state_file(tmp_path: Path) -> None:
    make(tmp_path, "")
    paths = EnginePaths(tmp_path, "s")

    def verdict() -> str | None:
        cache = ReadCache(paths.loop_dir)
        out = state_problem(paths, cache)
        cache.save()
        assert out == state_problem(paths)  # one truth: the cached verdict is the fresh one
        return out

    assert verdict() is None  # no state file
    paths.state_file.write_text('{"schema_version": 2, "loops": {}}\n')
    age(paths.state_file)
    assert verdict() is None
    assert verdict() is None
    paths.state_file.write_text('{"schema_version": 9, "loops": {}}\n')
    age(paths.state_file, ns=OLD_NS + 10**9)
    problem = verdict()
    assert problem is not None and problem.startswith("the state file cannot be used")
    assert verdict() == problem


def effective(root: Path) -> config_mod.EffectiveConfig:
    cache = ReadCache(root / ".loop")
    out = config_mod.load_cached(root, cache)
    cache.save()
    return out


@pytest.mark.parametrize("text", CONFIGS)
def test_the_engine_config_from_the_cache_is_a_fresh_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """The engine's config (`once`, approve, every daemon cycle) is built from the cached facts: the same
    model, source, sources, warnings and overrides as a fresh load, without reading the lane-config."""
    make(tmp_path, text)
    monkeypatch.setenv("LOOP_ENGINE_POLL_INTERVAL_S", "3")
    fresh = config_mod.load(tmp_path)
    assert effective(tmp_path) == fresh  # the miss: loaded once, kept

    def no_load(_root: Path) -> Any:
        raise AssertionError("the config was loaded again: the cache missed")

    with monkeypatch.context() as m:
        m.setattr(config_mod, "load", no_load)
        hit = effective(tmp_path)
    assert hit == fresh
    assert hit.model.unknown_keys() == fresh.model.unknown_keys()
    assert hit.as_dict() == fresh.as_dict()


def test_a_cached_dump_the_model_refuses_loads_the_file(tmp_path: Path) -> None:
    make(tmp_path, "engine:\n  approval_mode: auto\n")
    effective(tmp_path)
    file = tmp_path / ".loop" / "cache" / readcache.CACHE_NAME
    doc = json.loads(file.read_text())
    doc["entries"]["config"]["value"]["engine"]["approval_mode"] = "sometimes"
    file.write_text(json.dumps(doc))
    assert effective(tmp_path).approval_mode == "auto"
