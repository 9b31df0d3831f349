from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from loop_schemas.__main__ import infer_kind


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loop_schemas", *args], capture_output=True, text=True, check=False
    )


def test_corrupt_state_is_one_line_no_traceback(tmp_path: Path) -> None:
    state = tmp_path / ".loop" / "orchestrator-state.json"
    state.parent.mkdir()
    state.write_text('{"schema_version": 2, "loops": {"a": ')
    proc = run("validate", str(state))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{state}: not valid JSON")
    assert "Traceback" not in proc.stderr


def test_every_problem_gets_a_line(tmp_path: Path) -> None:
    state = tmp_path / "orchestrator-state.json"
    state.write_text(json.dumps({"schema_version": 2, "loops": {"a": {"status": "x"}, "b": {"status": "y"}}}))
    proc = run("validate", str(state))
    assert proc.returncode == 1
    assert sorted(proc.stderr.splitlines()) == sorted(
        [
            f"{state}: loops.a.status: Input should be 'spec', 'plan', 'implement', 'verify', 'canary', "
            "'shipped', 'reverted', 'blocked', 'in-progress' or 'done'",
            f"{state}: loops.b.status: Input should be 'spec', 'plan', 'implement', 'verify', 'canary', "
            "'shipped', 'reverted', 'blocked', 'in-progress' or 'done'",
        ]
    )


def test_valid_files_exit_zero(tmp_path: Path) -> None:
    state = tmp_path / "orchestrator-state.json"
    state.write_text(json.dumps({"schema_version": 2, "loops": {}}))
    assert run("validate", str(state)).returncode == 0
    mail = tmp_path / "20260415-112233-web-to-coord.md"
    mail.write_text("---\nsubject: hi\n---\nbody\n")
    proc = run("validate", str(mail), "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {
        "contract_version": 1,  # every JSON document a CLI prints carries it
        "file": str(mail),
        "kind": "mail",
        "valid": True,
        "problems": [],
    }
    bad = tmp_path / "20260415-112234-web-to-coord.md"
    bad.write_text("---\nsubject: [unclosed\n---\n")
    proc = run("validate", str(bad), "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["contract_version"] == 1 and doc["valid"] is False
    assert doc["problems"] and all(set(p) == {"field", "message"} for p in doc["problems"])


def test_kind_override_and_unknown_kind(tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("```decision\nversion: 1\ncritique: ok\nactions: []\n```\n")
    assert run("validate", str(odd)).returncode == 1
    assert run("validate", str(odd), "--kind", "decision").returncode == 0
    assert run("validate", str(odd), "--kind", "nope").returncode == 2


def test_binary_and_missing_files(tmp_path: Path) -> None:
    blob = tmp_path / "orchestrator-state.json"
    blob.write_bytes(b"\xff\xfe\x00garbage")
    proc = run("validate", str(blob))
    assert proc.returncode == 1 and "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("validate", str(tmp_path / "absent.json"))
    assert proc.returncode == 1 and "unreadable" in proc.stderr


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("proj/.loop/orchestrator-state.json", "state"),
        ("proj/.loop/messages/20260415-112233-web-to-coord.md", "mail"),
        ("proj/tasks/T0001-x.md", "task"),
        ("proj/tasks/archive/T0001-x.md", "task"),
        ("proj/docs/adr/0001-x.md", "adr"),
        ("proj/lane-config.yaml", "lane-config"),
        ("proj/.loop/sessions/s/engine/pending-decision.json", "decision"),
        ("proj/README.md", None),
        # the engine's archive was once validated as a state file (every valid one failed)
        ("proj/.loop/sessions/s/engine/decisions/d-20261126T0101-ab.json", "decision"),
        ("proj/.loop/sessions/s/engine/lanes-seen.json", None),
        ("proj/tasks/README.md", None),  # not a task: exempt from the task rules
        ("proj/.loop/sessions/s/engine/events.jsonl", "events"),
        ("proj/.loop/sessions/s/lane-restarts.jsonl", "restarts"),
    ],
)
def test_infer_kind(path: str, kind: str | None) -> None:
    assert infer_kind(Path(path)) == kind


def test_export_writes_every_schema(tmp_path: Path) -> None:
    proc = run("export", str(tmp_path / "out"))
    assert proc.returncode == 0
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"orchestrator-state.schema.json", "decision.schema.json", "digest.schema.json"} <= names


def test_archived_decision_and_json_lines_logs(tmp_path: Path) -> None:
    engine = tmp_path / ".loop" / "sessions" / "s" / "engine"
    (engine / "decisions").mkdir(parents=True)
    archived = {
        "contract_version": 1,
        "id": "d-1",
        "session": "s",
        "created_at": "2026-11-26T01:00:00Z",
        "approval_mode": "manual",
        "decision": {"version": 1, "critique": "ok", "actions": [{"kind": "stop", "rationale": "done"}]},
        "gates": [{"gate_class": "safe", "reasons": [], "state": "done"}],
        "resolution": "approved",
    }
    (engine / "decisions" / "d-1.json").write_text(json.dumps(archived))
    proc = run("validate", str(engine / "decisions" / "d-1.json"))
    assert proc.returncode == 0 and "valid decision" in proc.stdout, proc.stderr
    event = {"contract_version": 1, "id": "e-1", "timestamp": "t", "session": "s", "event": "cycle-start"}
    events = engine / "events.jsonl"
    events.write_text(json.dumps(event) + "\n\n" + json.dumps(event) + "\n")
    assert run("validate", str(events)).returncode == 0
    events.write_text(json.dumps(event) + "\nnot json\n" + json.dumps({"id": "e-2"}) + "\n")
    proc = run("validate", str(events))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines][:2] == ["line 2", "line 3"], lines
    restarts = tmp_path / ".loop" / "sessions" / "s" / "lane-restarts.jsonl"
    restart = {"timestamp": "t", "session": "s", "lane": "web", "target": "%1", "cmd": "pi"}
    lifecycle = {"timestamp": "t", "session": "s", "event": "giving-up", "detail": "x"}
    restarts.write_text(json.dumps(restart) + "\n" + json.dumps(lifecycle) + "\n")
    assert run("validate", str(restarts)).returncode == 0
    restarts.write_text(json.dumps({k: v for k, v in restart.items() if k != "cmd"}) + "\n")
    proc = run("validate", str(restarts), "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["kind"] == "restarts" and doc["problems"][0]["field"] == "line 1"


def test_a_deeply_nested_document_is_said_in_words(tmp_path: Path) -> None:
    """Issue 15 item 11: no raw exception name (RecursionError) reaches the user, and no traceback."""
    deep = tmp_path / "events.jsonl"
    deep.write_text('{"x": ' + "[" * 100000 + "]" * 100000 + "}\n")
    proc = run("validate", str(deep), "--kind", "events")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"{deep}: line 1: too deeply nested to read"


def test_describe_error_words() -> None:
    from loop_schemas import describe_error

    assert describe_error(RecursionError("maximum recursion depth exceeded")) == "too deeply nested to read"
    assert describe_error(MemoryError()) == "too large to read"
    assert describe_error(MemoryError(), "big.json") == "big.json: too large to read"
    bad = UnicodeDecodeError("utf-8", b"ab\xff", 2, 3, "invalid start byte")
    assert (
        describe_error(bad, "ops-wiki/checkpoint.md") == "ops-wiki/checkpoint.md is not UTF-8 text (byte 2)"
    )
    assert describe_error(FileNotFoundError(2, "No such file or directory", "x.md")) == (
        "x.md: No such file or directory"
    )
    assert describe_error(KeyError("fields")) == "missing key 'fields'"
    assert describe_error(ValueError("bad value\nsecond line")) == "bad value"
    assert describe_error(RuntimeError()) == "an unexpected error with no message"
