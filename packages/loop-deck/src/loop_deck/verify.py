"""The latest verify report of a worktree lane, as the deck shows it (read only, never run).

`loop-verify` (run by the engine for a `verify` action) writes `.loop/sessions/<s>/verify/<w>-<token>.json`
(model `loop_schemas.VerifyReport`). The deck shows the newest of a lane's reports: under a pending
decision that holds a `verify`, `build` or `merge` action for the lane (the human approving a merge sees
the verdict, the gate, each lens, the findings and the diffstat), in the lane detail, and whole with `v`.

Every string of a report came from a lens (an agent) or from the project's own gate: untrusted. Each
one-line field is made printable with its newlines shown, so a title cannot fake a line of the view.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from loop_schemas import VerifyReport, read_project_file
from loop_schemas.fsread import ENGINE_CAP
from loop_schemas.plain import printable
from pydantic import ValidationError

TOKEN = re.compile(r"[0-9a-f]{16}")  # runs.py: secrets.token_hex(8)
SHORT_DETAIL = 100  # a finding's detail in the decision view (whole in the report view, v / enter)
SHORT_SUMMARY = 120
SHORT_DIFFSTAT = 8  # diffstat lines in the decision view (its last line, the totals, always shown)
GATE_TAIL_LINES = 20  # the gate's output lines in the report view


@dataclass(frozen=True)
class VerifyView:
    """One lane's newest verify report: `report` None with `error` saying why (no report yet, unreadable)."""

    lane: str
    file: str = ""
    report: VerifyReport | None = None
    error: str | None = None


def latest_report(folder: Path, window: str) -> Path | None:
    """The newest `<window>-<token>.json` in the verify folder (by mtime, then name), None when none.
    The name must be exactly the window and a run token: lane `web` never picks up lane `web-2`'s."""
    newest: tuple[int, str] | None = None
    prefix = window + "-"
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".json")):
            continue
        if not TOKEN.fullmatch(name[len(prefix) : -len(".json")]):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stamp = entry.stat(follow_symlinks=False).st_mtime_ns
        except OSError:
            continue
        if newest is None or (stamp, name) > newest:
            newest = (stamp, name)
    return folder / newest[1] if newest else None


def read_view(folder: Path, window: str) -> VerifyView:
    """The lane's newest report, read and validated; a missing or corrupt one is an error string."""
    path = latest_report(folder, window)
    if path is None:
        return VerifyView(window, error=f"no verify report for {window} yet")
    try:
        raw = read_project_file(path, ENGINE_CAP)
    except OSError as exc:
        return VerifyView(window, path.name, error=f"{path.name} unreadable: {exc.strerror or exc}")
    try:
        report = VerifyReport.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "file"
        msg = str(err.get("msg", "invalid")).splitlines()[0]
        return VerifyView(window, path.name, error=f"{path.name} is not a verify report — {where}: {msg}")
    return VerifyView(window, path.name, report)


def _one(text: str | None, cap: int | None = None) -> str:
    """A one-line field: controls and newlines shown, not acted on; cut to `cap` with an ellipsis."""
    shown = printable(text or "", multiline=False)
    return shown if cap is None or len(shown) <= cap else shown[: cap - 1] + "…"


def headline(view: VerifyView) -> str:
    """One line: the verdict, the gate and the findings (the lane detail, the approve dialog)."""
    report = view.report
    if report is None:
        return f"verify: {view.error}"
    gate = "gate passed" if report.gate.passed else "GATE FAILED"
    if report.gate.command is None:
        gate = "no gate ran"
    return (
        f"verify: {report.overall.upper()} · {gate} · {len(report.findings)} finding(s) · "
        f"tip {report.tip[:10] or '?'} · {view.file}"
    )


def report_lines(view: VerifyView, *, full: bool) -> list[str]:
    """The report as text. Short (the decision view): details and summaries cut, the diffstat's head
    and totals. Full (v, enter): every detail, each lens's error, the gate's output tail, the diffstat."""
    report = view.report
    if report is None:
        return [f"latest verify report of {view.lane}: {view.error}"]
    gate = report.gate
    lines = [
        f"latest verify report of {view.lane}: {report.overall.upper()} · {view.file}",
        f"  base {report.base[:12] or '?'} → tip {report.tip[:12] or '?'}"
        + (f" · generated {_one(report.generated_at)}" if report.generated_at else ""),
    ]
    if gate.command is None:
        lines.append(f"gate: none ran — {_one(gate.output_tail, None if full else SHORT_SUMMARY)}")
    else:
        how = "passed" if gate.passed else "FAILED"
        extra = " (timed out)" if gate.timed_out else ""
        code = f", exit {gate.exit_code}" if gate.exit_code is not None else ""
        lines.append(f"gate: {how}{extra} · {_one(gate.command)}{code}")
    lines.append("lenses:")
    for lens in report.lenses:
        summary = _one(lens.summary, None if full else SHORT_SUMMARY)
        lines.append(f"  {_one(lens.lens)}: {lens.verdict}" + (f" — {summary}" if summary else ""))
        if lens.error:
            lines.append(f"    error: {_one(lens.error, None if full else SHORT_SUMMARY)}")
    lines.append(f"findings ({len(report.findings)}):" if report.findings else "findings: none")
    for f in report.findings:
        lines.append(f"  {f.severity}: {_one(f.title)} [{_one(f.lens)}]")
        if f.detail and full:
            lines += [f"      {printable(line, multiline=False)}" for line in f.detail.splitlines()]
        elif f.detail:
            lines.append(f"      {_one(f.detail.replace(chr(10), ' '), SHORT_DETAIL)}")
    stat = (report.diffstat or "").rstrip("\n").splitlines()
    if report.diffstat is None:
        lines.append("diffstat: not in this report")
    elif not stat:
        lines.append("diffstat: the diff is empty")
    else:
        lines.append("diffstat:" + (" (the lenses saw its head only)" if report.diff_truncated else ""))
        shown = stat
        if not full and len(stat) > SHORT_DIFFSTAT + 1:
            hidden = len(stat) - SHORT_DIFFSTAT - 1
            shown = [*stat[:SHORT_DIFFSTAT], f" … {hidden} more file(s)", stat[-1]]
        lines += [printable(line, multiline=False) for line in shown]
    if full and gate.output_tail and gate.command is not None:
        tail = gate.output_tail.rstrip("\n").splitlines()[-GATE_TAIL_LINES:]
        lines.append(f"gate output (last {len(tail)} line(s)):")
        lines += [f"  {printable(line, multiline=False)}" for line in tail]
    return lines
