"""Atlassian Document Format (ADF) ⇄ the plain Markdown of task files.

Deliberately small: headings, paragraphs (with hard breaks), bullet and ordered lists, fenced code,
block quotes and rules. Text stays text (no inline marks), so `to_text(from_markdown(md))` is stable and
a push only rewrites a description when the task file really changed.
"""

from __future__ import annotations

import re
from typing import Any

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_BULLET = re.compile(r"^[ \t]{0,3}[-*+][ \t]+(.*)$")
_ORDERED = re.compile(r"^[ \t]{0,3}\d{1,9}[.)][ \t]+(.*)$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+.-]*)(.*)$")
_RULE = re.compile(r"^[ \t]{0,3}([-*_])([ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?(.*)$")


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def _paragraph(lines: list[str]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        if index:
            content.append({"type": "hardBreak"})
        if line:
            content.append(_text(line))
    return {"type": "paragraph", "content": content}


def from_markdown(markdown: str) -> dict[str, Any]:
    """An ADF document (version 1) for the Markdown text."""
    blocks: list[dict[str, Any]] = []
    lines = re.split(r"\r\n|\r|\n", markdown)  # a lone CR ends a line too, as in CommonMark
    index = 0
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(_paragraph(list(para)))
            para.clear()

    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(3)):  # ```x``` is inline code
            flush()
            marker, language = fence.group(1), fence.group(2)
            code: list[str] = []
            index += 1
            # closed by a line starting with a fence at least as long as the opening one, of the same char
            while index < len(lines) and not lines[index].strip().startswith(marker):
                code.append(lines[index])
                index += 1
            index += 1
            body = "\n".join(code)  # Jira rejects an empty text node: an empty block has no content
            node: dict[str, Any] = {"type": "codeBlock", "content": [_text(body)] if body else []}
            if language:
                node["attrs"] = {"language": language}
            blocks.append(node)
            continue
        if not line.strip():
            flush()
            index += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            text = heading.group(2)
            blocks.append(
                {
                    "type": "heading",
                    "attrs": {"level": len(heading.group(1))},
                    "content": [_text(text)] if text else [],
                }
            )
            index += 1
            continue
        if _RULE.match(line):
            flush()
            blocks.append({"type": "rule"})
            index += 1
            continue
        for pattern, kind in ((_BULLET, "bulletList"), (_ORDERED, "orderedList")):
            if pattern.match(line):
                flush()
                items: list[dict[str, Any]] = []
                while index < len(lines):
                    match = pattern.match(lines[index])
                    if match:
                        items.append({"type": "listItem", "content": [_paragraph([match.group(1)])]})
                    elif lines[index].startswith(("  ", "\t")) and lines[index].strip(" \t") and items:
                        # a continuation line of the item above; only Markdown's own blanks (space, tab)
                        # are indentation: str.strip() would also eat \x1c-\x1f, which are text
                        para_node = items[-1]["content"][-1]
                        text = lines[index].strip(" \t")
                        para_node["content"].extend([{"type": "hardBreak"}, _text(text)])
                    else:
                        break
                    index += 1
                blocks.append({"type": kind, "content": items})
                break
        else:
            quote = _QUOTE.match(line)
            if quote:
                flush()
                quoted: list[str] = []
                while index < len(lines):
                    match = _QUOTE.match(lines[index])
                    if not match:
                        break
                    quoted.append(match.group(1))
                    index += 1
                blocks.append({"type": "blockquote", "content": [_paragraph(quoted)]})
                continue
            para.append(line.rstrip(" \t"))  # only what a Markdown line may end in: `---\r` stays text
            index += 1
            continue
        continue
    flush()
    return {"type": "doc", "version": 1, "content": blocks}


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    value = node.get("attrs")
    return value if isinstance(value, dict) else {}


def _inline(nodes: Any) -> str:
    out: list[str] = []
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = _attrs(node)
        if kind == "text":
            out.append(str(node.get("text", "")))
        elif kind == "hardBreak":
            out.append("\n")
        elif kind in ("mention", "emoji", "status", "date"):
            value = attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or ""
            out.append(str(value))
        elif kind in ("inlineCard", "blockCard"):
            out.append(str(attrs.get("url", "")))
        else:
            out.append(_inline(node.get("content")))
    return "".join(out)


def _block(node: dict[str, Any]) -> str:
    kind = node.get("type")
    content = node.get("content")
    attrs = _attrs(node)
    if kind == "paragraph":
        return _inline(content)
    if kind == "heading":
        level = attrs.get("level", 1)
        level = level if isinstance(level, int) and 1 <= level <= 6 else 1
        text = _inline(content).strip(" \t")  # spaces around a heading's text are not part of it
        if text.endswith("#"):  # `# a#` reads back as `a`: a closing ` #` keeps the text
            text += " #"
        return "#" * level + " " + text
    if kind == "codeBlock":
        language = attrs.get("language") or ""
        code = _inline(content)
        # a fence longer than any run of backticks opening a code line, so no code line closes it early
        runs = [len(s) - len(s.lstrip("`")) for s in (line.strip() for line in code.split("\n"))]
        fence = "`" * max([3, *(r + 1 for r in runs if r >= 3)])
        return f"{fence}{language}\n{code}\n{fence}"
    if kind == "rule":
        return "---"
    if kind in ("bulletList", "orderedList"):
        lines: list[str] = []
        for number, item in enumerate(content if isinstance(content, list) else [], start=1):
            if not isinstance(item, dict):
                continue
            text = "\n".join(_block(b) for b in item.get("content") or [] if isinstance(b, dict))
            first, *rest = text.split("\n") if text else [""]
            first = first.lstrip(" \t")  # spaces after the bullet are not part of the item
            bullet = "-" if kind == "bulletList" else f"{number}."
            if _RULE.match(f"{bullet} {first}"):  # `- --` reads back as a rule; `* --` is an item
                bullet = "*"
            lines.append(f"{bullet} {first}")
            lines.extend(_continuation(r) for r in rest if r.strip(" \t"))  # a blank line would end the list
        return "\n".join(lines)
    if kind == "blockquote":
        inner = "\n\n".join(_block(b) for b in content or [] if isinstance(b, dict))
        return "\n".join(f"> {line}".rstrip() for line in inner.split("\n"))
    if kind in ("mediaSingle", "mediaGroup", "media"):
        return "[attachment]"
    if isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "text" for c in content):
        return _inline(content)
    return "\n\n".join(_block(b) for b in content or [] if isinstance(b, dict))


def _continuation(line: str) -> str:
    """A list item's next line, indented so it reads back as part of the item, not as a new item."""
    indented = f"  {line}"
    if _BULLET.match(indented) or _ORDERED.match(indented):
        return f"    {line.lstrip()}"  # four spaces: too deep to open an item
    return indented


def to_text(document: Any) -> str:
    """Markdown-ish plain text of an ADF document (or of a v2 plain-string description)."""
    if document is None:
        return ""
    if isinstance(document, str):
        return document
    if not isinstance(document, dict):
        return ""
    blocks = document.get("content")
    if not isinstance(blocks, list):
        return ""
    return "\n\n".join(_block(b) for b in blocks if isinstance(b, dict)).strip("\n")
