"""Fenced blocks in an agent's answer (```decision, ```improve …) and the safe YAML their bodies hold.

Both treat the text as data: a block is found by its exact info string, a body is parsed by a SafeLoader
that also refuses YAML aliases, so a short answer can never expand into a huge document.
"""

from __future__ import annotations

import re
from typing import Any

from loop_schemas._frontmatter import safe_yaml
from loop_schemas.errors import SchemaError


def extract_fenced_blocks(text: str, info: str) -> list[str]:
    """The bodies of every fenced block (``` or ~~~, three or more) whose info string is exactly `info`.

    SchemaError when such a block is opened and never closed.
    """
    opener = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*" + re.escape(info) + r"[ \t]*$")
    blocks: list[str] = []
    # lines end at \n (or \r\n) only: str.splitlines() would also split at \x0c, \x1e, \x85, U+2028…,
    # changing the block's text before YAML sees it
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    i = 0
    while i < len(lines):
        m = opener.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group(1)
        close = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise SchemaError(f"the ```{info} block is not closed")
        blocks.append("\n".join(body))
        i += 1
    return blocks


def load_yaml(text: str) -> Any:
    """yaml.safe_load without aliases; SchemaError (one line) when the text is not valid YAML."""
    return safe_yaml(text)
