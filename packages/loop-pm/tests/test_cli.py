"""The loop-pm CLI: adapters found through entry points (listed without importing, failures reported),
sync's flags, adapter options, exit codes and the --json documents."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pm_fakes
import pytest
from click.testing import CliRunner
from loop_pm import plugins
from loop_pm.cli import cli
from loop_schemas import parse_task
from loop_schemas.pm import ADAPTER_GROUP, COMMAND_GROUP, AdapterList, SyncResult
from pm_fakes import SHARED, Remote, write_task


@click.group("mem")
def mem_commands() -> None:
    """Verbs of the in-memory adapter."""


@mem_commands.command("hello")
def _hello() -> None:
    click.echo("hello from mem")


pm_fakes.mem_commands = mem_commands  # type: ignore[attr-defined]


def install(
    monkeypatch: pytest.MonkeyPatch, adapters: dict[str, str], commands: dict[str, str] | None = None
) -> None:
    groups = {
        ADAPTER_GROUP: [EntryPoint(n, v, ADAPTER_GROUP) for n, v in adapters.items()],
        COMMAND_GROUP: [EntryPoint(n, v, COMMAND_GROUP) for n, v in (commands or {}).items()],
    }
    monkeypatch.setattr(plugins, "entry_points", lambda group: groups.get(group, []))


@pytest.fixture(autouse=True)
def fresh_remote() -> None:
    SHARED.issues.clear()
    SHARED.calls.clear()
    SHARED.counter = 0


def run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


# -------------------------------------------------------------------------------------- discovery


def test_discovery_lists_by_name_without_importing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "probe_adapter_mod.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('yes')\n"
        "from pm_fakes import SharedAdapter as Adapter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    install(monkeypatch, {"probe": "probe_adapter_mod:Adapter"})
    entries = plugins.discover()
    assert [e.name for e in entries] == ["probe"]
    assert not marker.exists() and "probe_adapter_mod" not in sys.modules
    rows, problems = plugins.adapter_infos()  # availability needs the import
    assert marker.exists() and rows[0].available and problems == []


def test_list_adapters_reports_load_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        {
            "mem": "pm_fakes:SharedAdapter",
            "off": "pm_fakes:UnavailableAdapter",
            "broken": "no_such_module_for_loop_pm:Adapter",
            "odd": "pm_fakes:Remote",
            "boom": "pm_fakes:ExplodingAdapter",
        },
        {"mem": "pm_fakes:mem_commands"},
    )
    code, out, err = run("list-adapters", "--json")
    assert code == 0
    doc = AdapterList.model_validate_json(out)
    by = {a.name: a for a in doc.adapters}
    assert list(by) == ["boom", "broken", "mem", "odd", "off"]
    assert by["mem"].available and by["mem"].loaded and by["mem"].commands
    assert not by["off"].available and by["off"].reason == "MEM_TOKEN is not set"
    assert not by["broken"].available and "No module named 'no_such_module_for_loop_pm'" in (
        by["broken"].reason or ""
    )
    assert not by["odd"].available and "PmAdapter protocol" in (by["odd"].reason or "")
    assert not by["boom"].available and "boom at init" in (by["boom"].reason or "")
    assert json.loads(out)["contract_version"] == 1
    # loud: every failure is on stderr too, one line each
    assert sum("warning:" in line for line in err.splitlines()) == 3

    code, out, _ = run("list-adapters")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "STATUS"]
    assert any(line.startswith("mem ") and line.endswith("available") for line in lines)
    assert any(line.startswith("off ") and "unavailable: MEM_TOKEN is not set" in line for line in lines)


def test_no_adapters_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, {})
    code, out, _ = run("list-adapters")
    assert code == 0 and "no PM adapters installed" in out
    code, out, _ = run("list-adapters", "--json")
    assert json.loads(out) == {"contract_version": 1, "adapters": []}


def test_adapter_verbs_mount_and_broken_ones_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, {}, {"mem": "pm_fakes:mem_commands", "zzz": "not_a_module_zzz:cli"})
    code, out, _ = run("mem", "hello")
    assert (code, out.strip()) == (0, "hello from mem")
    code, out, _ = run("--help")
    assert "mem" in out and "zzz" in out
    code, _, err = run("zzz", "anything")
    assert code == 1
    assert "failed to load" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------- sync


@pytest.fixture
def mem(monkeypatch: pytest.MonkeyPatch) -> Remote:
    install(monkeypatch, {"mem": "pm_fakes:SharedAdapter", "off": "pm_fakes:UnavailableAdapter"})
    return SHARED


def test_sync_pull_then_push_round_trip(mem: Remote, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    write_task(tasks, "T0001", "Local work")
    mem.add("Remote work")
    code, out, err = run("sync", "--adapter", "mem", "pull", "--tasks-dir", str(tasks))
    assert code == 0, err
    assert "create-task" in out and "T0002" in out and out.strip().endswith("1 done, 0 failed")
    code, out, err = run(
        "sync", "--adapter", "mem", "push", "--project", "P", "--sprint", "active", "--tasks-dir", str(tasks)
    )
    assert code == 0, err
    assert "create-issue" in out
    assert pm_fakes.SHARED.calls.count(("create", "T0001")) == 1
    t1 = parse_task((tasks / "T0001-local-work.md").read_text())
    assert t1.frontmatter.jira == "MEM-2"
    code, out, _ = run("sync", "--adapter", "mem", "both", "--tasks-dir", str(tasks))
    assert code == 0 and "nothing to do" in out
    assert (tmp_path / "ops-wiki" / "log.md").read_text().count("created from T0001") == 1


def test_sync_json_is_one_document(mem: Remote, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    write_task(tasks, "T0001", "Local work")
    code, out, _ = run("sync", "--adapter", "mem", "both", "--dry-run", "--json", "--tasks-dir", str(tasks))
    assert code == 0
    result = SyncResult.model_validate_json(out)
    assert result.dry_run and result.ok and result.direction == "both"
    assert [(a.direction, a.kind, a.state) for a in result.actions] == [("push", "create-issue", "planned")]
    assert json.loads(out)["contract_version"] == 1
    assert mem.writes() == []
    assert not (tmp_path / "ops-wiki").exists() and not (tmp_path / ".loop").exists()


def test_sync_defaults_to_tasks_under_the_current_directory(mem: Remote, tmp_path: Path) -> None:
    write_task(tmp_path / "tasks", "T0001", "Here")
    code, out, _ = run("sync", "--adapter", "mem", "push", "--dry-run", cwd=tmp_path)
    assert code == 0 and "would push  create-issue  T0001" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sync", "--adapter", "mem", "sideways"], "sideways"),
        (["sync", "--adapter", "mem", "push", "--nope", "x"], "no such option: --nope"),
        (["sync", "--adapter", "mem", "pull", "--sprint", "3"], "--sprint applies to push only"),
        (["sync", "--adapter", "mem", "push", "--project"], "--project needs a value"),
        (["sync", "--adapter", "mem", "push", "--project", "A", "--project=B"], "given twice"),
        (["sync", "pull"], "--adapter"),
    ],
)
def test_sync_usage_errors_exit_2(mem: Remote, tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "tasks").mkdir()
    code, _, err = run(*args, "--tasks-dir", str(tmp_path / "tasks"))
    assert code == 2
    assert needle in err


@pytest.mark.parametrize(
    ("adapter", "extra", "needle"),
    [
        ("nope", [], "no PM adapter named 'nope'"),
        ("off", [], "adapter 'off' is not available: MEM_TOKEN is not set"),
        ("mem", ["--project", "DENIED"], "rejected the credentials"),
        ("mem", ["--project", "EXPLODE"], "adapter 'mem' failed unexpectedly: boom in connect"),
    ],
)
def test_sync_failures_are_one_line_exit_1(
    mem: Remote, tmp_path: Path, adapter: str, extra: list[str], needle: str
) -> None:
    (tmp_path / "tasks").mkdir()
    code, _, err = run("sync", "--adapter", adapter, "push", *extra, "--tasks-dir", str(tmp_path / "tasks"))
    assert code == 1
    assert needle in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_sync_without_a_tasks_folder(mem: Remote, tmp_path: Path) -> None:
    code, out, err = run(
        "sync", "--adapter", "mem", "pull", "--json", "--tasks-dir", str(tmp_path / "missing")
    )
    assert code == 1
    assert "tasks folder not found" in err
    assert SyncResult.model_validate_json(out).ok is False


def test_a_failed_action_makes_the_exit_1(mem: Remote, tmp_path: Path) -> None:
    from loop_schemas.pm import AdapterError

    tasks = tmp_path / "tasks"
    write_task(tasks, "T0001", "Refused")
    mem.fail_create["T0001"] = AdapterError("Jira rejected POST /rest/api/3/issue (HTTP 400): nope")
    code, out, _ = run("sync", "--adapter", "mem", "push", "--tasks-dir", str(tasks))
    assert code == 1
    assert "FAILED push  create-issue  T0001" in out and "HTTP 400" in out
    mem.fail_create.clear()


def test_an_adapter_raising_outside_the_protocol_still_prints_one_json_document(
    mem: Remote, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks"
    write_task(tasks, "T0001", "Crashes the adapter")
    mem.fail_create["T0001"] = RuntimeError("boom in create")
    try:
        code, out, err = run("sync", "--adapter", "mem", "push", "--json", "--tasks-dir", str(tasks))
    finally:
        mem.fail_create.clear()
    assert code == 1
    result = SyncResult.model_validate_json(out)
    assert result.ok is False and result.error == "adapter 'mem' failed unexpectedly: boom in create"
    assert [(a.kind, a.state) for a in result.actions] == [("create-issue", "failed")]
    assert "internal error" not in err and "Traceback" not in err


def test_a_project_root_that_cannot_hold_the_lock_is_one_result(mem: Remote, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    write_task(tasks, "T0001", "Local")
    blocker = tmp_path / "root"
    blocker.mkdir()
    (blocker / ".loop").write_text("a file where the .loop folder goes")
    code, out, err = run(
        "sync",
        "--adapter",
        "mem",
        "pull",
        "--json",
        "--tasks-dir",
        str(tasks),
        "--project-root",
        str(blocker),
    )
    assert code == 1
    result = SyncResult.model_validate_json(out)  # one document, not an internal error
    assert result.ok is False and (result.error or "").startswith(f"cannot use {blocker / '.loop'}")
    assert "internal error" not in err and "Traceback" not in err

    code, _, err = run(
        "sync", "--adapter", "mem", "pull", "--project-root", str(tmp_path / "typo" / "deeper")
    )
    assert code == 2 and "does not exist" in err  # a typo never creates a second project
    assert not (tmp_path / "typo").exists()


def test_a_sync_that_cannot_start_still_prints_its_one_json_document(mem: Remote, tmp_path: Path) -> None:
    """An unknown adapter fails before any plan exists; --json still promises one document."""
    (tmp_path / "tasks").mkdir()
    code, out, err = run(
        "sync", "--adapter", "nope", "pull", "--json", "--tasks-dir", str(tmp_path / "tasks")
    )
    assert code == 1
    result = SyncResult.model_validate_json(out)
    assert result.ok is False and "no PM adapter named 'nope'" in (result.error or "")
    assert "no PM adapter named 'nope'" in err and "Traceback" not in err


# ------------------------------------------------------------------------------ issue 15: gate holds


def secret_forms(secret: str) -> list[str]:
    import base64
    from urllib.parse import quote, quote_plus

    return [
        secret,
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret),
        secret.upper(),
        secret.lower(),
        " ".join(secret),
        base64.b64encode(secret.encode()).decode(),
    ]


def test_the_adapters_secret_never_reaches_output_in_any_form(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 15 item 8: whatever the adapter passes through (issue text, warnings, errors), loop-pm
    prints no form of a secret the adapter declares, in text or in the --json document."""
    install(monkeypatch, {"sec": "pm_fakes:SecretAdapter"})
    forms = secret_forms(pm_fakes.SECRET)
    tasks = tmp_path / "tasks"
    for n, form in enumerate(forms):
        SHARED.add(f"Echo {form}", name=f"state {form}", description=form)
        write_task(tasks, f"T{n + 1:04d}", f"Linked {n}", jira=f"MEM-{n + 1}")
    SHARED.fail_update["MEM-1"] = pm_fakes.AdapterError(f"HTTP 400 echo {forms[1]} and {forms[-1]}")
    outputs: list[str] = []
    for extra in ([], ["--json"]):
        code, out, err = run("sync", "--adapter", "sec", "both", *extra, "--tasks-dir", str(tasks))
        assert code == 1  # the refused update
        outputs.append(out + err)
    text = "\n".join(outputs)
    assert "***" in text
    for form in forms:
        assert form not in text, form
    SHARED.fail_update.clear()


def test_a_label_is_a_possible_link_in_the_json_result(mem: Remote, tmp_path: Path) -> None:
    """Issue 15 item 5: reported in `possible_links` and as a warning line; nothing written."""
    tasks = tmp_path / "tasks"
    path = write_task(tasks, "T0001", "Local work")
    before = path.read_text()
    mem.add("Claims T0001", labels=["loop-task-T0001"])
    code, out, err = run("sync", "--adapter", "mem", "pull", "--json", "--tasks-dir", str(tasks))
    assert code == 0, err
    result = SyncResult.model_validate_json(out)
    assert result.actions == []
    assert [(p.direction, p.task_id, p.key, p.label) for p in result.possible_links] == [
        ("pull", "T0001", "MEM-1", "loop-task-T0001")
    ]
    assert "loop-pm: warning: pull: possible link: MEM-1 carries the label loop-task-T0001" in err
    assert path.read_text() == before
    assert not (tmp_path / "ops-wiki").exists()


def test_remote_control_characters_reach_the_terminal_visibly(mem: Remote, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    write_task(tasks, "T0001", "Linked", jira="MEM-1")
    mem.add("Linked", name="Won't \x1b]0;x\x07Do", status=pm_fakes.TaskStatus.DROPPED)
    code, out, err = run("sync", "--adapter", "mem", "pull", "--tasks-dir", str(tasks))
    assert code == 0, err
    assert "Won't \u241b]0;x\u2407Do" in err
    assert not any(ord(c) < 0x20 and c != "\n" for c in out + err)
