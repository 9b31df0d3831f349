"""loop-checkpoint --print projects the loop ledger (.loop/orchestrator-state.json) over the part of
ops-wiki/checkpoint.md above the coord-decisions marker (CONTRACT "loop-checkpoint", ledger projection);
the marker onward is copied byte for byte, and a missing, empty or invalid ledger changes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BLOCK_RE = re.compile(
    r"<<<BEGIN DATA ops-wiki/checkpoint\.md tag=([0-9a-f]+)>>>\n(.*)"
    r"<<<END DATA ops-wiki/checkpoint\.md tag=\1>>>\n",
    re.DOTALL,
)

# the part below the marker keeps trailing blanks and a tab: it is copied byte for byte
CHECKPOINT = """\
# checkpoint

Compiled by the docs lane.

## Current objective
Hand-written objective.

## Loop states
- hand-written loop line

## Notes
not carried over

<!-- coord-decisions -->
### d-2 · newest   \t
body with <!-- a comment --> and trailing spaces{sp}
### d-1 · older
""".replace("{sp}", "   ")

TAIL = CHECKPOINT[CHECKPOINT.index("<!-- coord-decisions -->") :]


def _shown(shell_env, root: Path) -> str:
    proc = shell_env.run("scripts/loop-checkpoint.sh", "--print")
    assert proc.returncode == 0, proc.stderr
    m = BLOCK_RE.search(proc.stdout)
    assert m, proc.stdout
    return m.group(2)


@pytest.fixture
def root(shell_env) -> Path:
    assert shell_env.run("loop-init.sh").returncode == 0
    (shell_env.cwd / "ops-wiki" / "checkpoint.md").write_text(CHECKPOINT)
    return shell_env.cwd


def _ledger(root: Path, doc: object) -> None:
    (root / ".loop" / "orchestrator-state.json").write_text(json.dumps(doc))


def test_the_ledger_replaces_the_top_and_keeps_the_marker_onward(shell_env, root):
    _ledger(
        root,
        {
            "schema_version": 2,
            "updated_at": "2026-05-01T10:00:00Z",
            "objective": "Ship the billing loop",
            "loops": {
                "billing": {
                    "name": "Billing",
                    "status": "implement",
                    "branch": "loop/s/billing",
                    "blast_radius": "payments",
                    "artifacts": {"spec": "specs/billing.md", "plan": None},
                    "commits": ["abc123", "def456"],
                },
                "web": {"branch": "loop/s/web"},
            },
            "open_conflicts": ["web and billing both edit api.py", {"lanes": ["web", "billing"]}],
        },
    )
    assert _shown(shell_env, root) == (
        "# checkpoint\n"
        "\n"
        "_Projected from the canonical loop ledger (.loop/orchestrator-state.json)._\n"
        "_ledger as-of: 2026-05-01T10:00:00Z_\n"
        "\n"
        "## Current objective\n"
        "Ship the billing loop\n"
        "\n"
        "## Loop states\n"
        "- **billing** \u2014 status=implement; branch=loop/s/billing; blast_radius=payments; "
        "artifacts=spec:specs/billing.md; commits=abc123,def456\n"
        "- **web** \u2014 status=?; branch=loop/s/web\n"
        "\n"
        "## Open conflicts\n"
        "- web and billing both edit api.py\n"
        "- lanes:web,billing\n"
        "\n" + TAIL
    )


def test_empty_ledger_parts_fall_back_to_the_hand_written_sections_then_none(shell_env, root):
    # `conflicts` stands in when `open_conflicts` is empty; no updated_at: no as-of line
    _ledger(
        root, {"schema_version": 2, "loops": {}, "objective": "", "open_conflicts": [], "conflicts": ["c1"]}
    )
    assert _shown(shell_env, root) == (
        "# checkpoint\n"
        "\n"
        "_Projected from the canonical loop ledger (.loop/orchestrator-state.json)._\n"
        "\n"
        "## Current objective\n"
        "Hand-written objective.\n"
        "\n"
        "## Loop states\n"
        "- hand-written loop line\n"
        "\n"
        "## Open conflicts\n"
        "- c1\n"
        "\n" + TAIL
    )
    _ledger(root, {"schema_version": 2, "loops": {}})
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\nfree text\n" + TAIL)
    assert _shown(shell_env, root) == (
        "# checkpoint\n"
        "\n"
        "_Projected from the canonical loop ledger (.loop/orchestrator-state.json)._\n"
        "\n"
        "## Current objective\n(none)\n\n## Loop states\n(none)\n\n## Open conflicts\n(none)\n\n" + TAIL
    )


@pytest.mark.parametrize("ledger", [None, "", "{}", "[1, 2]", "{not json", '"text"'])
def test_a_missing_empty_or_invalid_ledger_leaves_the_checkpoint_unchanged(shell_env, root, ledger):
    path = root / ".loop" / "orchestrator-state.json"
    if ledger is None:
        path.unlink()
    else:
        path.write_text(ledger)
    assert _shown(shell_env, root) == CHECKPOINT
