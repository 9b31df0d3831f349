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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop_schemas import EngineConfig, SchemaError, load_lane_config
from pydantic import ValidationError

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


class ConfigError(Exception):
    """The lane-config or an override is invalid (one line, for the user)."""


@dataclass
class EffectiveConfig:
    model: EngineConfig = field(default_factory=EngineConfig)
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


def lane_config_path(project_root: Path) -> Path | None:
    env = os.environ.get("LOOP_LANE_CONFIG")
    if env:
        return Path(env)
    for candidate in (project_root / "lane-config.yaml", project_root / ".loop" / "lane-config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{loc}: {err.get('msg')}"


def load(project_root: Path) -> EffectiveConfig:
    """The effective config; ConfigError (one line) when the file or an env override is invalid."""
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
