"""basics.SideBySide: the engine's concurrent substrate reads (observe_lanes, Fleet.probe) without
concurrent.futures; the same contract as its ThreadPoolExecutor: calls run at once, side by side, result()
gives the value or raises the call's exception, leaving the block waits for every call."""

from __future__ import annotations

import threading

import pytest
from loop_engine.basics import SideBySide


def test_the_calls_run_side_by_side_and_give_their_values() -> None:
    both = threading.Barrier(2, timeout=30)  # passes only when the two calls run at the same time

    def call(value: str) -> str:
        both.wait()
        return value

    with SideBySide() as jobs:
        first = jobs.submit(lambda: call("a"))
        second = jobs.submit(lambda: call("b"))
        assert (first.result(), second.result()) == ("a", "b")


def test_a_calls_exception_is_raised_by_result() -> None:
    def fails() -> None:
        raise OSError("tmux went away")

    with SideBySide() as jobs:
        job = jobs.submit(fails)
        with pytest.raises(OSError, match="tmux went away"):
            job.result()


def test_leaving_the_block_waits_for_every_call() -> None:
    release = threading.Event()
    done: list[int] = []

    def slow() -> None:
        release.wait(30)
        done.append(1)

    with SideBySide() as jobs:
        jobs.submit(slow)
        release.set()
    assert done == [1]


def test_leaving_the_block_on_an_error_still_waits() -> None:
    release = threading.Event()
    done: list[int] = []

    def slow() -> None:
        release.wait(30)
        done.append(1)

    with pytest.raises(RuntimeError), SideBySide() as jobs:
        jobs.submit(slow)
        release.set()
        raise RuntimeError("the caller failed")
    assert done == [1]
