"""Mailbox messages: `YYYYMMDD-HHMMSS-<from>-to-<to>.md` (+ `.N` for same-second collisions), frontmatter
with `subject:`; a reply to an ask carries `subject: re:<ask-id>`. The `loop-mail list --json` surface."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
import datetime as _dt
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas._moved import moved_names
from loop_schemas.errors import SchemaError

# the mail cache's and the messages' documents are loop_schemas.mail_files' (a cycle reads names only and
# never builds their models); this module's names too, imported on first use (PEP 562)
if TYPE_CHECKING:
    from loop_schemas.mail_files import (
        MailFrontmatter,
        MailIndexFile,
        MailIndexProcessed,
        MailItem,
        MailList,
        MailMessage,
        parse_mail,
    )

LANE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\Z")
MAIL_NAME_RE = re.compile(
    r"^(?P<date>\d{8})-(?P<time>\d{6})-(?P<from>[A-Za-z][A-Za-z0-9_-]*?)-to-"
    r"(?P<to>[A-Za-z][A-Za-z0-9_-]*?)(?:\.(?P<seq>[2-9]|[1-9][0-9]+))?\.md\Z"
)
REPLY_PREFIX = "re:"


MAIL_INDEX_VERSION = 3
"""The version of .loop/cache/mail-index.json (shell/lib/mail_index.VERSION; a test holds them equal)."""


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


__all__ = [
    "LANE_NAME_RE",
    "MAIL_INDEX_VERSION",
    "MAIL_NAME_RE",
    "REPLY_PREFIX",
    "MailFrontmatter",
    "MailIndexFile",
    "MailIndexProcessed",
    "MailItem",
    "MailList",
    "MailMessage",
    "MailName",
    "format_mail_name",
    "is_mail_name",
    "parse_mail",
    "parse_mail_name",
]

__getattr__ = moved_names(__name__, "loop_schemas.mail_files", __all__)
