"""`loop-verify`: a lens's answer (the ```verdict block) and the report it writes (`--out F`, `--json`).

The overall verdict is a pure function of the gate, the lenses and whether the diff was empty
(`overall_verdict`): `fail` (the gate failed, a lens said fail, or any high/critical finding) beats
`concerns` (no gate ran, a lens said concerns, any finding at all, or an empty diff) beats `pass`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas._factories import empty_list

Verdict = Literal["pass", "concerns", "fail"]
Severity = Literal["critical", "high", "medium", "low"]
LensName = Literal["code-review", "silent-failure", "adversarial"]

VERDICTS: tuple[str, ...] = ("pass", "concerns", "fail")
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
LENSES: tuple[LensName, ...] = ("code-review", "silent-failure", "adversarial")
BLOCKING_SEVERITIES: frozenset[str] = frozenset({"critical", "high"})


class LensFinding(BaseModel):
    """One finding of a lens, as its ```verdict block gives it (keys it adds are dropped)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    severity: Severity
    title: str
    detail: str = ""


class LensVerdict(BaseModel):
    """The body of a lens's one ```verdict block: `{verdict, findings, summary}` (JSON)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    verdict: Verdict
    findings: list[LensFinding] = Field(default_factory=empty_list)
    summary: str = ""


class VerifyLens(BaseModel):
    """A lens in the report: its verdict, or `concerns` with an `error` when it timed out, crashed or
    could not run; an unparseable answer is `concerns` with a low `parse-note` finding."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    lens: str
    verdict: Verdict
    findings: list[LensFinding] = Field(default_factory=empty_list)
    summary: str = ""
    error: str | None = None
    duration_s: float | None = None


class VerifyGate(BaseModel):
    """The project's own check: `command` null when no gate ran (`output_tail` says why; `passed` true)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    passed: bool
    output_tail: str
    command: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float | None = None


class VerifyFinding(BaseModel):
    """A finding of the report's flat list: the lens that made it, then the finding."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    lens: str
    severity: Severity
    title: str
    detail: str = ""


class VerifyReport(BaseModel):
    """What `loop-verify` writes to `--out` and prints with `--json`. Readers may meet reports of the
    original (no contract_version, no base/tip): every key but overall, gate, lenses, findings has a
    default."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    overall: Verdict
    gate: VerifyGate
    base: str = ""
    """The base commit (full sha) the diff starts from."""
    tip: str = ""
    """The tip commit (full sha) verified."""
    diffstat: str | None = None
    """`git diff --stat base tip`'s output ("" for an empty diff)."""
    diff_truncated: bool = False
    """The diff was longer than the lenses are shown (they saw its head and were told so)."""
    lenses: list[VerifyLens]
    findings: list[VerifyFinding]
    generated_at: str | None = None


def overall_verdict(
    gate_passed: bool | None, lenses: Sequence[LensVerdict | VerifyLens], diff_empty: bool
) -> Verdict:
    """The report's `overall`. `gate_passed` None means no gate ran (nothing checked the tip: never a
    pass). fail: the gate failed, a lens said fail, or a critical/high finding; concerns: no gate, a lens
    said concerns, any finding, or an empty diff; else pass."""
    findings = [f for lens in lenses for f in lens.findings]
    if (
        gate_passed is False
        or any(lens.verdict == "fail" for lens in lenses)
        or any(f.severity in BLOCKING_SEVERITIES for f in findings)
    ):
        return "fail"
    if gate_passed is None or diff_empty or findings or any(lens.verdict == "concerns" for lens in lenses):
        return "concerns"
    return "pass"
