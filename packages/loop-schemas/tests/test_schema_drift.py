"""The committed JSON Schemas under packages/loop-schemas/schemas/ must match the models exactly.

Regenerate deliberately with: uv run python -m loop_schemas export packages/loop-schemas/schemas
"""

from __future__ import annotations

from pathlib import Path

from loop_schemas.export import rendered_schemas

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_match_models() -> None:
    expected = rendered_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS_DIR.glob("*.schema.json")}
    missing = sorted(set(expected) - set(committed))
    stale = sorted(set(committed) - set(expected))
    drifted = sorted(n for n in set(expected) & set(committed) if expected[n] != committed[n])
    hint = "run: uv run python -m loop_schemas export packages/loop-schemas/schemas"
    assert not missing, f"schemas missing from the repo: {missing}; {hint}"
    assert not stale, f"schemas with no model: {stale}; delete them"
    assert not drifted, f"schemas drifted from their models: {drifted}; {hint}"
