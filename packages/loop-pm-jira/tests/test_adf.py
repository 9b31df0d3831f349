"""Markdown ⇄ ADF: valid documents (no empty text nodes) and a stable round trip, so a push only
rewrites a description that really changed."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from loop_pm_jira import adf
from loop_schemas.pm import comparable_text

SAMPLE = """## Objective

Do the thing.
Second line.

- one
- two
  continued

1. first
2. second

```python
print("x")
```

> quoted

---
"""


def _text_nodes(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "text":
            found.append(node)
        for child in node.get("content") or []:
            found.extend(_text_nodes(child))
    return found


def test_structure() -> None:
    doc = adf.from_markdown(SAMPLE)
    assert doc["type"] == "doc" and doc["version"] == 1
    kinds = [b["type"] for b in doc["content"]]
    assert kinds == ["heading", "paragraph", "bulletList", "orderedList", "codeBlock", "blockquote", "rule"]
    assert doc["content"][0]["attrs"] == {"level": 2}
    assert doc["content"][4]["attrs"] == {"language": "python"}
    assert {"type": "hardBreak"} in doc["content"][1]["content"]


def test_round_trip_text() -> None:
    text = adf.to_text(adf.from_markdown(SAMPLE))
    assert text.startswith("## Objective\n\nDo the thing.\nSecond line.\n\n- one\n- two\n  continued")
    assert '```python\nprint("x")\n```' in text
    assert "> quoted" in text


def test_to_text_tolerates_unknown_and_odd_nodes() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "panel",
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "in panel"}]}],
            },
            {"type": "paragraph", "content": [{"type": "mention", "attrs": {"text": "@ann"}}, "junk", None]},
            {"type": "mediaSingle", "content": []},
            "not a node",
        ],
    }
    assert adf.to_text(doc) == "in panel\n\n@ann\n\n[attachment]"
    assert adf.to_text(None) == "" and adf.to_text("plain v2 text") == "plain v2 text"
    assert adf.to_text({"content": "nope"}) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab #-*>`~1.)\n\t_")), max_size=200))
@example("```\n")  # an unclosed fence holding one blank line once made an empty text node
def test_round_trip_is_a_fixed_point_and_valid(markdown: str) -> None:
    once = adf.to_text(adf.from_markdown(markdown))
    twice = adf.to_text(adf.from_markdown(once))
    assert comparable_text(once) == comparable_text(twice)
    assert all(node["text"] for node in _text_nodes(adf.from_markdown(markdown)))
