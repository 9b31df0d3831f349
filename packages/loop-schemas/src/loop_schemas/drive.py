"""The verify drive's files and events (contract-later §10; loop_engine/runs.py and drive.py write them).

- `engine/verify-in-progress.json {verifies: [RunEntry]}` and `engine/build-in-progress.json {builds:
  [RunEntry]}`: the detached runs in flight, at most one of each per lane.
- events.jsonl lines: `verify-started|skip|passed|failed|stale|timeout`, `build-started|skip|done|failed|
  timeout`, `build-unsandboxed`, `build-usage`, `fix-round-cap`, `merge-done|merge-refused`, `run-orphan`.
  `DriveEvent` is their union, told apart by `event`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from loop_schemas._factories import empty_list
from loop_schemas.engine import EngineEvent

RunKind = Literal["verify", "build"]


class RunEntry(BaseModel):
    """One detached run in an in-progress marker."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    window: str
    branch: str
    pid: int
    started_at: str
    token: str
    """The random token in the run's environment: the proof a process is this run's (reaping)."""
    pre_build_sha: str | None = None
    """build: the worktree's HEAD before the run (build-done needs it to have moved)."""
    tip: str | None = None
    """verify: the branch head verified."""
    report: str | None = None
    """verify: the report file (.loop/sessions/<s>/verify/<w>-<token>.json)."""
    log: str | None = None


class VerifyMarker(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    verifies: list[RunEntry] = Field(default_factory=empty_list)


class BuildMarker(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    builds: list[RunEntry] = Field(default_factory=empty_list)


class VerifyStartedEvent(EngineEvent):
    event: Literal["verify-started"]
    window: str
    branch: str
    base: str
    tip: str
    report: str
    pid: int


class VerifySkipEvent(EngineEvent):
    """No verify started: one runs for the lane already, or its branch has nothing beyond the base."""

    event: Literal["verify-skip"]
    window: str
    reason: Literal["in-progress", "at-base"]


class VerifyOutcomeEvent(EngineEvent):
    """failed: the gate failed or a blocking verdict (overall fail, a high/critical finding, no report);
    stale: the gate passed but the base is not an ancestor of the tip (rebase, never merge); passed:
    current, not fail, nothing high or critical; timeout: the run outlived engine.verify.timeout_s."""

    event: Literal["verify-passed", "verify-failed", "verify-stale", "verify-timeout"]
    window: str
    branch: str
    tip: str
    report: str
    overall: str | None = None
    gate_passed: bool | None = None
    blocking: int = 0
    reason: str | None = None
    fix_rounds: int = 0


class BuildStartedEvent(EngineEvent):
    event: Literal["build-started"]
    window: str
    branch: str
    pre_build_sha: str
    log: str
    pid: int


class BuildSkipEvent(EngineEvent):
    """No build started: the worktree has uncommitted changes, a build runs for the lane already, or
    `engine.build.sandbox: true` and bubblewrap cannot run here (`detail` says why)."""

    event: Literal["build-skip"]
    window: str
    reason: Literal["worktree-dirty", "in-progress", "sandbox-unavailable"]
    detail: str | None = None


class BuildUnsandboxedEvent(EngineEvent):
    """`engine.build.sandbox` unset (auto) and bubblewrap cannot run here: this build runs unsandboxed."""

    event: Literal["build-unsandboxed"]
    window: str
    reason: str


class BuildOutcomeEvent(EngineEvent):
    """done: the runner exited 0 and the worktree's HEAD moved; failed: anything else that ended; timeout:
    the run outlived engine.build.timeout_s."""

    event: Literal["build-done", "build-failed", "build-timeout"]
    window: str
    branch: str
    pre_build_sha: str | None = None
    head: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    log: str | None = None


class BuildUsageEvent(EngineEvent):
    """A build's token usage, from the runner's codex --json log (loop-metrics reads it)."""

    event: Literal["build-usage"]
    window: str
    branch: str
    usage_source: Literal["codex-json"]
    cost_source: str
    cost_usd: float | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    model: str | None = None


class FixRoundCapEvent(EngineEvent):
    """A proposed build became an escalate: the lane failed verify max_fix_rounds times in a row."""

    event: Literal["fix-round-cap"]
    window: str
    rounds: int
    max_fix_rounds: int
    decision_id: str | None = None


class MergeDoneEvent(EngineEvent):
    event: Literal["merge-done"]
    lane: str
    branch: str
    base: str
    tip: str
    how: Literal["fast-forward", "merge-commit"]
    head: str


class MergeRefusedEvent(EngineEvent):
    event: Literal["merge-refused"]
    lane: str
    reason: Literal["no-branch", "not-verified", "main-dirty", "not-on-base", "conflict", "git-error"]
    detail: str | None = None


class RunOrphanEvent(EngineEvent):
    """A run whose runner died without a result (its remaining processes, proven by token, stopped)."""

    event: Literal["run-orphan"]
    kind: RunKind
    window: str
    pids: list[int] = Field(default_factory=empty_list)


class DriveEvent(
    RootModel[
        Annotated[
            VerifyStartedEvent
            | VerifySkipEvent
            | VerifyOutcomeEvent
            | BuildStartedEvent
            | BuildSkipEvent
            | BuildUnsandboxedEvent
            | BuildOutcomeEvent
            | BuildUsageEvent
            | FixRoundCapEvent
            | MergeDoneEvent
            | MergeRefusedEvent
            | RunOrphanEvent,
            Field(discriminator="event"),
        ]
    ]
):
    """Any one verify-drive event."""

    model_config = ConfigDict(defer_build=True)
