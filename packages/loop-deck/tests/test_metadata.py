import re
from pathlib import Path

import loop_deck


def test_version_matches_pyproject() -> None:
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', text, re.M)
    assert match is not None
    assert loop_deck.__version__ == match.group(1)
