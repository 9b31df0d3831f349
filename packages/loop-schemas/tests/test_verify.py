"""loop-verify's report model and its overall verdict (contract-later §10): fail > concerns > pass."""

from __future__ import annotations

import pytest
from loop_schemas import LensFinding, LensVerdict, VerifyLens, VerifyReport, overall_verdict
from loop_schemas.verify import LENSES
from pydantic import ValidationError


def lens(verdict: str, *severities: str) -> LensVerdict:
    return LensVerdict.model_validate(
        {"verdict": verdict, "findings": [{"severity": s, "title": f"a {s} one"} for s in severities]}
    )


PASS = lens("pass")

# (gate_passed, lenses, diff_empty) -> overall; gate_passed None = no gate ran
TABLE = [
    ("all clear", True, [PASS, PASS, PASS], False, "pass"),
    ("gate failed, lenses pass", False, [PASS, PASS, PASS], False, "fail"),
    ("a lens says fail", True, [PASS, lens("fail"), PASS], False, "fail"),
    ("a critical finding under a pass", True, [lens("pass", "critical"), PASS, PASS], False, "fail"),
    ("a high finding under concerns", True, [PASS, lens("concerns", "high"), PASS], False, "fail"),
    ("a lens says concerns", True, [PASS, PASS, lens("concerns")], False, "concerns"),
    ("a medium finding under a pass", True, [lens("pass", "medium"), PASS, PASS], False, "concerns"),
    ("a low finding under a pass", True, [PASS, lens("pass", "low"), PASS], False, "concerns"),
    ("an empty diff", True, [], True, "concerns"),
    ("an empty diff, lenses pass", True, [PASS, PASS, PASS], True, "concerns"),
    ("an empty diff but the gate failed", False, [], True, "fail"),
    ("no gate ran", None, [PASS, PASS, PASS], False, "concerns"),
    ("no gate ran, a lens says fail", None, [PASS, PASS, lens("fail")], False, "fail"),
    ("fail beats concerns", True, [lens("concerns", "low"), lens("fail"), PASS], False, "fail"),
]


@pytest.mark.parametrize(
    ("gate_passed", "lenses", "diff_empty", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_overall_verdict_table(
    gate_passed: bool | None, lenses: list[LensVerdict], diff_empty: bool, expected: str
) -> None:
    assert overall_verdict(gate_passed, lenses, diff_empty) == expected


def test_a_report_lens_counts_like_a_verdict() -> None:
    """The report's lens entries (VerifyLens) are verdicts too: an errored lens is concerns."""
    errored = VerifyLens(lens="adversarial", verdict="concerns", error="timed out after 300s")
    assert overall_verdict(True, [PASS, PASS, errored], False) == "concerns"


def test_the_lens_block_shape() -> None:
    ok = LensVerdict.model_validate(
        {
            "verdict": "concerns",
            "findings": [{"severity": "low", "title": "t", "detail": "d"}],
            "summary": "s",
        }
    )
    assert ok.findings == [LensFinding(severity="low", title="t", detail="d")]
    # keys a lens adds are dropped; detail and summary may be left out
    extra = LensVerdict.model_validate(
        {"verdict": "pass", "confidence": 0.9, "findings": [{"severity": "high", "title": "x", "why": 1}]}
    )
    assert extra.model_dump() == {
        "verdict": "pass",
        "findings": [{"severity": "high", "title": "x", "detail": ""}],
        "summary": "",
    }
    for bad in (
        {"verdict": "ok"},
        {"verdict": "pass", "findings": [{"severity": "blocker", "title": "x"}]},
        {"verdict": "pass", "findings": [{"severity": "low"}]},
        {"findings": []},
    ):
        with pytest.raises(ValidationError):
            LensVerdict.model_validate(bad)


def test_a_report_of_the_original_shape_reads() -> None:
    """The original's report has no contract_version, base, tip or diffstat: it still validates."""
    report = VerifyReport.model_validate(
        {
            "overall": "concerns",
            "gate": {"passed": True, "output_tail": "ok"},
            "lenses": [{"lens": name, "verdict": "pass", "findings": [], "summary": ""} for name in LENSES],
            "findings": [{"lens": "code-review", "severity": "low", "title": "nit", "detail": ""}],
        }
    )
    assert report.contract_version == 1 and report.base == "" and report.gate.command is None


def test_the_engine_verify_config() -> None:
    from loop_schemas import EngineConfig

    default = EngineConfig().verify
    assert (default.gate_cmd, default.gate_timeout_s, default.lens_timeout_s) == (None, 900, 300)
    set_ = EngineConfig.model_validate({"verify": {"gate_cmd": ["make", "test"], "lens_timeout_s": 60}})
    assert set_.verify.gate_cmd == ["make", "test"] and set_.verify.lens_timeout_s == 60
    assert EngineConfig.model_validate({"verify": {"surprise": 1}}).unknown_keys() == [
        "engine.verify.surprise"
    ]
    for bad in ({"gate_timeout_s": 0}, {"lens_timeout_s": float("inf")}, {"gate_cmd": 3}):
        with pytest.raises(ValidationError):
            EngineConfig.model_validate({"verify": bad})
