"""`loop-init --json`: what loop-init created in a project and what it left as it was."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class InitReport(BaseModel):
    """Paths are relative to `project_root`; a folder ends in `/`. A dry run lists what it would create."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    project_root: str
    dry_run: bool
    created: list[str]
    existing: list[str]
    profile: str | None = None
    """The engine profile `--profile` wrote into a new lane-config.yaml (an addition), else null."""
