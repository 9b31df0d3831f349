"""The default factory of a model's list fields: `Field(default_factory=empty_list)`, not `list`.

pydantic asks every default factory whether it takes the validated data, through inspect.signature; for
a builtin type that parses its text signature with the tokenizer (`list`: ~0.4 ms a field, each time a
model is built), for a Python function it is a few microseconds. A cycle builds some forty such fields.
The JSON Schema is the same (a factory's value is never exported). tests/test_factories.py holds every
model of the workspace to it.
"""

from __future__ import annotations

from typing import Any


def empty_list() -> list[Any]:
    """A new empty list (a field's default)."""
    return []
