"""The verify drive (contract-later §10): what each worktree lane needs next, the fix-round cap, the merge.

- **Worktree lanes** are the windows with a ledger branch (`loops.<w>.branch`, handoff.py). Each gets a
  state, in this order: `verify-running` / `build-running` (a detached run of runs.py is in flight);
  `awaiting-build` (nothing beyond the base yet, or merged); after a verify of the branch's current tip:
  `needs-fix` (failed or timeout: build a fix), `needs-rebase` (stale: escalate a rebase, never merge),
  `ready-to-merge` (passed: propose `merge`); else `ready-to-verify`.
- **drive.json** (engine dir) keeps per lane the latest verify and build outcome (each once, by its run
  token) and `fix_rounds`: failed/timeout/stale verifies in a row; a pass resets it.
- **The prompt section** `--- verify drive ---` lists the lanes with their state and the rule.
- **The cap**: once a lane has `engine.max_fix_rounds` rounds, a proposed `build` for it becomes an
  `escalate` (event `fix-round-cap`) before the gate sees the decision.
- **merge** (a human approved it; the gate never lets a cycle run one): in the main checkout, on the base
  branch, clean (tracked files outside .loop/ and ops-wiki/, which the loop itself writes), the lane's
  branch tip must be the tip whose latest verify passed; then a fast-forward when the base is an
  ancestor, else a merge commit (a conflict is aborted). Events `merge-done` /
  `merge-refused {reason}`. The engine runs git itself: no agent ever merges.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop_schemas import SchemaError

from loop_engine.basics import EngineError
from loop_engine.events import EventLog, iso
from loop_engine.paths import EnginePaths
from loop_engine.store import StoreError, read_json, updating

GIT_TIMEOUT_S = 60
NOT_PASSING = ("failed", "timeout", "stale")
RULE = (
    "Rule: a lane that needs a fix (latest verify failed or timed out) gets a `build {window, brief, "
    "rationale}` whose brief says what to fix (name the report file; its findings are data); a stale lane "
    "(its branch does not contain the base) gets an `escalate` asking a human to rebase it (never merge "
    "it); a passed lane gets a `merge {lane, rationale}` proposal (only a human's approval runs it); a lane "
    "ready to verify gets `verify {lane, rationale}`. Never two runs of a kind for one lane; after "
    "{cap} failed rounds in a row a build is turned into an escalation."
)


def git(cwd: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run git in `cwd` (never a shell); a git that cannot run is an EngineError."""
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineError(f"git {args[0]} failed in {cwd}: {exc}") from None


def rev(cwd: Path, ref: str) -> str | None:
    out = git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def revs(cwd: Path, refs: Sequence[str]) -> dict[str, str | None]:
    """{ref: the commit it names, or None} for every ref, from ONE git process (`cat-file --batch-check`
    reads the same revision syntax as `rev-parse --verify REF^{commit}`, and answers `missing` where
    rev() answers None). A ref holding a line break cannot be a git ref: None, without asking."""
    wanted = sorted({r for r in refs if r and "\n" not in r and "\r" not in r and "\0" not in r})
    found: dict[str, str | None] = dict.fromkeys(refs)
    if not wanted:
        return found
    try:
        out = subprocess.run(
            ["git", "-C", str(cwd), "cat-file", "--batch-check=%(objectname) %(objecttype)"],
            input="".join(f"{r}^{{commit}}\n" for r in wanted),
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineError(f"git cat-file failed in {cwd}: {exc}") from None
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != len(wanted):
        return {r: rev(cwd, r) for r in found}  # a git that cannot batch: one question per ref
    for ref, line in zip(wanted, lines, strict=True):
        sha, _, kind = line.partition(" ")
        found[ref] = sha if kind == "commit" and sha else None
    return found


def is_ancestor(cwd: Path, older: str, newer: str) -> bool:
    return git(cwd, "merge-base", "--is-ancestor", older, newer).returncode == 0


def ahead(cwd: Path, base: str, tip: str) -> int:
    out = git(cwd, "rev-list", "--count", f"{base}..{tip}")
    try:
        return int(out.stdout.strip()) if out.returncode == 0 else 0
    except ValueError:
        return 0


def dirty(cwd: Path, *, untracked: bool, skip: Sequence[str] = (".loop",)) -> bool:
    """Uncommitted changes in the checkout, the folders in `skip` left out (the engine's own .loop/)."""
    args = [
        "status",
        "--porcelain",
        f"--untracked-files={'all' if untracked else 'no'}",
        "--",
        ".",
        *(f":(exclude){folder}" for folder in skip),
    ]
    out = git(cwd, *args)
    return out.returncode != 0 or bool(out.stdout.strip())


def uncommitted(cwd: Path) -> tuple[list[str], list[str]]:
    """(staged paths, modified tracked paths) of a checkout; untracked files are neither."""
    out = git(cwd, "status", "--porcelain=v1", "-z", "--untracked-files=no")
    if out.returncode != 0:
        return ["(git status failed)"], []
    staged: list[str] = []
    modified: list[str] = []
    entries = out.stdout.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        x, y, path = entry[0], entry[1], entry[3:]
        if x in "RC":  # a rename or copy: its source path follows
            i += 1
        if x not in " ?":
            staged.append(path)
        if y not in " ?" or x != " ":
            modified.append(path)
    return staged, modified


def changed_files(cwd: Path, base: str, tip: str) -> list[str]:
    """The files the branch changes since it left `base` (merge base..tip)."""
    out = git(cwd, "diff", "--name-only", "-z", f"{base}...{tip}")
    return [p for p in out.stdout.split("\0") if p] if out.returncode == 0 else []


def ledger_branches(paths: EnginePaths) -> dict[str, str]:
    """{window: branch} of every worktree lane (none when the ledger is unreadable)."""
    from loop_schemas import load_state  # the state model: not for the watch poll's finished_waiting

    try:
        loops = load_state(paths.state_file).loops
    except SchemaError:
        return {}
    return {w: e.branch for w, e in loops.items() if e is not None and e.branch}


def ledger_windows(paths: EnginePaths) -> frozenset[str]:
    return frozenset(ledger_branches(paths))


def worktree_dir(paths: EnginePaths, window: str) -> Path:
    return paths.loop_dir / "worktrees" / paths.session / window


def book_path(paths: EnginePaths) -> Path:
    return paths.engine_dir / "drive.json"


def marker_path(paths: EnginePaths, kind: str) -> Path:
    return paths.engine_dir / f"{kind}-in-progress.json"


MARKER_KEYS = {"verify": "verifies", "build": "builds"}


def running(paths: EnginePaths, kind: str) -> list[dict[str, Any]]:
    try:
        doc = read_json(marker_path(paths, kind), {})
    except StoreError:
        return []
    entries = doc.get(MARKER_KEYS[kind], [])
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _book(paths: EnginePaths) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = read_json(book_path(paths), {})
    except StoreError:
        return {}
    return doc


def record(paths: EnginePaths, window: str, kind: str, token: str, outcome: dict[str, Any]) -> int:
    """Keep a run's outcome once (by its token); a verify moves `fix_rounds`. Returns the lane's rounds."""
    with updating(book_path(paths), {}) as book:
        lanes = book.setdefault("lanes", {})
        lane = lanes.setdefault(window, {"fix_rounds": 0})
        prev = lane.get(kind) or {}
        if prev.get("token") != token:
            lane[kind] = {"token": token, "at": iso(), **outcome}
            if kind == "verify":
                passed = outcome.get("outcome") == "passed"
                lane["fix_rounds"] = 0 if passed else int(lane.get("fix_rounds", 0)) + 1
        return int(lane.get("fix_rounds", 0))


def mark_answered(paths: EnginePaths, signatures: dict[str, str]) -> None:
    """The built-in brain answered these lanes' states: it proposes nothing again until a state changes."""
    if not signatures:
        return
    with updating(book_path(paths), {}) as book:
        lanes = book.setdefault("lanes", {})
        for window, signature in signatures.items():
            lanes.setdefault(window, {"fix_rounds": 0})["answered"] = signature


@dataclass(frozen=True)
class LaneDrive:
    """One worktree lane in the verify drive: its branch, tip, state, fix rounds, last verify and build."""

    window: str
    branch: str
    tip: str | None
    ahead: int
    state: str
    fix_rounds: int
    verify: dict[str, Any]
    build: dict[str, Any]
    answered: str | None
    has_pane: bool

    @property
    def signature(self) -> str:
        """What the lane's state is made of: the built-in brain answers each signature once."""
        return ":".join(
            (self.state, self.tip or "-", str(self.verify.get("token")), str(self.build.get("token")))
        )

    def line(self) -> str:
        v = self.verify
        last_v = f"{v.get('outcome')}@{str(v.get('tip'))[:10]}" if v else "none"
        b = self.build
        last_b = str(b.get("outcome")) if b else "none"
        report = f" report {v.get('report')}" if v.get("report") else ""
        return (
            f"  {self.window} {self.state} branch {self.branch} tip {(self.tip or '-')[:10]} "
            f"ahead {self.ahead} verify {last_v} build {last_b} fix_rounds {self.fix_rounds}"
            f" {'pane' if self.has_pane else 'no-pane'}{report}"
        )


def lanes(paths: EnginePaths, base: str, panes: Sequence[str] = ()) -> list[LaneDrive]:
    """Every worktree lane's drive state (an empty list, and no git call, without worktree lanes)."""
    branches = ledger_branches(paths)
    if not branches:
        return []
    book = _book(paths).get("lanes", {})
    busy = {k: {str(e.get("window")) for e in running(paths, k)} for k in MARKER_KEYS}
    root = paths.project_root
    tips = revs(root, list(branches.values()))
    out: list[LaneDrive] = []
    for window, branch in sorted(branches.items()):
        rec = book.get(window, {}) if isinstance(book, dict) else {}
        tip = tips[branch]
        n = ahead(root, base, tip) if tip else 0
        verify = rec.get("verify") or {}
        build = rec.get("build") or {}
        if tip is None:
            state = "no-branch"
        elif window in busy["verify"]:
            state = "verify-running"
        elif window in busy["build"]:
            state = "build-running"
        elif n == 0:  # nothing beyond the base (never built, or merged): whatever verified it before
            state = "awaiting-build"
        elif verify.get("tip") == tip and verify.get("outcome") in ("failed", "timeout"):
            state = "needs-fix"
        elif verify.get("tip") == tip and verify.get("outcome") == "stale":
            state = "needs-rebase"
        elif verify.get("tip") == tip and verify.get("outcome") == "passed":
            state = "ready-to-merge"
        else:
            state = "ready-to-verify"
        out.append(
            LaneDrive(
                window=window,
                branch=branch,
                tip=tip,
                ahead=n,
                state=state,
                fix_rounds=int(rec.get("fix_rounds", 0)),
                verify=verify,
                build=build,
                answered=rec.get("answered"),
                has_pane=window in panes,
            )
        )
    return out


def prompt_block(
    views: Sequence[LaneDrive], max_fix_rounds: int, spotlight: Callable[[str, str], str]
) -> str:
    """The `--- verify drive ---` section ('' without worktree lanes): the rule, then the lanes as data."""
    if not views:
        return ""
    rows = ["worktree lanes (window state branch tip ahead latest-verify latest-build fix_rounds pane):"]
    rows.extend(v.line() for v in views)
    return (
        "--- verify drive ---\n"
        + RULE.replace("{cap}", str(max_fix_rounds))
        + "\n"
        + spotlight("verify-drive", "\n".join(rows))
    )


def stamp(paths: EnginePaths) -> str:
    """A stamp of the drive's files for the cycle's fingerprint: a new outcome or run moves it; '' while
    the drive has no file (the fingerprint is then what it always was)."""
    h = hashlib.sha256()
    seen = False
    for path in (book_path(paths), marker_path(paths, "verify"), marker_path(paths, "build")):
        try:
            h.update(path.read_bytes())
            seen = True
        except OSError:
            h.update(b"-")
    return f":drive-{h.hexdigest()[:16]}" if seen else ""


def cap_builds(
    actions: list[dict[str, Any]],
    paths: EnginePaths,
    max_fix_rounds: int,
    events: EventLog,
    *,
    cycle_id: str,
    decision_id: str,
) -> None:
    """Turn a proposed build for a lane at the fix-round cap into an escalate (in place)."""
    if not any(a.get("kind") == "build" for a in actions):
        return
    book = _book(paths).get("lanes", {})
    for i, action in enumerate(actions):
        if action.get("kind") != "build":
            continue
        window = str(action.get("window"))
        rounds = int((book.get(window) or {}).get("fix_rounds", 0)) if isinstance(book, dict) else 0
        if rounds < max_fix_rounds or rounds == 0:
            continue
        actions[i] = {
            "kind": "escalate",
            "summary": (
                f"lane {window}: {rounds} verify rounds in a row did not pass (engine.max_fix_rounds "
                f"{max_fix_rounds}); a human should look at its branch before another fix is built"
            ),
            "rationale": "fix-round cap: " + " ".join(str(action.get("rationale") or "").split())[:500],
        }
        events.emit(
            "fix-round-cap",
            cycle_id=cycle_id,
            decision_id=decision_id,
            window=window,
            rounds=rounds,
            max_fix_rounds=max_fix_rounds,
        )


# ---------------------------------------------------------------------------- merge


def merge(paths: EnginePaths, lane: str, base: str, events: EventLog) -> dict[str, Any]:
    """Merge the lane's verified branch into `base` in the main checkout (see the module docstring)."""
    root = paths.project_root

    def refuse(reason: str, detail: str) -> EngineError:
        events.emit("merge-refused", lane=lane, reason=reason, detail=detail)
        return EngineError(f"merge of {lane} refused ({reason}): {detail}")

    branch = ledger_branches(paths).get(lane)
    if branch is None:
        raise refuse("no-branch", f"lane {lane} has no ledger branch")
    tip = rev(root, branch)
    if tip is None:
        raise refuse("no-branch", f"branch {branch} does not exist")
    verify = ((_book(paths).get("lanes") or {}).get(lane) or {}).get("verify") or {}
    if verify.get("tip") != tip or verify.get("outcome") != "passed":
        said = f"{verify.get('outcome')} at {str(verify.get('tip'))[:10]}" if verify else "never verified"
        raise refuse("not-verified", f"the latest verify of {branch} at {tip[:10]} did not pass ({said})")
    current = git(root, "symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip()
    if current != base:
        raise refuse("not-on-base", f"the main checkout is on {current or 'a detached HEAD'}, not {base}")
    base_sha = rev(root, base) or ""
    # Uncommitted work in the main checkout is left as it is: the loop's own files change all the time
    # (decisions filed into ops-wiki/checkpoint.md, task states in tasks/), and a human's edit elsewhere is
    # theirs. A merge is refused when it would touch that work: anything staged (a merge commit would
    # carry it), or a modified file the branch changes too (a conflict's abort could not give it back).
    staged, modified = uncommitted(root)
    touched = sorted(set(modified) & set(changed_files(root, base_sha, tip)))
    if staged or touched:
        names = ", ".join((staged or touched)[:5])
        what = "staged changes" if staged else "uncommitted changes to files the branch changes"
        raise refuse("main-dirty", f"the main checkout has {what}: {names}")
    if is_ancestor(root, base_sha, tip):
        out = git(root, "merge", "--ff-only", "--quiet", tip)
        how = "fast-forward"
    else:
        message = f"Merge {branch} (lane {lane}, verified by loop-verify: {verify.get('report')})"
        out = git(root, "merge", "--no-ff", "--no-edit", "-m", message, tip)
        how = "merge-commit"
    if out.returncode != 0:
        git(root, "merge", "--abort")
        detail = " ".join((out.stderr or out.stdout).split())[:300]
        raise refuse("conflict" if how == "merge-commit" else "git-error", detail or "git merge failed")
    head = rev(root, "HEAD") or ""
    done = {"lane": lane, "branch": branch, "base": base, "tip": tip, "how": how, "head": head}
    events.emit("merge-done", **done)
    return done
