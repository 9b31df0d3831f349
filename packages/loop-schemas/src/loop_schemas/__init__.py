"""Every file format and JSON surface of loop-orchestrator, as pydantic models and exported JSON Schema.

Everything importable from here is the public API; the submodules group it by file. Third-party PM
adapters need nothing but this distribution.
"""

from importlib.metadata import version as _version

from loop_schemas._atomic import LockTimeoutError, append_line, atomic_write, file_lock
from loop_schemas.adr import ADR_FILE_RE, Adr, AdrFrontmatter, AdrStatus, accept_gate_problems, parse_adr
from loop_schemas.decision import (
    MAX_ACTIONS,
    MAX_PAYLOAD,
    Action,
    AddLaneAction,
    Decision,
    DecisionParseError,
    DispatchAction,
    DropLaneAction,
    EscalateAction,
    SteerAction,
    StopAction,
    extract_decision_blocks,
    parse_decision_block,
)
from loop_schemas.digest import Digest, DigestAdr, DigestMail, DigestMailbox, UnpushedRepo
from loop_schemas.engine import EngineEvent, GatedAction, PendingDecision, parse_event
from loop_schemas.errors import Problem, SchemaError
from loop_schemas.lane_config import (
    BrainConfig,
    DestructiveConfig,
    EngineConfig,
    IngestConfig,
    LaneConfig,
    LaneSpec,
    LoadedLaneConfig,
    PmConfig,
    load_lane_config,
    parse_lane_config,
)
from loop_schemas.lanes import Lane, LaneList, LaneStatus, LaneStatusReport
from loop_schemas.mail import (
    MailFrontmatter,
    MailItem,
    MailList,
    MailMessage,
    MailName,
    format_mail_name,
    parse_mail,
    parse_mail_name,
)
from loop_schemas.metrics import Metrics, format_metrics_line, parse_metrics_line
from loop_schemas.registry import HARNESS_ORDER, Harness, HarnessRegistry
from loop_schemas.state import (
    Artifacts,
    LoopEntry,
    OrchestratorState,
    StateLane,
    dump_state,
    load_state,
    parse_state,
    update_state,
)
from loop_schemas.task import (
    REQUIRED_SECTIONS,
    TASK_FILE_RE,
    LintFinding,
    Task,
    TaskFrontmatter,
    TaskStatus,
    format_task,
    lint_tasks,
    load_tasks,
    parse_task,
    set_frontmatter_key,
    slugify,
)
from loop_schemas.watchdog import RestartEvent, WatchdogLifecycleEvent, parse_watchdog_line

__version__ = _version("loop-schemas")

CONTRACT_VERSION = 1

__all__ = [
    "ADR_FILE_RE",
    "CONTRACT_VERSION",
    "HARNESS_ORDER",
    "MAX_ACTIONS",
    "MAX_PAYLOAD",
    "REQUIRED_SECTIONS",
    "TASK_FILE_RE",
    "Action",
    "AddLaneAction",
    "Adr",
    "AdrFrontmatter",
    "AdrStatus",
    "Artifacts",
    "BrainConfig",
    "Decision",
    "DecisionParseError",
    "DestructiveConfig",
    "Digest",
    "DigestAdr",
    "DigestMail",
    "DigestMailbox",
    "DispatchAction",
    "DropLaneAction",
    "EngineConfig",
    "EngineEvent",
    "EscalateAction",
    "GatedAction",
    "Harness",
    "HarnessRegistry",
    "IngestConfig",
    "Lane",
    "LaneConfig",
    "LaneList",
    "LaneSpec",
    "LaneStatus",
    "LaneStatusReport",
    "LintFinding",
    "LoadedLaneConfig",
    "LockTimeoutError",
    "LoopEntry",
    "MailFrontmatter",
    "MailItem",
    "MailList",
    "MailMessage",
    "MailName",
    "Metrics",
    "OrchestratorState",
    "PendingDecision",
    "PmConfig",
    "Problem",
    "RestartEvent",
    "SchemaError",
    "StateLane",
    "SteerAction",
    "StopAction",
    "Task",
    "TaskFrontmatter",
    "TaskStatus",
    "UnpushedRepo",
    "WatchdogLifecycleEvent",
    "__version__",
    "accept_gate_problems",
    "append_line",
    "atomic_write",
    "dump_state",
    "extract_decision_blocks",
    "file_lock",
    "format_mail_name",
    "format_metrics_line",
    "format_task",
    "lint_tasks",
    "load_lane_config",
    "load_state",
    "load_tasks",
    "parse_adr",
    "parse_decision_block",
    "parse_event",
    "parse_lane_config",
    "parse_mail",
    "parse_mail_name",
    "parse_metrics_line",
    "parse_state",
    "parse_task",
    "parse_watchdog_line",
    "set_frontmatter_key",
    "slugify",
    "update_state",
]
