"""`loop-deck --all --json`: one row per loop session found under the given project roots."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class LoopOverviewRow(BaseModel):
    """One loop session, read from its files only (no tmux, no writes)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    session: str
    project_root: str
    engine: Literal["running", "paused", "stopped"]
    pending: str | None  # the pending decision's id, None when there is none
    awaiting: int  # actions of the pending decision still queued for approval
    lanes: dict[str, int] | None  # status -> count from the engine's last look (lanes-seen.json); None: never
    review: int  # top-level tasks with status review in the project (tasks/*.md)


class LoopOverview(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    roots: list[str]
    sessions: list[LoopOverviewRow]
