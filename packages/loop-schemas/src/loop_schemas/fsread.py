"""Read a project file safely: only a regular file, never blocking, never more than a cap.

Everything loop-orchestrator reads from an operated project (the state file, the pending decision and its
archive, events.jsonl, mail, tasks, ADRs, lane-config.yaml, ops-wiki pages, the engine's own files) goes
through here. A lane can put anything at those paths: a FIFO would hang a reader forever, a symlink to
/dev/zero would fill memory. So a file is opened with O_NONBLOCK and O_NOCTTY (opening a FIFO returns at
once), fstat'ed, and refused unless it is a regular file (a symlink to one is fine: users symlink
configs); a regular file over its kind's cap is refused before a byte is read.

The refusal is a ProjectFileError, an OSError (IsADirectoryError for a folder), so readers that already
turn an OSError into one line keep doing so; `.strerror` says what the file is.

One source: the code is shell/lib/fsread.py, carried byte for byte as loop_schemas._shared.fsread; this
module gives it the names the Python packages use.
"""

from __future__ import annotations

from loop_schemas._shared.fsread import (
    CONFIG_CAP,
    DOC_CAP,
    ENGINE_CAP,
    KIB,
    LINE_CAP,
    MIB,
    STATE_CAP,
    WIKI_CAP,
    ProjectDirectoryError,
    ProjectFileError,
    what_is,
)
from loop_schemas._shared.fsread import lines as project_lines
from loop_schemas._shared.fsread import open_append as open_project_append
from loop_schemas._shared.fsread import open_file as open_project_file
from loop_schemas._shared.fsread import read_file as read_project_file
from loop_schemas._shared.fsread import read_head as read_project_head
from loop_schemas._shared.fsread import read_text as read_project_text

__all__ = [
    "CONFIG_CAP",
    "DOC_CAP",
    "ENGINE_CAP",
    "KIB",
    "LINE_CAP",
    "MIB",
    "STATE_CAP",
    "WIKI_CAP",
    "ProjectDirectoryError",
    "ProjectFileError",
    "open_project_append",
    "open_project_file",
    "project_lines",
    "read_project_file",
    "read_project_head",
    "read_project_text",
    "what_is",
]
