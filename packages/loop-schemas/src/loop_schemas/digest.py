"""`loop-digest --json`: the state file, the mailbox, unpushed commits and the ADR ledger in one document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DigestMail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow", populate_by_name=True, serialize_by_alias=True)

    file: str
    sender: str = Field(alias="from")
    recipient: str = Field(alias="to")
    subject: str | None
    mtime: str


class DigestMailbox(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    pending: list[DigestMail]
    processed_count: int = Field(ge=0)


class UnpushedRepo(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    repo: str
    path: str
    branch: str | None
    upstream: str | None
    count: int | None


class DigestAdr(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    id: int
    status: str
    title: str
    path: str


class Digest(BaseModel):
    """`state` is the state file as parsed JSON (users' extra keys included), or null with `state_error`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    generated_at: str
    state: dict[str, Any] | None
    state_error: str | None = None
    mailbox: DigestMailbox
    mailbox_error: str | None = None
    """Why the mailbox folder could not be listed (null when it could); `mailbox` is then empty."""
    unpushed: list[UnpushedRepo]
    adrs: list[DigestAdr]
    adr_error: str | None = None
    """Why the ADR folder could not be listed (null when it could); `adrs` is then empty."""
