"""The JSON Schema of every model that defines a file or a JSON surface, as committed files."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from loop_schemas._atomic import atomic_write
from loop_schemas.adr import AdrFrontmatter, AdrList
from loop_schemas.brain_usage import BrainUsageEvent
from loop_schemas.decision import Decision
from loop_schemas.deck import LoopOverview
from loop_schemas.digest import Digest
from loop_schemas.drive import BuildMarker, DriveEvent, VerifyMarker
from loop_schemas.engine import (
    ApproveResult,
    CycleResult,
    EngineConfigReport,
    EngineEvent,
    EngineStatus,
    EventList,
    PendingDecision,
)
from loop_schemas.governance_events import (
    BackoffClearedEvent,
    BackoffSetEvent,
    BrainFailedEvent,
    CycleSkipEvent,
    HarnessRewriteEvent,
)
from loop_schemas.handoff import HandoffEvent
from loop_schemas.lane_config import EngineConfig, LaneConfig, ResolvedLaneConfig
from loop_schemas.lanes import BootPlan, LaneList, LaneStatusReport
from loop_schemas.mail_files import MailFrontmatter, MailIndexFile, MailList
from loop_schemas.metrics import FleetMetrics, Metrics
from loop_schemas.pm import AdapterList, SyncResult
from loop_schemas.policy import ModelPins
from loop_schemas.project import InitReport
from loop_schemas.registry import HarnessHealth, HarnessRegistry, HarnessRoster
from loop_schemas.snapshot import Snapshot
from loop_schemas.state import OrchestratorState
from loop_schemas.task import TaskChange, TaskFrontmatter, TaskLintReport
from loop_schemas.verify import LensVerdict, VerifyReport
from loop_schemas.watchdog import RestartEvent, WatchdogLifecycleEvent

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "orchestrator-state": OrchestratorState,
    "mail-frontmatter": MailFrontmatter,
    "mail-list": MailList,
    "task-frontmatter": TaskFrontmatter,
    "adr-frontmatter": AdrFrontmatter,
    "lane-config": LaneConfig,
    "engine-config": EngineConfig,
    "harness-registry": HarnessRegistry,
    "harness-roster": HarnessRoster,
    "harness-health": HarnessHealth,
    "lane-status": LaneStatusReport,
    "lane-list": LaneList,
    "digest": Digest,
    "watchdog-restart": RestartEvent,
    "watchdog-lifecycle": WatchdogLifecycleEvent,
    "metrics": Metrics,
    "fleet-metrics": FleetMetrics,
    "decision": Decision,
    "pending-decision": PendingDecision,
    "engine-event": EngineEvent,
    "handoff-event": HandoffEvent,
    "drive-event": DriveEvent,
    "engine-verify-in-progress": VerifyMarker,
    "engine-build-in-progress": BuildMarker,
    "pm-adapter-list": AdapterList,
    "adr-list": AdrList,
    "resolved-lane-config": ResolvedLaneConfig,
    "boot-plan": BootPlan,
    "engine-status": EngineStatus,
    "engine-cycle": CycleResult,
    "pm-sync-result": SyncResult,
    "task-lint": TaskLintReport,
    "task-change": TaskChange,
    "init-report": InitReport,
    "engine-approve": ApproveResult,
    "engine-events": EventList,
    "engine-config-report": EngineConfigReport,
    "deck-overview": LoopOverview,
    "engine-model-pins": ModelPins,
    "event-governance": HarnessRewriteEvent,
    "event-brain-failed": BrainFailedEvent,
    "event-brain-usage": BrainUsageEvent,
    "event-backoff-set": BackoffSetEvent,
    "event-backoff-cleared": BackoffClearedEvent,
    "event-cycle-skip": CycleSkipEvent,
    "verify-report": VerifyReport,
    "verify-lens-verdict": LensVerdict,
    "engine-snapshot": Snapshot,
    "mail-index": MailIndexFile,
}


def register(name: str, model: type[BaseModel]) -> None:
    """Add a model to the export set (used by loop_schemas.pm so its models ship as schemas too)."""
    SCHEMA_MODELS[name] = model


def schema_text(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered_schemas() -> dict[str, str]:
    """File name → JSON Schema text, for every exported model."""
    return {f"{name}.schema.json": schema_text(model) for name, model in sorted(SCHEMA_MODELS.items())}


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory` (created when missing); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in rendered_schemas().items():
        path = directory / file_name
        atomic_write(path, text)
        written.append(path)
    return written
