"""Workspace-wide pytest setup: Hypothesis profiles.

Locally every run draws fresh examples, so the property tests keep hunting for new bugs. Under CI
(CI=true) the draw is derandomized: the same examples each run, so a red CI always means a change broke
something, never that the dice found an old bug. Bugs found locally become @example cases.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")
