"""Mailbox messages: `YYYYMMDD-HHMMSS-<from>-to-<to>.md` (+ `.N` for same-second collisions), frontmatter
with `subject:`; a reply to an ask carries `subject: re:<ask-id>`. The `loop-mail list --json` surface."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loop_schemas._frontmatter import parse_frontmatter
from loop_schemas.errors import SchemaError, schema_error_from_validation

LANE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\Z")
MAIL_NAME_RE = re.compile(
    r"^(?P<date>\d{8})-(?P<time>\d{6})-(?P<from>[A-Za-z][A-Za-z0-9_-]*?)-to-"
    r"(?P<to>[A-Za-z][A-Za-z0-9_-]*?)(?:\.(?P<seq>[2-9]|[1-9][0-9]+))?\.md\Z"
)
REPLY_PREFIX = "re:"


MAIL_INDEX_VERSION = 3
"""The version of .loop/cache/mail-index.json (shell/lib/mail_index.VERSION; a test holds them equal)."""


class MailIndexProcessed(BaseModel):
    """The processed/ folder's message count, with the folder's inode and mtime_ns it was counted at."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    ino: int = Field(ge=0)
    mtime_ns: int = Field(ge=0)
    count: int = Field(ge=0)


class MailIndexFile(BaseModel):
    """.loop/cache/mail-index.json: the mailbox's read cache, shared by loop-digest and the engine.

    `pending` maps each pending message's file name to `[size, mtime_ns, inode, subject, task, mtime]`:
    the key (the file's size, mtime in nanoseconds and inode when its head was read), then what its head
    says (`subject`, `task`; null when none) and its mtime as UTC `YYYY-MM-DDTHH:MM:SSZ`. Sender,
    recipient and stamp are never cached: they come from the name. `mailbox` is the real path of the
    mailbox it describes. The one reader and writer is shell/lib/mail_index.py (stdlib; the engine runs
    its copy loop_schemas._shared.mail_index); a file that is not this model reads as empty and is
    rebuilt, an entry that is not one is read again from its message.
    """

    model_config = ConfigDict(defer_build=True, extra="allow")

    version: Literal[3]
    mailbox: str
    pending: dict[str, tuple[int, int, int, str | None, str | None, str]]
    processed: MailIndexProcessed | None = None


class MailName(BaseModel):
    """A parsed message file name. The name splits at the first `-to-`, so a sender holds no `-to-`."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    timestamp: _dt.datetime
    sender: str
    recipient: str
    seq: int = Field(default=1, ge=1)

    @property
    def file_name(self) -> str:
        return format_mail_name(self.sender, self.recipient, self.timestamp, self.seq)


def parse_mail_name(name: str) -> MailName:
    """Parse a message file name (a bare name; a path's last component is used). SchemaError otherwise."""
    base = name.rsplit("/", 1)[-1]
    match = MAIL_NAME_RE.match(base)
    if match is None:
        raise SchemaError(f"{base!r} is not a message name (YYYYMMDD-HHMMSS-<from>-to-<to>.md)")
    try:
        stamp = _dt.datetime.strptime(match.group("date") + match.group("time"), "%Y%m%d%H%M%S")
    except ValueError:
        raise SchemaError(f"{base!r}: the date/time part is not a real time") from None
    seq = int(match.group("seq")) if match.group("seq") else 1
    return MailName(timestamp=stamp, sender=match.group("from"), recipient=match.group("to"), seq=seq)


def is_mail_name(name: str) -> bool:
    try:
        parse_mail_name(name)
    except SchemaError:
        return False
    return True


def format_mail_name(sender: str, recipient: str, when: _dt.datetime, seq: int = 1) -> str:
    """The file name for a message sent at `when` (local wall time as written, seconds precision)."""
    for lane in (sender, recipient):
        if not LANE_NAME_RE.match(lane):
            raise SchemaError(
                f"invalid lane name {lane!r}: letters, digits, '_' and '-', starting with a letter"
            )
    if "-to-" in sender + "-":  # the name splits at its first '-to-': `a-to` + `-to-b` would read `a`
        raise SchemaError(f"invalid sender {sender!r}: a sender name cannot contain '-to-' or end in '-to'")
    if seq < 1:
        raise SchemaError("seq must be >= 1")
    suffix = "" if seq == 1 else f".{seq}"
    stamp = f"{when.year:04d}{when.month:02d}{when.day:02d}-{when.hour:02d}{when.minute:02d}{when.second:02d}"
    return f"{stamp}-{sender}-to-{recipient}{suffix}.md"


class MailFrontmatter(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    subject: str | None = None
    task: str | None = None

    @property
    def reply_to(self) -> str | None:
        """The ask id this message answers (`subject: re:<ask-id>`), or None."""
        if self.subject and self.subject.lower().startswith(REPLY_PREFIX):
            ask = self.subject[len(REPLY_PREFIX) :].strip().split()[0] if self.subject[3:].strip() else ""
            return ask or None
        return None


class MailMessage(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    frontmatter: MailFrontmatter
    body: str
    name: MailName | None = None


def parse_mail(text: str, name: str | None = None) -> MailMessage:
    """A message's text (and optionally its file name). Frontmatter may be absent; malformed is an error."""
    # `subject: yes` is the text "yes", not True (loop-mail and loop-digest read it so too)
    data, body = parse_frontmatter(text, required=False, keep_text=True)
    # a list or mapping is no subject (as loop-digest and loop-mail report it: null), never a Python repr
    for key in ("subject", "task"):
        if isinstance(data.get(key), (list, dict)):
            data[key] = None
        elif key in data and data[key] is not None and not isinstance(data[key], str):
            data[key] = str(data[key])
    try:
        fm = MailFrontmatter.model_validate(data)
    except ValidationError as exc:
        raise schema_error_from_validation(exc, "mail") from None
    return MailMessage(frontmatter=fm, body=body, name=parse_mail_name(name) if name else None)


class MailItem(BaseModel):
    """One pending message as listed by `loop-mail list --json` and `loop-digest --json`."""

    model_config = ConfigDict(defer_build=True, extra="allow", populate_by_name=True, serialize_by_alias=True)

    file: str
    sender: str = Field(alias="from")
    recipient: str = Field(alias="to")
    subject: str | None
    mtime: str


class MailList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    mailbox_dir: str
    pending: list[MailItem]
    processed_count: int = Field(ge=0)
