"""loop_substrate.roster() / harness_health(): the registry's roster and health verbs, read through the
bundled shell (real bash, no tmux needed)."""

from __future__ import annotations

import pytest
from loop_schemas import HARNESS_ORDER
from loop_substrate import SubstrateError, harness_health, roster


def test_roster_is_the_twelve_harnesses_with_their_governance() -> None:
    got = roster()
    assert tuple(h.name for h in got.harnesses) == HARNESS_ORDER
    shell = got.get("shell")
    assert shell is not None and shell.present is True and shell.tags == ["probe", "watch"]
    claude = got.get("claude")
    assert claude is not None
    assert (claude.cost_tier, claude.autonomy_class, claude.drift_pins) == ("high", "unattended", "low")
    assert got.get("nosuch") is None


def test_health_returns_the_word_and_refuses_bad_names() -> None:
    assert harness_health("shell").health == "ok"
    with pytest.raises(SubstrateError, match="unknown harness"):
        harness_health("nosuch")
    for bad in ("-x", "pi claude", "$(id)", ""):
        with pytest.raises(SubstrateError, match="not a harness name"):
            harness_health(bad)
