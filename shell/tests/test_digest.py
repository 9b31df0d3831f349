"""loop-digest.sh: golden text output, the --json Digest document, unpushed commits from real git repos,
bad state files, and the in-place redraw in a real tmux pane.

Golden files live in shell/tests/golden/; regenerate them deliberately with LOOP_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parent
SHELL = TESTS.parent
GOLDEN = TESTS / "golden"
NOW = "2026-04-15T11:22:00Z"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(SHELL / "lib"))
digest_lib = _load("digest", SHELL / "lib" / "digest.py")
mail_lib = _load("mail", SHELL / "lib" / "mail.py")
import frontmatter  # noqa: E402 - shell/lib is on sys.path
import mail_index  # noqa: E402

retry_until = _load("_digest_conftest", TESTS / "conftest.py").retry_until

MINIMUM_STATE = {
    "schema_version": 2,
    "updated_at": "2026-04-15T11:20:00Z",
    "loops": {
        "loop-6a": {
            "name": "Verify checkout flow",
            "status": "implement",
            "branch": "dev",
            "canary_target": "test-target",
        },
        "loop-7": {"name": "Migrate sessions table", "status": "canary", "branch": "feature/sessions"},
        "loop-8": {"name": "Retire the old queue", "status": "spec"},
    },
}

EXTENDED_STATE = {
    **MINIMUM_STATE,
    "session": "myapp",
    "objective": "Ship the checkout rewrite",
    "open_conflicts": ["web and infra both touch deploy.yaml"],
    "lanes": {
        "web": {"status": "working", "harness": "pi", "pane_tail": ["running tests", "12 passed"]},
        "infra": {"status": "idle", "harness": "claude", "pane_tail": "applied plan\n> "},
    },
}


def _write_state(root: Path, doc: object) -> None:
    (root / ".loop").mkdir(exist_ok=True)
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
    (root / ".loop" / "orchestrator-state.json").write_text(text)


def _mail(
    root: Path, name: str, subject: str | None, mtime: int = 1776252000, processed: bool = False
) -> Path:
    box = root / ".loop" / "messages"
    if processed:
        box = box / "processed"
    box.mkdir(parents=True, exist_ok=True)
    head = (
        f"---\nsubject: {json.dumps(subject)}\nfrom: x\n---\n" if subject is not None else "no frontmatter\n"
    )
    path = box / name
    path.write_text(head + "body\n")
    os.utime(path, (mtime, mtime))
    return path


def _adr(root: Path, name: str, status: str, title: str) -> None:
    d = root / "docs" / "adr"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(f"---\nstatus: {status}\nverify_record:\nrollback:\n---\n\n# {title}\n")


def _project(root: Path, state: object) -> None:
    _write_state(root, state)
    _mail(root, "20260415-112233-web-to-infra.md", "Need staging token for canary", 1776252153)
    _mail(root, "20260415-112301-infra-to-coord.md", "re:a-12 token rotated", 1776252181)
    _mail(root, "20260415-112301-infra-to-coord.2.md", None, 1776252181)
    _mail(root, "20260414-090000-docs-to-coord.md", "old and done", processed=True)
    _adr(root, "0001-choose-the-job-queue.md", "Accepted", "Choose the job queue: Redis vs SQS")
    _adr(root, "0002-session-store.md", "Proposed", "Session store")


def _run(shell_env, *args: str, env: dict[str, str] | None = None):
    full = {"LOOP_DIGEST_NOW": NOW}
    full.update(env or {})
    return shell_env.run("loop-digest.sh", *args, env=full)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LOOP_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"golden file {path} missing: run with LOOP_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(), f"output differs from {path.name}; if intended, LOOP_UPDATE_GOLDEN=1"


# ---- golden text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,state",
    [
        ("digest-minimum.txt", MINIMUM_STATE),
        ("digest-extended.txt", EXTENDED_STATE),
        ("digest-missing-state.txt", None),
        ("digest-corrupt-state.txt", '{"schema_version": 2, "loops": {'),
        ("digest-wrong-shape.txt", {"schema_version": 1, "loops": []}),
    ],
)
def test_digest_text_matches_golden(shell_env, name, state):
    root = shell_env.cwd
    _project(root, state if state is not None else {})
    if state is None:
        (root / ".loop" / "orchestrator-state.json").unlink()
    proc = _run(shell_env, "--once")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Traceback" not in proc.stdout
    _golden(name, proc.stdout)


def test_digest_shows_the_spec_blocks(shell_env):
    _project(shell_env.cwd, EXTENDED_STATE)
    out = _run(shell_env, "--once").stdout
    assert out.startswith("════ orchestrator loops @ 11:22 ════\n")
    assert "schema_version=2 session=myapp updated=2026-04-15T11:20:00Z" in out
    assert "loop-6a  implement  dev" in out and "canary:test-target  Verify checkout flow" in out
    assert "LANES:" in out and "12 passed" in out
    # newest first, with subjects; the message without frontmatter says so
    mail_lines = out.split("════ latest 3 messages ════")[1].splitlines()[1:4]
    assert mail_lines == [
        "20260415-112301-infra-to-coord.2.md  (no subject)",
        "20260415-112301-infra-to-coord.md  re:a-12 token rotated",
        "20260415-112233-web-to-infra.md  Need staging token for canary",
    ]
    assert "════ decisions (MADR) ════" in out
    assert "0001  Accepted  Choose the job queue: Redis vs SQS" in out


def test_messages_flag_limits_the_list(shell_env):
    _project(shell_env.cwd, MINIMUM_STATE)
    out = _run(shell_env, "--once", "--messages", "1").stdout
    assert "════ latest 1 messages ════  (3 pending, 1 processed)" in out
    assert "… 2 older pending" in out


def test_untrusted_text_cannot_reach_the_terminal_raw(shell_env):
    state = json.loads(json.dumps(MINIMUM_STATE))
    state["loops"]["evil\x1b]0;pwned\x07"] = {"name": "red \x1b[31m alert", "status": "spec"}
    _project(shell_env.cwd, state)
    _mail(shell_env.cwd, "20260415-120000-web-to-coord.md", "clear \x1b[2J screen")
    out = _run(shell_env, "--once").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "red ?[31m alert" in out
    assert "clear ?[2J screen" in out


# ---- JSON ---------------------------------------------------------------------------------------


def test_json_document_is_the_contract_digest(shell_env):
    from loop_schemas import Digest

    root = shell_env.cwd
    _project(root, EXTENDED_STATE)
    proc = _run(shell_env, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    Digest.model_validate(doc)
    assert set(doc) >= {"contract_version", "generated_at", "state", "mailbox", "unpushed", "adrs"}
    assert doc["contract_version"] == 1
    assert doc["generated_at"] == NOW
    assert doc["state"] == EXTENDED_STATE  # the parsed file, extra keys and all
    assert doc["state_error"] is None
    pending = doc["mailbox"]["pending"]
    assert [m["file"] for m in pending] == [
        "20260415-112233-web-to-infra.md",
        "20260415-112301-infra-to-coord.md",
        "20260415-112301-infra-to-coord.2.md",
    ]
    assert pending[0] == {
        "file": "20260415-112233-web-to-infra.md",
        "from": "web",
        "to": "infra",
        "subject": "Need staging token for canary",
        "mtime": "2026-04-15T11:22:33Z",
    }
    assert pending[2]["subject"] is None
    assert doc["mailbox"]["processed_count"] == 1
    assert doc["adrs"] == [
        {
            "id": 1,
            "status": "Accepted",
            "title": "Choose the job queue: Redis vs SQS",
            "path": str(root / "docs" / "adr" / "0001-choose-the-job-queue.md"),
        },
        {
            "id": 2,
            "status": "Proposed",
            "title": "Session store",
            "path": str(root / "docs" / "adr" / "0002-session-store.md"),
        },
    ]
    row = doc["unpushed"][0]
    assert row == {"repo": "project", "path": str(root), "branch": None, "upstream": None, "count": None}


@pytest.mark.parametrize(
    "content,fragment",
    [
        (None, "no state file at"),
        ("{not json", "not valid JSON"),
        ("", "empty state file"),
        ("[1, 2]", "holds a JSON list"),
    ],
)
def test_json_state_null_with_a_reason_for_bad_state(shell_env, content, fragment):
    root = shell_env.cwd
    if content is not None:
        _write_state(root, content)
    proc = _run(shell_env, "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["state"] is None
    assert fragment in doc["state_error"]
    assert "\n" not in doc["state_error"]


def test_json_keeps_a_parsed_state_of_the_wrong_shape_and_says_so(shell_env):
    _write_state(shell_env.cwd, {"schema_version": 1, "loops": []})
    doc = json.loads(_run(shell_env, "--json").stdout)
    assert doc["state"] == {"schema_version": 1, "loops": []}
    assert "schema_version is 1, expected 2" in doc["state_error"]


def test_flags_and_env_select_inputs(shell_env, tmp_path):
    other = tmp_path / "elsewhere"
    _adr(other, "0007-seven.md", "Proposed", "Seven")  # other/docs/adr
    box = tmp_path / "box"
    _mail(tmp_path, "20260101-000000-a-to-b.md", "in the other box")
    (tmp_path / ".loop" / "messages").rename(box)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(MINIMUM_STATE))
    args = ["--json", "--state-file", str(state), "--mailbox-dir", str(box)]
    doc = json.loads(_run(shell_env, *args, "--adr-dir", str(other / "docs" / "adr")).stdout)
    assert doc["state"]["loops"].keys() == MINIMUM_STATE["loops"].keys()
    assert [m["subject"] for m in doc["mailbox"]["pending"]] == ["in the other box"]
    assert [a["id"] for a in doc["adrs"]] == [7]
    # the env var is the default for --adr-dir, and the flag beats it
    env = {"LOOP_DIGEST_ADR_DIR": str(other / "docs" / "adr")}
    assert [a["id"] for a in json.loads(_run(shell_env, "--json", env=env).stdout)["adrs"]] == [7]
    empty = tmp_path / "empty-adr"
    empty.mkdir()
    flag_wins = json.loads(_run(shell_env, "--json", "--adr-dir", str(empty), env=env).stdout)
    assert flag_wins["adrs"] == []


# ---- unpushed commits, real git ---------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@x",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@x",
        GIT_CONFIG_NOSYSTEM="1",
        HOME=str(cwd),
    )
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, env=env)


def _repo(path: Path, branch: str, remote: Path | None, ahead: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", branch)
    _git(path, "commit", "-q", "--allow-empty", "-m", "base")
    if remote is not None:
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
        _git(path, "remote", "add", "origin", str(remote))
        _git(path, "push", "-q", "-u", "origin", branch)
    for n in range(ahead):
        _git(path, "commit", "-q", "--allow-empty", "-m", f"local {n}")


def test_unpushed_counts_per_repo(shell_env, tmp_path):
    root = shell_env.cwd
    _repo(root, "dev", tmp_path / "app.git", 3)
    infra = tmp_path / "my-app-infra"
    _repo(infra, "main", tmp_path / "infra.git", 0)
    local = tmp_path / "no-upstream"
    _repo(local, "work", None, 1)
    _write_state(root, MINIMUM_STATE)
    args = ["--extra-repo", str(infra), "--extra-repo", str(local), "--extra-repo", str(tmp_path / "nope")]
    doc = json.loads(_run(shell_env, "--json", *args).stdout)
    rows = {r["repo"]: r for r in doc["unpushed"]}
    assert rows["project"] == {
        "repo": "project",
        "path": str(root),
        "branch": "dev",
        "upstream": "origin/dev",
        "count": 3,
    }
    assert rows["my-app-infra"]["count"] == 0 and rows["my-app-infra"]["branch"] == "main"
    assert rows["no-upstream"] == {
        "repo": "no-upstream",
        "path": str(local),
        "branch": "work",
        "upstream": None,
        "count": None,
    }
    assert rows["nope"]["count"] is None
    text = _run(shell_env, "--once", *args).stdout
    assert "project       3  (dev vs origin/dev)" in text
    assert "my-app-infra  0  (main vs origin/main)" in text
    assert "no-upstream   -  (work: no upstream)" in text
    assert "nope          -  (no such directory)" in text


def test_the_primary_repo_is_listed_once_even_when_repeated(shell_env):
    doc = json.loads(_run(shell_env, "--json", "--extra-repo", str(shell_env.cwd)).stdout)
    assert len(doc["unpushed"]) == 1


# ---- usage -------------------------------------------------------------------------------------------


def test_help_and_usage_errors(shell_env):
    help_ = shell_env.run("loop-digest.sh", "--help")
    assert help_.returncode == 0 and "--extra-repo" in help_.stdout and "--no-clear" in help_.stdout
    for args in (["--bogus"], ["--interval"], ["--interval", "0"], ["--interval", "x"], ["--messages", "-1"]):
        proc = shell_env.run("loop-digest.sh", *args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("loop-digest: ") and "Traceback" not in proc.stderr
    missing = shell_env.run("loop-digest.sh", "--once", "--project-root", "/nonexistent/x")
    assert missing.returncode == 1 and "project root not found" in missing.stderr


# ---- parsers agree with the mailbox library (hypothesis) -----------------------------------------


def test_name_grammar_is_the_mailbox_grammar():
    assert mail_lib.NAME_RE.pattern == digest_lib.mail_index.NAME_PATTERN


NAME_PARTS = st.tuples(
    st.from_regex(r"20[0-9]{2}(0[0-9]|1[0-3])[0-3][0-9]", fullmatch=True),
    st.from_regex(r"[0-2][0-9][0-6][0-9][0-6][0-9]", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}", fullmatch=True),
    st.sampled_from(["", ".2", ".10", ".1", ".0"]),
)


@given(NAME_PARTS)
@settings(max_examples=300, deadline=None)
def test_fast_name_parser_equals_mail_parse_name(parts):
    date, time_, sender, recipient, seq = parts
    name = f"{date}-{time_}-{sender}-to-{recipient}{seq}.md"
    assert digest_lib.parse_name(name) == mail_lib.parse_name(name)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_fast_name_parser_never_raises(text):
    assert digest_lib.parse_name(text) == mail_lib.parse_name(text)


SUBJECT_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30),
    st.text(max_size=20).map(json.dumps),
    st.text(alphabet="ab '#\"", max_size=12).map(lambda s: "'" + s.replace("'", "''") + "'"),
)


@given(
    SUBJECT_VALUES,
    st.sampled_from(["---\n", "---\r\n", "\ufeff---\n", "----\n", "--- x\n", "--- \n", "---\t\r\n", ""]),
    st.sampled_from(["---\n", "----\n", "---", "--- \n", "---\t\r\n", ""]),
)
@example(value="0", opening="---\n", closing="--- \n")  # fences may carry trailing blanks (one rule)
@example(value="0", opening="--- \n", closing="---\n")
@settings(max_examples=400, deadline=None)
def test_fast_subject_reader_equals_mail_read_subject(tmp_path_factory, value, opening, closing):
    path = tmp_path_factory.mktemp("subj") / "20260101-000000-a-to-b.md"
    path.write_text(f"{opening}subject: {value}\nfrom: a\n{closing}body\n", encoding="utf-8")
    assert digest_lib._subject(str(path)) == mail_lib.read_subject(str(path))


HEAD_LINES = st.sampled_from(
    [
        "from: a\n",
        "task: T0001\n",
        "# a comment\n",
        "\n",
        "task: [T1]\n",
        "task :T2\n",
        "tasks: x\n",
        "pad: 'q'\n",
    ]
)


@given(
    SUBJECT_VALUES,
    SUBJECT_VALUES,
    st.lists(HEAD_LINES, max_size=3),
    st.sampled_from(["subject", "task", "both", "none"]),
    st.sampled_from(["---\n", "---\r\n", "\ufeff---\n"]),
)
@example(subject="x", task="T1", extra=["task: T2\n"], keys="both", opening="---\n")  # a key twice
@example(subject="x", task="~", extra=[], keys="task", opening="---\n")  # a null task
@settings(max_examples=400, deadline=None)
def test_head_reader_equals_frontmatter_mail_head(tmp_path_factory, subject, task, extra, keys, opening):
    """mail_index.read_head (the fast reader the mail cache keeps, for the digest and the engine) gives
    frontmatter.mail_head's (subject, task) on the 64 KiB head, as mail.py and the engine read it."""
    lines = [*extra]
    if keys in ("subject", "both"):
        lines.insert(0, f"subject: {subject}\n")
    if keys in ("task", "both"):
        lines.append(f"task: {task}\n")
    path = tmp_path_factory.mktemp("head") / "20260101-000000-a-to-b.md"
    path.write_text(opening + "".join(lines) + "---\nbody\n", encoding="utf-8")
    whole = path.read_bytes()[: mail_index.HEAD_CAP].decode("utf-8", errors="replace")
    assert mail_index.read_head(str(path)) == frontmatter.mail_head(whole)


def test_subject_reader_handles_long_frontmatter(tmp_path):
    path = tmp_path / "20260101-000000-a-to-b.md"
    path.write_text("---\n" + "".join(f"pad{n}: x\n" for n in range(2000)) + "subject: far down\n---\nbody\n")
    assert digest_lib._subject(str(path)) == "far down" == mail_lib.read_subject(str(path))


# ---- redraw in a real tmux pane -------------------------------------------------------------------


@pytest.mark.tmux
def test_redraw_in_place_survives_a_corrupt_state_file(shell_env, tmux_server):
    root = shell_env.cwd
    _project(root, MINIMUM_STATE)
    cmd = f"bash {SHELL / 'loop-digest.sh'} --project-root {root} --interval 0.2"
    env = " ".join(f"{k}={v}" for k, v in (("PATH", shell_env.env["PATH"]), ("HOME", shell_env.env["HOME"])))
    tmux_server.tmux("new-session", "-d", "-s", "d", "-x", "120", "-y", "40", f"env {env} {cmd}")
    target = "=d:0.0"

    def screen() -> str:
        return tmux_server.capture(target, lines=0)

    retry_until(lambda: "loop-6a" in screen())
    # the state file breaks: one line says so, the rest of the digest is still drawn
    _write_state(root, "{ broken")
    retry_until(lambda: "state: not valid JSON" in screen())
    shown = screen()
    assert "Traceback" not in shown and "════ latest 3 messages ════" in shown
    assert "loop-6a" not in shown  # drawn over in place, no stale rows left behind
    # and it recovers on the next tick once the file is good again
    state = json.loads(json.dumps(MINIMUM_STATE))
    state["loops"]["loop-9"] = {"name": "Brand new loop", "status": "plan"}
    _write_state(root, state)
    retry_until(lambda: "Brand new loop" in screen())
    assert "not valid JSON" not in screen()
    # in place: the first frame line is at the top of the screen and there is no scrollback growth
    assert screen().splitlines()[0].startswith("════ orchestrator loops @")
    history = tmux_server.out("display-message", "-p", "-t", target, "#{history_size}").strip()
    assert int(history) == 0
    # the pane process is still the digest (it did not die on the bad file)
    assert tmux_server.out("display-message", "-p", "-t", target, "#{pane_dead}").strip() == "0"


@pytest.mark.tmux
def test_redraw_fits_the_pane_with_many_loops(shell_env, tmux_server):
    root = shell_env.cwd
    state = {
        "schema_version": 2,
        "loops": {f"loop-{i:03d}": {"name": f"n{i}", "status": "plan"} for i in range(300)},
    }
    _project(root, state)
    cmd = f"bash {SHELL / 'loop-digest.sh'} --project-root {root} --interval 0.3"
    tmux_server.tmux(
        "new-session", "-d", "-s", "d", "-x", "100", "-y", "30", f"env PATH={shell_env.env['PATH']} {cmd}"
    )
    target = "=d:0.0"
    retry_until(lambda: "more loops" in tmux_server.capture(target, lines=0))
    shown = tmux_server.capture(target, lines=0)
    assert "════ decisions (MADR) ════" in shown  # the bottom blocks stay visible
    assert int(tmux_server.out("display-message", "-p", "-t", target, "#{history_size}").strip()) == 0


def test_no_clear_appends_frames(shell_env):
    _project(shell_env.cwd, MINIMUM_STATE)
    try:
        proc = subprocess.run(
            ["bash", str(SHELL / "loop-digest.sh"), "--no-clear", "--interval", "0.1"],
            check=False,
            cwd=shell_env.cwd,
            env=shell_env.env,
            capture_output=True,
            text=True,
            timeout=0.8,
        )
        out = proc.stdout
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    assert out.count("════ orchestrator loops @") >= 2
    assert "\x1b[" not in out


def test_the_json_digest_starts_without_typing() -> None:
    """Start-up is most of a --json run: the helpers it loads (digest, adr, frontmatter, fsread,
    mail_index) import typing only for the type checker."""
    lib = Path(__file__).resolve().parents[1] / "lib"
    code = "import sys; sys.path.insert(0, sys.argv[1]); import digest; print('typing' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(lib)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_json_digest_reads_and_writes_json_without_the_json_package(tmp_path):
    """json's package compiles its own patterns when imported: a --json run (its state, the mail cache
    it writes, then reads back warm) goes through lib/jsonlite.py (json's answers from its C scanner and
    encoder), and a bad state file is still json's own error. A warm run does not import re either (with
    enum and functools, a fifth of its instructions): mail names and the ADR ledger are read by hand."""
    box = tmp_path / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    mail = box / "20260131-235959-web-to-coord.md"
    mail.write_text('---\nsubject: "h\u00e9"\n---\nbody\n')
    for path in (mail, box / "processed"):  # not racily new: the cache keeps them (a warm run writes none)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    state = tmp_path / ".loop" / "orchestrator-state.json"
    state.write_text(json.dumps({"schema_version": 2, "loops": {"a": {"name": "é", "n": [1.5, None]}}}))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import digest\n"
        "opts = digest.parse_args(['--json', '--project-root', sys.argv[2]])\n"
        "texts = [digest.json_text(digest.collect(opts)) for _ in range(2)]\n"
        'assert texts[0] == texts[1] and \'"Accepted", "title": "One"\' in texts[1]\n'
        "print(sorted(m for m in sys.modules if m in ('json', 're') or m.startswith(('json.', 're.'))))\n"
        "print(texts[1])"
    )
    adrs = tmp_path / "docs" / "adr"
    adrs.mkdir(parents=True)
    (adrs / "0001-one.md").write_text("---\nstatus: Accepted\ndate: 2026-04-15\n---\n\n# One\n")
    run = [sys.executable, "-S", "-c", code, str(SHELL / "lib"), str(tmp_path)]
    subprocess.run(run, capture_output=True, text=True, check=True)  # cold: reads the mail's head
    modules, text = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split("\n", 1)
    assert modules == "[]"
    doc = json.loads(text)
    assert doc["state"] == {"schema_version": 2, "loops": {"a": {"name": "é", "n": [1.5, None]}}}
    assert doc["mailbox"]["pending"][0]["subject"] == "hé"
    assert (tmp_path / ".loop" / "cache" / "mail-index.json").is_file()
    state.write_text('{"schema_version": 2, "loops": {}} x')
    assert digest_lib.read_state(str(state))[1] == f"not valid JSON (Extra data (line 1, column 36)): {state}"


# The patterns a warm --json run never uses (a name _PLAIN_RE does not take, an ADR without a frontmatter
# status, the gate's URL test, a mail head the subset refuses, a text with control characters).
LAZY_PATTERNS = (
    "mail_index.NAME_PATTERN",
    "adr.BODY_STATUS_PATTERN",
    "adr.URL_PATTERN",
    "frontmatter._HEAD_KEY",
    "digest.CONTROL_PATTERN",
    # read by hand on the ledger's path (adr.file_parts, adr.title_of, frontmatter.match_key/match_item;
    # tests in test_adr.py and test_frontmatter_lib.py hold them equal to the patterns)
    "adr.FILE_PATTERN",
    "adr.TITLE_PATTERN",
    "adr.CONTROL_PATTERN",
    "frontmatter.KEY_PATTERN",
    "frontmatter.ITEM_PATTERN",
    "mail_index.PLAIN_PATTERN",  # mail_index.plain_parts
)
COMPILES = """
import json, re, sys
sys.path.insert(0, sys.argv[1])
seen = []
compile_ = re._compile
def spy(pattern, flags):
    seen.append(pattern)
    return compile_(pattern, flags)
re._compile = spy
import adr, digest, frontmatter, mail_index
opts = digest.parse_args(["--json", "--project-root", sys.argv[2]])
doc = digest.collect(opts)
digest.json_text(doc)
lazy = json.loads(sys.argv[3])
print(json.dumps({
    "compiled": sorted(name for name, pattern in lazy.items() if pattern in seen),
    "datetime": "datetime" in sys.modules,
    "files": [m[digest.R_FILE] for m in doc["mailbox"]["pending"]],
    "adrs": [(a["status"], a["title"]) for a in doc["adrs"]],
}))
"""


def test_a_warm_json_run_compiles_only_the_patterns_it_uses(tmp_path):
    """Compiling a pattern is a good part of the digest's start-up: the ones a plain project never needs
    are compiled on first use. A plain project's mail stamped on any day a month always has (the 29th,
    30th and 31st too) is parsed without NAME_PATTERN, and without datetime."""
    box = tmp_path / ".loop" / "messages"
    box.mkdir(parents=True)
    names = [
        "20260131-235959-web-to-coord.md",
        "20260430-000000-web-to-coord.2.md",
        "20261229-120000-a_b-to-c-d.md",
        "20260228-010203-web-to-coord.md",
    ]
    for name in names:
        (box / name).write_text("---\nsubject: hi\n---\nbody\n")
    adrs = tmp_path / "docs" / "adr"
    adrs.mkdir(parents=True)
    (adrs / "0001-one.md").write_text("---\nstatus: Accepted\ndate: 2026-04-15\n---\n\n# One\n")
    import re

    lazy = {name: getattr(sys.modules[name.split(".")[0]], name.split(".")[1]) for name in LAZY_PATTERNS}
    assert all(isinstance(pattern, str) for pattern in lazy.values())
    assert [re.compile(pattern) for pattern in lazy.values()]  # each one is a pattern
    run = [sys.executable, "-S", "-c", COMPILES, str(SHELL / "lib"), str(tmp_path), json.dumps(lazy)]
    first = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    warm = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    for out in (first, warm):
        assert out["files"] == sorted(names)
        assert out["adrs"] == [["Accepted", "One"]]
        assert out["compiled"] == [] and out["datetime"] is False
    # the patterns still answer where they are needed
    assert mail_index.name_parts("20240229-000000-a-to-b.md") == ("20240229", "000000", "a", "b", 1)
    assert mail_index.name_parts("20250229-000000-a-to-b.md") is None
    assert digest_lib.clean("a\x1bb\u2028c\x85") == "a?b c?"


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_clean_is_the_control_pattern_then_the_blanks(text):
    """clean's printable fast path gives what the pattern's substitution gives."""
    import re

    assert digest_lib.clean(text) == " ".join(re.sub(digest_lib.CONTROL_PATTERN, "?", text).split())


@pytest.mark.parametrize("mode", ["--json", "--once"])
def test_modules_in_the_current_directory_are_never_imported(tmp_path, mode):
    """The digest runs in the operated project, where a lane can write files: an enum.py, json.py or
    posixpath.py there must not stand in for the standard library's (python -c puts '' on sys.path)."""
    marker = tmp_path / "ran"
    for name in ("enum", "json", "posixpath", "re", "gc", "digest", "mail_index"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name} ')\n")
    proc = subprocess.run(
        ["bash", str(SHELL / "loop-digest.sh"), mode, "--project-root", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), marker.read_text()
    if mode == "--json":
        assert json.loads(proc.stdout)["contract_version"] == 1


def test_a_one_shot_run_turns_the_cyclic_collector_off_and_a_redraw_keeps_it(tmp_path):
    code = (
        "import gc, sys; sys.path.insert(0, sys.argv[1]); import digest; "
        "digest.main(sys.argv[3:], process=sys.argv[2] == 'process'); print(gc.isenabled())"
    )
    lib = str(SHELL / "lib")

    def enabled(how: str, mode: str) -> str:
        argv = [sys.executable, "-S", "-c", code, lib, how, mode, "--project-root", str(tmp_path)]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()[-1]

    assert enabled("process", "--json") == "False"
    assert enabled("process", "--once") == "False"
    assert enabled("in-process", "--json") == "True"  # a caller's own process keeps its collector


def test_a_redraw_process_turns_the_collector_back_on(tmp_path):
    """loop-digest.sh starts python with the collector off (before the imports); a redraw runs for hours,
    so digest.run turns it back on."""
    assert "gc.disable()" in (SHELL / "loop-digest.sh").read_text()
    code = (
        "import gc, sys; gc.disable(); sys.path.insert(0, sys.argv[1]); import digest; "
        "digest.redraw_loop = lambda opts: print(gc.isenabled()) or 0; "
        "digest.main(sys.argv[2:], process=True)"
    )
    argv = [sys.executable, "-S", "-c", code, str(SHELL / "lib"), "--project-root", str(tmp_path)]
    assert subprocess.run(argv, capture_output=True, text=True, check=True).stdout == "True\n"


def _reference_entries(box: Path) -> list:
    """What the listing must be: every regular file (a symlink to one too) named by the mailbox grammar,
    in the mailbox's order (stamp, sequence number, name)."""
    rows = []
    for entry in os.scandir(box):
        parts = mail_index.name_parts(entry.name)
        if parts is None or entry.name.startswith(".") or not entry.is_file():
            continue
        d, t, sender, to, seq = parts
        rows.append((d, t, seq, entry.name, sender, to))
    return sorted(rows)


def test_the_listing_keeps_messages_only_in_the_mailbox_order(tmp_path):
    """mailbox_entries lists the folder by name and stats each message relative to it: the same rows,
    in the same order, as a listing that stats each path (symlinks followed, FIFOs and folders named like
    a message left out, never waited on), however the names sort."""
    box = tmp_path / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    names = [
        "20260101-000000-web-to-coord.md",
        "20260101-000000-web-to-coord.3.md",
        "20260101-000000-web-to-coord.2.md",
        "20260101-000000-api-to-coord.4.md",  # the same second: the sequence number orders before the name
        "20260101-000000-zed-to-coord.md",
        "20240229-120000-a-to-b.md",  # a leap day: the full grammar's path
        "20260101-000000-a-to-1-to-b.md",  # a sender holding '-to-'
        "20251231-235959-a_b-to-c-d.md",
        "20260101-000000-\u0661-to-b.md",  # not a name: the sender must start with a letter
    ]
    for name in names:
        (box / name).write_text("---\nsubject: hi\n---\n")
    (box / "20260102-000000-web-to-coord.md").symlink_to(box / names[0])  # counts: a file behind it
    (box / "20260103-000000-web-to-coord.md").symlink_to(box / "missing.md")  # dangling: left out
    (box / "20260104-000000-web-to-coord.md").mkdir()
    os.mkfifo(box / "20260105-000000-web-to-coord.md")
    (box / ".20260106-000000-web-to-coord.md").write_text("x")
    (box / "20260107-000000-web-to-coord.txt").write_text("x")
    (box / "20250229-000000-web-to-coord.md").write_text("x")  # no such day
    expected = _reference_entries(box)
    assert len(expected) == 9
    for with_subjects in (True, False):
        rows = digest_lib.mailbox_entries(str(box), with_subjects)
        assert [row[:6] for row in rows] == expected
        assert [row[digest_lib.R_FILE] for row in rows] == [row[3] for row in expected]
        assert {row[digest_lib.R_SUBJECT] for row in rows} == ({"hi"} if with_subjects else {None})
    assert digest_lib.mailbox_entries(str(tmp_path / "none"), True) == []
    assert digest_lib.mailbox_entries(str(box / names[0]), True) == []  # a file, not a folder


def test_the_fast_name_match_is_name_parts(tmp_path):
    """The listing's own loop reads a name through mail_index.plain_match and asks name_parts only when
    it does not match: where it matches, its groups are name_parts' answer."""
    for name in (
        "20260101-000000-web-to-coord.md",
        "20260101-000000-web-to-coord.12.md",
        "20260101-000000-a-to-1-to-b.md",
        "20260101-000000-a-to-b-to-c.2.md",
        "99991231-235959-Z-to-z_.md",
    ):
        m = mail_index.plain_match(name)
        assert m is not None
        d, t, sender, to, seq = m.groups()
        assert (d, t, sender, to, int(seq) if seq else 1) == mail_index.name_parts(name)


_STAMPS = st.builds(
    "{}{:02d}{:02d}-{:02d}{:02d}{:02d}".format,
    st.sampled_from(["2026", "0000", "0001", "9999", "2O26", "２026"]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 60),
)
_TAILS = (
    st.sampled_from(["web-to-coord.md", "a-to-b.2.md", "a-to-b.10.md", "a-to-b-to-c.md"])
    | st.text(alphabet="a-toZ_9.mdé", max_size=14).map(lambda t: t + ".md")
    | st.text(max_size=14)
)


@settings(max_examples=3000, deadline=None)
@given(st.tuples(_STAMPS, st.sampled_from(["-", "_", ""]), _TAILS).map("".join) | st.text(max_size=40))
@example("20260229-000000-a-to-b.md")
@example("20260131-235959-web-to-coord.12.md")
@example("20260101-000000-a-to--to-b.md")
@example("20260101-000000-a-to-b.1.md")
@example("20260101-000000-a-to-b.02.md")
@example("20260101-240000-a-to-b.md")
@example("20260101-006000-a-to-b.md")
@example("20260101-000060-a-to-b.md")
@example("00000101-000000-a-to-b.md")
@example("20261301-000000-a-to-b.md")
@example("20260101-000000-a-to-b.md\n")
def test_plain_parts_is_the_plain_pattern(name):
    """The listing reads a name by hand (no `re` on a warm run): what PLAIN_PATTERN's groups say."""
    import re

    m = re.match(mail_index.PLAIN_PATTERN, name)
    want = None
    if m:
        d, t, sender, to, seq = m.groups()
        want = (d, t, sender, to, int(seq) if seq else 1)
    assert mail_index.plain_parts(name) == want
    assert mail_index.plain_parts(name) == want  # and again, from the memo


@pytest.mark.parametrize(
    ("track", "count"),
    [("[ahead 3]", 3), ("[ahead 12, behind 4]", 12), ("[behind 4]", 0), ("", 0), ("[ahead ]", 0)],
)
def test_the_ahead_count_is_read_from_git_track(track, count):
    """%(upstream:track) read with str methods: what the pattern `ahead (\\d+)` read (0 without it)."""
    import re

    m = re.search(r"ahead (\d+)", track)
    assert digest_lib._ahead(track) == count == (int(m.group(1)) if m else 0)


def _fake_git(tmp_path: Path, body: str) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = bin_dir / "git"
    git.write_text("#!/bin/sh\n" + body)
    git.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("delay", ["0", "0.4"])
def test_git_output_is_read_whether_git_ended_or_not(tmp_path, monkeypatch, delay):
    """The branch row comes from git's output whether git already exited (read at once) or is still
    running when it is asked for (waited for)."""
    body = f"sleep {delay}\nprintf '*\\000main\\000origin/main\\000[ahead 2]\\n'\n"
    for key, value in _fake_git(tmp_path, body).items():
        monkeypatch.setenv(key, value)
    proc = digest_lib.start_git(str(tmp_path))
    if delay == "0":
        retry_until(lambda: os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None)
    row = digest_lib.unpushed(str(tmp_path), proc)
    assert (row["branch"], row["upstream"], row["count"]) == ("main", "origin/main", 2)
    assert "error" not in row


def test_a_git_that_never_answers_is_killed_at_the_timeout(tmp_path, monkeypatch):
    for key, value in _fake_git(tmp_path, "exec sleep 60\n").items():
        monkeypatch.setenv(key, value)
    proc = digest_lib.start_git(str(tmp_path))
    with pytest.raises(TimeoutError):
        proc.communicate(timeout=0.3)
    with pytest.raises(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)  # killed and reaped


# ---- the --json document is json.dumps of the contract document, byte for byte --------------------

TEXTS = st.text(max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3),
    max_leaves=12,
)
LANES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}", fullmatch=True)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            # a row's file matched the name grammar (\d is any Unicode digit there); from/to are lanes
            "file": st.from_regex(
                r"\d{8}-\d{6}-[A-Za-z][A-Za-z0-9_-]{0,4}-to-[A-Za-z]{1,3}(\.[2-9])?\.md", fullmatch=True
            ),
            "from": LANES,
            "to": LANES,
            "subject": st.none() | TEXTS,
            "mtime": TEXTS,
        }
    ),
    max_size=5,
)


@given(
    state=st.none() | JSON_VALUES,
    rows=ROWS,
    processed=st.integers(min_value=0),
    errors=st.tuples(st.none() | TEXTS, st.none() | TEXTS, st.none() | TEXTS),
    adrs=st.lists(
        st.fixed_dictionaries({"id": st.integers(), "status": TEXTS, "title": TEXTS, "path": TEXTS})
    ),
)
@settings(max_examples=300, deadline=None)
def test_json_text_is_json_dumps_of_the_contract_document(state, rows, processed, errors, adrs):
    """The --json writer joins the pending rows itself (the saving on a big mailbox): it must write what
    json.dumps writes for the contract document, whatever the strings hold."""
    doc = {
        "contract_version": 1,
        "generated_at": NOW,
        "state": state,
        "state_error": errors[0],
        "mailbox": {
            "pending": [
                ("d", "t", 1, r["file"], r["from"], r["to"], r["subject"], r["mtime"], "/x") for r in rows
            ],
            "processed_count": processed,
        },
        "mailbox_error": errors[1],
        "unpushed": [
            {"repo": "r", "path": "/r", "branch": "m\u00e9", "upstream": None, "count": 3, "error": "x"}
        ],
        "adrs": adrs,
        "adr_error": errors[2],
    }
    assert digest_lib.json_text(doc) == json.dumps(digest_lib.json_doc(doc), ensure_ascii=False)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("mode", ["--json", "--once"])
def test_output_that_cannot_be_written_is_one_line_never_a_traceback(tmp_path, mode):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            ["bash", str(SHELL / "loop-digest.sh"), mode, "--project-root", str(tmp_path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert proc.returncode == 1
    assert proc.stderr == "loop-digest: cannot write the output: No space left on device\n"


def test_a_reader_gone_is_quiet(tmp_path):
    box = tmp_path / ".loop" / "messages"
    box.mkdir(parents=True)
    for n in range(3000):  # a document far bigger than a pipe holds
        (box / f"20260101-00{n // 60 % 60:02d}{n % 60:02d}-web-to-coord.{n % 7 + 2}.md").write_text("x\n")
    proc = subprocess.run(
        f"bash {SHELL / 'loop-digest.sh'} --json --project-root {tmp_path} | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout == '{"contract' and proc.stderr == ""
