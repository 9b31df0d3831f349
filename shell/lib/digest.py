#!/usr/bin/env python3
"""digest.py: the loop digest behind loop-digest (stdlib only, python 3.8+).

Reads .loop/orchestrator-state.json (schema v2: the minimum shape with `loops`, or the extended one
that also carries `lanes` with pane tails), the mailbox, the unpushed commits of each repository and
the ADR ledger, and prints either the ASCII digest (once, or redrawn in place every --interval
seconds) or one JSON document (the contract's Digest surface).

A missing or corrupt state file never stops the digest: it shows one line saying what is wrong (and
`state: null` plus `state_error` in JSON) and keeps redrawing; a mailbox or ADR folder that cannot be
listed is one line too (`mailbox_error`, `adr_error` in JSON, null when fine). Untrusted text (loop
names, subjects, pane tails) has its control characters made visible before it reaches the terminal.

CLI: digest.py [--project-root P] [--state-file F] [--mailbox-dir D] [--adr-dir D] [--extra-repo R]...
               [--interval S] [--once] [--no-clear] [--json] [--messages N]
Env: LOOP_DIGEST_ADR_DIR (the ADR folder when --adr-dir is not given), LOOP_DIGEST_NOW (an ISO-8601
     time to render instead of the clock, for golden files).
"""

from __future__ import annotations

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adr
import fsread
import jsonlite
import mail_index

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the digest's start-up; annotations are strings here
    import datetime as _dt
    from typing import Any, Dict, List, Optional, Tuple

# Start-up time is most of a --json run, so modules only some paths need (mail's argparse,
# subprocess, signal, shutil, datetime) are imported where they are used. JSON is read and written
# through jsonlite (json's own answers, without importing the json package and its patterns).

CONTRACT_VERSION = 1
PROG = "loop-digest"
RULE = "════"
MAX_STATE_BYTES = fsread.STATE_CAP
DEFAULT_MESSAGES = 6
DEFAULT_INTERVAL = 5.0
TAIL_LINES = 1
CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f]"  # all in Unicode's Cc, so not in a str.isprintable() text
# The mailbox name grammar and its parser are mail_index's (the mail cache's reader; a test holds the
# grammar equal to mail.NAME_RE): importing mail here would pull in argparse and tempfile on every redraw.
name_parts = mail_index.name_parts
parse_name = mail_index.parse_name
# v2's statuses and the original's loops-sync ones (in-progress, done): loop_schemas.LOOP_STATUSES
LOOP_STATUSES = (
    "spec",
    "plan",
    "implement",
    "verify",
    "canary",
    "shipped",
    "reverted",
    "blocked",
    "in-progress",
    "done",
)


class UsageError(Exception):
    pass


def clean(value: Any) -> str:
    """Any value as one printable line (control characters and escapes replaced by '?')."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = jsonlite.dumps(value) if isinstance(value, (list, dict)) else str(value)
    if not value.isprintable():  # re is imported and the pattern compiled only for such a text
        import re

        value = re.sub(CONTROL_PATTERN, "?", value)
    return " ".join(value.split())


# ---- inputs ------------------------------------------------------------------------------------------


def read_state(path: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(the parsed state or None, a one-line problem or None)."""
    try:
        raw = fsread.read_file(path, MAX_STATE_BYTES)
    except FileNotFoundError:
        return None, f"no state file at {path} (create one with loop-init)"
    except IsADirectoryError:
        return None, f"state file path is a directory: {path}"
    except fsread.ProjectFileError as exc:
        return None, f"state file {exc.strerror}: {path}"
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror}"
    if not raw.strip():
        return None, f"empty state file {path}"
    constants: List[str] = []

    def no_constant(name: str) -> None:
        # NaN / Infinity are not JSON: python reads them, but echoed into --json they would make the
        # document unparseable for strict readers. They read as null, and the state_error says so.
        constants.append(name)

    try:
        doc = jsonlite.loads(raw.decode("utf-8"), parse_constant=no_constant)
    except UnicodeDecodeError:
        return None, f"state file is not UTF-8 text: {path}"
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        return None, f"not valid JSON ({msg}{where}): {path}"
    except RecursionError:
        return None, f"state file nested too deeply to read: {path}"
    if not isinstance(doc, dict):
        return None, f"state file holds a JSON {type(doc).__name__}, not an object: {path}"
    problems = []
    if constants:
        problems.append(f"{'/'.join(sorted(set(constants)))} is not JSON, read as null")
    if doc.get("schema_version") != 2:
        import json  # ASCII-escaped, as it always was: only a wrong version is shown so

        problems.append(f"schema_version is {clean(json.dumps(doc.get('schema_version')))}, expected 2")
    if not isinstance(doc.get("loops"), dict):
        problems.append("'loops' is missing or not an object")
    if problems:
        return doc, "; ".join(problems) + f": {path}"
    return doc, None


def _subject(path: str) -> Optional[str]:
    """The message's subject from the head of the file (its frontmatter), or None: mail.read_subject's
    answer (mail_index.read_head, the one reader of a mail's head that the cache keeps)."""
    return mail_index.read_head(path)[0]


# A pending message's row: (date, time, seq, file, from, to, subject, mtime, folder). Rows sort as the
# mailbox orders its messages (stamp, then sequence number, then name: unique in a folder, so the tuples
# never compare past it); the path is folder + "/" + file, joined only when a head is read.
R_FILE, R_FROM, R_TO, R_SUBJECT, R_MTIME, R_FOLDER = 3, 4, 5, 6, 7, 8


# The mailbox folder opened for listing and stat'ing its messages relative to it (one path component
# per stat, not the whole path); O_NONBLOCK: a FIFO in its place is never waited on (O_DIRECTORY refuses
# it first where there is one).
_DIR_FLAGS = (
    os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_S_IFMT, _S_IFREG = 0o170000, 0o100000


def mailbox_entries(
    mailbox: str, with_subjects: bool, index: Optional[mail_index.MailIndex] = None
) -> List[Tuple[Any, ...]]:
    """Pending messages, oldest first, as rows (R_FILE ... above: a big mailbox's rows are most of a
    --json run, so no dict per message). A message's subject and mtime come from the index
    (mail_index.py) while it is the file they were taken from, else from its head and stat
    (remembered); without subjects (the text digest) no head is read and the index is only looked in
    (an unknown message's subject is None). A message is a regular file (a symlink to one too) whose
    name is the mailbox grammar's."""
    out: List[Tuple[Any, ...]] = []
    if index is None:
        index = mail_index.MailIndex(mailbox, enabled=False)
    try:
        fd = os.open(mailbox, _DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return out
    try:
        try:
            names = os.listdir(fd)
        except NotADirectoryError:  # where there is no O_DIRECTORY to refuse a file at the open
            return out
        # Sorted by name first: the rows then come out nearly in the mailbox's order (stamp, sequence
        # number, name), and sorting them below costs a pass, not a full sort of tuples.
        names.sort()
        cached = index.cached
        plain = mail_index.plain_parts
        stat = os.stat
        append = out.append
        for name in names:
            parts = plain(name)
            if parts is None:
                if not name.endswith(".md") or name[0] == ".":
                    continue
                parts = name_parts(name)
                if parts is None:
                    continue
            d, t, sender, to, seq = parts
            try:
                st = stat(name, dir_fd=fd)
            except OSError:
                continue  # acked between the listing and the stat
            if st.st_mode & _S_IFMT != _S_IFREG:
                continue
            fields = cached(name, st)
            if fields is None:
                if with_subjects:
                    fields = index.row(name, os.path.join(mailbox, name), st)
                else:
                    fields = [None, None, mail_index.iso_mtime(st)]
            append((d, t, seq, name, sender, to, fields[0], fields[2], mailbox))
    finally:
        os.close(fd)
    out.sort()
    return out


def sweep_dropped_mail(mailbox: str) -> None:
    """Deliver what sandboxed lanes dropped (mail.sweep, the one implementation), before the mailbox is
    read; mail is imported only when a drop folder holds something (most redraws cost one listdir)."""
    root = os.path.join(os.path.dirname(os.path.abspath(mailbox)), "mail-drop")
    try:
        if not any(not n.startswith(".") for n in os.listdir(root)):
            return
    except OSError:
        return
    import mail

    if mail.drops_waiting(mailbox):
        try:  # noqa: SIM105 (contextlib costs an import on every run)
            mail.sweep(mailbox)
        except OSError:  # the mailbox cannot be written now: the drop stays for later
            pass


def processed_count(mailbox: str, index: Optional[mail_index.MailIndex] = None) -> int:
    """The messages in processed/ (0 when there is no such folder); with an index, listed only when the
    folder changed since the index last counted it."""
    try:
        if index is not None:
            return index.processed_count(mail_index.count_processed)
        return mail_index.count_processed(os.path.join(mailbox, "processed"))
    except (FileNotFoundError, NotADirectoryError):
        return 0


GIT_FORMAT = "%(HEAD)%00%(refname:short)%00%(upstream:short)%00%(upstream:track)"


def _ahead(track: str) -> int:
    """The commits ahead of the upstream in git's %(upstream:track) ("[ahead 3]", "[ahead 3, behind 1]",
    "[behind 1]", ""): the digits after "ahead ", 0 when there are none (no pattern to compile)."""
    at = track.find("ahead ")
    if at < 0:
        return 0
    start = end = at + 6
    while end < len(track) and track[end] in "0123456789":
        end += 1
    return int(track[start:end]) if end > start else 0


class _Git:
    """One `git for-each-ref` child started with posix_spawn (cheaper to import than subprocess)."""

    def __init__(self, path: str) -> None:
        argv = ["git", "-C", path, "for-each-ref", "--format=" + GIT_FORMAT, "refs/heads"]
        env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
        rfd, wfd = os.pipe()
        try:
            self.pid = os.posix_spawnp(
                "git",
                argv,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, wfd, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_CLOSE, rfd),
                ],
            )
        except OSError:
            os.close(rfd)
            os.close(wfd)
            raise
        os.close(wfd)
        self.rfd = rfd
        self.returncode: Optional[int] = None

    def communicate(self, timeout: float) -> bytes:
        chunks = []
        deadline = time.monotonic() + timeout
        try:
            # git started before the mailbox was read and has usually written all and exited by now:
            # its output is taken without waiting (select is imported only when it must be waited for).
            os.set_blocking(self.rfd, False)
            while True:
                try:
                    chunk = os.read(self.rfd, 65536)
                except BlockingIOError:
                    import select

                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                        os.kill(self.pid, 9)
                        os.waitpid(self.pid, 0)
                        raise TimeoutError from None
                    continue
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self.rfd)
        _, status = os.waitpid(self.pid, 0)
        self.returncode = (
            os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        )
        return b"".join(chunks)


def start_git(path: str) -> Any:
    """Start the one git call a repository's row needs (it runs while the mailbox is read), or None."""
    if not os.path.isdir(path):
        return None
    try:
        return _Git(path)
    except OSError:
        return None


def unpushed(path: str, proc: Any = None) -> Dict[str, Any]:
    """{repo, path, branch, upstream, count} for one repository; nulls where git cannot say."""
    row: Dict[str, Any] = {
        "repo": os.path.basename(os.path.abspath(path)) or path,
        "path": os.path.abspath(path),
        "branch": None,
        "upstream": None,
        "count": None,
    }
    if not os.path.isdir(path):
        row["error"] = "no such directory"
        return row
    if proc is None:
        proc = start_git(path)
    if proc is None:
        row["error"] = "git is not installed"
        return row
    try:
        out = proc.communicate(timeout=10)
    except TimeoutError:
        row["error"] = "git timed out"
        return row
    if proc.returncode != 0:
        row["error"] = "not a git repository"
        return row
    for line in out.decode("utf-8", errors="replace").splitlines():
        fields = line.split("\x00")
        if len(fields) != 4 or fields[0] != "*":
            continue
        row["branch"] = fields[1]
        if fields[2]:
            row["upstream"] = fields[2]
            if "gone" in fields[3]:
                row["error"] = "upstream is gone"
            else:
                row["count"] = _ahead(fields[3])
        return row
    # no current branch: a detached HEAD, or a repository with no commits yet
    import subprocess

    head = subprocess.run(
        ["git", "-C", path, "symbolic-ref", "-q", "--short", "HEAD"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    if head.returncode == 0 and head.stdout.strip():
        row["branch"] = head.stdout.decode("utf-8", errors="replace").strip()
        row["error"] = "no commits yet"
    else:
        row["error"] = "detached HEAD"
    return row


def adr_rows(adr_dir: str) -> List[Dict[str, Any]]:
    rows = []
    for rec in adr.ledger(adr_dir, limit=16384):
        rows.append(
            {"id": rec.number, "status": rec.status, "title": rec.title, "path": os.path.abspath(rec.path)}
        )
    return rows


class Options:
    def __init__(self) -> None:
        self.project_root = "."
        self.state_file = ""
        self.mailbox_dir = ""
        self.adr_dir = ""
        self.extra_repos: List[str] = []
        self.interval = DEFAULT_INTERVAL
        self.once = False
        self.no_clear = False
        self.json = False
        self.messages = DEFAULT_MESSAGES
        self.mail_index = True  # read through the mailbox's cache (mail_index.py); tests turn it off

    def resolve(self) -> None:
        root = self.project_root
        norm = os.path.normpath
        self.state_file = norm(self.state_file or os.path.join(root, ".loop", "orchestrator-state.json"))
        self.mailbox_dir = norm(self.mailbox_dir or os.path.join(root, ".loop", "messages"))
        self.adr_dir = norm(
            self.adr_dir or os.environ.get("LOOP_DIGEST_ADR_DIR", "") or os.path.join(root, "docs", "adr")
        )


def now_utc() -> _dt.datetime:
    import datetime as _dt

    fixed = os.environ.get("LOOP_DIGEST_NOW", "")
    if fixed:
        try:
            stamp = _dt.datetime.fromisoformat(fixed.replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            pass
    return _dt.datetime.now(_dt.timezone.utc)


def generated_at() -> str:
    """The document's time: LOOP_DIGEST_NOW when set (golden files), else the clock (no datetime)."""
    if os.environ.get("LOOP_DIGEST_NOW"):
        return now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def collect(opts: Options, with_subjects: bool = True) -> Dict[str, Any]:
    repos = []
    seen = set()
    for repo in [opts.project_root, *opts.extra_repos]:
        key = os.path.realpath(repo)
        if key not in seen:
            seen.add(key)
            repos.append((repo, start_git(repo)))
    state, state_error = read_state(opts.state_file)
    # A folder that exists but cannot be listed (no permission, a symlink loop, an I/O error) is shown
    # as a one-line error beside an empty block, like a bad state file, never a traceback.
    mailbox_error = None
    sweep_dropped_mail(opts.mailbox_dir)
    index = mail_index.MailIndex(opts.mailbox_dir, enabled=opts.mail_index)
    try:
        pending = mailbox_entries(opts.mailbox_dir, with_subjects, index)
        processed = processed_count(opts.mailbox_dir, index)
        if with_subjects:  # a run that read no heads leaves the index as it is
            index.save()
    except OSError as exc:
        pending, processed = [], 0
        mailbox_error = f"cannot read the mailbox {opts.mailbox_dir}: {exc.strerror or exc}"
    rows = [unpushed(repo, proc) for repo, proc in repos]
    adr_error = None
    try:
        adrs = adr_rows(opts.adr_dir)
    except OSError as exc:
        adrs = []
        adr_error = f"cannot read the ADR folder {opts.adr_dir}: {exc.strerror or exc}"
    return {
        "contract_version": CONTRACT_VERSION,
        "generated_at": generated_at(),
        "state": state,
        "state_error": state_error,
        "mailbox": {"pending": pending, "processed_count": processed},
        "mailbox_error": mailbox_error,
        "unpushed": rows,
        "adrs": adrs,
        "adr_error": adr_error,
    }


def json_doc(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The contract document: internal keys dropped."""
    pending = [
        {"file": m[R_FILE], "from": m[R_FROM], "to": m[R_TO], "subject": m[R_SUBJECT], "mtime": m[R_MTIME]}
        for m in doc["mailbox"]["pending"]
    ]
    unpushed_rows = [
        {k: r[k] for k in ("repo", "path", "branch", "upstream", "count")} for r in doc["unpushed"]
    ]
    return {
        "contract_version": CONTRACT_VERSION,
        "generated_at": doc["generated_at"],
        "state": doc["state"],
        "state_error": doc["state_error"],
        "mailbox": {"pending": pending, "processed_count": doc["mailbox"]["processed_count"]},
        "unpushed": unpushed_rows,
        "adrs": doc["adrs"],
        "mailbox_error": doc["mailbox_error"],
        "adr_error": doc["adr_error"],
    }


def json_text(doc: Dict[str, Any]) -> str:
    """json.dumps(json_doc(doc), ensure_ascii=False), byte for byte, with the pending rows (most of a big
    mailbox's document) joined from their fields, each encoded by json's own string encoder, instead of
    built as dicts and encoded again (a test holds the two equal)."""
    enc = jsonlite.encode_str  # json.dumps' own encoder of a str (not ASCII-only)
    dumps = jsonlite.dumps  # json.dumps(value, ensure_ascii=False)

    # A row's file, from and to matched the name grammar (digits, ASCII letters, '_', '-', '.'): nothing
    # in them is escaped, so they are quoted as they are; the subject and the mtime (cached text, and a
    # subject holds anything) go through the encoder.
    rows = [
        f'{{"file": "{name}", "from": "{sender}", "to": "{to}", "subject": '
        f'{"null" if subject is None else enc(subject)}, "mtime": {enc(mtime)}}}'
        for _, _, _, name, sender, to, subject, mtime, _ in doc["mailbox"]["pending"]
    ]
    unpushed_rows = [
        {k: r[k] for k in ("repo", "path", "branch", "upstream", "count")} for r in doc["unpushed"]
    ]
    return "".join(
        (
            '{"contract_version": ',
            dumps(CONTRACT_VERSION),
            ', "generated_at": ',
            dumps(doc["generated_at"]),
            ', "state": ',
            # parsed from JSON, the state holds no cycle: the encoder need not look for one
            jsonlite.dumps(doc["state"], check_circular=False),
            ', "state_error": ',
            dumps(doc["state_error"]),
            ', "mailbox": {"pending": [',
            ", ".join(rows),
            '], "processed_count": ',
            dumps(doc["mailbox"]["processed_count"]),
            '}, "unpushed": ',
            dumps(unpushed_rows),
            ', "adrs": ',
            dumps(doc["adrs"]),
            ', "mailbox_error": ',
            dumps(doc["mailbox_error"]),
            ', "adr_error": ',
            dumps(doc["adr_error"]),
            "}",
        )
    )


# ---- rendering ---------------------------------------------------------------------------------------


def _local_hhmm(stamp: _dt.datetime) -> str:
    if os.environ.get("LOOP_DIGEST_NOW"):
        return stamp.strftime("%H:%M")  # as given: golden files must not depend on the machine's zone
    return stamp.astimezone().strftime("%H:%M")


def _columns(rows: List[List[str]], caps: List[int]) -> List[str]:
    """Left-aligned columns (the last one free), each column as wide as its widest cell up to its cap."""
    if not rows:
        return []
    widths = [0] * (len(rows[0]) - 1)
    for row in rows:
        for i in range(len(widths)):
            widths[i] = min(max(widths[i], len(row[i])), caps[i])
    out = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row[:-1]):
            shown = cell[: max(widths[i] - 1, 1)] + "…" if len(cell) > widths[i] else cell
            cells.append(shown.ljust(widths[i]))
        cells.append(row[-1])
        out.append("  ".join(cells).rstrip())
    return out


def loop_rows(loops: Dict[str, Any]) -> List[List[str]]:
    rows = []
    for loop_id, entry in loops.items():
        if not isinstance(entry, dict):
            rows.append([clean(loop_id), "?", "", "", "(not an object)"])
            continue
        status = clean(entry.get("status"))
        if not status:
            status = "-"  # a row without a status (a worktree lane's: only its ledger branch)
        elif status not in LOOP_STATUSES:
            status = status + "?"
        branch = clean(entry.get("branch")) or "-"
        canary = clean(entry.get("canary_target"))
        rows.append(
            [clean(loop_id), status, branch, f"canary:{canary}" if canary else "", clean(entry.get("name"))]
        )
    return rows


def lane_rows(lanes: Any) -> List[List[str]]:
    items: List[Tuple[str, Any]] = []
    if isinstance(lanes, dict):
        items = list(lanes.items())
    elif isinstance(lanes, list):
        for n, entry in enumerate(lanes):
            name = (
                entry.get("name") or entry.get("lane") or entry.get("window")
                if isinstance(entry, dict)
                else None
            )
            items.append((name or f"#{n}", entry))
    rows = []
    for name, entry in items:
        if not isinstance(entry, dict):
            rows.append([clean(name), "?", "", ""])
            continue
        tail = entry.get("pane_tail")
        if isinstance(tail, list):
            lines = [clean(t) for t in tail if clean(t)]
        elif isinstance(tail, str):
            lines = [clean(t) for t in tail.splitlines() if clean(t)]
        else:
            lines = []
        last = " | ".join(lines[-TAIL_LINES:]) if lines else ""
        rows.append(
            [clean(name), clean(entry.get("status")) or "?", clean(entry.get("harness")) or "-", last]
        )
    return rows


def render(doc: Dict[str, Any], opts: Options, max_rows: Optional[int] = None) -> List[str]:
    """The digest as lines. With max_rows the loops block is cut to fit (redraw mode)."""
    import datetime as _dt

    stamp = _dt.datetime.fromisoformat(doc["generated_at"].replace("Z", "+00:00"))
    if os.environ.get("LOOP_DIGEST_NOW"):
        stamp = now_utc()
    head: List[str] = [f"{RULE} orchestrator loops @ {_local_hhmm(stamp)} {RULE}"]
    state = doc["state"]
    loops_block: List[str] = []
    if doc["state_error"]:
        head.append(f"state: {clean(doc['state_error'])}")
    if isinstance(state, dict):
        session = clean(state.get("session")) or "-"
        head.append(
            f"schema_version={clean(state.get('schema_version')) or '-'} session={session} "
            f"updated={clean(state.get('updated_at')) or '-'}"
        )
        if state.get("objective"):
            head.append(f"objective: {clean(state.get('objective'))}")
        conflicts = state.get("open_conflicts")
        if isinstance(conflicts, list) and conflicts:
            head.append(f"open conflicts ({len(conflicts)}): " + "; ".join(clean(c) for c in conflicts[:3]))
        loops = state.get("loops")
        if isinstance(loops, dict):
            head.append("LOOPS:" if loops else "LOOPS: (none)")
            loops_block = _columns(loop_rows(loops), [24, 10, 24, 28, 0])
        lanes = state.get("lanes")
        lanes_block: List[str] = []
        if lanes:
            lanes_block = ["LANES:", *_columns(lane_rows(lanes), [16, 18, 12, 0])]
    else:
        lanes_block = []

    pending = doc["mailbox"]["pending"]
    shown = list(reversed(pending[-opts.messages :])) if opts.messages > 0 else []
    processed = doc["mailbox"]["processed_count"]
    mail_block = [
        f"{RULE} latest {len(shown)} messages {RULE}  ({len(pending)} pending, {processed} processed)"
    ]
    if doc.get("mailbox_error"):
        mail_block.append(f"mail: {clean(doc['mailbox_error'])}")
    elif not shown:
        mail_block.append("(no pending mail)")
    else:
        for m in shown:
            subject = m[R_SUBJECT]
            if subject is None:
                subject = _subject(os.path.join(m[R_FOLDER], m[R_FILE]))
            mail_block.append(f"{m[R_FILE]}  {clean(subject) if subject else '(no subject)'}")
        if len(pending) > len(shown):
            mail_block.append(f"… {len(pending) - len(shown)} older pending")

    git_block = [f"{RULE} unpushed commits {RULE}"]
    git_rows = []
    for r in doc["unpushed"]:
        if r["count"] is not None:
            git_rows.append(
                [clean(r["repo"]), str(r["count"]), f"({clean(r['branch'])} vs {clean(r['upstream'])})"]
            )
        elif r.get("branch") and not r.get("upstream") and not r.get("error"):
            git_rows.append([clean(r["repo"]), "-", f"({clean(r['branch'])}: no upstream)"])
        else:
            why = r.get("error") or "unknown"
            git_rows.append([clean(r["repo"]), "-", f"({why})"])
    git_block += _columns(git_rows, [28, 5, 0])

    adr_block = [f"{RULE} decisions (MADR) {RULE}"]
    if doc.get("adr_error"):
        adr_block.append(f"decisions: {clean(doc['adr_error'])}")
    elif doc["adrs"]:
        adr_block += _columns(
            [[f"{a['id']:04d}", clean(a["status"]), clean(a["title"])] for a in doc["adrs"]], [4, 10, 0]
        )
    else:
        adr_block.append("(no ADRs)")

    if max_rows is not None:
        fixed = len(head) + len(lanes_block) + len(mail_block) + len(git_block) + len(adr_block)
        room = max_rows - fixed
        if len(loops_block) > room:
            keep = max(room - 1, 0)
            cut = len(loops_block) - keep
            loops_block = [*loops_block[:keep], f"… {cut} more loops (loop-digest --json lists them all)"]
            if room <= 0:
                loops_block = []
    return head + loops_block + lanes_block + mail_block + git_block + adr_block


def _fit(lines: List[str], width: int) -> List[str]:
    out = []
    for line in lines:
        out.append(line[: max(width - 1, 1)] + "…" if len(line) > width else line)
    return out


# ---- CLI -----------------------------------------------------------------------------------------


def parse_args(argv: List[str]) -> Options:
    opts = Options()
    i = 0
    valued = (
        "--project-root",
        "--state-file",
        "--mailbox-dir",
        "--adr-dir",
        "--extra-repo",
        "--interval",
        "--messages",
    )
    while i < len(argv):
        arg = argv[i]
        if arg in valued:
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a value")
            value = argv[i + 1]
            i += 2
            if arg == "--project-root":
                opts.project_root = value
            elif arg == "--state-file":
                opts.state_file = value
            elif arg == "--mailbox-dir":
                opts.mailbox_dir = value
            elif arg == "--adr-dir":
                opts.adr_dir = value
            elif arg == "--extra-repo":
                opts.extra_repos.append(value)
            elif arg == "--interval":
                try:
                    opts.interval = float(value)
                except ValueError:
                    raise UsageError(f"--interval needs a number of seconds (got {value!r})") from None
                if not (opts.interval > 0) or opts.interval > 86400:
                    raise UsageError(f"--interval must be above 0 and at most 86400 (got {value!r})")
            elif arg == "--messages":
                if not value.isdigit():
                    raise UsageError(f"--messages needs a whole number (got {value!r})")
                opts.messages = int(value)
            continue
        if arg == "--once":
            opts.once = True
        elif arg == "--no-clear":
            opts.no_clear = True
        elif arg == "--json":
            opts.json = True
            opts.once = True
        else:
            raise UsageError(f"unknown argument: {arg}")
        i += 1
    opts.resolve()
    return opts


def _write(data: str) -> None:
    sys.stdout.write(data)
    sys.stdout.flush()


def redraw_loop(opts: Options) -> int:
    """Redraw in place every interval: cursor home, each line cleared to its end, the rest of the screen
    cleared after the frame; the whole frame in one write, so the pane never flashes blank."""
    import shutil
    import signal

    tty = sys.stdout.isatty()
    in_place = tty and not opts.no_clear
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    if in_place:
        _write("\x1b[?25l\x1b[H\x1b[2J")
    first = True
    try:
        while True:
            started = time.monotonic()
            try:
                size = shutil.get_terminal_size((100, 40))
                doc = collect(opts, with_subjects=False)
                lines = render(doc, opts, max_rows=size.lines - 1 if in_place else None)
                if tty:
                    lines = _fit(lines, size.columns)
            except (OSError, ValueError) as exc:  # never die on a bad tick: say it and try again
                lines = [f"{RULE} loop-digest {RULE}", f"error: {clean(str(exc))}"]
            if in_place:
                _write("\x1b[H" + "".join(line + "\x1b[K\n" for line in lines) + "\x1b[J")
            else:
                _write(("" if first else "\n") + "\n".join(lines) + "\n")
            first = False
            delay = opts.interval - (time.monotonic() - started)
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        return 0
    finally:
        if in_place:
            _write("\x1b[?25h\n")


def main(argv: List[str], process: bool = False) -> int:
    """The CLI; `process` when it is the whole process (run), which then ends without a teardown."""
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\nTry '{PROG} --help'.\n")
        return 2
    if not os.path.isdir(opts.project_root):  # a runtime failure (1), as in every loop CLI
        sys.stderr.write(f"{PROG}: project root not found: {opts.project_root}\n")
        return 1
    if process:
        # One document, then os._exit: nothing is freed, so the cyclic collector has nothing to gain and
        # its passes over the parsed state, the index and the rows cost a big mailbox's run a few ms
        # (loop-digest.sh turns it off before the imports already). A redraw runs for hours and keeps it.
        if opts.once:
            gc.disable()
        else:
            gc.enable()
    try:
        if opts.json:
            doc = collect(opts, with_subjects=True)
            sys.stdout.write(json_text(doc))
            sys.stdout.write("\n")
            return 0
        if opts.once:
            doc = collect(opts, with_subjects=False)
            lines = render(doc, opts)
            if sys.stdout.isatty():
                import shutil

                lines = _fit(lines, shutil.get_terminal_size((100, 40)).columns)
            sys.stdout.write("\n".join(lines) + "\n")
            return 0
        return redraw_loop(opts)
    except BrokenPipeError:
        # stdout's reader went away: point fd 1 at /dev/null so the interpreter's final flush is quiet
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        return 130


def run(argv: List[str]) -> None:
    """main(argv) as the process: its output flushed, then the process ends at once (os._exit) instead of
    tearing the interpreter down, which frees a big document's objects one by one for nothing (a few ms
    of a --json run). Output to a reader gone is quiet; any other failure to write it (a full disk) is
    one line and exit 1, never a traceback."""
    try:
        code = main(argv, process=True)
        sys.stdout.flush()
    except BrokenPipeError:
        code = 0
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot write the output: {exc.strerror or exc}\n")
        code = 1
    try:  # noqa: SIM105 (contextlib costs an import on every run)
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)


if __name__ == "__main__":
    run(sys.argv[1:])
