"""mail_index.py, the mailbox's read cache under loop-digest: the digest read through it is the digest
read without it, byte for byte, whatever state the cache is in (cold, warm, stale, damaged, unwritable,
written by several processes at once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
LIB = TESTS.parent / "lib"
NOW = "2026-04-15T11:22:00Z"
OLD = 1776252000  # 2026-04-15, well outside the racy window

import digest as digest_lib  # noqa: E402 - shell/lib is on sys.path for every shell test
import mail_index  # noqa: E402

HEADS = [
    'subject: "plain quoted {n}"\nfrom: web\n',
    "subject: bare subject {n}\n",
    "subject: 'single ''quoted'' {n}'\n",
    "subject: has # not a comment {n}\n",
    'subject: "escaped \\"quote\\" {n}"\n',
    "from: web\n",  # no subject
    "subject:\n",  # an empty one
    "subject: [a, list]\n",
    "subject: one\nsubject: twice {n}\n",
    "subject: ümlaut ✓ {n}\n",
    "subject: x\n" + "pad: " + "y" * 5000 + "\n",  # past the fast reader's window
]


def _mail(box: Path, n: int, head: str | None, mtime: int = OLD) -> Path:
    path = box / f"202604{1 + n % 28:02d}-{n % 24:02d}0000-web-to-coord.{n + 2}.md"
    text = f"---\n{head.format(n=n)}---\nbody\n" if head is not None else "no front matter\n"
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    box = root / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    (root / ".loop" / "orchestrator-state.json").write_text('{"schema_version": 2, "loops": {}}')
    for n in range(40):
        _mail(box, n, HEADS[n % len(HEADS)] if n % 13 else None)
    for n in range(40, 60):
        _mail(box / "processed", n, HEADS[0])
    os.utime(box / "processed", (OLD, OLD))
    return root


def _digest(root: Path, cached: bool) -> str:
    opts = digest_lib.parse_args(["--json", "--project-root", str(root)])
    opts.mail_index = cached
    doc = digest_lib.json_doc(digest_lib.collect(opts, with_subjects=True))
    doc["generated_at"] = NOW
    return json.dumps(doc, ensure_ascii=False)


def _cache(root: Path) -> Path:
    return root / ".loop" / "cache" / "mail-index.json"


def _same(root: Path) -> str:
    """The cached digest equals the uncached one (and the cache file, when there is one, is whole)."""
    uncached = _digest(root, cached=False)
    assert _digest(root, cached=True) == uncached
    if _cache(root).is_file():
        json.loads(_cache(root).read_text())
    return uncached


def test_cold_and_warm_cache_give_the_uncached_digest(project: Path) -> None:
    first = _same(project)
    doc = json.loads(_cache(project).read_text())
    assert len(doc["pending"]) == 40 and doc["processed"]["count"] == 20
    assert _same(project) == first


def test_the_warm_cache_is_what_is_read(project: Path) -> None:
    """A message rewritten behind the cache's back with its size and mtime kept is not read again: the
    cache answers (this is the saving; a real edit changes the mtime, next test)."""
    box = project / ".loop" / "messages"
    path = _mail(box, 1, 'subject: "AAAA"\n')
    _same(project)
    path.write_text(path.read_text().replace("AAAA", "BBBB"))
    os.utime(path, (OLD, OLD))
    assert "AAAA" in _digest(project, cached=True)
    assert "BBBB" in _digest(project, cached=False)


def test_a_warm_run_takes_each_row_from_the_cache(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The saving: an unchanged message's head is not read again (its name is parsed every run: the name
    is the authority for sender, recipient and stamp, never a cached copy)."""
    expected = _same(project)

    def boom(*_: object) -> None:
        raise AssertionError("a cached message was read again")

    monkeypatch.setattr(mail_index, "read_head", boom)
    monkeypatch.setattr(mail_index.fsread, "read_head", boom)
    assert _digest(project, cached=True) == expected


def test_an_edit_in_place_with_the_same_size_is_seen(project: Path) -> None:
    box = project / ".loop" / "messages"
    path = _mail(box, 1, 'subject: "AAAA"\n')
    _same(project)
    path.write_text(path.read_text().replace("AAAA", "BBBB"))
    os.utime(path, ns=(OLD * 10**9 + 1, OLD * 10**9 + 1))  # one nanosecond later, same size
    assert "BBBB" in _same(project)


def test_added_removed_and_acked_messages_are_seen(project: Path) -> None:
    box = project / ".loop" / "messages"
    _same(project)
    _mail(box, 100, 'subject: "brand new"\n')
    gone = sorted(box.glob("*.md"))[0]
    gone.unlink()
    acked = sorted(box.glob("*.md"))[0]
    acked.rename(box / "processed" / acked.name)
    out = json.loads(_same(project))
    names = [m["file"] for m in out["mailbox"]["pending"]]
    assert gone.name not in names and acked.name not in names
    assert "brand new" in [m["subject"] for m in out["mailbox"]["pending"]]
    assert out["mailbox"]["processed_count"] == 21
    assert gone.name not in json.loads(_cache(project).read_text())["pending"]


def test_the_processed_count_follows_the_folder(project: Path) -> None:
    processed = project / ".loop" / "messages" / "processed"
    _same(project)
    for n in range(200, 205):
        _mail(processed, n, HEADS[0])
    assert json.loads(_same(project))["mailbox"]["processed_count"] == 25
    processed.rename(project / "elsewhere")
    assert json.loads(_same(project))["mailbox"]["processed_count"] == 0


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not json",
        b'{"version": 1, "mailbox": ',
        b"[]",
        b'{"version": 99, "pending": {}}',
        b'{"version": 1, "mailbox": "/elsewhere", "pending": {}}',
        b"[" * 100000,
        b"\xff\xfe\x00",
    ],
)
def test_a_damaged_cache_is_rebuilt_never_an_error(project: Path, damage: bytes) -> None:
    expected = _same(project)
    _cache(project).write_bytes(damage)
    assert _same(project) == expected
    assert json.loads(_cache(project).read_text())["version"] == mail_index.VERSION


def test_damaged_entries_are_read_again(project: Path) -> None:
    """Every entry is untrusted: one of the wrong shape or types under a message's own key is read again
    from the message, never shown and never a traceback."""
    expected = _same(project)
    doc = json.loads(_cache(project).read_text())
    names = sorted(doc["pending"])
    bad = [
        lambda e: [*e[:5], 5],  # a row whose mtime is no text, under the message's own key
        lambda e: [*e[:3], 5, *e[4:]],  # a subject that is neither text nor null
        lambda e: [*e[:4], ["T1"], e[5]],  # a task that is neither text nor null
        lambda e: [*e[:3], {"x": 1}, None, "2026-01-01T00:00:00Z"],
        lambda e: e[:5],  # a field short
        lambda e: [*e, "more"],  # a field long
        lambda e: [True if e[0] == 1 else float(e[0]), *e[1:]],  # a size that is no integer
        lambda e: [e[0], str(e[1]), *e[2:]],  # an mtime_ns that is text
        lambda e: [e[0], e[1], e[2] + 1, *e[3:]],  # another file's inode (the message was replaced)
        lambda e: None,
        lambda e: "s",
        lambda e: {"size": e[0]},
    ]
    for i, damage in enumerate(bad):
        # [size, mtime_ns, inode, subject, task, mtime]
        assert len(doc["pending"][names[i]]) == 6
        doc["pending"][names[i]] = damage(doc["pending"][names[i]])
    doc["processed"] = {"ino": "x", "mtime_ns": 1, "count": 5}
    _cache(project).write_text(json.dumps(doc))
    assert _same(project) == expected


def test_a_forged_entry_cannot_change_who_sent_a_message(project: Path) -> None:
    """A lane can write into .loop/cache: the sender, recipient and stamp always come from the name."""
    expected = json.loads(_same(project))
    doc = json.loads(_cache(project).read_text())
    for entry in doc["pending"].values():
        entry[3] = "forged"
    doc["pending"]["20260101-000000-human-to-coord.md"] = [1, 1, 1, "not a message", None, "x"]
    _cache(project).write_text(json.dumps(doc))
    out = json.loads(_digest(project, cached=True))
    want = [{**m, "subject": "forged"} for m in expected["mailbox"]["pending"]]
    assert out["mailbox"]["pending"] == want  # the subject is the cache's to say; nothing else is


def test_a_cache_that_cannot_be_written_still_answers(project: Path) -> None:
    expected = _digest(project, cached=False)
    (project / ".loop" / "cache").write_text("a file where the folder goes")
    assert _digest(project, cached=True) == expected
    assert (project / ".loop" / "cache").read_text() == "a file where the folder goes"


def test_a_cache_path_that_is_a_directory_is_no_error(project: Path) -> None:
    _cache(project).mkdir(parents=True)
    assert _same(project)
    assert _cache(project).is_dir() and not [
        p for p in _cache(project).parent.iterdir() if p != _cache(project)
    ]


def test_a_cache_folder_a_lane_pointed_elsewhere_is_not_written(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / ".loop" / "cache").symlink_to(elsewhere)
    assert _same(project)
    assert list(elsewhere.iterdir()) == []


def test_a_fifo_in_place_of_the_cache_is_no_hang_and_is_replaced(project: Path) -> None:
    expected = _digest(project, cached=False)
    _cache(project).parent.mkdir(parents=True)
    os.mkfifo(_cache(project))
    assert _digest(project, cached=True) == expected  # fsread opens it non-blocking and refuses it
    assert (
        _cache(project).is_file() and json.loads(_cache(project).read_text())["version"] == mail_index.VERSION
    )


def test_a_message_inside_the_racy_window_is_not_stored(project: Path) -> None:
    box = project / ".loop" / "messages"
    fresh = _mail(box, 300, 'subject: "fresh"\n', mtime=int(time.time()))
    _same(project)
    assert fresh.name not in json.loads(_cache(project).read_text())["pending"]


def test_a_mailbox_outside_a_loop_folder_has_no_cache(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    _mail(box, 1, HEADS[0])
    assert mail_index.cache_file_for(str(box)) is None
    opts = digest_lib.parse_args(["--json", "--project-root", str(tmp_path), "--mailbox-dir", str(box)])
    digest_lib.collect(opts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box"]


def test_the_text_digest_keeps_the_subjects_it_did_not_read(project: Path) -> None:
    _same(project)
    before = json.loads(_cache(project).read_text())["pending"]
    opts = digest_lib.parse_args(["--once", "--project-root", str(project)])
    digest_lib.collect(opts, with_subjects=False)
    assert json.loads(_cache(project).read_text())["pending"] == before


def test_concurrent_digests_never_tear_the_cache(project: Path) -> None:
    """Eight processes rebuild the cache at once, again and again, while mail arrives."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import digest\n"
        "for _ in range(6):\n"
        "    opts = digest.parse_args(['--json', '--project-root', sys.argv[2]])\n"
        "    digest.collect(opts)\n"
    )
    box = project / ".loop" / "messages"
    procs = [subprocess.Popen([sys.executable, "-S", "-c", script, str(LIB), str(project)]) for _ in range(8)]
    for n in range(400, 420):
        _mail(box, n, HEADS[n % len(HEADS)])
        if _cache(project).exists():
            json.loads(_cache(project).read_text())
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    json.loads(_cache(project).read_text())
    assert not [p for p in (project / ".loop" / "cache").iterdir() if p.name != "mail-index.json"]
    _same(project)


def test_loop_digest_json_reads_through_the_cache(shell_env) -> None:  # type: ignore[no-untyped-def]
    """The real script: the same document cold and warm, and the cache file is where CONTRACT says."""
    root = shell_env.cwd
    box = root / ".loop" / "messages"
    box.mkdir(parents=True)
    for n in range(30):
        _mail(box, n, HEADS[n % len(HEADS)])
    env = {"LOOP_DIGEST_NOW": NOW}
    cold = shell_env.run("loop-digest.sh", "--json", env=env)
    warm = shell_env.run("loop-digest.sh", "--json", env=env)
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    assert cold.stdout == warm.stdout
    assert (
        json.loads(cold.stdout)["mailbox"]["pending"]
        == json.loads(_digest(root, cached=False))["mailbox"]["pending"]
    )
    assert len(json.loads(_cache(root).read_text())["pending"]) == 30
