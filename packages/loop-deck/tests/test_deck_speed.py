"""The deck's start and idle cost (issue #19): the layout paints before the schema models load, a tick
skips loop-lane-status when the activity probe shows nothing moved, and list-lanes is read on change."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from deck_fakes import NOW, SESSION, StubSubstrate, status
from loop_deck.activity import Activity, ActivityProbe
from loop_deck.app import make_app
from loop_deck.core import DeckPaths
from loop_deck.snapshot import FLEET_RECHECK_S, LANE_META_EVERY_S, Reader
from textual.widgets import Label


def test_the_deck_module_loads_no_schema_model_before_its_first_paint() -> None:
    # what `loop-deck` imports before app.run(): Textual, the layout and the paths, never pydantic
    code = (
        "import sys, loop_deck.cli, loop_deck.app; "
        "print(__import__('json').dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'yaml') or m in ('loop_deck.snapshot', 'loop_deck.screens.modals', "
        "'loop_substrate.client', 'loop_deck.verify', 'loop_deck.board'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []


class Probe:
    """An activity probe whose answers the test sets."""

    def __init__(self) -> None:
        self.look: Activity | None = Activity("panes-1", newest=100, taken_at=200.5)
        self.calls = 0

    def __call__(self) -> Activity | None:
        self.calls += 1
        return self.look


def _reader(project: Path, fleet: StubSubstrate, clock: list[float], probe: Probe | None) -> Reader:
    return Reader(fleet, DeckPaths(project, SESSION), None, clock=lambda: clock[0], activity=probe)


def test_a_tick_reuses_the_fleet_when_the_probe_saw_nothing_move(project: Path, fleet: StubSubstrate) -> None:
    clock, probe = [NOW], Probe()
    r = _reader(project, fleet, clock, probe)
    first = r.collect()
    assert fleet.status_calls == 1
    clock[0] += 1
    probe.look = Activity("panes-1", newest=100, taken_at=201.5)
    second = r.collect()
    assert fleet.status_calls == 1  # nothing moved: no loop-lane-status call
    assert [(f.lane, f.status) for f in second.fleet] == [(f.lane, f.status) for f in first.fleet]
    assert probe.calls == 2


def test_a_tick_asks_again_when_anything_moved(project: Path, fleet: StubSubstrate) -> None:
    clock, probe = [NOW], Probe()
    r = _reader(project, fleet, clock, probe)
    r.collect()
    # another pane, a dead pane, a hook file: the signature moved
    clock[0] += 1
    probe.look = Activity("panes-2", newest=100, taken_at=201.5)
    r.collect()
    assert fleet.status_calls == 2
    # output in the very second of the last look: a second's resolution cannot tell whether it came
    # before the poll that followed that look, so the next tick asks
    clock[0] += 1
    probe.look = Activity("panes-3", newest=202, taken_at=202.2)
    r.collect()
    clock[0] += 1
    probe.look = Activity("panes-3", newest=202, taken_at=203.2)
    r.collect()
    assert fleet.status_calls == 4
    clock[0] += 1
    probe.look = Activity("panes-3", newest=202, taken_at=204.2)
    r.collect()  # the look before the last poll was a whole second after the output: nothing missed
    assert fleet.status_calls == 4
    # tmux did not answer: ask loop-lane-status
    clock[0] += 1
    probe.look = None
    r.collect()
    assert fleet.status_calls == 5


def test_a_quiet_fleet_is_still_asked_every_recheck_interval(project: Path, fleet: StubSubstrate) -> None:
    clock, probe = [NOW], Probe()
    r = _reader(project, fleet, clock, probe)
    r.collect()
    clock[0] += FLEET_RECHECK_S - 0.5
    r.collect()
    assert fleet.status_calls == 1
    clock[0] += 0.5
    r.collect()
    assert fleet.status_calls == 2


def test_a_failed_poll_is_never_reused(project: Path, fleet: StubSubstrate) -> None:
    clock, probe = [NOW], Probe()
    r = _reader(project, fleet, clock, probe)
    fleet.fail = "loop-lane-status: tmux is gone"
    assert r.collect().fleet_error == "loop-lane-status: tmux is gone"
    fleet.fail = None
    clock[0] += 1
    assert r.collect().fleet_error is None
    assert fleet.status_calls == 2


def test_add_or_drop_lane_asks_again_at_once(project: Path, fleet: StubSubstrate) -> None:
    clock, probe = [NOW], Probe()
    r = _reader(project, fleet, clock, probe)
    r.collect()
    r.invalidate_lanes()
    clock[0] += 1
    r.collect()
    assert (fleet.status_calls, fleet.list_calls) == (2, 2)


def test_without_a_probe_every_tick_asks(project: Path, fleet: StubSubstrate) -> None:
    clock = [NOW]
    r = _reader(project, fleet, clock, None)
    for _ in range(3):
        r.collect()
        clock[0] += 1
    assert fleet.status_calls == 3


def test_list_lanes_is_read_again_only_when_the_lanes_change(project: Path, fleet: StubSubstrate) -> None:
    clock = [NOW]
    r = _reader(project, fleet, clock, None)
    r.collect()
    clock[0] += 20  # more than the old 15 s, less than the new interval
    r.collect()
    assert fleet.list_calls == 1
    # a lane restarted in a new pane: its metadata is read again
    first = fleet.statuses[0]
    fleet.statuses[0] = status(first.lane or "", first.status, "%99", kind=first.kind, harness=first.harness)
    clock[0] += 1
    r.collect()
    assert fleet.list_calls == 2
    clock[0] += LANE_META_EVERY_S
    r.collect()
    assert fleet.list_calls == 3  # and at least this often


@pytest.mark.anyio
async def test_the_reader_is_built_off_the_ui_thread_after_the_layout_is_on_screen(
    project: Path, fleet: StubSubstrate
) -> None:
    app = make_app(project, SESSION, substrate=fleet, engine_cmd=None, clock=lambda: NOW, self_pane=None)
    plan = app._reader_plan
    assert plan is not None  # make_app hands the deck a plan, not a Reader
    seen: list[tuple[bool, int]] = []

    def build() -> Reader:
        title = app.query_one("#fleet-title", Label)
        seen.append((threading.current_thread() is threading.main_thread(), title.region.width))
        return plan.build()

    app._reader_plan = type(plan)(plan.paths, build)
    async with app.run_test(size=(160, 45)) as pilot:
        deadline = time.monotonic() + 10
        while str(app.query_one("#fleet-title", Label).render()) == "FLEET" and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert str(app.query_one("#fleet-title", Label).render()).startswith("FLEET — ")
    assert len(seen) == 1
    on_ui_thread, width = seen[0]
    assert not on_ui_thread
    assert width > 0  # laid out before the first read began


def retry_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s (last value: {last!r})")


def test_the_probe_sees_output_and_nothing_else(loop_tmux_server: str, tmp_path: Path) -> None:
    tmux = ["tmux", "-S", loop_tmux_server]
    subprocess.run([*tmux, "new-session", "-d", "-s", "probe", "-n", "lane00", "cat"], check=True)
    subprocess.run([*tmux, "set-option", "-w", "-t", "=probe:lane00", "@loop_lane", "1"], check=True)
    probe = ActivityProbe("probe", tmp_path, loop_tmux_server)
    looks: list[Activity] = []

    def quiet() -> Activity | None:
        """A look that covers the one after it (the pane printed nothing since the second before it)."""
        look = probe()
        assert look is not None
        looks.append(look)
        return looks[-2] if len(looks) > 1 and looks[-2].covers(look) else None

    still = retry_until(quiet)
    assert isinstance(still, Activity)
    subprocess.run([*tmux, "send-keys", "-t", "=probe:lane00", "-l", "some output"], check=True)

    def moved() -> Activity | None:
        look = probe()
        assert look is not None
        return None if still.covers(look) else look

    after = retry_until(moved)
    assert isinstance(after, Activity)
    assert after.newest >= int(still.taken_at)
    assert ActivityProbe("no-such-session", tmp_path, loop_tmux_server)() is None
