"""Special files at project paths (issue 15, item 10): no reader hangs, fills memory or raises a traceback.

A lane can put anything where the loop reads: a FIFO at the state file or the pending decision, a symlink
to /dev/zero, a socket, a folder, a sparse file far over any sane size, JSON or YAML nested 100k deep, a
YAML alias bomb. Every reader goes through loop_schemas.fsread (or its stdlib twin shell/lib/fsread.py):
only a regular file is read, opened without blocking, under a per-kind cap.

Each case runs in a forked child with a deadline and an address-space limit, so a regression fails the
test (hung / MemoryError) instead of hanging the suite or eating the machine's memory.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loop_schemas import fsread

REPO = Path(__file__).resolve().parent.parent
SHELL_LIB = REPO / "shell" / "lib"
DEEP = 100_000
CHILD_MEMORY = 3 << 30  # address space a reader may use in its child: far less than /dev/zero can give
DEADLINE = 20.0

# ---- running a reader in a guarded child ---------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # "returned", "raised" or "hung"
    value: str = ""  # repr of the return value
    exc_type: str = ""
    message: str = ""
    trace: str = ""

    def text(self) -> str:
        return self.value if self.status == "returned" else self.message


def guarded(fn: Callable[[], Any], timeout: float = DEADLINE) -> Outcome:
    """Run fn() in a forked child (memory-limited, killed at the deadline); what it returned or raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_end)
            resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
            try:
                result = {"status": "returned", "value": repr(fn())[:2000]}
            except BaseException as exc:
                result = {
                    "status": "raised",
                    "exc_type": type(exc).__name__,
                    "message": str(exc)[:2000],
                    "trace": traceback.format_exc()[-3000:],
                }
            data = json.dumps(result).encode()
            while data:
                data = data[os.write(write_end, data) :]
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([read_end], [], [], timeout)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                return Outcome("hung")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not chunks:
        return Outcome("raised", exc_type="ChildDied", message="the child died without a word")
    return Outcome(**json.loads(b"".join(chunks)))


def shell_module(name: str) -> Any:
    """A shell/lib helper, imported in the (forked) child only: the test process keeps its sys.path."""
    sys.path.insert(0, str(SHELL_LIB))
    import importlib

    return importlib.import_module(name)


# ---- the hostile files --------------------------------------------------------------------------------

DEEP_JSON = "[" * DEEP + "]" * DEEP
DEEP_FLOW = "[" * DEEP + "]" * DEEP
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)
_SOCKETS: list[socket.socket] = []


def _socket_at(path: Path) -> None:
    """A listening unix socket at path (bound in a short folder: sun_path is ~100 bytes; path links there)."""
    folder = tempfile.mkdtemp(prefix="sock", dir="/tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(f"{folder}/s")
    sock.listen(1)
    _SOCKETS.append(sock)
    path.symlink_to(f"{folder}/s")


def deep_text(fmt: str) -> str:
    """A document of this format nested DEEP levels (where the format nests at all)."""
    if fmt == "json":
        return DEEP_JSON
    if fmt == "jsonl":
        return DEEP_JSON + "\n"
    if fmt == "yaml":
        return f"lanes: {DEEP_FLOW}\nengine: {DEEP_FLOW}\n"
    if fmt == "md":  # frontmatter: mail, task, ADR
        return f"---\nsubject: {DEEP_FLOW}\nstatus: {DEEP_FLOW}\n---\n## Objective\nx\n"
    if fmt == "decision":
        return f"```decision\ncritique: {DEEP_FLOW}\nactions: []\n```\n"
    return DEEP_FLOW


def bomb_text(fmt: str) -> str:
    """A YAML alias bomb (9 levels of 9 aliases: 9**10 scalars once expanded) in a file of this format."""
    if fmt == "yaml":
        return BOMB + "lanes:\n  web: {harness: pi, env: *j, model: *j}\nengine:\n  pm: {adapters: *j}\n"
    if fmt == "md":
        return f"---\n{BOMB}subject: *j\n---\nbody\n"
    return f"```decision\n{BOMB}critique: *j\nactions: *j\n```\n"


KINDS = ("fifo", "dev-zero", "dev-null", "directory", "socket", "over-cap", "deep", "bomb")
# what the refusal says, for the kinds fsread refuses by name
NAMED = {
    "fifo": "FIFO",
    "dev-zero": "character device",
    "dev-null": "character device",
    "directory": "directory",
    "socket": "socket",
    "over-cap": "larger than",
}


def plant(path: Path, kind: str, fmt: str, cap: int) -> None:
    """Put a file of `kind` at path (a file of format `fmt`, read under `cap` bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dev-null":
        path.symlink_to("/dev/null")
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        _socket_at(path)
    elif kind == "over-cap":
        with path.open("wb") as fh:
            fh.truncate(cap + 1)  # sparse: no disk used
    elif kind == "deep":
        path.write_text(deep_text(fmt))
    elif kind == "bomb":
        path.write_text(bomb_text(fmt))


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    yield
    while _SOCKETS:
        _SOCKETS.pop().close()


# ---- every reader entry point ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    name: str
    rel: str  # where the special file goes under the project root
    fmt: str  # json, jsonl, yaml, md, decision, text
    cap: int
    call: Callable[[Path], Any]  # given the project root
    errors: tuple[str, ...] = ()  # exception type names that are a clean refusal
    says: bool = True  # the refusal (its message, or the returned value) names what the file is


def _r_load_state(root: Path) -> Any:
    from loop_schemas import load_state

    return load_state(root / ".loop/orchestrator-state.json")


def _r_lane_config(root: Path) -> Any:
    from loop_schemas import load_lane_config

    return load_lane_config(root / "lane-config.yaml")


def _r_validate(kind: str, rel: str) -> Callable[[Path], Any]:
    def call(root: Path) -> Any:
        from loop_schemas.__main__ import validate_file

        return validate_file(root / rel, kind)

    return call


def _r_schema_tasks(root: Path) -> Any:
    from loop_schemas import lint_tasks, load_tasks

    return load_tasks(root / "tasks"), lint_tasks(root / "tasks")


def _engine_paths(root: Path) -> Any:
    from loop_engine.paths import EnginePaths

    return EnginePaths(root, "s1")


def _r_read_pending(root: Path) -> Any:
    from loop_engine import queue

    return queue.read_pending(_engine_paths(root))


def _r_pending_digest(root: Path) -> Any:
    from loop_engine import queue

    return queue.pending_digest(_engine_paths(root))


def _r_store(root: Path) -> Any:
    from loop_engine.store import read_json

    return read_json(_engine_paths(root).asks, {})


def _r_events(root: Path) -> Any:
    from loop_engine.events import EventLog

    return list(EventLog(_engine_paths(root).events, "s1").read())


def _r_engine_tasks(root: Path) -> Any:
    from loop_engine.tasks import load_tasks

    return load_tasks(root / "tasks")


def _r_mail_head(root: Path) -> Any:
    from loop_engine.observe import read_mail_head

    return read_mail_head(root / ".loop/messages/20260101-000000-web-to-coord.md")


def _r_read_pid(root: Path) -> Any:
    from loop_engine.watch import read_pid

    return read_pid(_engine_paths(root))


def _r_deck_loops(root: Path) -> Any:
    from loop_deck.snapshot import read_loops

    return read_loops(root / ".loop/orchestrator-state.json")


def _r_deck_decision(root: Path) -> Any:
    from loop_deck.snapshot import read_decision

    return read_decision(_engine_paths(root).pending)


def _r_deck_subject(root: Path) -> Any:
    from loop_deck.snapshot import read_subject

    return read_subject(root / ".loop/messages/20260101-000000-web-to-coord.md")


def _r_deck_adr(root: Path) -> Any:
    from loop_deck.snapshot import read_adr

    return read_adr(root / "docs/adr/0001-x.md", root, root / "docs/adr")


def _r_deck_restarts(root: Path) -> Any:
    from loop_deck.snapshot import read_restarts

    return read_restarts(root / ".loop/sessions/s1/lane-restarts.jsonl")


def _r_deck_pid(root: Path) -> Any:
    from loop_deck.snapshot import read_daemon_pid

    return read_daemon_pid(_engine_paths(root).engine_dir)


def _r_pm_tree(root: Path) -> Any:
    from loop_pm.taskfiles import read_tree

    return read_tree(root / "tasks").problems


def _r_sh_digest_state(root: Path) -> Any:
    return shell_module("digest").read_state(str(root / ".loop/orchestrator-state.json"))


def _r_sh_digest_subject(root: Path) -> Any:
    return shell_module("digest")._subject(str(root / ".loop/messages/20260101-000000-web-to-coord.md"))


def _r_sh_mail_subject(root: Path) -> Any:
    return shell_module("mail").read_subject(str(root / ".loop/messages/20260101-000000-web-to-coord.md"))


def _r_sh_adr(root: Path) -> Any:
    return shell_module("adr").read_record(str(root / "docs/adr/0001-x.md"), 1).error


def _r_sh_lane_config(root: Path) -> Any:
    return shell_module("lane_config").LaneConfig(str(root / "lane-config.yaml")).raw


def _r_sh_restart(root: Path) -> Any:
    return shell_module("restart").configured_adapters(str(root / "lane-config.yaml"))


def _r_sh_checkpoint(root: Path) -> Any:
    return shell_module("checkpoint")._wiki_part(str(root), "ops-wiki/checkpoint.md")


def _r_sh_metrics(root: Path) -> Any:
    metrics = shell_module("metrics")
    return (
        metrics.restart_counts(str(root / ".loop/sessions/s1/lane-restarts.jsonl")),
        metrics.log_counts(str(root / "ops-wiki/log.md")),
    )


def _r_sh_tasks(root: Path) -> Any:
    return [str(f) for f in shell_module("tasks").lint(str(root / "tasks"))[0]]


def _r_sh_frontmatter(root: Path) -> Any:
    return shell_module("frontmatter")._read(str(root / "tasks/T0001-x.md"))


STATE = ".loop/orchestrator-state.json"
PENDING = ".loop/sessions/s1/engine/pending-decision.json"
MAIL = ".loop/messages/20260101-000000-web-to-coord.md"
TASK = "tasks/T0001-x.md"
ADR = "docs/adr/0001-x.md"
EVENTS = ".loop/sessions/s1/engine/events.jsonl"
RESTARTS = ".loop/sessions/s1/lane-restarts.jsonl"
F = fsread
READERS = [
    # loop-schemas
    Reader("schemas.load_state", STATE, "json", F.STATE_CAP, _r_load_state, ("SchemaError",)),
    Reader(
        "schemas.load_lane_config", "lane-config.yaml", "yaml", F.CONFIG_CAP, _r_lane_config, ("SchemaError",)
    ),
    Reader("validate state", STATE, "json", F.STATE_CAP, _r_validate("state", STATE)),
    Reader("validate mail", MAIL, "md", F.DOC_CAP, _r_validate("mail", MAIL)),
    Reader("validate task", TASK, "md", F.DOC_CAP, _r_validate("task", TASK)),
    Reader("validate adr", ADR, "md", F.DOC_CAP, _r_validate("adr", ADR)),
    Reader(
        "validate lane-config",
        "lane-config.yaml",
        "yaml",
        F.CONFIG_CAP,
        _r_validate("lane-config", "lane-config.yaml"),
    ),
    Reader("validate decision json", PENDING, "json", F.ENGINE_CAP, _r_validate("decision", PENDING)),
    Reader(
        "validate decision block",
        "brain-decision.md",
        "decision",
        F.ENGINE_CAP,
        _r_validate("decision", "brain-decision.md"),
    ),
    Reader("validate events", EVENTS, "jsonl", 0, _r_validate("events", EVENTS)),
    Reader("validate restarts", RESTARTS, "jsonl", 0, _r_validate("restarts", RESTARTS)),
    Reader("schemas.load_tasks+lint_tasks", TASK, "md", F.DOC_CAP, _r_schema_tasks, says=False),
    # loop-engine
    Reader("engine.queue.read_pending", PENDING, "json", F.ENGINE_CAP, _r_read_pending, ("QueueError",)),
    Reader(
        "engine.queue.pending_digest",
        PENDING,
        "json",
        F.ENGINE_CAP,
        _r_pending_digest,
        ("ProjectFileError", "ProjectDirectoryError"),
    ),
    Reader(
        "engine.store.read_json",
        ".loop/sessions/s1/engine/asks.json",
        "json",
        F.ENGINE_CAP,
        _r_store,
        ("StoreError",),
    ),
    Reader(
        "engine.events.read", EVENTS, "jsonl", 0, _r_events, ("ProjectFileError", "ProjectDirectoryError")
    ),
    Reader("engine.tasks.load_tasks", TASK, "md", F.DOC_CAP, _r_engine_tasks, says=False),
    Reader("engine.observe.read_mail_head", MAIL, "md", 0, _r_mail_head, says=False),
    Reader(
        "engine.watch.read_pid",
        ".loop/sessions/s1/engine/daemon.pid",
        "text",
        F.ENGINE_CAP,
        _r_read_pid,
        says=False,
    ),
    # loop-deck
    Reader("deck.read_loops", STATE, "json", F.STATE_CAP, _r_deck_loops),
    Reader("deck.read_decision", PENDING, "json", F.ENGINE_CAP, _r_deck_decision),
    Reader("deck.read_subject", MAIL, "md", 0, _r_deck_subject, says=False),
    Reader("deck.read_adr", ADR, "md", F.DOC_CAP, _r_deck_adr),
    Reader("deck.read_restarts", RESTARTS, "jsonl", 0, _r_deck_restarts, says=False),
    Reader("deck.read_daemon_pid", ".loop/sessions/s1/engine/daemon.pid", "text", 0, _r_deck_pid, says=False),
    # loop-pm
    Reader("pm.taskfiles.read_tree", TASK, "md", F.DOC_CAP, _r_pm_tree, says=False),
    # shell/lib
    Reader("shell digest.read_state", STATE, "json", F.STATE_CAP, _r_sh_digest_state),
    Reader("shell digest._subject", MAIL, "md", 0, _r_sh_digest_subject, says=False),
    Reader("shell mail.read_subject", MAIL, "md", 0, _r_sh_mail_subject, says=False),
    Reader("shell adr.read_record", ADR, "md", 0, _r_sh_adr, says=False),
    Reader(
        "shell lane_config", "lane-config.yaml", "yaml", F.CONFIG_CAP, _r_sh_lane_config, ("ConfigError",)
    ),
    Reader(
        "shell restart.configured_adapters",
        "lane-config.yaml",
        "yaml",
        F.CONFIG_CAP,
        _r_sh_restart,
        ("RestartError",),
        says=False,
    ),
    Reader(
        "shell checkpoint._wiki_part",
        "ops-wiki/checkpoint.md",
        "text",
        F.WIKI_CAP,
        _r_sh_checkpoint,
        says=False,
    ),
    Reader(
        "shell metrics", RESTARTS, "jsonl", 0, _r_sh_metrics, ("ProjectFileError", "ProjectDirectoryError")
    ),
    Reader("shell tasks.lint", TASK, "md", F.DOC_CAP, _r_sh_tasks, says=False),
    Reader(
        "shell frontmatter._read",
        TASK,
        "md",
        F.DOC_CAP,
        _r_sh_frontmatter,
        ("ProjectFileError", "ProjectDirectoryError", "FrontmatterError"),
    ),
]


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for folder in (
        ".loop/messages/processed",
        ".loop/sessions/s1/engine",
        "tasks/archive",
        "docs/adr",
        "ops-wiki",
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


CASES = [
    pytest.param(reader, kind, id=f"{reader.name}-{kind}")
    for reader in READERS
    for kind in KINDS
    if not (kind == "over-cap" and reader.cap == 0)  # streamed, or only a head is read: no cap applies
    and not (kind == "deep" and reader.fmt == "text")  # plain text does not nest
    and not (kind == "bomb" and reader.fmt not in ("yaml", "md", "decision"))  # aliases are YAML's
]


@pytest.mark.parametrize(("reader", "kind"), CASES)
def test_no_reader_hangs_or_raises_on_a_special_file(tmp_path: Path, reader: Reader, kind: str) -> None:
    root = _project(tmp_path)
    plant(root / reader.rel, kind, reader.fmt, reader.cap)
    out = guarded(lambda: reader.call(root))
    assert out.status != "hung", f"{reader.name} hung on a {kind}"
    if out.status == "raised":
        assert out.exc_type in reader.errors, f"{reader.name} on a {kind}: {out.exc_type}\n{out.trace}"
        assert "\n" not in out.message.strip(), out.message
    if reader.says and kind in NAMED:
        assert NAMED[kind] in out.text(), f"{reader.name} on a {kind} does not say so: {out.text()!r}"


# ---- the commands of item 10, with a FIFO at the state file and at the pending decision --------------


def _run(argv: list[str], cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(argv[:6])} hung (killed after {timeout:.0f}s)")


def _engine(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "loop_engine", "--project-root", str(root), "--session", "s1", *args]
    return _run(argv, root)


def _lanes(fake: Any) -> None:
    """The fake substrate answers for a session s1 with a coord lane and an idle pi lane."""
    lanes = {"coord": (None, True), "web": ("pi", True)}
    stamp = {"contract_version": 1, "session": "s1", "generated_at": "2026-01-01T00:00:00Z"}
    fake.respond(
        "loop-lane-status",
        {
            **stamp,
            "lanes": {
                name: {"status": "idle", "target": f"%{i}", "kind": "fixed", "harness": h, "detail": "ready"}
                for i, (name, (h, _)) in enumerate(lanes.items())
            },
        },
    )
    fake.respond(
        "loop-tmux",
        {
            **stamp,
            "lanes": [
                {
                    "window": n,
                    "harness": h,
                    "model": None,
                    "role": None,
                    "cmd": None,
                    "base": b,
                    "kind": "standing",
                }
                for n, (h, b) in lanes.items()
            ],
        },
    )
    registry = {
        "contract_version": 1,
        "harnesses": [{"name": "pi", "kind": "ai", "oneshot_template": "pi -p {prompt}"}],
    }
    base = fake.root / "responses" / "lib__harness-registry.sh"  # see engine_fakes.respond_registry
    Path(f"{base}.out").write_text(json.dumps(registry) + "\n")
    Path(f"{base}.code").write_text("0")


TASK_TEXT = """---
id: T0001
title: a
status: open
depends_on: []
scope: one thing
---

## Objective
Do a.

## Context you need
None.

## Deliverables
A thing.

## Acceptance criteria
It works.

## Verification
Run it.

## Out of scope
Everything else.
"""


@pytest.fixture
def engine_project(tmp_path: Path, fake_substrate: Any) -> Path:
    root = _project(tmp_path)
    (root / "ops-wiki/checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\n")
    (root / "tasks/T0001-a.md").write_text(TASK_TEXT)
    _lanes(fake_substrate)
    return root


def _one_line(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_a_fifo_at_the_pending_decision_is_named_by_status_once_and_approve(engine_project: Path) -> None:
    """Fails on main: status, once and approve block forever opening the FIFO."""
    pending = engine_project / PENDING
    os.mkfifo(pending)
    for args in (("status",), ("status", "--json"), ("once",), ("approve", "d-1"), ("reject", "d-1")):
        out = _engine(engine_project, *args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        line = _one_line(out)
        assert f"{pending}: cannot be read (is a FIFO (named pipe), not a regular file)" in line, (args, line)
    assert pending.is_fifo()  # kept for a human to look at


def test_a_fifo_at_the_state_file_degrades_status_once_and_approve(engine_project: Path) -> None:
    """Fails on main: status blocks forever reading the FIFO (once and approve only skip it there)."""
    queued = _engine(engine_project, "once", "--approval", "manual", "--json")
    assert queued.returncode == 0, queued.stderr
    decision = json.loads(queued.stdout)["decision_id"]
    state = engine_project / STATE
    os.mkfifo(state)
    status = _engine(engine_project, "status", "--json")
    assert status.returncode == 0, status.stderr
    warnings = json.loads(status.stdout)["warnings"]
    assert any(f"{state}: unreadable: is a FIFO" in w for w in warnings), warnings
    out = _engine(engine_project, "approve", decision)
    assert out.returncode == 0, out.stderr
    out = _engine(engine_project, "once")
    assert out.returncode == 0, out.stderr
    assert state.is_fifo()


def test_loop_digest_reports_a_fifo_state_file_as_its_state_error(tmp_path: Path) -> None:
    """Fails on main: loop-digest --json blocks forever reading the FIFO."""
    root = _project(tmp_path)
    state = root / STATE
    os.mkfifo(state)
    os.mkfifo(root / PENDING)  # the digest does not read it; it must not start to block on it either
    out = _run(["bash", str(REPO / "shell/loop-digest.sh"), "--json", "--project-root", str(root)], root)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["state_error"] == f"state file is a FIFO (named pipe), not a regular file: {state}"


def test_validate_refuses_a_symlink_to_dev_zero_in_one_line(tmp_path: Path) -> None:
    """Fails on main: validate reads /dev/zero until a MemoryError traceback (or the OOM killer)."""
    link = tmp_path / "orchestrator-state.json"
    link.symlink_to("/dev/zero")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "loop_schemas", "validate", str(link)],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
            # a regression fills this much memory and dies, not the machine
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY)),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("validate hung on a symlink to /dev/zero")
    assert out.returncode == 1
    assert out.stderr == f"{link}: unreadable: is a character device, not a regular file\n"


# ---- the two readers (loop_schemas.fsread and shell/lib/fsread.py) give the same verdicts --------------


def _shell_fsread() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("shell_lib_fsread", SHELL_LIB / "fsread.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHELL_FSREAD = _shell_fsread()


def _verdict(read: Callable[[], bytes]) -> tuple[str, ...]:
    try:
        return ("read", read().hex())
    except OSError as exc:
        return (type(exc).__name__, str(exc.errno), str(exc.strerror), str(exc.filename))


def test_the_caps_are_the_same_in_both_readers() -> None:
    names = ("STATE_CAP", "ENGINE_CAP", "CONFIG_CAP", "WIKI_CAP", "DOC_CAP", "LINE_CAP")
    assert {n: getattr(SHELL_FSREAD, n) for n in names} == {n: getattr(fsread, n) for n in names}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(("regular", "fifo", "dev-zero", "dev-null", "directory", "socket", "missing")),
    data=st.binary(max_size=64),
    cap=st.integers(min_value=0, max_value=80),
    links=st.integers(min_value=0, max_value=2),
)
def test_both_readers_accept_and_refuse_the_same_files(
    tmp_path_factory: pytest.TempPathFactory, kind: str, data: bytes, cap: int, links: int
) -> None:
    folder = tmp_path_factory.mktemp("twin")
    target = folder / "target"
    if kind == "regular":
        target.write_bytes(data)
    elif kind != "missing":
        plant(target, kind, "text", cap)
    path = target
    for n in range(links):  # users symlink their configs: a link to a regular file reads through
        link = folder / f"link{n}"
        link.symlink_to(path)
        path = link
    try:
        ours = _verdict(lambda: fsread.read_project_file(path, cap))
        theirs = _verdict(lambda: SHELL_FSREAD.read_file(str(path), cap))
        heads = (
            _verdict(lambda: fsread.read_project_head(path, 8)),
            _verdict(lambda: SHELL_FSREAD.read_head(str(path), 8)),
        )
    finally:
        while _SOCKETS:
            _SOCKETS.pop().close()
    appends = []
    for open_append in (
        lambda: fsread.open_project_append(path),
        lambda: SHELL_FSREAD.open_append(str(path)),
    ):
        try:
            os.close(open_append())
            appends.append(("opened",))
        except OSError as exc:
            appends.append((type(exc).__name__, str(exc.strerror), str(exc.filename)))
    assert ours == theirs
    assert heads[0] == heads[1]
    assert appends[0] == appends[1]
    if kind == "regular" and len(data) <= cap:
        assert ours == ("read", data.hex())
    elif kind == "regular":
        assert ours[0] == "ProjectFileError" and ours[2] == f"larger than {cap} bytes, not read"
    elif kind == "missing":
        assert ours[0] == "FileNotFoundError"
    else:
        assert ours[0] in ("ProjectFileError", "ProjectDirectoryError"), ours
        assert ours[2].startswith("is "), ours


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="aé\r\n \u2028\x85", max_size=40))
def test_read_project_text_reads_as_path_read_text(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("text") / "f.md"
    path.write_bytes(text.encode("utf-8"))
    assert fsread.read_project_text(path, fsread.DOC_CAP) == path.read_text(encoding="utf-8")
    assert SHELL_FSREAD.read_text(str(path), fsread.DOC_CAP) == path.read_text(encoding="utf-8")


def test_a_long_jsonl_line_is_skipped_not_held(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b"x" * 100 + b"\n" + b"y" * 10 + b'\n{"b": 2}')
    with fsread.open_project_file(path) as fh:
        ours = list(fsread.project_lines(fh, 16))
    with SHELL_FSREAD.open_file(str(path)) as fh:
        theirs = list(SHELL_FSREAD.lines(fh, 16))
    assert ours == theirs == [b'{"a": 1}\n', None, b"y" * 10 + b"\n", b'{"b": 2}']


# ---- appenders: a line is appended to a regular file only -------------------------------------------


def _a_append_line(path: Path) -> Any:
    from loop_schemas import append_line

    return append_line(path, "## [2026-01-01] task | T0001 done")


def _a_event(path: Path) -> Any:
    from loop_engine.events import EventLog

    return EventLog(path, "s1").emit("paused")


def _a_sh_append_locked(path: Path) -> Any:
    return shell_module("atomic").append_locked(str(path), "## [2026-01-01] metrics | x\n")


APPENDERS = [
    pytest.param("ops-wiki/log.md", _a_append_line, id="schemas.append_line"),
    pytest.param(EVENTS, _a_event, id="engine.EventLog.emit"),
    pytest.param("ops-wiki/log.md", _a_sh_append_locked, id="shell atomic.append_locked"),
]


@pytest.mark.parametrize("kind", ["fifo", "dev-null", "directory", "socket"])
@pytest.mark.parametrize(("rel", "append"), APPENDERS)
def test_no_appender_hangs_on_or_loses_lines_into_a_special_file(
    tmp_path: Path, rel: str, append: Callable[[Path], Any], kind: str
) -> None:
    """Fails on main: append_line blocks forever opening a FIFO that has no reader, and a line appended
    to a link to /dev/null is silently lost."""
    root = _project(tmp_path)
    plant(root / rel, kind, "text", 0)
    out = guarded(lambda: append(root / rel))
    assert out.status == "raised", f"{rel} ({kind}): {out.status} {out.value}"
    assert out.exc_type in ("ProjectFileError", "ProjectDirectoryError"), out.trace
    assert NAMED[kind] in out.message and out.message.endswith("not a regular file"), out.message


@pytest.mark.parametrize(("rel", "append"), APPENDERS)
def test_appenders_still_append_to_a_regular_file_and_through_a_symlink(
    tmp_path: Path, rel: str, append: Callable[[Path], Any]
) -> None:
    root = _project(tmp_path)
    real = root / "real.log"
    real.write_text("before\n")
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).symlink_to(real)
    out = guarded(lambda: append(root / rel))
    assert out.status == "returned", out.trace
    lines = real.read_text().splitlines()
    assert lines[0] == "before" and len(lines) == 2
