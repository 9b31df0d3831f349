"""The checkpoint's pending-mail summary opens only the messages it lists; the mailbox listing keeps its
order (time, then sequence, then name) while parsing each name once."""

from __future__ import annotations

from pathlib import Path

import checkpoint
import mail
import pytest


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
