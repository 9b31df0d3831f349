"""The automatic /clear of a fresh claude dispatch on the real Claude Code: every dispatch exits 0 and
its prompt reaches the stub model, on a lane fresh from boot and on one in use, round after round.
The paste after /clear waits until Claude has taken the /clear (its input box emptied and the screen
redrawn), not merely until an idle screen is seen again."""

from __future__ import annotations

import pytest
from real_agents import RealSession

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

ROUNDS = 6


def test_claude_fresh_dispatch_after_clear_always_reaches_the_model(real: RealSession) -> None:
    lane = "w-claude"
    real.add_lane(lane, "claude")
    real.wait_status(lane, "idle", "ready", timeout=120)
    for n in range(ROUNDS):
        text = f"fresh prompt number {n}"
        if n == 3:  # a pasted block Claude folds into "[Pasted text …]" in its input box
            text += "\nsecond line\nthird line\nfourth line"
        proc = real.dispatch(lane, "--mode", "text", "--", text, check=False)
        assert proc.returncode == 0, (n, proc.stderr, real.capture(lane))
        request = real.wait_prompt(f"fresh prompt number {n}", timeout=20)
        assert text in request["user_texts"], request["user_texts"]  # type: ignore[operator]
        earlier = [m for m in request["body"]["messages"] if "fresh prompt number" in str(m)]  # type: ignore[index]
        assert len(earlier) == 1, earlier  # the /clear was taken first: a fresh conversation
        real.wait_status(lane, "idle", "ready", timeout=60)
