"""The fleet table marks a sandboxed lane (list-lanes `sandbox: true`) beside its harness."""

from __future__ import annotations

from pathlib import Path

import pytest
from deck_fakes import RecordingRunner, StubSubstrate, build, settle
from loop_deck.widgets import KeyedTable

pytestmark = pytest.mark.anyio


async def test_a_sandboxed_lane_is_marked(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    fleet.lanes = [
        lane.model_copy(update={"sandbox": True}) if lane.window == "web2" else lane for lane in fleet.lanes
    ]
    app = build(project, fleet, runner)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        table = app.query_one("#fleet", KeyedTable)
        assert table.row("web2")[4].endswith("⛨ sandbox")
        assert "sandbox" not in table.row("web")[4]
