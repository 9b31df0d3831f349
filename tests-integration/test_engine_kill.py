"""kill -9 the engine at random points of its cycles, 200 times: nothing lost, nothing sent twice.

The harness lives in bench/bench_kill.py (make bench reports the same counts); see its docstring.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_kill.py"


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_kill", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_kill"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_200_kills_lose_no_mail_and_send_nothing_twice() -> None:
    res = _harness().run_chains(200, 4, seed=11)
    print(
        f"\nkill harness: {res.trials} trials ({res.daemon_kills} daemon, {res.approve_kills} mid-approve), "
        f"{res.dispatches} dispatches, {res.uncertain_actions} left uncertain"
    )
    assert res.trials == 200
    assert res.problems == []
    assert res.lost_mail == 0 and res.duplicate_sends == 0
    assert res.invalid_state == 0 and res.invalid_pending == 0 and res.running_left_pending == 0
    # the harness really exercised the engine: work was dispatched and approvals were interrupted
    assert res.dispatches >= 20 and res.approve_kills >= 10


def test_a_short_chain_detects_a_duplicate_send() -> None:
    """The harness's duplicate check is live: a task dispatched twice by hand is reported."""
    import tempfile

    kill = _harness()
    with tempfile.TemporaryDirectory() as tmp:
        chain = kill.Chain(Path(tmp), 1)
        text = (chain.root / "tasks").glob("T0001-*.md").__next__().read_text()
        for _ in range(2):
            call = {"cli": "loop-dispatch", "args": ["--", "web", text], "stdin": ""}
            with chain.fake.root.joinpath("calls.jsonl").open("a") as fh:
                fh.write(json.dumps(call) + "\n")
        chain.check("forged")
        assert chain.result.duplicate_sends == 1 and chain.result.problems
        (chain.root / ".loop" / "messages").joinpath(sorted(chain.mail_written)[0]).unlink()
        chain.check("forged-mail")
        assert chain.result.lost_mail == 1
