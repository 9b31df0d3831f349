"""The mailbox's documents: the mail cache (.loop/cache/mail-index.json), a message's front matter and
body, and the `loop-mail list --json` surface. Exported by loop_schemas.mail too; their own module so that
a cycle, which reads message names and the cache through loop_schemas._shared.mail_index, builds none of
these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loop_schemas._frontmatter import parse_frontmatter
from loop_schemas.errors import schema_error_from_validation
from loop_schemas.mail import REPLY_PREFIX, MailName, parse_mail_name


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
