"""Architecture decision records `docs/adr/NNNN-<slug>.md` (MADR) and the acceptance gate's rule."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from loop_schemas._frontmatter import parse_frontmatter
from loop_schemas.errors import SchemaError, schema_error_from_validation

ADR_FILE_RE = re.compile(r"^(\d{4})-([a-z0-9][a-z0-9-]*)\.md$")
# the first `# ` heading, as shell/lib/adr.py reads it: closing #s and a CRLF's \r are not the title
_TITLE = re.compile(r"^#[ \t]+(?:\d+\.[ \t]+)?(.+?)[ \t]*#*[ \t\r]*$", re.MULTILINE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class AdrStatus(str, enum.Enum):
    PROPOSED = "Proposed"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    SUPERSEDED = "Superseded"
    DEPRECATED = "Deprecated"


class AdrFrontmatter(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    status: AdrStatus
    date: str | None = None
    verify_record: str | None = None
    rollback: str | None = None
    canary_record: str | None = None
    supersedes: str | None = None
    superseded_by: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_case(cls, value: Any) -> Any:
        if isinstance(value, str):
            for member in AdrStatus:
                if member.value.lower() == value.strip().lower():
                    return member
            # "Superseded by 0004" style statuses keep the word
            head = value.strip().split()[0].lower() if value.strip() else ""
            for member in AdrStatus:
                if member.value.lower() == head:
                    return member
        return value

    @field_validator(
        "date", "verify_record", "rollback", "canary_record", "supersedes", "superseded_by", mode="before"
    )
    @classmethod
    def _text(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, str):
            return value.strip() or None
        return value


class Adr(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    number: int | None
    slug: str | None
    title: str
    frontmatter: AdrFrontmatter
    body: str
    path: str | None = None


def parse_adr(text: str, path: str | Path | None = None) -> Adr:
    where = str(path) if path is not None else "adr"
    data, body = parse_frontmatter(text)
    try:
        fm = AdrFrontmatter.model_validate(data)
    except ValidationError as exc:
        raise schema_error_from_validation(exc, where) from None
    number: int | None = None
    slug: str | None = None
    if path is not None:
        match = ADR_FILE_RE.match(Path(path).name)
        if match is None:
            raise SchemaError(f"{where}: file name must be NNNN-<slug>.md")
        number, slug = int(match.group(1)), match.group(2)
    title_match = _TITLE.search(body)
    title = " ".join(title_match.group(1).split()) if title_match else ""  # one line, as the shell shows it
    if not title:
        title = slug.replace("-", " ") if slug else ""
    return Adr(
        number=number,
        slug=slug,
        title=title,
        frontmatter=fm,
        body=body,
        path=str(path) if path is not None else None,
    )


def is_url(value: str) -> bool:
    return bool(_URL.match(value))


def accept_gate_problems(adr: Adr, project_root: Path, adr_dir: Path | None = None) -> list[str]:
    """Why `loop-adr accept` must refuse this ADR (empty: the gate passes).

    It needs a verify_record and a rollback or canary_record; a linked relative path must exist
    (relative to the project root, or to the ADR's directory); URLs pass as they are.
    """
    problems: list[str] = []
    fm = adr.frontmatter

    def missing_link(field: str, value: str) -> str | None:
        if is_url(value):
            return None
        candidates = [Path(value)] if Path(value).is_absolute() else [project_root / value]
        if adr_dir is not None and not Path(value).is_absolute():
            candidates.append(adr_dir / value)
        if any(c.exists() for c in candidates):
            return None
        return f"{field}: {value} does not exist"

    if not fm.verify_record:
        problems.append("verify_record: missing (link the record that proves the decision)")
    else:
        found = missing_link("verify_record", fm.verify_record)
        if found:
            problems.append(found)
    reversible = [(f, v) for f, v in (("rollback", fm.rollback), ("canary_record", fm.canary_record)) if v]
    if not reversible:
        problems.append("rollback: missing (link a rollback plan or a canary_record)")
    else:
        misses = [m for m in (missing_link(f, v) for f, v in reversible) if m]
        if len(misses) == len(reversible):
            problems.extend(misses)
    if fm.status is not AdrStatus.PROPOSED:
        problems.append(f"status: is {fm.status.value}, only a Proposed ADR can be accepted")
    return problems


class AdrListEntry(BaseModel):
    """One ADR in `loop-adr list --json`, with the accept gate's verdict."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    id: int
    status: str | None
    title: str
    path: str
    file: str
    date: str | None
    verify_record: str | None
    canary_record: str | None
    rollback: str | None
    supersedes: str | None
    superseded_by: str | None
    acceptable: bool
    gate_problems: list[str]
    error: str | None
    """Why the record could not be read as a MADR file (its frontmatter), or null."""


class AdrList(BaseModel):
    """`loop-adr list --json`: the decision ledger."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    adr_dir: str
    adrs: list[AdrListEntry]
