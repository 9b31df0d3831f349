"""lib/jsonlite.py: json.loads / json.dumps answers without importing the json package.

Every answer must be json's own: the same value (compared as json's text of it, NaN included), or the
same exception type and message, on any input, valid or not."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

LIB = Path(__file__).resolve().parents[1] / "lib"
sys.path.insert(0, str(LIB))
import jsonlite  # noqa: E402 - shell/lib is on sys.path

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
KEYS = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.dictionaries(KEYS, inner, max_size=5)
    ),
    max_leaves=30,
)
WS = st.text(alphabet=" \t\n\r\x0b\x0c", max_size=3)
# JSON-ish characters, so random text is often valid, often nearly valid (every error path)
JSONISH = st.text(alphabet=' \t\n\r{}[],:"\\/0123456789.-+eEtruefalsnNIiyaé\ufeff\x00\x1f\ud800', max_size=40)


def _outcome(fn: Any, *args: Any, **kw: Any) -> tuple[str, str]:
    """(\"ok\", json's text of the value) or (the exception's type, its message)."""
    try:
        value = fn(*args, **kw)
    except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        return type(exc).__name__, str(exc)
    return "ok", json.dumps(value, ensure_ascii=True)


@settings(max_examples=400, deadline=None)
@given(VALUES, WS, WS, st.booleans())
def test_loads_reads_what_json_writes_as_json_loads_does(value, lead, trail, pretty):
    text = lead + json.dumps(value, indent=1 if pretty else None, ensure_ascii=False) + trail
    assert _outcome(jsonlite.loads, text) == _outcome(json.loads, text)


@settings(max_examples=1500, deadline=None)
@given(JSONISH)
@example("")
@example("   ")
@example('\ufeff{"a": 1}')
@example('{"a": 1} x')
@example('{"a": 1}{"b": 2}')
@example('{"a": NaN, "b": [Infinity, -Infinity]}')
@example('"\\ud800"')
@example('"a\x00b"')
@example("[1,]")
@example("01")
@example("1e400")
@example("[" * 5000 + "]" * 5000)
def test_loads_answers_any_text_as_json_loads_does(text):
    assert _outcome(jsonlite.loads, text) == _outcome(json.loads, text)


@settings(max_examples=400, deadline=None)
@given(JSONISH | VALUES.map(lambda v: json.dumps(v, allow_nan=True)))
@example('{"a": NaN, "b": [Infinity, -Infinity, NaN]}')
def test_loads_calls_parse_constant_as_json_loads_does(text):
    """The digest reads NaN/Infinity as null and says so: the hook sees the same names in the same order."""
    seen: dict[str, list[str]] = {"lite": [], "json": []}

    def hook(kind: str) -> Any:
        return seen[kind].append

    lite = _outcome(jsonlite.loads, text, parse_constant=hook("lite"))
    assert lite == _outcome(json.loads, text, parse_constant=hook("json"))
    if lite[0] == "ok":
        assert seen["lite"] == seen["json"]


SEPARATORS = st.sampled_from([None, (",", ":"), (", ", ": "), (" ,", " : ")])


@settings(max_examples=600, deadline=None)
@given(VALUES, st.booleans(), SEPARATORS)
def test_dumps_writes_what_json_dumps_writes(value, check_circular, separators):
    def fn(module: Any) -> tuple[str, str]:
        kw = {"ensure_ascii": False} if module is json else {}
        try:
            return "ok", module.dumps(value, check_circular=check_circular, separators=separators, **kw)
        except (ValueError, TypeError) as exc:
            return type(exc).__name__, str(exc)

    assert fn(jsonlite) == fn(json)


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        object(),
        {(1, 2): "tuple key"},
        [b"bytes"],
        {"a": [1, {"b": {3}}]},
        "plain",
        'é\n"\\',
        math.nan,
        [math.inf, -math.inf],
    ],
)
def test_dumps_refuses_and_answers_as_json_dumps(value):
    def fn(call: Any) -> tuple[str, str]:
        try:
            return "ok", call()
        except (ValueError, TypeError) as exc:
            return type(exc).__name__, str(exc)

    assert fn(lambda: jsonlite.dumps(value)) == fn(lambda: json.dumps(value, ensure_ascii=False))


def test_dumps_finds_a_circular_reference_as_json_dumps():
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference detected"):
        jsonlite.dumps(loop)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_encode_str_is_json_dumps_of_a_str(text):
    assert jsonlite.encode_str(text) == json.dumps(text, ensure_ascii=False)


def test_jsonlite_never_imports_the_json_package_on_its_own_path():
    """The point of the module: valid input is read and written without json (and its patterns)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import jsonlite\n"
        'v = jsonlite.loads(\' {"a": [1, 2.5, "x", null, NaN]} \', parse_constant=lambda n: None)\n'
        'v = jsonlite.loads(\'{"a": [1, 2.5, "x", null, NaN]}\')\n'
        "jsonlite.dumps(v); jsonlite.dumps(v, check_circular=False, separators=(',', ':'))\n"
        "jsonlite.encode_str('é')\n"
        "print(sorted(m for m in sys.modules if m in ('re', 'json') or m.startswith('json.')))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(LIB)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


BAD = ["{not json", "[1,", "", "  ", "\ufeff[]", "[] x", '"\\x"', "[" * 5000 + "]" * 5000, "NaNx", '{"a" 1}']


def test_loads_raises_json_errors_before_json_is_imported():
    """In a fresh interpreter (json not imported yet: 3.11's scanner then fails to raise its own error)
    every bad text still gets json.loads' exception and message, and nothing else leaks out."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import jsonlite\n"
        "for text in eval(sys.argv[2]):\n"
        "    try:\n"
        "        print(repr(('ok', jsonlite.loads(text))))\n"
        "    except Exception as exc:\n"
        "        print(repr((type(exc).__name__, str(exc))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(LIB), repr(BAD)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    want = []
    for text in BAD:
        try:
            want.append(repr(("ok", json.loads(text))))
        except Exception as exc:  # every kind json raises
            want.append(repr((type(exc).__name__, str(exc))))
    assert out == want
