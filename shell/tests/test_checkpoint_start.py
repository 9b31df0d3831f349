"""`loop-checkpoint --print` runs on every engine cycle: its helper reads loop-checkpoint.sh's own
`assemble` arguments without argparse and leaves argparse, hashlib, datetime and contextlib unloaded, and
the pending-mail summary takes no stat of a message it only names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import checkpoint
import mail
import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"


def _project(root: Path, messages: int = 3) -> None:
    (root / "ops-wiki").mkdir(parents=True)
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n\nstate\n")
    (root / "ops-wiki" / "index.md").write_text("# index\n")
    box = root / ".loop" / "messages"
    box.mkdir(parents=True)
    for i in range(messages):
        (box / f"20260101-0000{i:02d}-web-to-coord.md").write_text(f"---\nsubject: s{i}\n---\nb\n")


def test_assemble_loads_neither_argparse_nor_hashlib_nor_datetime(tmp_path: Path) -> None:
    _project(tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import checkpoint; "
        "rc = checkpoint.main(['--prog', 'loop-checkpoint', 'assemble', '--project-root', sys.argv[2], "
        "'--token-ceiling', '48000']); "
        "heavy = ('argparse', 'hashlib', '_hashlib', 'datetime', 'contextlib', 'shutil', 'gettext'); "
        "sys.stderr.write(repr(sorted(m for m in heavy if m in sys.modules)) + '\\n'); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, str(LIB), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "<<<BEGIN DATA pending-mail" in proc.stdout
    assert proc.stderr.splitlines()[-1] == "[]", proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--prog", "loop-checkpoint", "assemble", "--project-root", "/p", "--token-ceiling", "48000"],
        ["--prog", "x", "assemble", "--project-root", "p", "--token-ceiling", "7", "--header-file", "h",
         "--mailbox-dir", "m"],
        ["assemble"],
        ["assemble", "--out", "o", "--project-root", ""],
        ["--prog", "p", "assemble", "--project-root", "r", "--token-ceiling", "1", "--out", "f"],
    ],
)  # fmt: skip
def test_the_scripts_assemble_arguments_read_as_argparse_reads_them(argv: list[str]) -> None:
    fast = checkpoint._assemble_args(argv)
    assert fast is not None
    assert vars(fast) == vars(checkpoint._parser().parse_args(argv))
    assert fast.verb == "assemble"


@pytest.mark.parametrize(
    "argv",
    [
        ["assemble", "--project-root", "-x"],  # argparse: a value that looks like an option
        ["assemble", "--token-ceiling", "0"],
        ["assemble", "--token-ceiling", "+5"],
        ["assemble", "--token-ceiling", "\u0665"],
        ["assemble", "--project-root", "a", "--project-root", "b"],
        ["assemble", "--project-root=a"],
        ["assemble", "--proj", "a"],
        ["assemble", "--help"],
        ["assemble", "--project-root"],
        ["--prog", "p"],
        ["pending", "--quiet"],
        ["log", "--kind", "k", "--text", "t"],
        [],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert checkpoint._assemble_args(argv) is None


def test_argparse_still_answers_what_the_fast_reader_leaves(tmp_path: Path) -> None:
    """The usage errors of `assemble` are argparse's, as before (exit 2, one line naming the helper)."""
    for bad in (
        ["assemble", "--token-ceiling", "0"],
        ["assemble", "--bogus", "x"],
        ["assemble", "--project-root"],
    ):
        proc = subprocess.run(
            [sys.executable, str(LIB / "checkpoint.py"), *bad], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2 and proc.stderr.startswith("checkpoint.py"), proc.stderr
        assert "Traceback" not in proc.stderr


def test_the_summary_takes_no_stat_of_the_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pending_summary shows names and subjects only: mail.pending(with_mtimes=False) stats nothing (a
    listing of 200 pending messages took 200 stats and 200 datetime conversions per prompt)."""
    _project(tmp_path, messages=4)
    box = tmp_path / ".loop" / "messages"
    calls: list[float] = []
    real = mail._iso_mtime

    def counting(mtime: float) -> str:
        calls.append(mtime)
        return real(mtime)

    monkeypatch.setattr(mail, "_iso_mtime", counting)
    count, text = checkpoint.pending_summary(str(box), label="box")
    assert count == 4 and '"s3"' in text and calls == []
    listed = mail.pending(str(box), with_subjects=False, with_mtimes=False)
    assert [m["mtime"] for m in listed] == [None] * 4
    assert [m["file"] for m in listed] == [m["file"] for m in mail.pending(str(box))]
    assert len(calls) == 4  # the full listing (loop-mail list) still has every message's mtime
