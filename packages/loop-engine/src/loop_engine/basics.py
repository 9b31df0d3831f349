"""What the engine's rooms share: its one-line error, a cycle's result, and small helpers.

The rooms (fleet, budget, thinking, decisions, execute, recovery, verbs) each own one concern of a
cycle; cycle.Engine wires them and reads one cycle top-down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from loop_engine.config import EffectiveConfig

T = TypeVar("T")

APPROVALS = ("manual", "auto", "full")
WAIT_READY_S = 60.0


class EngineError(Exception):
    """A user-facing failure of an engine verb (one line)."""


@dataclass
class CycleResult:
    """What one cycle did: its outcome, its decision and actions, the brain's time and use."""

    outcome: str  # queued | executed | partial | noop | skipped | brain-failed | dropped | blocked
    cycle_id: str
    decision_id: str | None = None
    detail: str = ""
    fingerprint: str | None = None
    brain_called: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)
    brain_s: float = 0.0
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # of the actions this cycle ran
    reason: str | None = None  # why nothing ran (noop: the stop's rationale; blocked: the gate's reasons)
    stale: bool = False  # ran on the last snapshot: the cycle's own look at the fleet failed or timed out

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [o for o in self.outcomes if o.get("state") != "done"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract_version": 1,
            "cycle_id": self.cycle_id,
            "outcome": self.outcome,
            "decision_id": self.decision_id,
            "detail": self.detail,
            "brain_called": self.brain_called,
            "actions": self.actions,
            "outcomes": self.outcomes,
            "reason": self.reason,
            "stale": self.stale,
        }


def one_line(exc: BaseException) -> str:
    """An exception as one line of at most 300 characters (its type's name when it says nothing)."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def target_of(action: dict[str, Any]) -> str | None:
    """The lane (or window) an action is aimed at, if any."""
    value = action.get("lane") or action.get("window")
    return str(value) if value is not None else None


def pm_adapters(config: EffectiveConfig) -> list[str]:
    """The PM adapters the engine syncs tasks through (none: the engine never calls loop-pm): the names
    of `engine.pm.adapters` (bare names or `{name: ...}` mappings; nameless entries skipped, each once)."""
    return config.model.pm.adapter_names()


class Job(Generic[T]):
    """`call()` running in a thread of its own (see SideBySide)."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def result(self) -> T:
        """The call's value once it returned, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast("T", self._value)

    def wait(self) -> None:
        self._thread.join()


class SideBySide:
    """Calls run side by side, one thread each: `with SideBySide() as jobs: job = jobs.submit(f)`, then
    job.result(); leaving the block waits for every call. What concurrent.futures' ThreadPoolExecutor
    gives the engine's few concurrent substrate reads, without that module (it loads logging: ~5 ms of
    every engine process's start)."""

    def __init__(self) -> None:
        self._jobs: list[Job[Any]] = []

    def __enter__(self) -> SideBySide:
        return self

    def submit(self, call: Callable[[], T]) -> Job[T]:
        job = Job(call)
        self._jobs.append(job)
        return job

    def __exit__(self, *exc_info: object) -> None:
        for job in self._jobs:
            job.wait()
