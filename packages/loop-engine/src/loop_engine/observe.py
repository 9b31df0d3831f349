"""Observation: one cheap look at the fleet and the mailbox, and the one seam onto loop-substrate.

Everything the engine learns about tmux comes from `Substrate.lane_status()`, `list_lanes()` and
`registry()`. The mailbox is read from its directory directly (only pending files at its top level;
processed/ is listed only when it changed since the last listing, so a cycle costs the same with 0 or
50k processed messages).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from loop_schemas import (
    Harness,
    Lane,
    LaneStatus,
    SchemaError,
    parse_mail_name,
)
from loop_schemas._shared import mail_index

from loop_engine.basics import SideBySide
from loop_engine.gate import LaneFacts
from loop_engine.mailhead import read_mail_head

BARE_DETAILS = frozenset({"exited-to-shell", "dead", "no-pane"})
NON_IMPL_LANES = frozenset({"coord", "docs", "validate-left", "validate-right", "ops-top", "ops-bottom"})
IMPL_ROLES = frozenset({"impl", "implementation", "implementer", "worker", "dev", "coder"})


class SubstrateLike(Protocol):
    """The part of loop_substrate.Substrate the engine uses (unit tests pass an in-process double)."""

    def lane_status(self, lane: str | None = None) -> list[LaneStatus]: ...
    def list_lanes(self) -> list[Lane]: ...
    def registry(self) -> list[Harness]: ...
    def dispatch(
        self,
        lane: str,
        text: str,
        *,
        mode: Literal["text", "command"] = "text",
        interrupt: bool = False,
        wait_ready: float | bool | None = None,
        no_clear: bool = False,
        verify: bool = False,
        no_enter: bool = False,
    ) -> None: ...
    def add_lane(
        self,
        window: str,
        *,
        harness: str | None = None,
        cmd: str | None = None,
        model: str | None = None,
        repo: str | None = None,
        role: str | None = None,
        kind: Literal["standing", "worker"] | None = None,
        worktree: bool = False,
        auto_approve: bool = False,
        wait_ready: float | bool | None = None,
    ) -> None: ...
    def drop_lane(self, window: str, *, force: bool = False) -> None: ...
    def capture(self, lane: str, lines: int = 50) -> str: ...
    def checkpoint_prompt(self, header_file: Path | None = None) -> str: ...
    def start_checkpoint(self, header_file: Path | None = None) -> bool: ...
    def drop_early(self) -> None: ...
    def send_mail(self, sender: str, recipient: str, subject: str, body: str = "") -> Path: ...
    def sweep_mail(self, mailbox: Path | None = None) -> list[Path]: ...


@dataclass(frozen=True)
class LaneView:
    """One lane as the cycle sees it: its status, harness, role and whether an agent runs in it."""

    name: str
    status: str
    detail: str | None
    harness: str | None
    base: bool
    role: str | None
    agent: bool  # runs an AI agent right now (not a bare shell, a command or a dead pane)
    tag_harness: str | None = None  # the window's @loop_lane_harness tag (the harness it was launched as)
    kind: str | None = None  # the window's @loop_lane_kind (standing | worker), when tagged
    sandboxed: bool = False  # runs under bubblewrap (list-lanes `sandbox`)
    target: str | None = None  # lane-status's pane target
    status_kind: str | None = None  # lane-status's kind (fixed | dynamic)

    @property
    def implementation(self) -> bool:
        """An AI lane the built-in brain may give tasks to (never coord, docs, validate or ops lanes)."""
        if not self.agent or self.name == "coord":
            return False
        role = (self.role or "").lower()
        if self.name in NON_IMPL_LANES:
            return role in IMPL_ROLES
        return not role or role in IMPL_ROLES or role.startswith("impl")


@dataclass(frozen=True)
class MailItem:
    """One pending message: its file, sender, recipient and head."""

    name: str
    path: Path
    sender: str
    recipient: str
    subject: str | None
    task: str | None = None


@dataclass
class Observation:
    """What a cycle observed: the lanes, the pending mail, the AI harnesses."""

    lanes: dict[str, LaneView] = field(default_factory=dict)
    mail: list[MailItem] = field(default_factory=list)
    ai_harnesses: frozenset[str] = frozenset()
    stale: bool = False  # the last snapshot's, this cycle's own look having failed (loop_engine.snapshot)
    processed: int | None = None  # the messages in processed/, when the look counted them (read_mailbox)

    def lane_facts(self) -> dict[str, LaneFacts]:
        return {
            n: LaneFacts(name=n, base=v.base, agent=v.agent, sandboxed=v.sandboxed)
            for n, v in self.lanes.items()
        }

    def fingerprint(self, extra: str = "") -> str:
        digest = hashlib.sha256()
        for name in sorted(self.lanes):
            lane = self.lanes[name]
            digest.update(f"{name}\0{lane.status}\0{lane.detail}\0{lane.harness}\n".encode())
        for item in self.mail:
            digest.update(f"{item.name}\n".encode())
        digest.update(extra.encode())
        return digest.hexdigest()


def observe_lanes(
    substrate: SubstrateLike,
    registry: Sequence[Harness] | None = None,
    windows: Sequence[Lane] | None = None,
    statuses: Sequence[LaneStatus] | None = None,
) -> tuple[dict[str, LaneView], frozenset[str], list[Harness]]:
    """The live fleet (statuses, harnesses, whether each pane runs an agent), the AI harness names, and
    the registry. The independent substrate calls run side by side (each is a subprocess); pass the
    registry, the session's windows (list-lanes) or the lane statuses when they are already known.
    """
    with SideBySide() as pool:
        f_status = pool.submit(substrate.lane_status) if statuses is None else None
        f_lanes = pool.submit(substrate.list_lanes) if windows is None else None
        f_registry = pool.submit(substrate.registry) if registry is None else None
        statuses = f_status.result() if f_status is not None else statuses or ()
        windows = f_lanes.result() if f_lanes is not None else windows
        harnesses = f_registry.result() if f_registry is not None else list(registry or ())
    ai = frozenset(h.name for h in harnesses if h.kind == "ai")
    meta = {lane.window: lane for lane in windows or ()}
    views: dict[str, LaneView] = {}
    for status in statuses:
        name = status.lane or ""
        if not name:
            continue
        window = meta.get(name)
        harness = status.harness or (window.harness if window is not None else None)
        base = window.base if window is not None else status.kind != "dynamic"
        # an AI lane by the substrate's one answer (`ai`; older scripts: its harness's registry kind)
        is_ai = status.ai if status.ai is not None else harness in ai
        agent = is_ai and status.detail not in BARE_DETAILS
        views[name] = LaneView(
            name=name,
            status=status.status,
            detail=status.detail,
            harness=harness,
            base=base,
            role=window.role if window is not None else None,
            agent=agent,
            tag_harness=window.harness if window is not None else None,
            kind=window.kind if window is not None else None,
            sandboxed=bool(window is not None and window.sandbox),
            target=status.target,
            status_kind=status.kind,
        )
    return views, ai, harnesses


def mail_dropped(mailbox: Path) -> bool:
    """Whether a sandboxed lane's drop folder (<mailbox>/../mail-drop/<lane>/) holds a file: then the
    cycle has the substrate sweep it into the mailbox (`loop-mail sweep`) before reading the mailbox.
    A cheap look (listdirs, nothing opened); the sweep itself is mail.py's, never done here."""
    root = mailbox.parent / "mail-drop"
    try:
        lanes = [
            e for e in os.scandir(root) if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
        ]
    except OSError:
        return False
    for lane in lanes:
        try:
            if any(not n.startswith(".") for n in os.listdir(lane.path)):
                return True
        except OSError:
            continue
    return False


def pending_mail(mailbox: Path, cache: Path | None = None) -> list[MailItem]:
    """Pending messages, oldest first (by file name), from the top level of the mailbox only; with
    `cache` (the project's .loop/cache/mail-index.json), each one's head is read once across runs and
    across readers: the one mail cache loop-digest keeps too (loop_schemas._shared.mail_index, a copy of
    shell/lib/mail_index.py: keyed by name, size, mtime and inode, rebuilt when stale or damaged). Sender
    and recipient come from the name on every run."""
    return read_mailbox(mailbox, cache, count_processed=False)[0]


def read_mailbox(
    mailbox: Path, cache: Path | None = None, *, count_processed: bool = True
) -> tuple[list[MailItem], int | None]:
    """pending_mail's messages, and (with `count_processed`) the number of messages in processed/: from
    the same index, which keeps that count by the folder's inode and mtime, so a cycle lists processed/
    only when it changed (never on every run: it grows without bound). None when it was not counted."""
    items: list[MailItem] = []
    try:
        entries = list(os.scandir(mailbox))
    except (FileNotFoundError, NotADirectoryError):
        return items, (0 if count_processed else None)
    index = mail_index.MailIndex(str(mailbox), str(cache) if cache is not None else None, cache is not None)
    for entry in entries:
        name = entry.name
        if not name.endswith(".md") or not entry.is_file(follow_symlinks=False):
            continue
        parts = mail_index.name_parts(name)
        if parts is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # acked (moved away) since the listing
        subject, task, _mtime = index.row(name, entry.path, st)
        items.append(
            MailItem(
                name=name,
                path=Path(entry.path),
                sender=parts[2],
                recipient=parts[3],
                subject=subject,
                task=task,
            )
        )
    processed: int | None = None
    if count_processed:
        try:
            processed = index.processed_count()
        except OSError:  # no processed/ (yet), or not a folder: nothing acked there
            processed = 0
    index.save()
    items.sort(key=lambda m: _mail_sort_key(m.name))
    return items, processed


# acked_mail's listing of processed/ (its names stamped since a time), kept in the engine's own file and
# reused while the folder is unchanged: (device, inode, mtime_ns, ctime_ns) the same, the listing taken at
# least ACKED_RACY_NS after the folder last changed (a file moved in within the same tick of the kernel's
# coarse clock leaves mtime equal: git's "racily clean" rule, as the mail index keeps it), and taken at
# most ACKED_MAX_AGE_NS ago. The file is untrusted (a lane can write under .loop/): whatever it claims is
# checked against the folder, and a forged one hides nothing for longer than that age.
ACKED_VERSION = 1
ACKED_RACY_NS = mail_index.RACY_NS
ACKED_MAX_AGE_NS = 600 * 1_000_000_000


def _now_ns() -> int:
    import time

    return time.time_ns()


def _folder_key(folder: Path) -> list[int]:
    """What changes when a name is added to, removed from or renamed in `folder` (OSError as os.stat)."""
    st = os.stat(folder)
    return [st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def _list_names(folder: Path) -> list[str]:
    return os.listdir(folder)


def _acked_names(processed: Path, since: str, cache: Path | None) -> list[str]:
    """The names of processed/ stamped at or after `since` that end in .md: from `cache` while it holds
    for the folder as it is now, else listed (and stored in `cache` when the listing can be trusted)."""
    now = _now_ns()  # before the stat: a change after it moves the folder's times past now - a tick
    try:
        key = _folder_key(processed)
    except (FileNotFoundError, NotADirectoryError):
        return []
    if cache is not None:
        hit = _cached_names(cache, key, since, now)
        if hit is not None:
            return hit
    try:
        names = [n for n in _list_names(processed) if n[:15] >= since and n.endswith(".md")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    if cache is not None and now - max(key[2], key[3]) >= ACKED_RACY_NS:
        import contextlib
        import json

        from loop_schemas import atomic_write

        doc = {"version": ACKED_VERSION, "key": key, "since": since, "taken_ns": now, "names": names}
        # a cache: not fsync'd, and a file that cannot be written is listed again next time
        with contextlib.suppress(OSError):
            atomic_write(cache, json.dumps(doc, separators=(",", ":")) + "\n", durable=False)
    return names


def _cached_names(cache: Path, key: list[int], since: str, now: int) -> list[str] | None:
    """The stored listing's names stamped since `since`, when it is one of processed/ exactly as `key`
    says it is now, taken racily-clean after its last change, recently, from `since` or earlier."""
    import json

    from loop_schemas import read_project_text
    from loop_schemas.fsread import ENGINE_CAP

    try:
        doc = json.loads(read_project_text(cache, ENGINE_CAP))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != ACKED_VERSION or doc.get("key") != key:
        return None
    taken, stored_since, names = doc.get("taken_ns"), doc.get("since"), doc.get("names")
    if (
        type(taken) is not int
        or taken - max(key[2], key[3]) < ACKED_RACY_NS
        or not 0 <= now - taken <= ACKED_MAX_AGE_NS
        or not isinstance(stored_since, str)
        or stored_since > since
        or not isinstance(names, list)
        or not all(isinstance(n, str) for n in names)
    ):
        return None
    return [n for n in names if n[:15] >= since and n.endswith(".md")]


def acked_mail(mailbox: Path, stamped_since: str, cache: Path | None = None) -> list[MailItem]:
    """Acked messages (mailbox/processed/) whose names are stamped at or after `stamped_since`
    (YYYYMMDD-HHMMSS, local time as in the names), oldest first.

    A lane's report can be acked by the docs lane's ingest before a cycle ever sees it pending; the
    engine reads these so such a report still moves its task to review (and such a reply still answers
    its ask). Only the names are listed, and with `cache` (the engine's acked-names.json) only when
    processed/ changed since the last listing (see _acked_names): processed/ grows without bound, the
    cycle's cost must not. Only the recent ones are opened."""
    import stat

    processed = mailbox / "processed"
    items: list[MailItem] = []
    for name in _acked_names(processed, stamped_since, cache):
        try:
            parsed = parse_mail_name(name)
        except SchemaError:
            continue
        path = processed / name
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
        except OSError:
            continue
        subject, task = read_mail_head(path)
        items.append(
            MailItem(
                name=name,
                path=path,
                sender=parsed.sender,
                recipient=parsed.recipient,
                subject=subject,
                task=task,
            )
        )
    items.sort(key=lambda m: _mail_sort_key(m.name))
    return items


def _mail_sort_key(name: str) -> tuple[str, int]:
    stem = name[:-3]
    head, _, tail = stem.rpartition(".")
    if head and tail.isdigit():
        return head, int(tail)
    return stem, 1


class SubstrateUnavailableError(Exception):
    """loop-substrate's bundled shell is missing or speaks another CONTRACT major version."""


def make_substrate(session: str, project_root: Path) -> SubstrateLike:
    """The real loop_substrate.Substrate for this session (LOOP_TMUX_SOCKET selects the tmux server)."""
    from loop_substrate import Substrate, SubstrateError, check_contract

    try:
        check_contract()
    except SubstrateError as exc:
        raise SubstrateUnavailableError(str(exc)) from None
    return Substrate(session, project_root, socket=os.environ.get("LOOP_TMUX_SOCKET") or None)
