#!/usr/bin/env python3
"""bash32_lint: reject bash >= 4 constructs in shell/ (bash 3.2 itself cannot be installed here).

shellcheck does not know which bash version a script targets, so this small lint guards the
constructs conventions.md lists. Usage: bash32_lint.py FILE... ; exit 1 with `file:line: message`
for each finding. A line may opt out of one rule with a trailing `# bash32: allow <rule>` comment.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RULES: list[tuple[str, re.Pattern[str], str]] = [
    (
        "assoc-array",
        re.compile(r"\b(declare|typeset|local)\s+(-[a-zA-Z]*A[a-zA-Z]*)\b"),
        "associative arrays (declare -A) need bash 4",
    ),
    ("mapfile", re.compile(r"(^|[\s;&|(])(mapfile|readarray)\b"), "mapfile/readarray need bash 4"),
    (
        "case-mod",
        re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(,,?|\^\^?)[^}]*\}"),
        "${x,,} / ${x^^} case modification needs bash 4",
    ),
    (
        "nameref",
        re.compile(r"\b(declare|typeset|local)\s+(-[a-zA-Z]*n[a-zA-Z]*)\b"),
        "declare -n needs bash 4.3",
    ),
    ("append-both", re.compile(r"&>>"), "&>> needs bash 4"),
    ("pipe-both", re.compile(r"\|&"), "|& needs bash 4"),
    ("test-v", re.compile(r"\[\[\s+-v\s"), "[[ -v ]] needs bash 4.2"),
    ("at-transform", re.compile(r"\$\{[^}]*@[QEPAKaUuL]\}"), "${x@Q} transformations need bash 4.4"),
    (
        "neg-substring",
        re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\s*-[0-9]"),
        "negative substring offsets need bash 4.2 (use ${x: -N} carefully or compute the offset)",
    ),
    (
        "neg-index",
        re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\[-[0-9]+\]\}"),
        "negative array indices need bash 4.3",
    ),
    ("coproc", re.compile(r"(^|[\s;&|])coproc\b"), "coproc needs bash 4"),
    ("globstar", re.compile(r"shopt\s+-s\s+(globstar|lastpipe)"), "globstar/lastpipe need bash 4"),
    (
        "printf-time",
        re.compile(r"printf\s+(-v\s+\S+\s+)?['\"][^'\"]*%\([^)]*\)T"),
        "printf %(...)T needs bash 4.2",
    ),
    ("epoch-vars", re.compile(r"\$\{?EPOCH(SECONDS|REALTIME)\b"), "EPOCHSECONDS/EPOCHREALTIME need bash 5"),
    ("wait-n", re.compile(r"(^|[\s;&|])wait\s+-n\b"), "wait -n needs bash 4.3"),
    ("read-i", re.compile(r"(^|[\s;&|])read\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*i\b"), "read -i needs bash 4"),
    (
        "empty-array-expansion",
        re.compile(r"(?<![+])\"\$\{[A-Za-z_][A-Za-z0-9_]*\[@\]\}\""),
        'under set -u an empty "${arr[@]}" fails on bash 3.2: use ${arr[@]+"${arr[@]}"}',
    ),
]

ALLOW = re.compile(r"#\s*bash32:\s*allow\s+([a-z0-9-]+)")


def _strip_comment(line: str) -> str:
    """Drop a trailing comment (a # outside quotes that starts a word)."""
    out = []
    quote = ""
    prev = " "
    for ch in line:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and prev in " \t;":
            break
        out.append(ch)
        prev = ch
    return "".join(out)


def lint_text(name: str, text: str) -> list[str]:
    findings = []
    in_heredoc: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if in_heredoc is not None:
            if raw.strip() == in_heredoc:
                in_heredoc = None
            continue
        allowed = set(ALLOW.findall(raw))
        line = _strip_comment(raw)
        if line.lstrip().startswith("#"):
            continue
        for rule, pattern, message in RULES:
            if rule not in allowed and pattern.search(line):
                findings.append(f"{name}:{lineno}: {message} [{rule}]")
        m = re.search(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?", line)
        if m:
            in_heredoc = m.group(1)
    return findings


def is_bash_script(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    try:
        first = path.open("rb").readline()
    except OSError:
        return False
    return first.startswith(b"#!") and b"bash" in first


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: bash32_lint.py FILE|DIR...  (exit 1 with one line per bash>=4 construct)")
        return 0 if argv else 2
    files: list[Path] = []
    for arg in argv:
        p = Path(arg)
        if p.is_dir():
            files.extend(
                sorted(
                    f for f in p.rglob("*") if f.is_file() and is_bash_script(f) and "tests" not in f.parts
                )
            )
        else:
            files.append(p)
    findings: list[str] = []
    for f in files:
        findings.extend(lint_text(str(f), f.read_text(encoding="utf-8", errors="replace")))
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
