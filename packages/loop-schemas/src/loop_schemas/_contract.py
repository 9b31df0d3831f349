"""The contract version every JSON document a CLI prints carries, and the schema rule for such documents."""

from __future__ import annotations

from typing import Any

CONTRACT_VERSION = 1


def require_every_field(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for a model a CLI prints with `model_dump_json()`: every field is always in
    the output, defaults included, so the exported JSON Schema requires every one of them (the
    `contract_version` a model defaults too) and a producer that drops one fails an outside validator.
    Python code may still build the model from the fields it sets."""
    schema["required"] = list(schema.get("properties", {}))
