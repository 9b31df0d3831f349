"""The deck refuses a substrate that speaks another CONTRACT major version, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from loop_deck.cli import main
from loop_substrate.testing import FakeSubstrate


def test_contract_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSubstrate(tmp_path / "fake", contract_version=2)
    monkeypatch.setenv("LOOP_SHELL_DIR", str(fake.shell))
    result = CliRunner().invoke(main, ["--project-root", str(tmp_path), "--session", "s"])
    assert result.exit_code == 1
    assert "CONTRACT v2" in result.output and "Traceback" not in result.output
