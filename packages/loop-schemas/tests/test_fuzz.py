"""Every parser, fed arbitrary text: a model or a SchemaError, never another exception."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loop_schemas import (
    SchemaError,
    parse_adr,
    parse_decision_block,
    parse_lane_config,
    parse_mail,
    parse_mail_name,
    parse_state,
    parse_task,
    set_frontmatter_key,
)
from loop_schemas.metrics import parse_metrics_line
from loop_schemas.watchdog import parse_watchdog_line

FRONTMATTER_ALPHABET = st.sampled_from([*"-:#[]{}&*!|>'\"%@`,?\n \t abcdefT0123456789_.", "---\n"])
frontmatterish = st.lists(FRONTMATTER_ALPHABET, max_size=200).map("".join)
text = st.one_of(st.text(max_size=400), frontmatterish, frontmatterish.map(lambda s: "---\n" + s + "\n---\n"))

PARSERS: dict[str, Callable[[str], object]] = {
    "state": parse_state,
    "task": parse_task,
    "adr": parse_adr,
    "mail": parse_mail,
    "mail-name": parse_mail_name,
    "decision": parse_decision_block,
    "lane-config": parse_lane_config,
    "metrics-line": parse_metrics_line,
    "watchdog-line": parse_watchdog_line,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=text)
def test_parser_total(name: str, data: str) -> None:
    try:
        PARSERS[name](data)
    except SchemaError as exc:
        assert str(exc) and "\n" not in str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    doc=st.dictionaries(st.sampled_from(["schema_version", "loops", "lanes", "updated_at", "x"]), json_values)
)
def test_state_structured_fuzz(doc: dict[str, object]) -> None:
    try:
        parse_state(json.dumps(doc))
    except SchemaError:
        pass


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=60))
@example(value="0\xa0")  # str.rstrip() once ate the trailing no-break space and YAML read back the int 0
@example(value=" ")
@example(value="\u2028yes")  # U+2028 was written raw: YAML breaks the line there and the file stopped parsing
@example(value="a\u2029b")
def test_set_frontmatter_key_round_trips_any_value(value: str) -> None:
    base = "---\nid: T0001\nkey: old\n---\nbody\n"
    from loop_schemas._frontmatter import parse_frontmatter

    out = set_frontmatter_key(base, "key", value)
    data, body = parse_frontmatter(out)
    assert body == "body\n"
    expected = value if value.strip() else None
    got = data["key"]
    if expected is None:
        assert got in (None, "", value)
    else:
        assert got == value


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=200))
def test_validate_cli_never_tracebacks_in_process(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    from loop_schemas.__main__ import validate_file

    directory = tmp_path_factory.mktemp("v")
    for name in ("orchestrator-state.json", "T0001-x.md", "lane-config.yaml"):
        path = Path(directory) / name
        path.write_bytes(data)
        validate_file(path, None)


# The value a key had before set_frontmatter_key replaces it, in each layout YAML allows.
OLD_VALUES = {
    "inline": "key: old\n",
    "literal block": "key: |\n  line one\n  line two\n",
    "literal block with a blank line": "key: |\n  a\n\n  b\n",
    "block list at the key's indent": "key:\n- a\n- b\n",
    "indented block list with a comment": "key:\n  - a\n# note\n  - b\n",
    "folded plain scalar": "key: a\n  b\n",
}
scalars = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=4),
    st.dictionaries(
        st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers(), st.none()), max_size=3
    ),
)


@settings(max_examples=300, deadline=None)
@given(layout=st.sampled_from(sorted(OLD_VALUES)), value=scalars, crlf=st.booleans())
@example(layout="block list at the key's indent", value="new", crlf=False)  # `- a` lines were left behind
@example(layout="literal block with a blank line", value="new", crlf=False)  # `  b` became part of `new`
@example(layout="inline", value=1.5, crlf=False)  # written bare as "1.5"… then quoted: read back as text
@example(layout="inline", value=1e20, crlf=False)  # `1e+20` is a string to YAML 1.1
@example(layout="inline", value=["a, b"], crlf=False)  # `[a, b]`: two items
@example(layout="inline", value=["a", None], crlf=False)  # `[a, ]`: the null item vanished
@example(layout="inline", value=["x]"], crlf=False)  # `[x]]`: not YAML at all
@example(layout="inline", value={"k": 1}, crlf=False)  # written as the text "{'k': 1}"
def test_set_frontmatter_key_replaces_the_whole_value_and_nothing_else(
    layout: str, value: object, crlf: bool
) -> None:
    from loop_schemas._frontmatter import parse_frontmatter

    text = "---\nid: T0001\n" + OLD_VALUES[layout] + "other: keep\n---\nbody\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    out = set_frontmatter_key(text, "key", value)
    data, body = parse_frontmatter(out)
    assert body == ("body\r\n" if crlf else "body\n")
    assert data["id"] == "T0001" and data["other"] == "keep" and set(data) == {"id", "key", "other"}
    if isinstance(value, str) and not value.strip():
        assert data["key"] in (None, "", value)
    else:
        assert data["key"] == value
    assert set_frontmatter_key(out, "key", "z") == set_frontmatter_key(text, "key", "z")


def test_set_frontmatter_key_keeps_a_byte_order_mark() -> None:
    """The parser accepts a BOM before the opening fence, so the editor must too (and keep it)."""
    from loop_schemas._frontmatter import parse_frontmatter

    text = "\ufeff---\r\nid: T0001\r\njira:\r\n---\r\nbody\r\n"
    out = set_frontmatter_key(text, "jira", "TEAM-1")
    assert out == "\ufeff---\r\nid: T0001\r\njira: TEAM-1\r\n---\r\nbody\r\n"
    assert parse_frontmatter(out)[0]["jira"] == "TEAM-1"
