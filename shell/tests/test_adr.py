"""loop-adr.sh: numbering (also under concurrent `new`s), the ledger, the accept gate, the refusal inside an
AI lane's pane (real tmux), the terminal confirmation (real tmux pane as the terminal), reject and
supersede."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parent
SHELL = TESTS.parent
ADR = SHELL / "loop-adr.sh"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(SHELL / "lib"))
adr_lib = _load("adr", SHELL / "lib" / "adr.py")
retry_until = _load("_adr_conftest", TESTS / "conftest.py").retry_until

TODAY = "2026-04-15"


def _adr(shell_env, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    full = {"LOOP_ADR_TODAY": TODAY}
    full.update(env or {})
    return shell_env.run("loop-adr.sh", *args, input=input, env=full, as_human=True)


def _adr_dir(shell_env) -> Path:
    return shell_env.cwd / "docs" / "adr"


def _set(path: Path, **keys: str) -> None:
    text = path.read_text()
    for key, value in keys.items():
        lines = text.split("\n")
        lines = [f"{key}: {value}" if line.startswith(f"{key}:") else line for line in lines]
        text = "\n".join(lines)
    path.write_text(text)


def _ready(shell_env, title: str = "Choose the job queue") -> Path:
    """A Proposed ADR whose gate passes (verify record on disk, rollback URL)."""
    proc = _adr(shell_env, "new", title)
    assert proc.returncode == 0, proc.stderr
    path = shell_env.cwd / proc.stdout.strip()
    (shell_env.cwd / "docs" / "verify").mkdir(parents=True, exist_ok=True)
    (shell_env.cwd / "docs" / "verify" / "queue.md").write_text("proved\n")
    _set(path, verify_record="docs/verify/queue.md", rollback="https://wiki.example.com/rollback-queue")
    return path


# ---- new / list / show -----------------------------------------------------------------------------


def test_new_writes_a_proposed_madr_with_the_next_number(shell_env):
    first = _adr(shell_env, "new", "Choose the job queue: Redis vs SQS")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "docs/adr/0001-choose-the-job-queue-redis-vs-sqs.md"
    path = shell_env.cwd / first.stdout.strip()
    text = path.read_text()
    assert text.startswith(
        "---\nstatus: Proposed\ndate: 2026-04-15\nverify_record:\ncanary_record:\nrollback:\n---\n"
    )
    assert "\n# Choose the job queue: Redis vs SQS\n" in text
    for section in ("## Context and Problem Statement", "## Considered Options", "## Decision Outcome"):
        assert section in text
    # numbering continues after the highest number, gaps included
    (_adr_dir(shell_env) / "0007-older.md").write_text("---\nstatus: Accepted\n---\n# Older\n")
    second = _adr(shell_env, "new", "Ünïcode & symbols!!")
    assert second.stdout.strip() == "docs/adr/0008-unicode-symbols.md"


def test_the_new_record_validates_with_loop_schemas(shell_env):
    from loop_schemas import parse_adr

    path = shell_env.cwd / _adr(shell_env, "new", "Session store").stdout.strip()
    adr = parse_adr(path.read_text(), path)
    assert adr.number == 1 and adr.title == "Session store"
    assert adr.frontmatter.status.value == "Proposed"


def test_concurrent_news_never_share_a_number(shell_env):
    def make(n: int) -> str:
        proc = _adr(shell_env, "new", f"Decision {n}")
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(make, range(16)))
    numbers = sorted(int(Path(p).name[:4]) for p in paths)
    assert numbers == list(range(1, 17))
    files = sorted(p.name for p in _adr_dir(shell_env).glob("*.md"))
    assert len(files) == 16 and len({f[:4] for f in files}) == 16
    assert not list(_adr_dir(shell_env).glob(".adr-*"))  # no temp files left


def test_list_text_and_json(shell_env):
    ready = _ready(shell_env)
    _adr(shell_env, "new", "Session store")
    text = _adr(shell_env, "list")
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].startswith("0001  Proposed    2026-04-15  Choose the job queue  [gate: ready]")
    assert lines[1].startswith(
        "0002  Proposed    2026-04-15  Session store  [gate: verify_record; rollback missing]"
    )
    doc = json.loads(_adr(shell_env, "list", "--json").stdout)
    assert doc["contract_version"] == 1
    first, second = doc["adrs"]
    assert first["id"] == 1 and first["status"] == "Proposed" and first["title"] == "Choose the job queue"
    assert first["path"] == str(ready) and first["acceptable"] is True and first["gate_problems"] == []
    assert second["acceptable"] is False and len(second["gate_problems"]) == 2


def test_list_of_an_empty_or_missing_folder(shell_env):
    proc = _adr(shell_env, "list")
    assert proc.returncode == 0 and "no ADRs" in proc.stdout
    assert json.loads(_adr(shell_env, "list", "--json").stdout)["adrs"] == []


def test_show_by_number_or_name_and_control_characters(shell_env):
    path = shell_env.cwd / _adr(shell_env, "new", "Queue").stdout.strip()
    path.write_text(path.read_text() + "\nsneaky \x1b]0;title\x07 bytes\n")
    for ident in ("1", "0001", path.name, "0001-queue"):
        proc = _adr(shell_env, "show", ident)
        assert proc.returncode == 0, (ident, proc.stderr)
        assert "# Queue" in proc.stdout
        assert "\x1b" not in proc.stdout and "sneaky ^[]0;title^G bytes" in proc.stdout
    missing = _adr(shell_env, "show", "9")
    assert missing.returncode == 1 and "no ADR 0009" in missing.stderr


def test_adr_dir_flag_and_env(shell_env, tmp_path):
    elsewhere = tmp_path / "decisions"
    proc = _adr(shell_env, "--adr-dir", str(elsewhere), "new", "Flag")
    assert proc.returncode == 0 and (elsewhere / "0001-flag.md").is_file()
    env_dir = tmp_path / "env-adrs"
    _adr(shell_env, "new", "Env", env={"LOOP_ADR_DIR": str(env_dir)})
    assert (env_dir / "0001-env.md").is_file()
    assert not _adr_dir(shell_env).exists()


# ---- accept gate -------------------------------------------------------------------------------


def test_accept_passes_the_gate_without_a_terminal(shell_env):
    path = _ready(shell_env)
    before = path.read_text()
    proc = _adr(shell_env, "accept", "1")  # stdin is not a terminal: the caller confirmed (deck)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"accepted {path.name}"
    after = path.read_text()
    assert "\nstatus: Accepted\n" in after
    # only the status (and date) lines changed; every other byte is kept
    diff = [(a, b) for a, b in zip(before.split("\n"), after.split("\n"), strict=False) if a != b]
    assert diff == [("status: Proposed", "status: Accepted")]
    again = _adr(shell_env, "accept", "1")
    assert again.returncode == 1 and "only a Proposed ADR can be accepted" in again.stderr


def test_the_deck_form_of_accept_works(shell_env):
    """loop-deck runs `loop-adr --project-root P accept N --yes` after its own typed confirmation."""
    _ready(shell_env)
    proc = shell_env.run(
        "loop-adr.sh",
        "--project-root",
        str(shell_env.cwd),
        "accept",
        "1",
        "--yes",
        cwd=Path("/"),
        as_human=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "keys,reason",
    [
        ({"verify_record": ""}, "verify_record: missing"),
        ({"rollback": ""}, "rollback: missing"),
        ({"verify_record": "docs/verify/nope.md"}, "verify_record: docs/verify/nope.md does not exist"),
        ({"rollback": "docs/rollback-missing.md"}, "rollback: docs/rollback-missing.md does not exist"),
        ({"status": "Rejected"}, "only a Proposed ADR can be accepted"),
    ],
)
def test_accept_refuses_when_the_gate_fails(shell_env, keys, reason):
    path = _ready(shell_env)
    _set(path, **keys)
    before = path.read_text()
    proc = _adr(shell_env, "accept", "1", "--yes")
    assert proc.returncode == 1
    assert reason in proc.stderr
    assert "refusing to accept" in proc.stderr
    assert path.read_text() == before


@pytest.mark.parametrize(
    "keys",
    [
        {"rollback": "", "canary_record": "https://ci.example.com/canary/41"},
        {"rollback": "docs/verify/queue.md"},  # a relative path that exists
        {"rollback": "0001-choose-the-job-queue.md"},  # relative to the ADR folder
        {
            "verify_record": "https://ci.example.com/run/7",
            "rollback": "docs/nope.md",
            "canary_record": "docs/verify/queue.md",
        },
    ],
)
def test_accept_gate_accepts_urls_existing_paths_and_canary(shell_env, keys):
    path = _ready(shell_env)
    _set(path, **keys)
    proc = _adr(shell_env, "accept", "1")
    assert proc.returncode == 0, proc.stderr
    assert "status: Accepted" in path.read_text()


def test_gate_rule_agrees_with_loop_schemas(shell_env):
    from loop_schemas import accept_gate_problems, parse_adr

    path = _ready(shell_env)
    cases = [
        {},
        {"verify_record": ""},
        {"rollback": "docs/x.md"},
        {"rollback": "", "canary_record": "http://c/1"},
    ]
    for keys in cases:
        _set(path, **keys)
        rec = adr_lib.read_record(str(path), 1)
        ours = bool(adr_lib.gate_problems(rec, str(shell_env.cwd), str(path.parent)))
        theirs = bool(accept_gate_problems(parse_adr(path.read_text(), path), shell_env.cwd, path.parent))
        assert ours == theirs, keys


# ---- reject / supersede ------------------------------------------------------------------------


def test_reject_and_supersede(shell_env):
    old = _ready(shell_env)
    assert _adr(shell_env, "accept", "1").returncode == 0
    new = shell_env.cwd / _adr(shell_env, "new", "Queue v2").stdout.strip()
    third = shell_env.cwd / _adr(shell_env, "new", "Idea").stdout.strip()
    proc = _adr(shell_env, "supersede", "1", "--by", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"superseded {old.name} by {new.name}"
    assert "\nstatus: Superseded\n" in old.read_text() and f"\nsuperseded_by: {new.name}\n" in old.read_text()
    assert f"\nsupersedes: {old.name}\n" in new.read_text()
    assert _adr(shell_env, "supersede", "1", "--by", "3").returncode == 1  # already superseded
    assert _adr(shell_env, "supersede", "2", "--by", "2").returncode == 1
    rejected = _adr(shell_env, "reject", "3")
    assert rejected.returncode == 0 and "\nstatus: Rejected\n" in third.read_text()
    assert _adr(shell_env, "reject", "3").returncode == 1
    doc = json.loads(_adr(shell_env, "list", "--json").stdout)
    assert [a["status"] for a in doc["adrs"]] == ["Superseded", "Proposed", "Rejected"]
    assert doc["adrs"][0]["superseded_by"] == new.name


def test_usage_errors(shell_env):
    assert _adr(shell_env, "--help").returncode == 0
    for args in (
        [],
        ["frob"],
        ["new"],
        ["new", "a", "b"],
        ["show"],
        ["accept"],
        ["supersede", "1"],
        ["list", "--by", "2"],
        ["show", "x"],
        ["--bogus", "list"],
        ["new", "   "],
    ):
        proc = _adr(shell_env, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.startswith("loop-adr: ")


def test_frontmatter_editing_refuses_a_block_list(shell_env):
    path = _ready(shell_env)
    path.write_text(path.read_text().replace("status: Proposed", "status:\n  - Proposed"))
    proc = _adr(shell_env, "reject", "1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


# ---- real tmux: the AI-lane refusal and the terminal confirmation --------------------------------------


def _pane_command(shell_env, *args: str, done: Path) -> str:
    env = " ".join(shlex.quote(f"{k}={v}") for k, v in shell_env.env.items() if k in ("PATH", "HOME", "LANG"))
    cmd = " ".join(shlex.quote(a) for a in ("bash", str(ADR), *args))
    # after the command, the pane waits on its terminal (read) so the test can look at the screen
    cwd, out = shlex.quote(str(shell_env.cwd)), shlex.quote(str(done))
    return f'cd {cwd} && env {env} LOOP_ADR_TODAY={TODAY} {cmd}; echo "rc=$?" > {out}; read -r _'


@pytest.mark.tmux
@pytest.mark.parametrize("harness", ["claude", "codex", "pi"])
def test_accept_refused_in_an_ai_lane_pane_whatever_the_flags(shell_env, tmux_server, tmp_path, harness):
    path = _ready(shell_env)
    before = path.read_text()
    done = tmp_path / "done"
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "web", "-x", "150", "-y", "40")
    tmux_server.tmux("set-option", "-w", "-t", "=s:web", "@loop_lane_harness", harness)
    tmux_server.tmux("set-option", "-w", "-t", "=s:web", "@loop_lane", "1")
    tmux_server.tmux(
        "respawn-pane", "-k", "-t", "=s:web.0", _pane_command(shell_env, "accept", "1", "--yes", done=done)
    )
    retry_until(lambda: done.is_file() and done.read_text().strip())
    assert done.read_text().strip() == "rc=1"
    screen = tmux_server.capture("=s:web.0")
    assert "refusing 'accept'" in screen and "AI lane" in screen
    assert path.read_text() == before


@pytest.mark.tmux
def test_accept_refused_when_the_harness_is_a_pane_option(shell_env, tmux_server, tmp_path):
    """Base lanes carry their metadata as pane options; the pane lookup sees those too."""
    path = _ready(shell_env)
    done = tmp_path / "done"
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "validate", "-x", "150", "-y", "40")
    tmux_server.tmux("set-option", "-p", "-t", "=s:validate.0", "@loop_lane_harness", "opencode")
    tmux_server.tmux(
        "respawn-pane",
        "-k",
        "-t",
        "=s:validate.0",
        _pane_command(shell_env, "reject", "1", "--yes", done=done),
    )
    retry_until(lambda: done.is_file() and done.read_text().strip())
    assert done.read_text().strip() == "rc=1"
    assert "status: Proposed" in path.read_text()


@pytest.mark.tmux
def test_terminal_confirmation_outside_ai_lanes(shell_env, tmux_server, tmp_path):
    path = _ready(shell_env)
    done = tmp_path / "done"
    # a shell lane (not an AI harness) is a place a human may accept from
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "ops", "-x", "150", "-y", "50")
    tmux_server.tmux("set-option", "-w", "-t", "=s:ops", "@loop_lane_harness", "shell")
    tmux_server.tmux(
        "respawn-pane", "-k", "-t", "=s:ops.0", _pane_command(shell_env, "accept", "1", done=done)
    )
    retry_until(lambda: "[y/N]" in tmux_server.capture("=s:ops.0"))
    screen = tmux_server.capture("=s:ops.0")
    assert "# Choose the job queue" in screen  # the record is shown before the question
    tmux_server.tmux("send-keys", "-t", "=s:ops.0", "n", "Enter")
    retry_until(lambda: done.is_file() and done.read_text().strip())
    assert done.read_text().strip() == "rc=1"
    assert "status: Proposed" in path.read_text()
    # yes this time
    done.unlink()
    tmux_server.tmux(
        "respawn-pane", "-k", "-t", "=s:ops.0", _pane_command(shell_env, "accept", "1", done=done)
    )
    retry_until(lambda: "[y/N]" in tmux_server.capture("=s:ops.0"))
    tmux_server.tmux("send-keys", "-t", "=s:ops.0", "y", "Enter")
    retry_until(lambda: done.is_file() and done.read_text().strip())
    assert done.read_text().strip() == "rc=0"
    assert "status: Accepted" in path.read_text()


@pytest.mark.tmux
def test_yes_skips_the_question_on_a_terminal(shell_env, tmux_server, tmp_path):
    path = _ready(shell_env)
    done = tmp_path / "done"
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "human", "-x", "150", "-y", "40")
    tmux_server.tmux(
        "respawn-pane", "-k", "-t", "=s:human.0", _pane_command(shell_env, "accept", "1", "--yes", done=done)
    )
    retry_until(lambda: done.is_file() and done.read_text().strip())
    assert done.read_text().strip() == "rc=0"
    assert "[y/N]" not in tmux_server.capture("=s:human.0")
    assert "status: Accepted" in path.read_text()


def test_slugify_table():
    assert adr_lib.slugify("Choose the job queue: Redis vs SQS") == "choose-the-job-queue-redis-vs-sqs"
    assert adr_lib.slugify("!!!") == "decision"
    assert adr_lib.slugify("Ça marche") == "ca-marche"
    assert len(adr_lib.slugify("x" * 200)) <= 60


def test_file_name_grammar_table(tmp_path):
    for name in ("0001-a.md", "0042-choose-queue.md", "9999-x.md"):
        (tmp_path / name).write_text("---\nstatus: Proposed\n---\n# T\n")
    for name in ("001-short.md", "0001.md", "abcd-x.md", "0001-x.txt", ".0001-x.md", "README.md"):
        (tmp_path / name).write_text("x")
    assert [n for n, _ in adr_lib.scan(str(tmp_path))] == [1, 42, 9999]


def test_status_read_from_madr_body_when_no_frontmatter(tmp_path):
    (tmp_path / "0003-old-style.md").write_text("# 3. Old style\n\n* Status: accepted\n* Date: 2020-01-01\n")
    rec = adr_lib.ledger(str(tmp_path))[0]
    assert rec.status == "Accepted" and rec.title == "Old style"


def test_no_python_traceback_on_unreadable_record(shell_env):
    d = _adr_dir(shell_env)
    d.mkdir(parents=True)
    (d / "0001-bin.md").write_bytes(b"\xff\xfe\x00garbage")
    proc = _adr(shell_env, "list", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["adrs"][0]["status"] == "Unknown"
    acc = _adr(shell_env, "accept", "1")
    assert acc.returncode == 1 and "Traceback" not in acc.stderr


def test_accept_reads_fences_with_trailing_blanks_and_quoted_keys(shell_env):
    """The same frontmatter rules as every other reader: '--- ' is a fence, "status": is status."""
    path = _ready(shell_env)
    text = path.read_text().replace("---\n", "--- \n", 2).replace("status: Proposed", '"status": Proposed')
    path.write_text(text)
    proc = _adr(shell_env, "accept", "1")
    assert proc.returncode == 0, proc.stderr
    after = path.read_text()
    assert "status: Accepted" in after and '"status"' not in after
    assert after.startswith("--- \n")


# ---- the ledger's patterns, read by hand (loop-digest never imports re) ------------------------------

_TITLE_CHARS = "# \t1.٣a\r\x0b"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=_TITLE_CHARS + "\n", max_size=14) | st.text(max_size=14))
@example("#  ")
@example("# 1.  ")
@example("# 1. ")
@example("# ##")
@example("#\t٣. x #")
@example("x\n# Title ##  \n# Other")
def test_title_of_is_the_title_pattern(text):
    import re

    m = re.compile(adr_lib.TITLE_PATTERN, re.MULTILINE).search(text)
    assert adr_lib.title_of(text) == (m.group(1) if m else None)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123٣-a.md\n", max_size=12) | st.text(max_size=12))
@example("0001-a.md\n")
@example("0001-a.md\n\n")
@example("0001-.md")
@example("0001-.md.md")
@example("0001-a\n.md")
def test_file_parts_is_the_file_pattern(name):
    import re

    m = re.match(adr_lib.FILE_PATTERN, name)
    assert adr_lib.file_parts(name) == (m.group(1, 2) if m else None)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=20))
def test_visible_replaces_what_the_control_pattern_finds(text):
    import re

    want = re.sub(adr_lib.CONTROL_PATTERN, lambda m: "?", text)
    got = adr_lib.visible(text)
    # each control character becomes its visible spelling; everything else is kept as it is
    assert (got == text) == (want == text)
    assert adr_lib.CONTROL_RE.pattern == adr_lib.CONTROL_PATTERN
    assert adr_lib.FILE_RE.match("0001-x.md") and adr_lib.TITLE_RE.search("# T")
