"""`loop-engine improve`: the self-improvement loop with a non-regression gate (after Self-Harness).

improve          mine weakness clusters from the engine's own traces (improve_mine), have the brain — or,
                 with the built-in brain, deterministic rules — propose at most three minimal edits to
                 the declared surfaces (improve_surfaces), check each (improve_proposals) and file the
                 survivors under <engine dir>/improve/proposals/<N>.json. Zero weaknesses: zero
                 proposals and no brain call.
--list / --show N
                 the filed proposals; --show prints the edit as a unified diff against the surface now.
--apply N        the only way anything changes: records the loop-metrics baseline, keeps the surface's
                 original bytes, then writes the edit (atomically).
--judge          after three cycles (cycle-end events that were not skipped) compares loop-metrics to
                 the baseline: `kept`, or `regressed` (then --revert it).
--revert N       restores the surface byte for byte (deletes a file the experiment created).

Every step is an `improve-*` event in events.jsonl (the miner never mines those).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from loop_schemas import Metrics, atomic_write, file_lock, read_project_file, read_project_text
from loop_schemas.fsread import CONFIG_CAP, ENGINE_CAP, WIKI_CAP
from loop_schemas.lane_config import host_overlay_path
from pydantic import ValidationError

from loop_engine import config as config_mod
from loop_engine.brain import DEFAULT_QUOTA_BACKOFF, BrainError
from loop_engine.config import BUILTIN, EffectiveConfig
from loop_engine.events import EventLog, iso, new_id, parse_iso, utcnow
from loop_engine.improve_mine import Cluster, mine
from loop_engine.improve_proposals import (
    MAX_PROPOSALS,
    Candidate,
    Proposal,
    ProposalParseError,
    RejectedError,
    Rejection,
    RuleContext,
    brain_prompt,
    check_candidate,
    parse_improve_block,
    rule_candidate,
)
from loop_engine.improve_surfaces import (
    CONFIG_KEYS,
    EditError,
    SurfaceText,
    apply_edit,
    diff,
    read_surface,
    rel,
    surface_path,
)
from loop_engine.paths import EnginePaths
from loop_engine.store import write_json

JUDGE_CYCLES = 3
ACTIVE_STATES = ("proposed", "applying", "applied", "kept", "regressed")
# the loop-metrics figures the gate compares (lower is better); checkpoint_tokens may grow a little
GATE_FIGURES = ("checkpoint_tokens", "pending", "lane_restarts", "lane_giveups")
TOKEN_TOLERANCE = 0.10
TOKEN_TOLERANCE_MIN = 200
# how far ahead of this clock a trace's timestamp may be and still order it (beyond: a skewed clock)
CLOCK_SLACK = timedelta(minutes=5)

BrainFn = Callable[[str], str]
MetricsFn = Callable[[Path], dict[str, Any]]


class ImproveError(Exception):
    """A user-facing failure of an improve verb (one line)."""


def sha256(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def substrate_metrics(paths: EnginePaths) -> MetricsFn:
    """`loop-metrics --json` run through loop-substrate (the bundled shell), measuring with `header`."""

    def measure(header: Path) -> dict[str, Any]:
        from loop_substrate import Substrate

        sub = Substrate(paths.session, paths.project_root)
        proc = sub.run(
            "loop-metrics",
            [
                "--json",
                "--session",
                paths.session,
                "--project-root",
                str(paths.project_root),
                "--header-file",
                str(header),
            ],
        )
        data: dict[str, Any] = json.loads(proc.stdout)
        return data

    return measure


def compare(baseline: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate figures that got worse than the baseline. A figure n/a in the baseline is not compared;
    one measured in the baseline that cannot be measured now (n/a) counts as worse: the gate never keeps
    an experiment it could not check."""
    worse = []
    for key in GATE_FIGURES:
        before, now = baseline.get(key), current.get(key)
        if not isinstance(before, int):
            continue
        if not isinstance(now, int):
            worse.append({"figure": key, "baseline": before, "current": None, "allowed": before})
            continue
        allowed = before
        if key == "checkpoint_tokens":
            allowed = before + max(TOKEN_TOLERANCE_MIN, math.ceil(before * TOKEN_TOLERANCE))
        if now > allowed:
            worse.append({"figure": key, "baseline": before, "current": now, "allowed": allowed})
    return worse


class Improver:
    def __init__(
        self,
        paths: EnginePaths,
        config: EffectiveConfig,
        *,
        engine: Callable[[], Any] | None = None,
        brain_fn: BrainFn | None = None,
        metrics: MetricsFn | None = None,
    ) -> None:
        self.paths = paths
        self.config = config
        self.engine_factory = engine
        self.brain_fn = brain_fn
        self.metrics = metrics or substrate_metrics(paths)
        self.events = EventLog(paths.events, paths.session)

    # ------------------------------------------------------------------ storage
    @property
    def dir(self) -> Path:
        return self.paths.engine_dir / "improve"

    @property
    def proposals_dir(self) -> Path:
        return self.dir / "proposals"

    def backup_path(self, n: int) -> Path:
        return self.dir / "backups" / f"{n}.orig"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.dir / "improve"):
            self._recover()
            yield

    def proposals(self) -> list[Proposal]:
        out = []
        try:
            files = list(self.proposals_dir.glob("*.json"))
        except OSError:
            return []
        for path in files:
            if not path.stem.isdigit():
                continue
            try:
                out.append(Proposal.model_validate_json(read_project_file(path, ENGINE_CAP)))
            except (OSError, ValidationError, ValueError) as exc:
                raise ImproveError(f"{path}: not a valid proposal ({_line(exc)})") from None
        return sorted(out, key=lambda p: p.id)

    def get(self, n: int) -> Proposal:
        path = self.proposals_dir / f"{n}.json"
        if not path.is_file():
            raise ImproveError(f"no proposal #{n} (see `loop-engine improve --list`)")
        try:
            return Proposal.model_validate_json(read_project_file(path, ENGINE_CAP))
        except (OSError, ValidationError, ValueError) as exc:
            raise ImproveError(f"{path}: not a valid proposal ({_line(exc)})") from None

    def _save(self, p: Proposal) -> None:
        self.proposals_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.proposals_dir / f"{p.id}.json", p.model_dump_json(indent=2) + "\n")

    def _recover(self) -> None:
        """An --apply a crash interrupted: applied if the new bytes landed, else back to proposed."""
        for p in self.proposals():
            if p.state != "applying" or p.path is None:
                continue
            now = _read_bytes(self.paths.project_root / p.path)
            if now is not None and sha256(now) == p.after_sha256:
                ev = self.events.emit(
                    "improve-applied", proposal=p.id, surface=p.surface, path=p.path, recovered=True
                )
                p.state, p.applied_at, p.applied_event = "applied", p.applied_at or iso(), ev["id"]
            else:
                p.state = "proposed"
                p.before_sha256 = p.after_sha256 = p.backup = p.applied_diff = None
                p.baseline = None
                p.existed_before = None
                self.events.emit("improve-apply-failed", proposal=p.id, error="interrupted before the write")
            self._save(p)

    # ------------------------------------------------------------------ mining + proposing
    def _brain_name(self) -> str | None:
        if self.brain_fn is not None:
            return "fn"
        harness = self.config.brain_harness
        return None if harness == BUILTIN else harness

    def _config_values(self) -> dict[str, Any]:
        data = self.config.as_dict()
        out: dict[str, Any] = {}
        for key in CONFIG_KEYS:
            value: Any = data
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            out[key] = value
        return out

    def _surfaces(self) -> tuple[dict[str, SurfaceText | EditError], dict[str, str]]:
        texts: dict[str, SurfaceText | EditError] = {}
        files: dict[str, str] = {}
        for surface in ("header", "agents", "config"):
            path = surface_path(self.paths, surface)
            assert path is not None
            files[surface] = rel(self.paths, path)
            try:
                texts[surface] = read_surface(self.paths, surface)
            except EditError as exc:
                texts[surface] = exc
        return texts, files

    def _eligible(
        self, clusters: list[Cluster], existing: list[Proposal]
    ) -> tuple[list[Cluster], list[dict[str, Any]]]:
        """Clusters that may get a proposal now; a signature with a live proposal is skipped, one whose
        proposal was reverted counts only evidence newer than the revert."""
        eligible, skipped = [], []
        for c in clusters:
            prior = [p for p in existing if p.signature == c.signature]
            live = [p for p in prior if p.state in ACTIVE_STATES]
            known = {ref for p in prior for ref in p.evidence}
            if live and c.report_only:
                # a crash report stands until the crash recurs after it was filed
                since = parse_iso(max(p.created_at for p in live))
                c.evidence = [e for e in c.evidence if _after(e.timestamp, since, e.ref, known)]
                if c.evidence:
                    eligible.append(c)
                    continue
            if live:
                skipped.append(
                    {
                        "signature": c.signature,
                        "reason": f"already proposed as #{live[-1].id} ({live[-1].state})",
                    }
                )
                continue
            reverted = [p.reverted_at for p in prior if p.reverted_at]
            if reverted:
                since = parse_iso(max(reverted))
                c.evidence = [e for e in c.evidence if _after(e.timestamp, since, e.ref, known)]
                if not c.evidence:
                    skipped.append({"signature": c.signature, "reason": "no new evidence since its revert"})
                    continue
            eligible.append(c)
        return eligible, skipped

    def run(self) -> dict[str, Any]:
        with self._locked():
            return self._run()

    def _run(self) -> dict[str, Any]:
        run_id = new_id("i")
        brain = self._brain_name()
        self.events.emit("improve-started", run_id=run_id, brain=brain or BUILTIN)
        clusters = mine(self.paths, self._own_events())
        existing = self.proposals()
        # what was mined, before _eligible narrows a cluster's evidence to what is new since its proposal
        mined = [c.as_dict() for c in clusters]
        eligible, skipped = self._eligible(clusters, existing)
        self.events.emit(
            "improve-mined",
            run_id=run_id,
            clusters=[{"signature": w["signature"], "count": w["count"]} for w in mined],
            skipped=skipped,
        )
        doc: dict[str, Any] = {
            "contract_version": 1,
            "session": self.paths.session,
            "run_id": run_id,
            "brain": brain or BUILTIN,
            "brain_called": False,
            "weaknesses": mined,
            "skipped": skipped,
            "proposals": [],
            "rejected": [],
            "notes": [],
        }
        candidates: list[Candidate] = []
        rejected: list[Rejection] = []
        if eligible:
            surfaces, files = self._surfaces()
            ctx = RuleContext(
                today=utcnow().strftime("%Y-%m-%d"),
                config=self._config_values(),
                surfaces=surfaces,
                surface_files=files,
            )
            # report-only clusters (crashes) take a slot only when they rank among the first
            # MAX_PROPOSALS: several crashes must not crowd out a higher-ranked editable weakness
            top = eligible[:MAX_PROPOSALS]
            reports = [rc for c in top if c.report_only and (rc := rule_candidate(c, ctx))]
            editable = [c for c in eligible if not c.report_only]
            if brain is None:
                for c in editable:
                    if len(reports) + len(candidates) >= MAX_PROPOSALS:
                        break
                    cand = rule_candidate(c, ctx)
                    if cand is not None:
                        candidates.append(cand)
            elif editable and len(reports) < MAX_PROPOSALS:
                doc["brain_called"] = True
                slots = MAX_PROPOSALS - len(reports)
                candidates, rejected = self._from_brain(run_id, brain, editable, slots, surfaces, files, ctx)
            doc["notes"] = ctx.notes
            candidates = reports + candidates
            order = {c.signature: i for i, c in enumerate(eligible)}
            candidates.sort(key=lambda c: order.get(c.signature, len(order)))
        for cand in list(candidates):
            twin = _reverted_twin(cand, existing)
            if twin is not None:
                candidates.remove(cand)
                rejected.append(
                    Rejection(
                        f"the same edit was reverted as #{twin}", cand.signature, cand.surface, cand.path
                    )
                )
        for r in rejected:
            self.events.emit("improve-proposal-rejected", run_id=run_id, **r.as_dict())
        filed = self._file(run_id, candidates, {c.signature: c for c in eligible}, existing)
        doc["proposals"] = [p.model_dump(mode="json") for p in filed]
        doc["rejected"] = [r.as_dict() for r in rejected]
        self.events.emit(
            "improve-done",
            run_id=run_id,
            proposals=[p.id for p in filed],
            rejected=len(rejected),
            brain_called=doc["brain_called"],
        )
        return doc

    def _from_brain(
        self,
        run_id: str,
        harness: str,
        clusters: list[Cluster],
        slots: int,
        surfaces: dict[str, SurfaceText | EditError],
        files: dict[str, str],
        ctx: RuleContext,
    ) -> tuple[list[Candidate], list[Rejection]]:
        from loop_engine.cycle import spotlight

        token = secrets.token_hex(8)
        prompt = brain_prompt(
            clusters, slots, surfaces, files, ctx.config, lambda name, text: spotlight(name, text, token)
        )
        text = self._ask(run_id, harness, prompt)
        try:
            items = parse_improve_block(text)
        except ProposalParseError as exc:
            self.events.emit(
                "improve-brain-failed",
                run_id=run_id,
                harness=harness,
                failure_class="parse",
                error=_line(exc),
            )
            raise ImproveError(
                f"the brain's answer was unusable (parse): {_line(exc)}; nothing filed"
            ) from None
        allowed = {c.signature: c for c in clusters}
        accepted: list[Candidate] = []
        rejected: list[Rejection] = []
        for raw in items:
            try:
                cand = check_candidate(
                    raw,
                    allowed=allowed,
                    surfaces=surfaces,
                    surface_files=files,
                    project_root=self.paths.project_root,
                    source=harness,
                )
            except RejectedError as exc:
                rejected.append(exc.rejection)
                continue
            if len(accepted) >= slots:
                rejected.append(
                    Rejection(
                        f"more than {MAX_PROPOSALS} proposals: only the first {slots} are filed",
                        cand.signature,
                        cand.surface,
                        cand.path,
                    )
                )
                continue
            allowed.pop(cand.signature)  # one proposal per signature
            accepted.append(cand)
        return accepted, rejected

    def _ask(self, run_id: str, harness: str, prompt: str) -> str:
        """One brain call through the engine's brain path (transcript, budget, failure classes)."""
        engine = self.engine_factory() if self.engine_factory is not None else None
        if engine is not None:
            blocked = engine.budget.blocked()
            if blocked:
                self.events.emit("improve-brain-skipped", run_id=run_id, harness=harness, reason=blocked)
                raise ImproveError(f"the brain is not available now: {blocked}; nothing filed")
        call_id = new_id("b")
        transcript = self.paths.transcripts / f"improve-{call_id}.log"
        self.events.emit(
            "improve-brain-call", run_id=run_id, call_id=call_id, harness=harness, transcript=str(transcript)
        )
        t0 = time.monotonic()
        try:
            if self.brain_fn is not None or engine is None:
                if self.brain_fn is None:
                    raise BrainError("exit", "no brain to call")
                answer = self.brain_fn(prompt)
                atomic_write(transcript, f"harness: (in-process)\n--- output ---\n{answer}")
            else:
                engine.budget.spend()
                timeout = float(self.config.model.brain.timeout_s)
                answer = engine._oneshot(harness, prompt, timeout, transcript).text
        except BrainError as exc:
            extra: dict[str, Any] = {}
            if exc.failure_class == "quota":
                until = iso(exc.reset_at or utcnow() + DEFAULT_QUOTA_BACKOFF)
                write_json(self.paths.backoff, {"until": until, "reason": _line(exc), "since": iso()})
                extra["reset_at"] = until
            self.events.emit(
                "improve-brain-failed",
                run_id=run_id,
                call_id=call_id,
                harness=harness,
                failure_class=exc.failure_class,
                error=_line(exc),
                duration_s=round(time.monotonic() - t0, 4),
                transcript=exc.transcript or str(transcript),
                **extra,
            )
            raise ImproveError(
                f"the brain failed ({exc.failure_class}): {_line(exc)}; nothing filed"
            ) from None
        self.events.emit(
            "improve-brain-answered",
            run_id=run_id,
            call_id=call_id,
            harness=harness,
            duration_s=round(time.monotonic() - t0, 4),
            transcript=str(transcript),
        )
        return answer

    def _file(
        self, run_id: str, candidates: list[Candidate], clusters: dict[str, Cluster], existing: list[Proposal]
    ) -> list[Proposal]:
        next_id = max((p.id for p in existing), default=0) + 1
        filed = []
        for cand in candidates[:MAX_PROPOSALS]:
            cluster = clusters[cand.signature]
            p = Proposal(
                id=next_id,
                run_id=run_id,
                created_at=iso(),
                signature=cand.signature,
                count=cluster.count,
                evidence=[e.ref for e in cluster.evidence[-50:]],
                surface=cand.surface,
                path=cand.path,
                title=cand.title,
                rationale=cand.rationale,
                edit=cand.edit,
                source=cand.source,
            )
            self._save(p)
            self.events.emit(
                "improve-proposed",
                run_id=run_id,
                proposal=p.id,
                signature=p.signature,
                surface=p.surface,
                path=p.path,
                source=p.source,
                count=p.count,
            )
            filed.append(p)
            next_id += 1
        return filed

    # ------------------------------------------------------------------ show
    def show(self, n: int) -> dict[str, Any]:
        p = self.get(n)
        text_diff: str | None = None
        note: str | None = None
        if p.surface == "none":
            note = "report-only: a crash needs a code fix; there is nothing to apply"
        elif p.state in ("proposed",):
            try:
                cur = read_surface(self.paths, p.surface)
                assert p.edit is not None
                new = apply_edit(p.surface, cur.text, p.edit)
                text_diff = diff(cur.text, new, p.path or rel(self.paths, cur.path))
                if not cur.existed:
                    note = f"{p.path} does not exist yet: --apply creates it" + (
                        " from the packaged header" if p.surface == "header" else ""
                    )
            except EditError as exc:
                note = f"no longer applies to the current surface: {exc}"
        else:
            text_diff = p.applied_diff
            note = f"{p.state}: the diff that --apply made"
        return {"contract_version": 1, "proposal": p.model_dump(mode="json"), "diff": text_diff, "note": note}

    # ------------------------------------------------------------------ apply / judge / revert
    def _measure(self) -> dict[str, Any]:
        from loop_engine.cycle import header_path

        try:
            raw = self.metrics(header_path(self.paths))
            return Metrics.model_validate(raw).model_dump(mode="json")
        except Exception as exc:
            raise ImproveError(f"cannot measure loop-metrics: {_line(exc)}") from None

    def apply(self, n: int) -> Proposal:
        with self._locked():
            p = self.get(n)
            if p.surface == "none":
                raise ImproveError(f"#{n} is report-only (surface none): a crash needs a code fix")
            if p.state != "proposed":
                raise ImproveError(f"#{n} is {p.state}; only a proposed experiment can be applied")
            running = [q for q in self.proposals() if q.state == "applied"]
            if running:
                raise ImproveError(
                    f"experiment #{running[0].id} is still being judged: run `loop-engine improve --judge` "
                    f"(or --revert {running[0].id}) first"
                )
            try:
                cur = read_surface(self.paths, p.surface)
                if rel(self.paths, cur.path) != p.path:
                    raise EditError(
                        f"the {p.surface} surface is now {rel(self.paths, cur.path)}, not {p.path}"
                    )
                assert p.edit is not None
                new = apply_edit(p.surface, cur.text, p.edit)
            except EditError as exc:
                self.events.emit("improve-apply-failed", proposal=n, error=_line(exc))
                raise ImproveError(f"#{n} cannot be applied: {exc}") from None
            shadow = self._shadowed(p) if p.surface == "config" else None
            if shadow:
                self.events.emit("improve-apply-failed", proposal=n, error=shadow)
                raise ImproveError(f"#{n} would have no effect: {shadow}")
            baseline = self._measure()
            before = _read_bytes(cur.path)
            if before is not None:
                atomic_write(self.backup_path(n), before)
            new_bytes = new.encode("utf-8")
            p.state = "applying"
            p.existed_before = before is not None
            p.before_sha256 = sha256(before)
            p.after_sha256 = sha256(new_bytes)
            p.backup = rel(self.paths, self.backup_path(n)) if before is not None else None
            p.baseline = baseline
            p.applied_diff = diff(cur.text, new, p.path or rel(self.paths, cur.path))
            self._save(p)
            atomic_write(_target(cur.path), new_bytes)
            ev = self.events.emit(
                "improve-applied",
                proposal=n,
                signature=p.signature,
                surface=p.surface,
                path=p.path,
                created=before is None,
                before_sha256=p.before_sha256,
                after_sha256=p.after_sha256,
                baseline=baseline,
            )
            p.state, p.applied_at, p.applied_event = "applied", iso(), ev["id"]
            self._save(p)
            return p

    def _shadowed(self, p: Proposal) -> str | None:
        """Why a config edit of the lane-config would not take effect (an env var or the host overlay)."""
        key = str((p.edit or {}).get("key") or "")
        parts = tuple(key.split("."))
        for var, dotted in config_mod.ENV_KEYS.items():
            if dotted == parts and var in self.config.env_overrides:
                return f"{var} overrides engine.{key}"
        path = surface_path(self.paths, "config")
        if path is not None:
            overlay = host_overlay_path(path)
            if overlay != path and overlay.is_file():
                try:
                    engine = (safe_load_mapping(read_project_text(overlay, CONFIG_CAP)) or {}).get("engine")
                except (OSError, ValueError):
                    engine = None
                if isinstance(engine, dict) and parts[0] in engine:
                    return f"the host overlay {overlay.name} sets engine.{parts[0]}"
        return None

    def _own_events(self, since: str | None = None) -> list[dict[str, Any]]:
        """This session's events (a line another session's engine wrote is neither mined nor counted)."""
        return [e for e in self.events.read(since) if e.get("session") == self.paths.session]

    def cycles_since(self, event_id: str | None) -> int:
        if not event_id:
            return 0
        return sum(
            1
            for e in self._own_events(event_id)
            if e.get("event") == "cycle-end" and e.get("outcome") != "skipped"
        )

    def judge(self) -> dict[str, Any]:
        with self._locked():
            applied = [p for p in self.proposals() if p.state == "applied"]
            cycles = {p.id: self.cycles_since(p.applied_event) for p in applied}
            current = self._measure() if any(c >= JUDGE_CYCLES for c in cycles.values()) else None
            results = []
            for p in applied:
                entry: dict[str, Any] = {"id": p.id, "signature": p.signature, "cycles": cycles[p.id]}
                if current is None or cycles[p.id] < JUDGE_CYCLES:
                    entry.update(verdict="waiting", needed=JUDGE_CYCLES)
                    self.events.emit("improve-judged", proposal=p.id, verdict="waiting", cycles=cycles[p.id])
                    results.append(entry)
                    continue
                worse = compare(p.baseline or {}, current)
                verdict = "regressed" if worse else "kept"
                p.state = verdict  # type: ignore[assignment]
                p.verdict = verdict  # type: ignore[assignment]
                p.judged_at = iso()
                p.judgement = {"cycles": cycles[p.id], "current": current, "regressions": worse}
                self._save(p)
                self.events.emit(
                    "improve-judged", proposal=p.id, verdict=verdict, cycles=cycles[p.id], regressions=worse
                )
                entry.update(verdict=verdict, baseline=p.baseline, current=current, regressions=worse)
                results.append(entry)
            return {"contract_version": 1, "session": self.paths.session, "judged": results}

    def revert(self, n: int) -> Proposal:
        with self._locked():
            p = self.get(n)
            if p.state not in ("applied", "kept", "regressed") or p.path is None:
                raise ImproveError(f"#{n} is {p.state}: there is nothing to revert")
            path = self.paths.project_root / p.path
            now = _read_bytes(path)
            if sha256(now) != p.after_sha256:
                where = f" (its original bytes are in {p.backup})" if p.backup else ""
                self.events.emit(
                    "improve-revert-failed", proposal=n, error="the surface changed since --apply"
                )
                raise ImproveError(f"{p.path} changed since #{n} was applied; not overwriting it{where}")
            if p.existed_before:
                original = _read_bytes(self.backup_path(n))
                if original is None or sha256(original) != p.before_sha256:
                    self.events.emit("improve-revert-failed", proposal=n, error="backup missing or damaged")
                    raise ImproveError(f"the backup of #{n} is missing or damaged; not reverting")
                atomic_write(_target(path), original)
            else:
                with contextlib.suppress(FileNotFoundError):
                    _target(path).unlink()
            p.state = "reverted"
            p.reverted_at = iso()
            self._save(p)
            self.events.emit(
                "improve-reverted",
                proposal=n,
                surface=p.surface,
                path=p.path,
                restored_sha256=p.before_sha256,
                deleted=not p.existed_before,
            )
            return p


def safe_load_mapping(text: str) -> dict[str, Any] | None:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
    return data if isinstance(data, dict) else None


def _target(path: Path) -> Path:
    """Where a surface's bytes really live: through a symlink (AGENTS.md -> CLAUDE.md is common), so an
    edit or a revert writes the file the link names and the link itself stays a link."""
    return path.resolve() if path.is_symlink() else path


def _read_bytes(path: Path) -> bytes | None:
    try:
        return read_project_file(path, WIKI_CAP)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _after(stamp: str | None, since: Any, ref: str, known: set[str]) -> bool:
    """Evidence newer than `since`; one with no usable timestamp is new only if no earlier proposal of
    its signature already carried it (else a timestamp-less crash line would be re-filed every run).
    A timestamp in the future (a skewed clock) is not usable either: it would stay "newer" than every
    later proposal, and its line would be re-filed on every run. Stamps have one-second resolution, so
    one in the very second of `since` is new unless an earlier proposal already carried it."""
    if stamp:
        try:
            moment = parse_iso(stamp)
        except ValueError:
            moment = None
        if moment is not None and moment <= utcnow() + CLOCK_SLACK and moment != since:
            return bool(moment > since)
    return ref not in known


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _reverted_twin(cand: Candidate, existing: list[Proposal]) -> int | None:
    """The id of a reverted proposal that made this very edit (dates aside), if any."""
    key = _DATE.sub("", json.dumps([cand.surface, cand.edit], sort_keys=True))
    for p in existing:
        same = _DATE.sub("", json.dumps([p.surface, p.edit], sort_keys=True)) == key
        if p.state == "reverted" and p.signature == cand.signature and same:
            return p.id
    return None
