"""The effective engine config: lane-config.yaml's `engine:` section, its host overlay, then env vars.

Keys and defaults are loop-schemas' EngineConfig (CONTRACT: approval_mode, checkpoint_interval_s,
poll_interval_s, min_cycle_interval_s, brain, ingest, destructive, pm). Environment variables win:

  LOOP_ENGINE_APPROVAL_MODE            approval_mode
  LOOP_ENGINE_CHECKPOINT_INTERVAL_S    checkpoint_interval_s
  LOOP_ENGINE_POLL_INTERVAL_S          poll_interval_s
  LOOP_ENGINE_MIN_CYCLE_INTERVAL_S     min_cycle_interval_s
  LOOP_ENGINE_BRAIN_HARNESS            brain.harness
  LOOP_ENGINE_BRAIN_MODEL              brain.model
  LOOP_ENGINE_BRAIN_TIMEOUT_S          brain.timeout_s
  LOOP_ENGINE_BRAIN_MAX_CALLS_PER_HOUR brain.max_calls_per_hour
  LOOP_ENGINE_INGEST_MODE              ingest.mode
  LOOP_LANE_CONFIG                     the lane-config file (default: <root>/lane-config.yaml, then
                                       <root>/.loop/lane-config.yaml; none: every default)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from loop_schemas import EngineConfig
    from pydantic import ValidationError

    from loop_engine.readcache import ReadCache

# pydantic and yaml are imported where a config is loaded: `status` and `config --json` read a cached
# ConfigFacts (load_facts) and need neither while the lane-config is unchanged

BUILTIN = "builtin"

ENV_KEYS: dict[str, tuple[str, ...]] = {
    "LOOP_ENGINE_APPROVAL_MODE": ("approval_mode",),
    "LOOP_ENGINE_CHECKPOINT_INTERVAL_S": ("checkpoint_interval_s",),
    "LOOP_ENGINE_POLL_INTERVAL_S": ("poll_interval_s",),
    "LOOP_ENGINE_MIN_CYCLE_INTERVAL_S": ("min_cycle_interval_s",),
    "LOOP_ENGINE_BRAIN_HARNESS": ("brain", "harness"),
    "LOOP_ENGINE_BRAIN_MODEL": ("brain", "model"),
    "LOOP_ENGINE_BRAIN_TIMEOUT_S": ("brain", "timeout_s"),
    "LOOP_ENGINE_BRAIN_MAX_CALLS_PER_HOUR": ("brain", "max_calls_per_hour"),
    "LOOP_ENGINE_INGEST_MODE": ("ingest", "mode"),
}


# every variable the effective config reads (the host overlay's name too)
INPUT_ENV = ("LOOP_LANE_CONFIG", "LANE_CONFIG_HOSTNAME", *ENV_KEYS)


class ConfigError(Exception):
    """The lane-config or an override is invalid (one line, for the user)."""


def _default_model() -> EngineConfig:
    from loop_schemas import EngineConfig

    return EngineConfig()


@dataclass(frozen=True)
class ConfigFacts:
    """What the file-reading verbs show of the effective config, as plain data: `engine` is
    EffectiveConfig.as_dict() (the model's JSON dump), the rest its fields as JSON."""

    engine: dict[str, Any]
    source: str | None
    sources: list[str]
    warnings: list[str]
    env_overrides: dict[str, str]

    @property
    def brain_harness(self) -> str:
        return str(self.engine["brain"]["harness"] or BUILTIN)

    @property
    def approval_mode(self) -> str:
        return str(self.engine["approval_mode"])

    @property
    def max_calls_per_hour(self) -> int:
        return int(self.engine["brain"]["max_calls_per_hour"])

    @classmethod
    def from_json(cls, data: Any) -> ConfigFacts:
        """The facts of a JSON document as_json() wrote; TypeError/KeyError/ValueError when it is not one."""
        if not isinstance(data, dict):
            raise TypeError("not an object")
        facts = cls(
            engine=data["engine"],
            source=data["source"],
            sources=data["sources"],
            warnings=data["warnings"],
            env_overrides=data["env_overrides"],
        )
        if not (
            isinstance(facts.engine, dict)
            and isinstance(facts.engine.get("brain"), dict)
            and (facts.source is None or isinstance(facts.source, str))
            and all(isinstance(x, str) for x in [*facts.sources, *facts.warnings])
            and all(isinstance(v, str) for v in facts.env_overrides.values())
        ):
            raise TypeError("not config facts")
        facts.brain_harness, facts.approval_mode, facts.max_calls_per_hour  # noqa: B018 - they must read
        return facts

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EffectiveConfig:
    """The engine section of the lane-config with the environment's overrides, and where it came from."""

    model: EngineConfig = field(default_factory=_default_model)
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @property
    def brain_harness(self) -> str:
        return self.model.brain.harness or BUILTIN

    @property
    def keep_decisions(self) -> int:
        """engine.checkpoint.keep_decisions: the filed `### ` entries checkpoint.md keeps (< 1: all)."""
        return int(self.model.checkpoint.keep_decisions)

    @property
    def approval_mode(self) -> str:
        return str(self.model.approval_mode)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model.model_dump(mode="json")
        return data

    def facts(self) -> ConfigFacts:
        return ConfigFacts(
            engine=self.as_dict(),
            source=str(self.source) if self.source else None,
            sources=list(self.sources),
            warnings=list(self.warnings),
            env_overrides=dict(self.env_overrides),
        )


def _candidates(project_root: Path) -> list[Path]:
    env = os.environ.get("LOOP_LANE_CONFIG")
    if env:
        return [Path(env)]
    return [project_root / "lane-config.yaml", project_root / ".loop" / "lane-config.yaml"]


def lane_config_path(project_root: Path) -> Path | None:
    if os.environ.get("LOOP_LANE_CONFIG"):
        return _candidates(project_root)[0]
    for candidate in _candidates(project_root):
        if candidate.is_file():
            return candidate
    return None


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{loc}: {err.get('msg')}"


def load(project_root: Path) -> EffectiveConfig:
    """The effective config; ConfigError (one line) when the file or an env override is invalid."""
    from loop_schemas import EngineConfig, SchemaError, load_lane_config
    from pydantic import ValidationError

    path = lane_config_path(project_root)
    model = EngineConfig()
    warnings: list[str] = []
    sources: list[str] = []
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: no such lane-config file")
        try:
            loaded = load_lane_config(path)
        except SchemaError as exc:
            first = str(exc).splitlines()[0] if str(exc).strip() else "invalid lane-config"
            # the file is named once, whichever layer wrote the message (a YAML error names none)
            raise ConfigError(first if str(path) in first else f"{path}: {first}") from None
        model = loaded.engine
        warnings = list(loaded.warnings)
        sources = list(loaded.sources)
    data: dict[str, Any] = model.model_dump()
    overrides: dict[str, str] = {}
    for var, keys in ENV_KEYS.items():
        raw = os.environ.get(var)
        if raw is None or raw == "":
            continue
        overrides[var] = raw
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = raw
    if overrides:
        try:
            model = EngineConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"invalid engine override from the environment: {_first(exc)}") from None
    return EffectiveConfig(
        model=model, source=path, warnings=warnings, env_overrides=overrides, sources=sources
    )


def load_facts(
    project_root: Path, cache: ReadCache, loaded: list[EffectiveConfig] | None = None
) -> ConfigFacts:
    """load(project_root).facts(), from `cache` while the files it reads (the lane-config, its host
    overlay) and the folders it looks for them in are unchanged, and INPUT_ENV reads the same. When the
    config had to be loaded, the EffectiveConfig is appended to `loaded`."""

    def compute() -> tuple[ConfigFacts, list[Path]]:
        cfg = load(project_root)
        if loaded is not None:
            loaded.append(cfg)
        # the candidates (a lane-config created where there was none), the files read, and the folder a
        # host overlay is looked for in (one created beside the lane-config moves its mtime)
        folders = [cfg.source.parent] if cfg.source else []
        return cfg.facts(), [*_candidates(project_root), *(Path(s) for s in cfg.sources), *folders]

    # the overlay's host is the machine's name (socket.gethostname(), which is uname's nodename)
    host = {"host": os.uname().nodename}
    return cache.verdict("config", INPUT_ENV, compute, ConfigFacts.from_json, ConfigFacts.as_json, also=host)


def load_cached(
    project_root: Path, cache: ReadCache, on_facts: Callable[[ConfigFacts], object] | None = None
) -> EffectiveConfig:
    """load(project_root), its model validated from the cached facts (load_facts) while the lane-config
    is unchanged: the lane-config (its YAML, its lanes) is neither parsed nor validated again, only the
    engine section's model is built from its own JSON dump. `on_facts` is called with the facts as soon
    as they are known, before pydantic and the model load (`once` starts its prompt's read there)."""
    loaded: list[EffectiveConfig] = []
    facts = load_facts(project_root, cache, loaded)
    if on_facts is not None:
        on_facts(facts)
    if loaded:
        return loaded[0]
    from loop_schemas import EngineConfig
    from pydantic import ValidationError

    try:
        model = EngineConfig.model_validate(facts.engine)
    except ValidationError:  # a dump this code did not write: the file is the truth
        return load(project_root)
    return EffectiveConfig(
        model=model,
        source=Path(facts.source) if facts.source else None,
        warnings=list(facts.warnings),
        env_overrides=dict(facts.env_overrides),
        sources=list(facts.sources),
    )
