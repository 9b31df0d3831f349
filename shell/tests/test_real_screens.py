"""loop-lane-status's classifier on screens recorded from the real CLIs (Claude Code 2.1.197, codex 0.171.0,
pi 0.73.1; tests-integration/real/ proves them live): the registry's working/idle markers, the pane
title, and an API error under a ready prompt."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1]


def _lane_status():
    spec = importlib.util.spec_from_file_location("lane_status_real", SHELL / "lib" / "lane_status.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lane_status_real", module)
    spec.loader.exec_module(module)
    return module


ls = _lane_status()


@pytest.fixture(scope="module")
def registry():
    out = subprocess.run(
        ["bash", str(SHELL / "lib" / "harness-registry.sh"), "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return ls.Registry({h["name"]: h for h in json.loads(out)["harnesses"]})


CODEX_FOOTER = [
    "› Ask Codex to do anything",
    "  stub-model default · /root/proj · STUB:SLOW please",
    "  ← for agents · ? for shortcuts                      ⚠ 2 warnings · f2 to view",
]
CODEX_STREAMING = ["› STUB:SLOW please", "• slow1 slow2 slow3 slow4 slow5 slow6 slow7", *CODEX_FOOTER]
CODEX_400 = [
    "› STUB:FAIL400 please",
    '■ {"error": {"message": "stub: status 400", "type": "invalid_request_error",',
    '"param": null, "code": "invalid_request_error"}}',
    *CODEX_FOOTER,
]
CODEX_INTERRUPTED = [
    "› STUB:TOOL please",
    "✗ You canceled the request to run echo stub > stub-tool-out.txt",
    "■ Conversation interrupted - use /feedback if something went wrong",
    *CODEX_FOOTER,
]
CODEX_BOOTING = [
    "  >_ OpenAI Codex (v0.171.0)",
    "     /root/proj",
    "› Ask Codex to do anything",
    "  ? for shortcuts",
]
PI_FRESH = [
    " Warning: tmux extended-keys is off. Modified Enter keys may not work. Add `set",
    "─" * 80,
    "─" * 80,
    "/root/proj",
    "0.0%/128k (auto)                                               (stub) stub-model",
]
PI_WORKING = [
    " STUB:SLOW please",
    " slow1 slow2",
    " ⠇ Working...",
    "─" * 80,
    "─" * 80,
    "/root/proj",
    "0.0%/128k (auto)                                               (stub) stub-model",
]
CLAUDE_API_ERROR = [
    "❯ STUB:FAIL400 please",
    "● API Error: 400 stub: bad request",
    "✻ Crunched for 0s",
    "─" * 80,
    "❯\xa0",
    "─" * 80,
    "  ? for shortcuts · ← for agents",
]


def verdict(registry, harness: str, rows: list[str], title: str = "", tagged: bool = True):
    return ls.classify_screen(rows, registry.patterns(harness, tagged), registry.home, title)


def test_codex_streaming_is_working_by_its_title_spinner(registry) -> None:
    assert verdict(registry, "codex", CODEX_STREAMING, "⠇ STUB:SLOW please | proj") == ("working", "busy")
    assert verdict(registry, "codex", CODEX_STREAMING, "STUB:SLOW please | proj") == ("idle", "ready")


def test_codex_400_is_an_api_error_and_an_interruption_is_not(registry) -> None:
    assert verdict(registry, "codex", CODEX_400) == ("idle", "api-error")
    assert verdict(registry, "codex", CODEX_INTERRUPTED) == ("idle", "ready")


def test_codex_is_not_idle_before_its_footer_names_the_agents(registry) -> None:
    assert verdict(registry, "codex", CODEX_BOOTING) != ("idle", "ready")


def test_a_fresh_pi_is_idle_and_a_working_pi_is_working(registry) -> None:
    assert verdict(registry, "pi", PI_FRESH) == ("idle", "ready")
    assert verdict(registry, "pi", PI_WORKING) == ("working", "busy")


def test_claude_after_an_api_error_with_its_prompt_back_is_idle(registry) -> None:
    assert verdict(registry, "claude", CLAUDE_API_ERROR) == ("idle", "api-error")
    assert verdict(registry, "claude", CLAUDE_API_ERROR, "⠐ Claude Code") == ("working", "busy")
    assert verdict(registry, "claude", CLAUDE_API_ERROR[:2]) == ("errored", "error")  # no prompt drawn


def test_markers_apply_only_to_a_lane_tagged_with_its_harness(registry) -> None:
    assert verdict(registry, "codex", CODEX_STREAMING, "⠇ x", tagged=False) == ("idle", "ready")
