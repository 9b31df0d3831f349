"""The checkpoint's pending-mail summary opens only the messages it lists; the mailbox listing keeps its
order (time, then sequence, then name) while parsing each name once."""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
from pathlib import Path

import checkpoint
import mail
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def _write(box: Path, name: str, subject: str) -> None:
    (box / name).write_text(f"---\nsubject: {subject}\n---\nbody\n")


def test_only_the_listed_messages_are_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = tmp_path / "messages"
    box.mkdir()
    for i in range(8):
        _write(box, f"20260101-0000{i:02d}-web-to-coord.md", f"subject {i}")
    opened: list[str] = []
    real = mail.read_subject

    def counting(path: str) -> str | None:
        opened.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(mail, "read_subject", counting)
    count, text = checkpoint.pending_summary(str(box), label="box", limit=3)
    assert count == 8
    assert opened == [f"20260101-0000{i:02d}-web-to-coord.md" for i in range(3)]
    assert '"subject 0"' in text and '"subject 2"' in text and '"subject 3"' not in text
    assert "... and 5 more" in text


def test_pending_keeps_its_order_and_parses_each_name_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tmp_path / "messages"
    box.mkdir()
    names = [
        "20260101-000002-web-to-coord.md",
        "20260101-000001-zed-to-coord.3.md",
        "20260101-000001-zed-to-coord.md",
        "20260101-000001-abe-to-coord.2.md",
        "20260101-000001-abe-to-coord.md",
        "not-a-message.md",
    ]
    for n in names:
        _write(box, n, n)
    parsed: list[str] = []
    real = mail.parse_name

    def counting(name: str) -> dict[str, object] | None:
        parsed.append(name)
        return real(name)

    monkeypatch.setattr(mail, "parse_name", counting)
    assert [m["file"] for m in mail.pending(str(box))] == [
        "20260101-000001-abe-to-coord.md",
        "20260101-000001-zed-to-coord.md",
        "20260101-000001-abe-to-coord.2.md",
        "20260101-000001-zed-to-coord.3.md",
        "20260101-000002-web-to-coord.md",
    ]
    assert sorted(parsed) == sorted(names)


@given(
    st.from_regex(r"[0-9]{4}(0[0-9]|1[0-3])[0-3][0-9]", fullmatch=True),
    st.from_regex(r"[0-2][0-9][0-6][0-9][0-6][0-9]", fullmatch=True),
)
@settings(max_examples=300, deadline=None)
def test_a_name_is_a_message_when_strptime_reads_its_stamp(date: str, time_: str) -> None:
    """parse_name checks the stamp without strptime (its first call compiles a regex table, each call
    costs microseconds the checkpoint pays per pending message) and agrees with it."""
    try:
        _dt.datetime.strptime(date + time_, "%Y%m%d%H%M%S")
        real = True
    except ValueError:
        real = False
    assert (mail.parse_name(f"{date}-{time_}-web-to-coord.md") is not None) is real


def test_the_printed_checkpoint_loads_no_strptime_typing_or_tempfile(tmp_path: Path) -> None:
    """`loop-checkpoint --print` runs on every engine cycle: its helpers (checkpoint, mail, frontmatter,
    fsread, atomic) read 200 pending names without _strptime, and load typing and tempfile nowhere."""
    box = tmp_path / ".loop" / "messages"
    box.mkdir(parents=True)
    for i in range(3):
        _write(box, f"20260101-0000{i:02d}-web-to-coord.md", f"subject {i}")
    (tmp_path / "ops-wiki").mkdir()
    (tmp_path / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n")
    lib = Path(checkpoint.__file__).resolve().parent
    code = (
        "import io, sys; sys.path.insert(0, sys.argv[1]); import checkpoint; "
        "out = sys.stdout; sys.stdout = io.TextIOWrapper(io.BytesIO()); "
        "rc = checkpoint.main(['assemble', '--project-root', sys.argv[2]]); sys.stdout = out; "
        "print(rc, sorted(m for m in ('_strptime', 'typing', 'tempfile') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, str(lib), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "0 []", proc.stderr
