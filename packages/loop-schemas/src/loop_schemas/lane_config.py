"""`lane-config.yaml`: the `lanes:` the bash resolver reads and the optional `engine:` section.

A host overlay `<base>.<hostname -s>.yaml` beside the file is merged on top: lanes lane by lane,
engine top-level keys replaced whole. Unknown keys are kept and reported as warnings.
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
)

from loop_schemas._factories import empty_list
from loop_schemas._frontmatter import safe_yaml
from loop_schemas._moved import moved_names
from loop_schemas.errors import SchemaError, schema_error_from_validation
from loop_schemas.fsread import CONFIG_CAP, read_project_file
from loop_schemas.policy import HarnessPolicy

# the resolver's answer is loop_schemas._resolved_lanes' (the engine reads a lane-config and never builds
# its models); this module's names too, imported on first use (PEP 562)
if TYPE_CHECKING:
    from loop_schemas._resolved_lanes import ResolvedLane, ResolvedLaneConfig

LaneConfigName = Literal[
    "coord", "web", "infra", "validate-left", "validate-right", "ops-top", "ops-bottom", "docs"
]
LANE_CONFIG_NAMES: tuple[str, ...] = (
    "coord",
    "web",
    "infra",
    "validate-left",
    "validate-right",
    "ops-top",
    "ops-bottom",
    "docs",
)
LaneKind = Literal["standing", "worker"]
LANE_NAME_RULE = "a letter, then letters, digits, _ or -; at least 2 characters"
_LANE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")


def _lane_name(name: str) -> str:
    """A lane-config lane: a base lane, or any window name add-lane accepts (shell/lib/lane_config.py)."""
    if name not in LANE_CONFIG_NAMES and _LANE_NAME.fullmatch(name) is None:
        raise ValueError(f"bad lane name {name!r} ({LANE_NAME_RULE})")
    return name


LaneName = Annotated[str, AfterValidator(_lane_name)]
ApprovalMode = Literal["manual", "auto", "full"]
MAX_CONFIG_BYTES = CONFIG_CAP
MAX_SECONDS = 10**9


def _bounded_seconds(value: float) -> float:
    """`.inf`, `.nan` and anything above MAX_SECONDS (about 31 years) are refused: the engine sleeps and
    waits on these values, and Python's timers overflow (a traceback in the daemon) far below `.inf`."""
    if not math.isfinite(value) or value > MAX_SECONDS:
        raise ValueError(f"must be a finite number of seconds, at most {MAX_SECONDS}")
    return value


Seconds = Annotated[float, Field(gt=0), AfterValidator(_bounded_seconds)]


def _setting(value: Any) -> Any:
    """A lane's string setting as lane_config.py reads it: blank ("") is unset; a UTF-16 surrogate pair
    (PyYAML reads the escapes "\\ud83d\\ude80" as two lone surrogates) is the one character it spells."""
    if value == "":
        return None
    if isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return value


Setting = Annotated[StrictStr | None, BeforeValidator(_setting)]


class LaneSpec(BaseModel):
    """One lane, typed exactly as the shell's resolver types it (CONTRACT.md "lib/lane-config-resolver.sh"):
    a string setting is a YAML string (not a number, date or `!!binary`), `auto_approve` a YAML boolean
    (not `yes` in quotes, not 1); null is unset; a blank string is unset."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    harness: Setting = None
    model: Setting = None
    cmd: Setting = None
    auto_approve: Annotated[StrictBool, BeforeValidator(lambda v: False if v is None else v)] = False
    repo: Setting = None
    role: Setting = None
    sandbox: Annotated[StrictBool, BeforeValidator(lambda v: False if v is None else v)] = False
    """Run the lane under bubblewrap (loop-tmux add-lane --sandbox); a YAML boolean, null is false."""
    kind: LaneKind | Literal[""] | None = None
    """standing | worker (optional; "" or null = unset, the engine infers it: base lanes standing)."""


class BrainConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    harness: str = "builtin"
    model: str | None = None
    timeout_s: Seconds = 300
    max_retries: Annotated[int, Field(ge=0)] = 1
    max_calls_per_hour: Annotated[int, Field(ge=0)] = 12
    extra_args: list[str] = Field(default_factory=empty_list)
    stream: bool = False
    quota_backoff_minutes: Annotated[float, Field(gt=0, le=MAX_SECONDS / 60)] = 60
    """How long a model-unavailable failure holds the brain (a quota failure waits for its reset)."""


class IngestConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    mode: Literal["lane", "headless"] = "lane"
    lane: str = "docs"
    timeout_s: Seconds = 600
    """The headless ingest's own timeout. v1's frozen default 600 stays (the original's later default is
    120): a config that sets it keeps working either way (CONTRACT "The engine configuration")."""
    harness: str = ""
    """The headless ingest's harness; "" = the brain's."""
    auto_approve: bool = True
    """Whether the headless ingest runs with the harness's auto-approve flag (the registry's
    `auto_approve_flag`): it writes the wiki and acks mail, which a one-shot CLI asks leave for."""


class DestructiveConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    max_dispatches_per_cycle: Annotated[int, Field(ge=0)] = 4
    max_lanes: Annotated[int, Field(ge=0)] = 12
    payload_patterns: list[str] = Field(default_factory=empty_list)


class GateConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    # text (mode text) to a sandboxed lane skips the payload patterns and the "not an AI agent" rule:
    # what it makes the lane do stays inside its bubblewrap sandbox (SECURITY.md "Sandboxed lanes")
    sandboxed_text_safe: bool = False


PmAdapterEntry = str | dict[str, Any]
"""An `engine.pm.adapters` entry: a bare adapter name, or a mapping `{name: jira, ...}` (its other keys
are kept and ignored)."""


class PmConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    adapters: list[PmAdapterEntry] = Field(default_factory=empty_list)

    def adapter_names(self) -> list[str]:
        """The names the entries give, in order, each once: a bare name as written, a mapping's `name`; a
        mapping without a (non-empty string) name is skipped (pm_adapter_names)."""
        return pm_adapter_names(self.adapters)


def pm_adapter_names(entries: Any) -> list[str]:
    """The adapter names of `engine.pm.adapters` entries (bare names or `{name: ...}` mappings; nameless
    entries skipped; de-duplicated, first one wins) -- shell/lib/restart.py reads them the same way."""
    names: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name.strip() and name not in names:
            names.append(name)
    return names


class MetricsConfig(BaseModel):
    """`engine.metrics` (an addition from the original). Accepted only: no metrics line is logged yet."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    log_after_cycle: bool = False


class LintConfig(BaseModel):
    """`engine.lint` (an addition from the original). Accepted only: the engine runs no wiki lint yet."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    enabled: bool = False
    interval_h: Annotated[float, Field(gt=0, le=MAX_SECONDS / 3600)] = 24


class CheckpointConfig(BaseModel):
    """`engine.checkpoint` (an addition from the original): filing keeps the newest `keep_decisions`
    `### ` entries below checkpoint.md's marker and appends the older ones to
    ops-wiki/decisions-archive.md first; keep_decisions < 1 = off."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    keep_decisions: int = 10


class VerifyConfig(BaseModel):
    """`engine.verify`: loop-verify's gate and timeouts, and the engine's detached `verify` runs
    (contract-later §10)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    gate_cmd: str | list[str] | None = None
    """The gate: null = detect (`make check` when the Makefile has a check target, else `uv run pytest`
    when pyproject.toml and tests/ exist, else none); a string (split shell-style, never run by a shell)
    or an argv list = that command; "" or [] = no gate."""
    gate_timeout_s: Seconds = 900
    lens_timeout_s: Seconds = 300
    base: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")] = (
        "main"
    )
    """The branch a lane's branch is verified against and merged into (in the main checkout)."""
    timeout_s: Seconds = 2400


Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CodexPricing(BaseModel):
    """`engine.codex_pricing`: what a codex brain call costs, in USD per 1M tokens. `cached` defaults to
    the `input` rate; above `long_context_threshold` input tokens (<= 0: off) input and cached count
    twice and output 1.5 times. No `input` or `output` rate ({}): codex calls are `unpriced`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    input: Rate | None = None
    cached: Rate | None = None
    output: Rate | None = None
    long_context_threshold: int = 272000


class BuildConfig(BaseModel):
    """`engine.build`: the engine's detached `build` runs (contract-later §10)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    cmd: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    """The build runner as an argv list; `{worktree}` and `{brief}` are replaced inside its elements (the
    brief is one argv element, never shell text; appended when no element names it). None: `codex exec
    --json --dangerously-bypass-approvals-and-sandbox --cd {worktree} {brief}`."""
    timeout_s: Seconds = 1500
    sandbox: bool | None = None
    """Run the runner in a sandboxed lane's bubblewrap sandbox (shell/lib/sandbox.py): true (no usable
    bwrap: the build is refused, `build-skip {reason: sandbox-unavailable}`), false (never), None (auto:
    sandboxed where bwrap runs, else unsandboxed with an event `build-unsandboxed {window, reason}`)."""


class EngineConfig(BaseModel):
    """The engine's configuration; every key optional, defaults as CONTRACT v1 lists them."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    approval_mode: ApprovalMode = "manual"
    checkpoint_interval_s: Seconds = 900
    poll_interval_s: Seconds = 10
    min_cycle_interval_s: Annotated[float, Field(ge=0), AfterValidator(_bounded_seconds)] = 120
    brain: BrainConfig = Field(default_factory=BrainConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    destructive: DestructiveConfig = Field(default_factory=DestructiveConfig)
    pm: PmConfig = Field(default_factory=PmConfig)
    harness_policy: HarnessPolicy = Field(default_factory=HarnessPolicy)
    """Governed lanes (loop_schemas.policy); the all-default policy is a no-op."""
    gate: GateConfig = Field(default_factory=GateConfig)
    # the later keys of the original (CONTRACT "The engine configuration": which ones act today)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    lint: LintConfig = Field(default_factory=LintConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    codex_pricing: CodexPricing | None = None
    """What codex brain calls cost (USD per 1M tokens); null or {}: their `brain-usage` is unpriced."""
    target_lane_utilization: Annotated[float, Field(ge=0, le=1)] = 0.0
    """The share of lanes the loop aims to keep working (accepted only)."""
    max_fix_rounds: Annotated[int, Field(ge=0)] = 2
    """After this many failed/timeout/stale verifies of a lane in a row, a proposed `build` becomes an
    `escalate` (event `fix-round-cap`); a passed verify resets the count."""
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    """loop-verify's gate and timeouts; the engine's verify runs (base, timeout)."""
    build: BuildConfig = Field(default_factory=BuildConfig)

    def unknown_keys(self) -> list[str]:
        """Dotted names of keys the model does not know (kept, but worth a warning)."""
        out = [f"engine.{k}" for k in (self.model_extra or {})]
        for name in (
            "brain",
            "ingest",
            "destructive",
            "pm",
            "harness_policy",
            "gate",
            "metrics",
            "lint",
            "checkpoint",
            "verify",
            "codex_pricing",
            "build",
        ):
            sub = getattr(self, name)
            out.extend(f"engine.{name}.{k}" for k in ((sub.model_extra if sub is not None else None) or {}))
        return out


class LaneConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    lanes: dict[LaneName, LaneSpec] = Field(default_factory=dict)
    """The base lanes (LaneConfigName) and any other lane name add-lane accepts."""
    engine: EngineConfig | None = None


class LoadedLaneConfig(BaseModel):
    """A lane-config as loaded: the merged model, the effective engine config, files read, warnings."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    config: LaneConfig
    engine: EngineConfig
    sources: list[str]
    warnings: list[str]


def _coerce_lanes(data: dict[str, Any], where: str) -> None:
    lanes = data.get("lanes")
    if lanes is None:
        data["lanes"] = {}
        return
    if not isinstance(lanes, dict):
        raise SchemaError(f"{where}: lanes: must be a mapping of lane name to settings")
    for name, spec in list(lanes.items()):
        if spec is None:
            lanes[name] = {}
    if "engine" in data and data["engine"] is None:
        data["engine"] = {}


def parse_lane_config(text: str, where: str = "lane-config") -> LaneConfig:
    """One YAML document (no overlay). SchemaError with every problem when it does not validate."""
    data = safe_yaml(text)  # not `if text.strip()`: PyYAML refuses a lone tab, as the shell does
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: the top level must be a mapping")
    _coerce_lanes(data, where)
    try:
        return LaneConfig.model_validate(data)
    except ValidationError as exc:
        raise schema_error_from_validation(exc, where) from None


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = read_project_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise SchemaError(f"{path}: unreadable: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError(f"{path}: not UTF-8 text") from None
    data = safe_yaml(text)  # not `if text.strip()`: PyYAML refuses a lone tab, as the shell does
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SchemaError(f"{path}: the top level must be a mapping")
    return data


def host_overlay_path(path: Path, hostname: str | None = None) -> Path:
    """The host overlay beside `path`: `<stem>.<short host>.yaml` (or `.yml`, whichever exists; the base
    file's own suffix first), the host from `hostname`, else LANE_CONFIG_HOSTNAME, else the machine's name
    -- the rule shell/lib/lane_config.py (loop-tmux, loop-restart) follows."""
    # the machine's name is uname's nodename (what socket.gethostname() answers, without loading socket)
    host = (
        hostname if hostname is not None else (os.environ.get("LANE_CONFIG_HOSTNAME") or os.uname().nodename)
    )
    short = host.split(".")[0]
    own = path.suffix if path.suffix.lower() in (".yaml", ".yml") else ".yaml"
    stem = path.stem if path.suffix.lower() in (".yaml", ".yml") else path.name
    candidates = [own, *(s for s in (".yaml", ".yml") if s != own.lower())]
    for suffix in candidates:
        candidate = path.with_name(f"{stem}.{short}{suffix}")
        if candidate.is_file():
            return candidate
    return path.with_name(f"{stem}.{short}{own}")


def merge_overlay(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Lanes replace lane by lane; engine top-level keys replace whole; other top-level keys replace."""
    merged = dict(base)
    for key, value in overlay.items():
        if key == "lanes" and isinstance(value, dict) and isinstance(base.get("lanes"), dict):
            lanes = dict(base["lanes"])
            lanes.update(value)
            merged["lanes"] = lanes
        elif key == "engine" and isinstance(value, dict) and isinstance(base.get("engine"), dict):
            engine = dict(base["engine"])
            engine.update(value)
            merged["engine"] = engine
        else:
            merged[key] = value
    return merged


def _shown(key: str) -> str:
    """A key as a warning names it: as written, or quoted with escapes when it holds a line break or a
    control character (a warning is one line)."""
    return key if key.isprintable() else repr(key)


def load_lane_config(path: Path, hostname: str | None = None) -> LoadedLaneConfig:
    """Read a lane-config and its host overlay; SchemaError (one line) when either is invalid."""
    data = _read(path)
    sources = [str(path)]
    overlay = host_overlay_path(path, hostname)
    if overlay != path and overlay.is_file():
        data = merge_overlay(data, _read(overlay))
        sources.append(str(overlay))
    _coerce_lanes(data, str(path))
    try:
        config = LaneConfig.model_validate(data)
    except ValidationError as exc:
        raise schema_error_from_validation(exc, str(path)) from None
    engine = config.engine if config.engine is not None else EngineConfig()
    warnings = [f"{path}: unknown key {_shown(k)} (kept, ignored)" for k in engine.unknown_keys()]
    warnings += [
        f"{path}: unknown top-level key {_shown(k)} (kept, ignored)" for k in (config.model_extra or {})
    ]
    for lane, spec in config.lanes.items():
        warnings += [
            f"{path}: lanes.{lane}: unknown key {_shown(k)} (kept, ignored)" for k in (spec.model_extra or {})
        ]
    return LoadedLaneConfig(config=config, engine=engine, sources=sources, warnings=warnings)


__all__ = [
    "LANE_CONFIG_NAMES",
    "LANE_NAME_RULE",
    "MAX_CONFIG_BYTES",
    "MAX_SECONDS",
    "ApprovalMode",
    "BrainConfig",
    "BuildConfig",
    "CheckpointConfig",
    "CodexPricing",
    "DestructiveConfig",
    "EngineConfig",
    "GateConfig",
    "IngestConfig",
    "LaneConfig",
    "LaneConfigName",
    "LaneKind",
    "LaneName",
    "LaneSpec",
    "LintConfig",
    "LoadedLaneConfig",
    "MetricsConfig",
    "PmAdapterEntry",
    "PmConfig",
    "Rate",
    "ResolvedLane",
    "ResolvedLaneConfig",
    "Seconds",
    "Setting",
    "VerifyConfig",
    "host_overlay_path",
    "load_lane_config",
    "merge_overlay",
    "parse_lane_config",
    "pm_adapter_names",
]

__getattr__ = moved_names(__name__, "loop_schemas._resolved_lanes", __all__)
