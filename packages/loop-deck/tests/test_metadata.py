import tomllib
from pathlib import Path

import loop_deck


def test_version_matches_pyproject() -> None:
    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert loop_deck.__version__ == meta["project"]["version"]
