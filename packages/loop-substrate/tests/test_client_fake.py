"""The client against FakeSubstrate: the exact argv each method runs and how it reads the answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from loop_substrate import ContractMismatchError, Substrate, SubstrateError, check_contract
from loop_substrate.testing import FakeSubstrate

REPORT = {
    "contract_version": 1,
    "session": "s",
    "generated_at": "2026-11-25T10:00:00Z",
    "lanes": {
        "coord": {"status": "idle", "target": "%1", "kind": "fixed"},
        "web2": {"lane": "web2", "status": "working", "target": "%7", "kind": "dynamic", "detail": "busy"},
    },
}


def test_lane_status_fills_lane_names(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    fake_substrate.respond("loop-lane-status", REPORT)
    lanes = Substrate("s", tmp_path).lane_status()
    assert [(lane.lane, lane.status, lane.kind) for lane in lanes] == [
        ("coord", "idle", "fixed"),
        ("web2", "working", "dynamic"),
    ]
    assert fake_substrate.calls("loop-lane-status")[0]["args"] == ["--json", "--all", "s"]
    Substrate("s", tmp_path).lane_status("web")
    assert fake_substrate.calls("loop-lane-status")[1]["args"] == ["--json", "s", "web"]


def test_dispatch_passes_payload_as_one_argument(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    payload = "-rf $(whoami) `id`; \"quoted\" 'single'\n\tC-c Enter\n☃"
    Substrate("s", tmp_path).dispatch("web", payload, interrupt=True, wait_ready=30)
    call = fake_substrate.calls("loop-dispatch")[0]
    assert call["args"] == [
        "--session",
        "s",
        "--mode",
        "text",
        "--interrupt",
        "--wait-ready",
        "--ready-timeout",
        "30",
        "--",
        "web",
        payload,
    ]


def test_failures_carry_command_code_and_stderr(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    fake_substrate.respond(
        "loop-dispatch", "", exit_code=1, stderr="noise\nloop-dispatch: lane web is busy\n"
    )
    with pytest.raises(SubstrateError) as info:
        Substrate("s", tmp_path).dispatch("web", "hi")
    err = info.value
    assert err.returncode == 1
    assert err.stderr_line == "loop-dispatch: lane web is busy"
    assert err.command[1].endswith("loop-dispatch.sh")


def test_bad_json_is_a_substrate_error(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    fake_substrate.respond("loop-lane-status", "{not json")
    with pytest.raises(SubstrateError, match="bad JSON output"):
        Substrate("s", tmp_path).lane_status()
    fake_substrate.respond("loop-lane-status", {**REPORT, "contract_version": 2})
    with pytest.raises(SubstrateError, match="bad JSON output"):
        Substrate("s", tmp_path).lane_status()


def test_add_and_drop_lane_argv(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    sub = Substrate("s", tmp_path)
    sub.add_lane("web2", harness="amp", auto_approve=True, repo="./api", role="impl", kind="worker")
    sub.add_lane("watch", cmd="npm run test:watch")
    sub.drop_lane("web2", force=True)
    calls = [c["args"] for c in fake_substrate.calls("loop-tmux")]
    assert calls == [
        [
            "add-lane",
            "--session",
            "s",
            "--window",
            "web2",
            "--harness",
            "amp",
            "--repo",
            "./api",
            "--role",
            "impl",
            "--kind",
            "worker",
            "--auto-approve",
        ],
        ["add-lane", "--session", "s", "--window", "watch", "--cmd", "npm run test:watch"],
        ["drop-lane", "--session", "s", "--window", "web2", "--force"],
    ]
    with pytest.raises(ValueError):
        sub.add_lane("x", harness="pi", cmd="ls")


def test_wiki_pending_and_checkpoint(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    fake_substrate.respond("loop-wiki-pending", "7\n")
    fake_substrate.respond("loop-checkpoint", "PROMPT\n")
    sub = Substrate("s", tmp_path)
    assert sub.wiki_pending() == 7
    assert sub.checkpoint_prompt(tmp_path / "h.md") == "PROMPT\n"
    assert fake_substrate.calls("loop-checkpoint")[0]["args"] == [
        "--print",
        "--project-root",
        str(tmp_path),
        "--header-file",
        str(tmp_path / "h.md"),
    ]
    fake_substrate.respond("loop-wiki-pending", "lots\n")
    with pytest.raises(SubstrateError):
        sub.wiki_pending()


def test_socket_reaches_the_scripts(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    fake_substrate.respond(
        "loop-tmux", json.dumps({"contract_version": 1, "session": "s", "generated_at": "t", "lanes": []})
    )
    Substrate("s", tmp_path, socket="/tmp/x.sock").list_lanes()
    assert fake_substrate.calls("loop-tmux")[0]["args"] == ["list-lanes", "--session", "s", "--json"]


def test_contract_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSubstrate(tmp_path / "f", contract_version=2)
    monkeypatch.setenv("LOOP_SHELL_DIR", str(fake.shell))
    with pytest.raises(ContractMismatchError, match="CONTRACT v2"):
        check_contract()


def test_registry_through_the_fake(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    fake_substrate.respond("lib/harness-registry.sh", {"contract_version": 1, "harnesses": [{"name": "pi"}]})
    assert [h.name for h in Substrate("s", tmp_path).registry()] == ["pi"]
    assert fake_substrate.calls("lib/harness-registry.sh")[0]["args"] == ["list", "--json"]


def test_the_first_libtmux_import_works_under_a_stdout_without_an_encoding() -> None:
    """A TUI (Textual) replaces sys.stdout with an object that has no encoding; libtmux reads it on its first
    import, which the substrate makes lazily (on the first capture). It must work there, and leave the
    program's stdout in place."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Capture:\n"
        "    def write(self, text): return len(text)\n"
        "    def flush(self): pass\n"
        "mine = sys.stdout = Capture()\n"
        "from loop_substrate import Substrate\n"
        "assert 'libtmux' not in sys.modules\n"
        "Substrate.prepare_capture()\n"
        "assert 'libtmux' in sys.modules and sys.stdout is mine\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_lane_states_read_the_words_with_no_model(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    """The watch daemon's poll: {lane: status word} from plain JSON, in a process that never loads
    pydantic (the daemon keeps it out of its own memory)."""
    fake_substrate.respond("loop-lane-status", REPORT)
    code = (
        "import sys\nfrom pathlib import Path\nfrom loop_substrate import Substrate\n"
        f"print(Substrate('s', Path({str(tmp_path)!r})).lane_states())\n"
        "print('pydantic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["{'coord': 'idle', 'web2': 'working'}", "False"]
    assert fake_substrate.calls("loop-lane-status")[0]["args"] == ["--json", "--all", "s"]


@pytest.mark.parametrize(
    "answer",
    [
        "{not json",
        {**REPORT, "contract_version": 2},
        {**REPORT, "lanes": []},
        {**REPORT, "lanes": {"web": {"target": "%1"}}},
        {**REPORT, "lanes": {"web": {"status": 3}}},
        json.dumps([REPORT]),
    ],
)
def test_lane_states_refuse_what_is_no_report(
    fake_substrate: FakeSubstrate, tmp_path: Path, answer: str | dict[str, object]
) -> None:
    fake_substrate.respond("loop-lane-status", answer)
    with pytest.raises(SubstrateError, match="bad JSON output"):
        Substrate("s", tmp_path).lane_states()


LANES = {"contract_version": 1, "session": "s", "generated_at": "2026-11-25T10:00:00Z", "lanes": []}


def _wait_for(check: object, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_started_probe_answers_the_first_reads(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    """start_probe runs list-lanes and lane-status --json --all at once; the first list_lanes() and
    lane_status() take those answers (what the CLIs said when they ran) and start nothing again."""
    fake_substrate.respond("loop-lane-status", REPORT)
    fake_substrate.respond("loop-tmux", LANES)
    sub = Substrate("s", tmp_path)
    sub.start_probe()
    assert _wait_for(lambda: len(fake_substrate.calls()) == 2)
    fake_substrate.respond("loop-lane-status", {**REPORT, "lanes": {}})  # what a fresh call would say now
    assert [s.lane for s in sub.lane_status()] == ["coord", "web2"]
    assert sub.list_lanes() == []
    assert sorted(c["args"] for c in fake_substrate.calls()) == [
        ["--json", "--all", "s"],
        ["list-lanes", "--session", "s", "--json"],
    ]
    # taken once: the next read asks again
    assert sub.lane_status() == []
    assert len(fake_substrate.calls("loop-lane-status")) == 2


def test_a_probe_started_for_another_server_is_not_the_answer(
    fake_substrate: FakeSubstrate, tmp_path: Path
) -> None:
    fake_substrate.respond("loop-lane-status", REPORT)
    Substrate("s", tmp_path, socket="/tmp/other-server").start_probe()
    assert _wait_for(lambda: len(fake_substrate.calls("loop-lane-status")) == 1)
    fake_substrate.respond("loop-lane-status", {**REPORT, "lanes": {}})
    assert Substrate("s", tmp_path).lane_status() == []  # asked again, in its own environment
    assert len(fake_substrate.calls("loop-lane-status")) == 2


def test_a_probe_nobody_takes_is_stopped_at_exit(fake_substrate: FakeSubstrate, tmp_path: Path) -> None:
    """A started read the process never used does not outlive it (the at-exit hook kills it)."""
    from loop_substrate import client

    client._drop_early()  # nothing left from another test
    script = fake_substrate.shell / "loop-lane-status.sh"
    script.write_text("#!/usr/bin/env bash\nexec sleep 60\n")
    Substrate("s", tmp_path).start_probe()
    [(_env, _cwd, proc, _check)] = [v for k, v in client._EARLY.items() if "--all" in k]
    assert proc.poll() is None
    client._drop_early()
    assert proc.poll() is not None and not client._EARLY


def test_a_probe_without_the_shell_starts_nothing_and_raises_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No bundled shell: start_probe is quiet (the reads themselves say what is wrong, later)."""
    from loop_substrate import client

    monkeypatch.setenv("LOOP_SHELL_DIR", str(tmp_path / "no-shell"))
    client._drop_early()
    Substrate("s", tmp_path).start_probe()
    assert not client._EARLY
    with pytest.raises(SubstrateError, match="not found"):
        Substrate("s", tmp_path).list_lanes()
