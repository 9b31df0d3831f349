#!/usr/bin/env python3
"""mail.py: the mailbox convention for the bash substrate (stdlib only, python 3.8+).

A message is <mailbox>/YYYYMMDD-HHMMSS-<from>-to-<to>.md (same-second collisions: <to>.2.md, .3.md,
...), with YAML-subset frontmatter carrying `subject:`. Pending = the messages in <mailbox>/; acking
moves one into <mailbox>/processed/ by an atomic rename. Nothing here modifies or deletes a message.

CLI (every verb takes --dir MAILBOX, default .loop/messages):
  send --from L --to L --subject S (--body TEXT | --body-file F | --body-stdin)   prints the new path
  ack FILE                 move FILE (a name or path in the mailbox) to processed/; prints the new path
  list [--json]            pending messages, oldest first (JSON: the MailList surface)
  count                    the number of pending messages, a bare integer
  pending                  a one-line-per-message summary (name and subject)
  sweep                    deliver what sandboxed lanes dropped (see below); prints the new paths

Sandboxed lanes (loop-tmux add-lane --sandbox) cannot write the mailbox: their `send` writes into their
drop folder <mailbox>/../mail-drop/<lane>/ (LOOP_SANDBOX_MAIL_DROP, set by the sandbox, names it; it
only picks the write path). sweep() -- the ONE implementation, run by list/count/pending/ack, by the
digest and by the engine's observe -- moves each dropped file into the mailbox: claimed by an atomic
rename into mail-drop/.claimed/ (two sweepers never deliver one file twice), checked (a regular file of
at most DROP_MAX_BYTES, UTF-8, frontmatter with a one-line subject and a valid `to:`), and written anew
with `from:` forced to the lane that owns the folder (the folder is the authority, not the text). What
fails a check goes to mail-drop/.quarantine/ with a .why file; nothing is deleted before it is
delivered or quarantined.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontmatter
import fsread
from atomic import fsync_dir

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on every helper start-up; annotations are strings here
    import argparse
    import datetime as _dt
    from typing import Any, Dict, List, Optional, Tuple

# argparse (with the shutil, gettext and locale it loads) and datetime are imported where they are used:
# loop-checkpoint --print, which the engine runs on every cycle, reads the pending names through here.

LANE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\Z")
NAME_RE = re.compile(
    r"^(?P<date>\d{8})-(?P<time>\d{6})-(?P<from>[A-Za-z][A-Za-z0-9_-]*?)-to-"
    r"(?P<to>[A-Za-z][A-Za-z0-9_-]*?)(?:\.(?P<seq>[2-9]|[1-9][0-9]+))?\.md\Z"
)
SUBJECT_READ_LIMIT = 65536
CONTRACT_VERSION = 1
DROP_DIR = "mail-drop"
DROP_MAX_BYTES = 256 * 1024
DROP_ENV = "LOOP_SANDBOX_MAIL_DROP"
# a claim left by a sweeper that died mid-way is taken up again after this long
CLAIM_STALE_S = 60.0
HEAD_KEYS = ("subject", "from", "to", "ts")
EXTRA_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")


class MailError(Exception):
    """A one-line, user-facing mailbox error."""


def parse_name(name: str) -> Optional[Dict[str, Any]]:
    """Split a message file name into its parts, or None when it is not a message name."""
    m = NAME_RE.match(name)
    if not m:
        return None
    d, t, sender, recipient, seq = m.groups()  # one call: this runs for every name of a listing
    stamp = (int(d[:4]), int(d[4:6]), int(d[6:]), int(t[:2]), int(t[2:4]), int(t[4:]))
    year, month, day, hour, minute, second = stamp
    # a real time (what strptime "%Y%m%d%H%M%S" accepts of these 8 + 6 digits), without strptime; a day
    # every month has (1 to 28) needs no calendar, any other is datetime's to judge
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= 28 and hour < 24 and minute < 60 and second < 60):
        import datetime

        try:
            datetime.datetime(*stamp)
        except ValueError:
            return None
    return {"date": d, "time": t, "from": sender, "to": recipient, "seq": int(seq) if seq else 1}


def format_name(stamp: _dt.datetime, sender: str, recipient: str, seq: int = 1) -> str:
    for lane in (sender, recipient):
        if not LANE_RE.match(lane):
            raise MailError(
                f"invalid lane name {lane!r}: use letters, digits, '_' and '-', starting with a letter"
            )
    if "-to-" in sender + "-":  # names split at the first '-to-': sender `a-to` would read as `a`
        raise MailError(f"invalid sender {sender!r}: a sender name cannot contain '-to-' or end in '-to'")
    suffix = "" if seq == 1 else f".{seq}"
    return f"{stamp.strftime('%Y%m%d-%H%M%S')}-{sender}-to-{recipient}{suffix}.md"


def read_subject(path: str) -> Optional[str]:
    """The message's subject, or None when it has none or its frontmatter does not parse."""
    try:
        raw = fsread.read_head(path, SUBJECT_READ_LIMIT)
    except OSError:
        return None
    return frontmatter.mail_head(raw.decode("utf-8", errors="replace"))[0]


def _iso_mtime(mtime: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(mtime, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pending(mailbox: str, with_subjects: bool = True, with_mtimes: bool = True) -> List[Dict[str, Any]]:
    """Pending messages, oldest first (by name, which sorts by time then sender). Without with_subjects
    (with_mtimes) each one's "subject" ("mtime") is None: nothing is read (no stat is taken)."""
    keyed: List[Tuple[Any, Dict[str, Any]]] = []
    try:
        entries = list(os.scandir(mailbox))
    except FileNotFoundError:
        return []
    for entry in entries:
        parts = parse_name(entry.name)
        if parts is None or not entry.is_file():
            continue
        mtime = None
        if with_mtimes:
            try:
                mtime = _iso_mtime(entry.stat().st_mtime)
            except OSError:
                continue  # acked between the listing and the stat
        item = {
            "file": entry.name,
            "from": parts["from"],
            "to": parts["to"],
            "subject": read_subject(entry.path) if with_subjects else None,
            "mtime": mtime,
        }
        keyed.append(((parts["date"], parts["time"], parts["seq"], entry.name), item))  # as _sort_key
    keyed.sort(key=lambda pair: pair[0])
    return [item for _key, item in keyed]


def _sort_key(name: str) -> Any:
    parts = parse_name(name)
    assert parts is not None
    return (parts["date"], parts["time"], parts["seq"], name)


def pending_count(mailbox: str) -> int:
    try:
        return sum(1 for e in os.scandir(mailbox) if parse_name(e.name) is not None and e.is_file())
    except FileNotFoundError:
        return 0


def processed_count(mailbox: str) -> int:
    try:
        return sum(1 for e in os.scandir(os.path.join(mailbox, "processed")) if e.name.endswith(".md"))
    except FileNotFoundError:
        return 0


def _quote(value: str) -> str:
    return frontmatter.quote(value)  # the subset's escapes: YAML and every reader read the same text


def render(
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    stamp: _dt.datetime,
    extra: Optional[Dict[str, str]] = None,
) -> str:
    if "\n" in subject or "\r" in subject:
        raise MailError("the subject must be one line")
    if not subject.strip():
        raise MailError("the subject must not be empty")
    lines = [
        "---",
        f"subject: {_quote(subject)}",
        f"from: {sender}",
        f"to: {recipient}",
        f"ts: {stamp.strftime('%Y-%m-%dT%H:%M:%SZ')}",
    ]
    for key, value in (extra or {}).items():
        lines.append(f"{key}: {_quote(value)}")
    lines.append("---")
    text = "\n".join(lines) + "\n"
    if body:
        text += body if body.endswith("\n") else body + "\n"
    return text


def send(
    mailbox: str,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    extra: Optional[Dict[str, str]] = None,
    now: Optional[_dt.datetime] = None,
    drop: bool = False,
) -> str:
    """Write a message atomically under a name no other message has; never overwrites. `drop`: the
    folder is a sandboxed lane's drop folder (no processed/ there; sweep() delivers it)."""
    import datetime as _dt

    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    format_name(stamp, sender, recipient)  # validates the lane names
    text = render(sender, recipient, subject, body, stamp, extra)
    if drop:
        if not os.path.isdir(mailbox):
            raise MailError(f"the sandbox's mail drop folder {mailbox} is missing")
    else:
        os.makedirs(os.path.join(mailbox, "processed"), exist_ok=True)
    import tempfile  # only a sender gets here

    fd, tmp = tempfile.mkstemp(prefix=".mail-", suffix=".tmp", dir=mailbox)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        seq = 1
        while True:
            name = format_name(stamp, sender, recipient, seq)
            # A name already acked into processed/ is taken too: names stay unique for good.
            if not os.path.exists(os.path.join(mailbox, "processed", name)):
                try:
                    os.link(tmp, os.path.join(mailbox, name))  # atomic, and fails if the name exists
                    break
                except FileExistsError:
                    pass
            seq += 1
    finally:
        os.unlink(tmp)
    fsync_dir(mailbox)
    return os.path.join(mailbox, name)


def drop_root(mailbox: str) -> str:
    """The folder of the sandboxed lanes' drop folders: <mailbox>/../mail-drop."""
    return os.path.join(os.path.dirname(os.path.abspath(mailbox)), DROP_DIR)


def drops_waiting(mailbox: str) -> bool:
    """Whether any lane's drop folder holds a file for sweep() (a cheap look: no file is opened)."""
    root = drop_root(mailbox)
    try:
        lanes = [e for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return False
    for entry in lanes:
        try:
            if any(not n.startswith(".") for n in os.listdir(entry.path)):
                return True
        except OSError:
            continue
    return False


def _read_drop(path: str) -> Tuple[Optional[str], str]:
    """(the text of a dropped file, "") or (None, why it is refused). Never follows a link, never
    blocks on a FIFO, never reads more than DROP_MAX_BYTES + 1."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, f"cannot open it ({exc.strerror}; a symlink?)"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        if st.st_size > DROP_MAX_BYTES:
            return None, f"larger than {DROP_MAX_BYTES} bytes"
        chunks = []
        left = DROP_MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        raw = b"".join(chunks)
    finally:
        os.close(fd)
    if len(raw) > DROP_MAX_BYTES:
        return None, f"larger than {DROP_MAX_BYTES} bytes"
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8"


def _deliver(mailbox: str, lane: str, claim: str) -> str:
    """Write the claimed drop file into the mailbox as a message from `lane`; MailError says why not."""
    text, why = _read_drop(claim)
    if text is None:
        raise MailError(why)
    try:
        head, body = frontmatter.parse(text)
    except frontmatter.FrontmatterError as exc:
        raise MailError(f"bad frontmatter: {exc}") from None
    subject, recipient = head.get("subject"), head.get("to")
    if not isinstance(subject, str) or not subject.strip():
        raise MailError("no subject")
    if not isinstance(recipient, str) or not LANE_RE.match(recipient):
        raise MailError("no valid `to:` lane")
    extra = {
        k: v for k, v in head.items() if k not in HEAD_KEYS and isinstance(v, str) and EXTRA_KEY_RE.match(k)
    }
    return send(mailbox, lane, recipient, subject, body, extra)  # `from:` is the folder's lane, always


def _quarantine(root: str, claim: str, why: str) -> str:
    qdir = os.path.join(root, ".quarantine")
    os.makedirs(qdir, exist_ok=True)
    dest = os.path.join(qdir, os.path.basename(claim))
    os.rename(claim, dest)  # claim names are unique: nothing is replaced
    with open(dest + ".why", "w", encoding="utf-8") as fh:
        fh.write(why + "\n")
    fsync_dir(qdir)
    return dest


def sweep(mailbox: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Deliver every file the sandboxed lanes dropped (see the module docstring): returns (the new
    message paths, [(quarantined path, why)]). Safe to run from several processes at once."""
    root = drop_root(mailbox)
    delivered: List[str] = []
    refused: List[Tuple[str, str]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return delivered, refused
    claims_dir = os.path.join(root, ".claimed")
    claims: List[Tuple[str, str]] = []
    for entry in entries:
        if (
            entry.name.startswith(".")
            or not LANE_RE.match(entry.name)
            or not entry.is_dir(follow_symlinks=False)
        ):
            continue
        try:
            names = sorted(n for n in os.listdir(entry.path) if not n.startswith("."))
        except OSError:
            continue
        for name in names:
            os.makedirs(claims_dir, exist_ok=True)
            claim = os.path.join(claims_dir, f"{entry.name}--{time.time_ns()}-{os.getpid()}--{name[:120]}")
            try:
                os.rename(os.path.join(entry.path, name), claim)  # atomic: one sweeper wins the file
            except FileNotFoundError:
                continue  # another sweeper claimed it first
            claims.append((entry.name, claim))
    try:  # claims a sweeper that died left behind
        now = time.time()
        for name in sorted(os.listdir(claims_dir)):
            path = os.path.join(claims_dir, name)
            if (name.split("--", 1)[0], path) in claims or now - os.lstat(path).st_ctime < CLAIM_STALE_S:
                continue
            claims.append((name.split("--", 1)[0], path))
    except OSError:
        pass
    for lane, claim in claims:
        try:
            delivered.append(_deliver(mailbox, lane, claim))
        except MailError as exc:
            refused.append((_quarantine(root, claim, str(exc)), str(exc)))
            continue
        except OSError:
            continue  # the mailbox cannot be written now: the claim stays, delivered by a later sweep
        os.unlink(claim)
    if delivered or refused:
        fsync_dir(claims_dir)
    return delivered, refused


def _sweep_reporting(mailbox: str) -> List[str]:
    """sweep() for the CLI verbs: a quarantined file is one warning line on stderr."""
    if os.environ.get(DROP_ENV):
        return []  # inside a sandbox: the mailbox is read-only here; the host sweeps
    delivered, refused = sweep(mailbox)
    for path, why in refused:
        sys.stderr.write(f"loop-mail: warning: quarantined a dropped message {path}: {why}\n")
    return delivered


def ack(mailbox: str, file: str) -> str:
    """Move one pending message into processed/ (atomic rename, same filesystem)."""
    name = os.path.basename(file)
    if parse_name(name) is None:
        raise MailError(f"{name}: not a mailbox message name (YYYYMMDD-HHMMSS-<from>-to-<to>.md)")
    src_dir = os.path.dirname(file) if os.sep in file else mailbox
    if os.path.realpath(src_dir) != os.path.realpath(mailbox):
        raise MailError(f"{file}: not in the mailbox {mailbox}")
    src = os.path.join(mailbox, name)
    processed = os.path.join(mailbox, "processed")
    dst = os.path.join(processed, name)
    if not os.path.isfile(src):
        if os.path.exists(dst):
            raise MailError(f"{name}: already acked")
        raise MailError(f"{name}: no such pending message")
    os.makedirs(processed, exist_ok=True)
    try:
        os.link(src, dst)  # no-clobber: a processed message is never replaced
    except FileExistsError:
        raise MailError(f"{name}: a processed message with this name exists; left pending") from None
    os.unlink(src)
    fsync_dir(processed)
    fsync_dir(mailbox)
    return dst


def _read_body(args: argparse.Namespace) -> str:
    if args.body is not None:
        return str(args.body)
    if args.body_file is not None:
        try:
            with open(args.body_file, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise MailError(f"cannot read --body-file {args.body_file}: {exc}") from None
    if args.body_stdin:
        return sys.stdin.read()
    return ""


def main(argv: List[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="mail.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", default=".loop/messages", help="the mailbox directory")
    sub = parser.add_subparsers(dest="verb", required=True)
    p_send = sub.add_parser("send")
    p_send.add_argument("--from", dest="sender", required=True)
    p_send.add_argument("--to", dest="recipient", required=True)
    p_send.add_argument("--subject", required=True)
    group = p_send.add_mutually_exclusive_group()
    group.add_argument("--body")
    group.add_argument("--body-file")
    group.add_argument("--body-stdin", action="store_true")
    p_ack = sub.add_parser("ack")
    p_ack.add_argument("file")
    p_list = sub.add_parser("list")
    p_list.add_argument("--json", action="store_true")
    sub.add_parser("count")
    sub.add_parser("pending")
    sub.add_parser("sweep")
    args = parser.parse_args(argv)
    mailbox = args.dir
    try:
        if args.verb == "send":
            drop = os.environ.get(DROP_ENV, "")
            # a sandboxed lane: its drop folder is the one place it can write mail (sweep delivers it)
            target = drop or mailbox
            print(send(target, args.sender, args.recipient, args.subject, _read_body(args), drop=bool(drop)))
        elif args.verb == "sweep":
            for path in _sweep_reporting(mailbox):
                print(path)
            return 0
        elif args.verb in ("ack", "list", "count", "pending"):
            _sweep_reporting(mailbox)
            return _read_verb(args, mailbox)
    except MailError as exc:
        sys.stderr.write(f"loop-mail: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"loop-mail: {exc.filename or mailbox}: {exc.strerror}\n")
        return 1
    return 0


def _read_verb(args: argparse.Namespace, mailbox: str) -> int:
    try:
        if args.verb == "ack":
            print(ack(mailbox, args.file))
        elif args.verb == "list":
            items = pending(mailbox)
            if args.json:
                doc = {
                    "contract_version": CONTRACT_VERSION,
                    "mailbox_dir": os.path.abspath(mailbox),
                    "pending": items,
                    "processed_count": processed_count(mailbox),
                }
                json.dump(doc, sys.stdout, ensure_ascii=False)
                sys.stdout.write("\n")
            else:
                for m in items:
                    print(f"{m['file']}\t{m['subject'] or '(no subject)'}")
        elif args.verb == "count":
            print(pending_count(mailbox))
        elif args.verb == "pending":
            for m in pending(mailbox):
                print(f"- {m['file']}: {m['subject'] or '(no subject)'}")
    except MailError as exc:
        sys.stderr.write(f"loop-mail: {exc}\n")
        return 1
    except BrokenPipeError:
        # the reader of a long listing went away (`loop-mail list | head`): not a mailbox error.
        # fd 1 goes to /dev/null so the interpreter's final flush is quiet too.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except OSError:
            pass
        return 0
    except OSError as exc:
        sys.stderr.write(f"loop-mail: {exc.filename or mailbox}: {exc.strerror}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
