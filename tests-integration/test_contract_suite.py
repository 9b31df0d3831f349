"""The contract suite: every JSON surface of CONTRACT.md, produced by the real script against a live
session, must validate against loop-schemas' exported JSON Schema; every flag CONTRACT.md lists must be
accepted. A change to a script is additive exactly when this suite still passes."""

from __future__ import annotations

import copy
import json
import re
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


def test_engine_surfaces_validate(live: Live) -> None:
    import shutil
    import subprocess

    engine = shutil.which("loop-engine", path=live.env["PATH"])
    if engine is None:
        pytest.skip("loop-engine is not installed in this environment")
    base = [engine, "--project-root", str(live.root), "--session", live.session]
    once = subprocess.run(
        [*base, "once", "--approval", "manual", "--json"],
        capture_output=True,
        text=True,
        env=live.env,
        timeout=120,
        check=False,
    )
    assert once.returncode == 0, once.stderr
    assert_valid("engine-cycle", json.loads(once.stdout))
    status = subprocess.run(
        [*base, "status", "--json"], capture_output=True, text=True, env=live.env, timeout=60, check=False
    )
    assert status.returncode == 0, status.stderr
    assert_valid("engine-status", json.loads(status.stdout))
