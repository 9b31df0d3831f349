"""One mail cache for the digest and the engine: .loop/cache/mail-index.json, written by both.

- What one reader stored, the other reads without opening a message again (one format, one reader).
- Digests (the stdlib python3 running shell/lib) and engine observations (loop_engine.observe through
  loop_schemas._shared.mail_index) rebuilding it at once, while mail arrives, never leave a torn or
  invalid file, and each still answers what the mailbox holds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from loop_engine.observe import pending_mail
from loop_schemas import MailIndexFile
from loop_schemas._shared import mail_index as engine_index

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "shell" / "lib"
OLD = 1_700_000_000  # well outside the racy window


def _shell(name: str) -> ModuleType:
    """A shell/lib helper as the shell runs it (a top-level module, its siblings importable)."""
    if str(LIB) not in sys.path:
        sys.path.insert(0, str(LIB))
    spec = importlib.util.spec_from_file_location(name, LIB / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


digest = _shell("digest")
shell_index = sys.modules["mail_index"]


def _mail(box: Path, n: int, mtime: int = OLD) -> Path:
    path = box / f"202601{1 + n % 28:02d}-{n % 24:02d}0000-web{n % 3}-to-coord.{n + 2}.md"
    path.write_text(f'---\nsubject: "report {n}"\ntask: T{n:04d}\n---\nbody\n', encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    box = root / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    (root / ".loop" / "orchestrator-state.json").write_text('{"schema_version": 2, "loops": {}}')
    for n in range(40):
        _mail(box, n)
    os.utime(box / "processed", (OLD, OLD))
    return root


def _cache(root: Path) -> Path:
    return root / ".loop" / "cache" / "mail-index.json"


def _digest_pending(root: Path) -> list[dict[str, object]]:
    opts = digest.parse_args(["--json", "--project-root", str(root)])
    return json.loads(digest.json_text(digest.collect(opts)))["mailbox"]["pending"]  # type: ignore[no-any-return]


def _no_head_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise AssertionError("a message the other reader cached was read again")

    monkeypatch.setattr(shell_index, "read_head", boom)
    monkeypatch.setattr(engine_index, "read_head", boom)


def test_what_the_engine_stored_the_digest_reads_and_back(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = project / ".loop" / "messages"
    engine_items = pending_mail(box, _cache(project))  # the engine fills the cache
    with monkeypatch.context() as m:
        _no_head_reads(m)
        rows = _digest_pending(project)
    assert [(r["file"], r["from"], r["subject"]) for r in rows] == [
        (i.name, i.sender, i.subject) for i in engine_items
    ]
    _cache(project).unlink()
    _digest_pending(project)  # now the digest fills it
    with monkeypatch.context() as m:
        _no_head_reads(m)
        again = pending_mail(box, _cache(project))
    assert [(i.name, i.subject, i.task) for i in again] == [(i.name, i.subject, i.task) for i in engine_items]
    assert again[0].task == "T0000"


DIGESTS = (
    "import sys; sys.path.insert(0, sys.argv[1]); import digest\n"
    "for _ in range(8):\n"
    "    digest.collect(digest.parse_args(['--json', '--project-root', sys.argv[2]]))\n"
)
ENGINES = (
    "import sys; from pathlib import Path; from loop_engine.observe import pending_mail\n"
    "root = Path(sys.argv[1])\n"
    "for _ in range(8):\n"
    "    pending_mail(root / '.loop' / 'messages', root / '.loop' / 'cache' / 'mail-index.json')\n"
)


def test_digests_and_engines_writing_at_once_never_tear_it(project: Path) -> None:
    box = project / ".loop" / "messages"
    procs = [subprocess.Popen(["python3", "-S", "-c", DIGESTS, str(LIB), str(project)]) for _ in range(3)] + [
        subprocess.Popen([sys.executable, "-c", ENGINES, str(project)]) for _ in range(3)
    ]
    seen = 0
    n = 100
    while any(p.poll() is None for p in procs):
        _mail(box, n)
        n += 1
        if _cache(project).exists():
            MailIndexFile.model_validate_json(_cache(project).read_text())  # whole and of the model
            seen += 1
        time.sleep(0.01)
    assert [p.wait(timeout=120) for p in procs] == [0] * 6
    assert seen > 0
    doc = MailIndexFile.model_validate_json(_cache(project).read_text())
    assert not [p for p in _cache(project).parent.iterdir() if p != _cache(project)]  # no temp left
    # whichever wrote last, both readers answer what the mailbox holds
    names = sorted(p.name for p in box.glob("*.md"))
    assert set(doc.pending) <= set(names)
    assert sorted(i.name for i in pending_mail(box, _cache(project))) == names
    rows = _digest_pending(project)
    assert sorted(str(r["file"]) for r in rows) == names
    assert all(r["subject"] == f"report {int(str(r['file']).split('.')[-2]) - 2}" for r in rows)
