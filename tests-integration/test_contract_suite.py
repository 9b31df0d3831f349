"""The contract suite: every JSON surface of CONTRACT.md, produced by the real script against a live
session, must validate against loop-schemas' exported JSON Schema; every flag CONTRACT.md lists must be
accepted. A change to a script is additive exactly when this suite still passes."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from live_session import REPO, SCHEMAS, SHELL, Live, retry_until

pytestmark = pytest.mark.tmux


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


def assert_valid(name: str, doc: Any) -> None:
    errors = sorted(schema(name).iter_errors(doc), key=str)
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    assert doc["contract_version"] == 1


def test_list_lanes_json(live: Live) -> None:
    doc = live.json("loop-tmux.sh", "list-lanes", "--session", live.session, "--json")
    assert_valid("lane-list", doc)
    windows = {lane["window"]: lane for lane in doc["lanes"]}
    assert {"coord", "web", "infra", "validate", "ops", "docs", "w2"} <= set(windows)
    assert windows["web"]["base"] is True and windows["w2"]["base"] is False
    assert windows["w2"]["harness"] == "pi" and windows["w2"]["role"] == "impl"


def test_lane_status_json_all(live: Live) -> None:
    def settled() -> object:
        doc = live.json("loop-lane-status.sh", "--json", "--all", live.session)
        return doc if isinstance(doc, dict) and doc["lanes"].get("w2", {}).get("status") == "idle" else None

    doc = retry_until(settled, timeout=20)
    assert_valid("lane-status", doc)
    assert isinstance(doc, dict)
    assert doc["lanes"]["w2"]["kind"] == "dynamic" and doc["lanes"]["web"]["kind"] == "fixed"
    one = live.json("loop-lane-status.sh", "--json", live.session, "web")
    assert_valid("lane-status", one)
    word = live.run("loop-lane-status.sh", live.session, "web").stdout.strip()
    assert word in ("working", "awaiting-approval", "idle", "errored", "unknown")


def test_digest_json(live: Live) -> None:
    doc = live.json("loop-digest.sh", "--json", "--project-root", str(live.root))
    assert_valid("digest", doc)
    assert isinstance(doc, dict)
    assert doc["state"]["loops"]["loop-1"]["status"] == "canary"
    assert [m["subject"] for m in doc["mailbox"]["pending"]] == ["Need staging token"]
    assert doc["adrs"][0]["status"] == "Proposed"


def test_mail_list_json(live: Live) -> None:
    doc = live.json("scripts/loop-mail.sh", "list", "--json", "--project-root", str(live.root))
    assert_valid("mail-list", doc)


def test_registry_json(live: Live) -> None:
    doc = live.json("lib/harness-registry.sh", "list", "--json")
    assert_valid("harness-registry", doc)
    assert isinstance(doc, dict)
    assert [h["name"] for h in doc["harnesses"]][:12] == [
        "pi",
        "claude",
        "opencode",
        "codex",
        "cursor-agent",
        "hermes",
        "droid",
        "forge",
        "amp",
        "openclaw",
        "mprocs",
        "shell",
    ]


def test_the_suite_catches_a_dropped_field(live: Live) -> None:
    """Dropping any contract field from a real document must fail validation (the suite has teeth)."""
    lanes = live.json("loop-tmux.sh", "list-lanes", "--session", live.session, "--json")
    status = live.json("loop-lane-status.sh", "--json", live.session, "web")
    digest = live.json("loop-digest.sh", "--json", "--project-root", str(live.root))
    cases: list[tuple[str, Any, list[Any]]] = [
        ("lane-list", lanes, ["lanes", 0, f])
        for f in ("window", "harness", "model", "role", "cmd", "base", "kind")
    ]
    cases += [("lane-status", status, ["lanes", "web", f]) for f in ("status", "target", "kind")]
    cases += [("digest", digest, [f]) for f in ("generated_at", "state", "mailbox", "unpushed", "adrs")]
    cases += [("digest", digest, ["mailbox", f]) for f in ("pending", "processed_count")]
    for name, doc, path in cases:
        broken = copy.deepcopy(doc)
        node = broken
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        assert list(schema(name).iter_errors(broken)), f"{name}: dropping {path} went unnoticed"


# -- every flag CONTRACT.md lists is accepted -------------------------------------------------------------

SECTION_SCRIPTS = {
    "loop-tmux": "loop-tmux.sh",
    "loop-dispatch": "loop-dispatch.sh",
    "loop-lane-status": "loop-lane-status.sh",
    "loop-digest": "loop-digest.sh",
    "loop-adr": "loop-adr.sh",
    "lib/lane-config-resolver.sh": "lib/lane-config-resolver.sh",
}


def contract_flags() -> list[tuple[str, str]]:
    text = (REPO / "CONTRACT.md").read_text()
    out: list[tuple[str, str]] = []
    for heading, body in re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M):
        script = SECTION_SCRIPTS.get(heading)
        if script is None:
            continue
        for flag in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", body))):
            out.append((script, flag))
    scripts_table = re.search(r"^## scripts/ and bin/\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert scripts_table is not None
    for raw_row in scripts_table.group(1).splitlines():
        row = raw_row.replace("\\|", "/")
        match = re.match(r"\| `(?:bin/)?(loop-[a-z-]+)(?:\.sh)?", row)
        if match:
            name = match.group(1)
            script = f"bin/{name}" if (SHELL / "bin" / name).exists() else f"scripts/{name}.sh"
            for flag in sorted(set(re.findall(r"(--[a-z][a-z0-9-]+)", row.split("|")[1]))):
                out.append((script, flag))
    return out


FLAGS = contract_flags()


def test_contract_lists_flags() -> None:
    assert len(FLAGS) > 60
    assert ("loop-dispatch.sh", "--interrupt") in FLAGS and (
        "scripts/loop-checkpoint.sh",
        "--token-ceiling",
    ) in FLAGS


@pytest.mark.parametrize(("script", "flag"), FLAGS, ids=[f"{s}:{f}" for s, f in FLAGS])
def test_flag_in_help(script: str, flag: str) -> None:
    import subprocess

    path = SHELL / script
    proc = subprocess.run(
        ["bash", str(path), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, f"{script} --help exited {proc.returncode}: {proc.stderr.strip()}"
    assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", proc.stdout), (
        f"{script} --help does not list {flag}"
    )


def test_real_calls_accept_flags(live: Live, tmp_path: Path) -> None:
    """A real call with the CONTRACT flags of the read-only surfaces (no usage error)."""
    live.run(
        "loop-tmux.sh",
        "--project",
        "x",
        "--project-root",
        str(live.root),
        "--preset",
        "pi-claude",
        "--print-cmds",
        "--web-cmd",
        "echo web",
        "--docs-cmd",
        "echo docs",
        "--state-file",
        str(live.root / ".loop" / "orchestrator-state.json"),
        "--mailbox-dir",
        str(live.root / ".loop/messages"),
    )
    live.run(
        "loop-digest.sh",
        "--once",
        "--no-clear",
        "--project-root",
        str(live.root),
        "--adr-dir",
        str(live.root / "docs" / "adr"),
        "--interval",
        "1",
        "--extra-repo",
        str(live.root),
    )
    target = live.run("loop-lane-status.sh", "--print-target", live.session, "web").stdout.strip()
    assert target
    live.run("scripts/loop-wiki-pending.sh", "--project-root", str(live.root), "--quiet")
    live.run(
        "scripts/loop-checkpoint.sh", "--print", "--project-root", str(live.root), "--token-ceiling", "48000"
    )
    live.run("scripts/loop-metrics.sh", "--session", live.session, "--project-root", str(live.root))
    live.run(
        "loop-dispatch.sh",
        "--session",
        live.session,
        "--mode",
        "text",
        "--no-clear",
        "--wait-ready",
        "--ready-timeout",
        "20",
        "w2",
        "hello from the contract suite",
    )


# -- the JSON surfaces our implementation adds ------------------------------------------------------------


def test_added_surfaces_validate(live: Live, tmp_path: Path) -> None:
    config = tmp_path / "lane-config.yaml"
    config.write_text(
        'lanes:\n  web: {harness: pi, role: "impl\\nwith \\"quotes\\""}\n  ops-top: {cmd: scripts/probe.sh}\n'
    )
    resolved = live.json(
        "lib/lane-config-resolver.sh", "print-resolved", "--json", "--lane-config", str(config)
    )
    assert_valid("resolved-lane-config", resolved)
    assert isinstance(resolved, dict) and resolved["lanes"]["web"]["role"] == 'impl\nwith "quotes"'
    plan = live.json(
        "loop-tmux.sh", "--project", "plan", "--project-root", str(live.root), "--print-cmds", "--json"
    )
    assert_valid("boot-plan", plan)
    adrs = live.json("loop-adr.sh", "list", "--json", "--adr-dir", str(live.root / "docs" / "adr"))
    assert_valid("adr-list", adrs)
    assert isinstance(adrs, dict) and adrs["adrs"][0]["acceptable"] is False
    fields = "id status title path file date verify_record canary_record rollback supersedes superseded_by"
    for field in [*fields.split(), "acceptable", "gate_problems", "error"]:
        broken = copy.deepcopy(adrs)
        del broken["adrs"][0][field]
        assert list(schema("adr-list").iter_errors(broken)), f"adr-list: dropping {field} went unnoticed"


def installed(live: Live, name: str) -> str:
    import shutil

    path = shutil.which(name, path=live.env["PATH"])
    if path is None:
        pytest.skip(f"{name} is not installed in this environment")
    return path


def run_cli(live: Live, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, env=live.env, cwd=cwd, timeout=120, check=False
    )


def one_doc(proc: subprocess.CompletedProcess[str]) -> Any:
    """Exactly one JSON document on stdout (json.loads refuses trailing data), never a traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def assert_teeth(name: str, doc: dict[str, Any], keys: list[str]) -> None:
    """Dropping any of these (contract) keys from a real document must fail the schema."""
    for key in keys:
        broken = {k: v for k, v in doc.items() if k != key}
        assert list(schema(name).iter_errors(broken)), f"{name}: dropping {key!r} went unnoticed"


def test_engine_surfaces_validate(live: Live, tmp_path: Path) -> None:
    engine = installed(live, "loop-engine")
    base = [engine, "--project-root", str(live.root), "--session", live.session]
    once = run_cli(live, *base, "once", "--approval", "manual", "--json")
    assert once.returncode == 0, once.stderr
    assert_valid("engine-cycle", one_doc(once))
    status = run_cli(live, *base, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert_valid("engine-status", one_doc(status))
    events = run_cli(live, *base, "events", "--json")
    assert events.returncode == 0, events.stderr
    doc = one_doc(events)
    assert_valid("engine-events", doc)
    assert doc["events"] and {"cycle-start", "cycle-end"} <= {e["event"] for e in doc["events"]}
    config = run_cli(live, *base, "config", "--json")
    assert config.returncode == 0, config.stderr
    doc = one_doc(config)
    assert_valid("engine-config-report", doc)
    assert_teeth("engine-config-report", doc, ["source", "sources", "env_overrides", "warnings", "engine"])


def test_engine_approve_json(live: Live, tmp_path: Path) -> None:
    """A queued decision approved with --json: {contract_version, decision_id, outcomes: [{index, state,
    error}], filed}. Its own project root, so the live project's engine folder is left alone."""
    engine = installed(live, "loop-engine")
    root = tmp_path / "approve"
    root.mkdir()
    init = live.run("loop-init.sh", "--project-root", str(root), "--json")
    assert_valid("init-report", json.loads(init.stdout))
    (root / "tasks" / "T0001-say-hello.md").write_text(
        "---\nid: T0001\ntitle: Say hello\nstatus: open\ndepends_on: []\nscope: web\n---\n"
        + "".join(
            f"## {name}\nx\n"
            for name in (
                "Objective",
                "Context you need",
                "Deliverables",
                "Acceptance criteria",
                "Verification",
                "Out of scope",
            )
        )
    )
    base = [engine, "--project-root", str(root), "--session", live.session]
    once = one_doc(run_cli(live, *base, "once", "--approval", "manual", "--json"))
    assert once["outcome"] == "queued", once
    approve = run_cli(live, *base, "approve", once["decision_id"], "--json")
    assert approve.returncode == 0, approve.stderr
    doc = one_doc(approve)
    assert_valid("engine-approve", doc)
    assert doc["decision_id"] == once["decision_id"] and doc["filed"] is True
    assert [(o["state"], o["error"]) for o in doc["outcomes"]] == [("done", None)]
    assert_teeth("engine-approve", doc, ["decision_id", "outcomes", "filed"])


def test_pm_surfaces_validate(live: Live, tmp_path: Path) -> None:
    """loop-pm list-adapters --json, and sync --json on a failure (still one document, exit 1)."""
    loop_pm = installed(live, "loop-pm")
    listed = run_cli(live, loop_pm, "list-adapters", "--json")
    assert listed.returncode == 0, listed.stderr
    doc = one_doc(listed)
    assert_valid("pm-adapter-list", doc)
    assert_teeth("pm-adapter-list", doc, ["contract_version", "adapters"])
    if "jira" not in {a["name"] for a in doc["adapters"]}:
        pytest.skip("the jira adapter is not installed")
    name = "jira"  # without JIRA_* in the environment it is unavailable: a failure, never the network
    env_free = {k: v for k, v in live.env.items() if not k.startswith("JIRA_")}
    (tmp_path / "tasks").mkdir()
    proc = subprocess.run(
        [loop_pm, "sync", "--adapter", name, "pull", "--json", "--project-root", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env_free,
        timeout=120,
        check=False,
    )
    sync = one_doc(proc)
    assert_valid("pm-sync-result", sync)
    assert proc.returncode == 1 and sync["ok"] is False and isinstance(sync["error"], str)
    keys = ["contract_version", "adapter", "direction", "dry_run", "ok", "actions", "warnings", "error"]
    assert_teeth("pm-sync-result", sync, keys)


def test_script_surfaces_in_odd_states(live: Live, tmp_path: Path) -> None:
    """loop-metrics, loop-task-lint and loop-init --json, and the digest of a broken state file."""
    metrics = live.json(
        "scripts/loop-metrics.sh", "--json", "--session", live.session, "--project-root", str(live.root)
    )
    assert_valid("metrics", metrics)
    assert isinstance(metrics, dict)
    keys = ["generated_at", "session", "checkpoint_bytes", "checkpoint_tokens", "pending", "lane_restarts"]
    assert_teeth("metrics", metrics, [*keys, "lane_giveups", "ingests", "lints", "checkpoints"])

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "T0001-broken.md").write_text("---\nid: [1]\n---\n")
    proc = live.run("scripts/loop-task-lint.sh", "--json", "--tasks-dir", str(tasks), check=False)
    assert proc.returncode == 1, proc.stderr
    lint = one_doc(proc)
    assert_valid("task-lint", lint)
    assert lint["ok"] is False and lint["tasks_dir"] == str(tasks)
    assert lint["findings"] and all(f["path"].endswith("T0001-broken.md") for f in lint["findings"])
    assert_teeth("task-lint", lint, ["tasks_dir", "ok", "task_count", "findings"])

    fresh = tmp_path / "fresh project"
    fresh.mkdir()
    init = live.json("loop-init.sh", "--project-root", str(fresh), "--dry-run", "--json")
    assert_valid("init-report", init)
    assert isinstance(init, dict) and init["dry_run"] is True and not any(fresh.iterdir())
    assert_teeth("init-report", init, ["project_root", "dry_run", "created", "existing"])

    state = tmp_path / "state.json"
    state.write_text('{"schema_version": 2, "loops": {')
    digest = live.json(
        "loop-digest.sh", "--json", "--project-root", str(live.root), "--state-file", str(state)
    )
    assert_valid("digest", digest)
    assert isinstance(digest, dict) and digest["state"] is None and isinstance(digest["state_error"], str)


def test_watchdog_lines_validate(live: Live, tmp_path: Path) -> None:
    """lane-restarts.jsonl as the watchdog writes it: a restart line (no `event`), then a lifecycle line."""
    live.run("loop-tmux.sh", "add-lane", "--session", live.session, "--window", "wd", "--harness", "pi")

    def idle() -> bool:
        return live.run("loop-lane-status.sh", live.session, "wd").stdout.strip() == "idle"

    def exited() -> bool:
        doc = live.json("loop-lane-status.sh", "--json", live.session, "wd")
        return isinstance(doc, dict) and doc["lanes"]["wd"]["detail"] == "exited-to-shell"

    lines: list[dict[str, Any]] = []
    for state_dir, extra in ((tmp_path / "restart", []), (tmp_path / "give-up", ["--max-failures", "0"])):
        retry_until(idle, timeout=30)
        # C-d on the fake agent's empty composer quits it and the pane is back at a shell; sent once
        # (a second C-d would end that shell and close the window)
        live_tmux(live, "send-keys", "-t", f"={live.session}:wd", "C-d")
        retry_until(exited, timeout=30, interval=0.3)
        args = ["once", "--session", live.session, "--state-dir", str(state_dir), "--confirm", "0", *extra]
        live.run("lib/lane-health.sh", *args)
        log = state_dir / "lane-restarts.jsonl"
        lines += [json.loads(line) for line in log.read_text().splitlines()]
    live.run("loop-tmux.sh", "drop-lane", "--session", live.session, "--window", "wd")
    restart, lifecycle = lines
    assert "event" not in restart and restart["lane"] == "wd" and restart["attempt"] == 1
    assert lifecycle["event"] == "giving-up" and lifecycle["lane"] == "wd"
    for name, line in (("watchdog-restart", restart), ("watchdog-lifecycle", lifecycle)):
        errors = list(schema(name).iter_errors(line))
        assert not errors, f"{name}: {errors[0].message}"
    broken = {k: v for k, v in restart.items() if k != "timestamp"}
    assert list(schema("watchdog-restart").iter_errors(broken)), "dropping timestamp went unnoticed"
    for key in ("session", "lane", "target", "cmd"):
        # a valid timestamp and no event is a restart without the rest (the original's sparse lines);
        # without a valid timestamp, every text field is needed
        sparse = {k: v for k, v in restart.items() if k != key}
        assert not list(schema("watchdog-restart").iter_errors(sparse)), f"{key}: a sparse line refused"
        broken = {**sparse, "timestamp": "t"}
        assert list(schema("watchdog-restart").iter_errors(broken)), f"dropping {key} went unnoticed"


def live_tmux(live: Live, *args: str) -> None:
    subprocess.run(["tmux", "-S", live.socket, *args], capture_output=True, env=live.env, check=False)


def test_contract_names_every_exported_schema() -> None:
    """CONTRACT.md's JSON Schemas table names every committed schema, and every schema it names exists."""
    text = (REPO / "CONTRACT.md").read_text()
    section = text.split("\n## JSON Schemas\n", 1)[1]
    start = section.index("| surface | model | schema |")
    table = [row for row in section[start:].splitlines()[2:] if row.startswith("| ")]
    assert len(table) > 10
    named = {n for row in table for n in re.findall(r"`([a-z][a-z-]+)`", row.rsplit("|", 2)[1])}
    committed = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert committed - named == set(), f"schemas CONTRACT.md does not list: {sorted(committed - named)}"
    assert named - committed == set(), (
        f"CONTRACT.md lists schemas that do not exist: {sorted(named - committed)}"
    )
