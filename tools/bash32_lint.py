#!/usr/bin/env python3
"""bash32_lint: reject bash >= 4 constructs and GNU-only userland in shell/ (stock macOS runs it).

The substrate must run on stock macOS: bash 3.2 and the BSD userland (BSD sed/grep/date/stat/mktemp/
readlink/find/xargs/ps, no GNU coreutils, no `timeout`), as well as on Linux. Neither bash 3.2 nor a
BSD userland can be installed here, and shellcheck knows neither, so this lint guards both:
  * RULES: bash >= 4 syntax (conventions.md's list and a few more);
  * USERLAND_RULES: a command at a command position given a GNU-only flag (sed -i without a suffix,
    sed -r, grep -P, readlink -f, date -d / %N, stat -c, mktemp --suffix, find -printf, xargs -r,
    sort -V, head -n -N, tail --pid, ps long options, echo -e, GNU awk functions...) or a command
    stock macOS does not have (timeout, realpath, nproc, tac, sha256sum, flock, setsid...).
Usage: bash32_lint.py FILE|DIR... ; exit 1 with `file:line: message [rule]` for each finding. A line
that detects and falls back opts out of one rule with a trailing `# bash32: allow <rule>` comment
(`# portability: allow <rule>` is the same); on a continued command any of its lines may carry it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
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
    ("test-v", re.compile(r"(\[\[?|(^|[\s;&|(])test)\s+-v\s"), "[[ -v ]] / test -v needs bash 4.2"),
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
    (
        "globstar",
        re.compile(
            r"shopt\s+-[su]\s+(\S+\s+)*(globstar|lastpipe|inherit_errexit|autocd|dirspell|direxpand|checkjobs"
            r"|localvar_inherit|localvar_unset|assoc_expand_once|patsub_replacement|varredir_close)\b"
        ),
        "globstar/lastpipe/inherit_errexit/autocd/... need bash 4 or later",
    ),
    (
        "printf-time",
        re.compile(r"printf\s+(-v\s+\S+\s+)?['\"][^'\"]*%\([^)]*\)T"),
        "printf %(...)T needs bash 4.2",
    ),
    ("epoch-vars", re.compile(r"\$\{?EPOCH(SECONDS|REALTIME)\b"), "EPOCHSECONDS/EPOCHREALTIME need bash 5"),
    ("wait-n", re.compile(r"(^|[\s;&|])wait\s+-[a-zA-Z]*[nfp]"), "wait -n/-f/-p need bash 4.3 or later"),
    ("read-i", re.compile(r"(^|[\s;&|])read\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*i\b"), "read -i needs bash 4"),
    ("read-N", re.compile(r"(^|[\s;&|])read\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*N"), "read -N needs bash 4.1"),
    (
        "read-t-fraction",
        re.compile(r"(^|[\s;&|])read\s+(-[a-zA-Z]+\s+)*-[a-zA-Z]*t\s*[0-9]*\.[0-9]"),
        "read -t takes whole seconds only on bash 3.2",
    ),
    (
        "declare-g",
        re.compile(r"\b(declare|typeset|local)\s+(-[a-zA-Z]*[glu][a-zA-Z]*)\b"),
        "declare -g needs bash 4.2; declare -l/-u need bash 4",
    ),
    ("local-dash", re.compile(r"(^|[\s;&|(])local\s+-(\s|$|;)"), "local - needs bash 4.4"),
    ("case-fallthrough", re.compile(r";;&|(?<![;&]);&(\s|$)"), "case ;& and ;;& need bash 4"),
    ("bashpid", re.compile(r"\$\{?BASHPID\b"), "BASHPID needs bash 4"),
    (
        "named-fd",
        re.compile(r"(?<![$\w])\{[A-Za-z_][A-Za-z0-9_]*\}(<>|[<>]&?|>>)"),
        "{var}> named file descriptors need bash 4.1",
    ),
    (
        "brace-seq",
        re.compile(r"\{-?[0-9]+\.\.-?[0-9]+\.\.-?[0-9]+\}|\{-?0[0-9]+\.\.-?[0-9]+\}"),
        "{a..b..step} and zero-padded {01..10} need bash 4",
    ),
    (
        "ansi-unicode",
        re.compile(r"\$'[^']*\\[uU][0-9a-fA-F]|printf\s+(-v\s+\S+\s+)?['\"][^'\"]*\\[uU][0-9a-fA-F]"),
        "\\u / \\U escapes need bash 4.2",
    ),
    (
        "empty-array-expansion",
        re.compile(r"(?<![+])\"\$\{[A-Za-z_][A-Za-z0-9_]*\[@\]\}\""),
        'under set -u an empty "${arr[@]}" fails on bash 3.2: use ${arr[@]+"${arr[@]}"}',
    ),
]

ALLOW = re.compile(r"#\s*(?:bash32|portability):\s*allow\s+([A-Za-z0-9-]+)")

# ---- userland: GNU-only flags and commands stock macOS lacks -----------------------------------------

# Commands missing from stock macOS (no GNU coreutils / util-linux). A script that needs one detects
# it and falls back, with `# bash32: allow missing-command` on that line.
MISSING_ON_MACOS = (
    *("timeout", "gtimeout", "realpath", "nproc", "tac", "stdbuf", "getent", "pidof", "shuf", "numfmt"),
    *("sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "md5sum", "b2sum"),
    *("setsid", "flock", "truncate", "ionice", "taskset", "chrt"),
)


def _opts(args: list[str]) -> tuple[set[str], list[str]]:
    """(the letters of every short-option cluster, the long options) among args, up to `--`."""
    letters: set[str] = set()
    longs: list[str] = []
    for a in args:
        if a == "--":
            break
        if a.startswith("--"):
            longs.append(a.split("=", 1)[0])
        elif a.startswith("-") and len(a) > 1:
            letters.update(ch for ch in a[1:] if ch.isalpha())
    return letters, longs


def _cluster_has(args: list[str], letter: str) -> bool:
    return letter in _opts(args)[0]


def _sed_inplace(args: list[str], raw: str) -> bool:
    # GNU: -i[SUFFIX]; BSD: -i SUFFIX (so `-i` alone eats the script). `-i.bak` means the same to both.
    for a in args:
        if a == "--":
            break
        if a.startswith("--in-place"):
            return True
        if a.startswith("-") and not a.startswith("--") and "i" in a[1:]:
            head, _, suffix = a[1:].partition("i")
            # `-i`, `-ni`, `-i''`: no suffix (`-i"$sfx"` has one)
            if (
                (head.isalpha() or head == "")
                and suffix.strip("'\"_") == ""
                and not suffix.startswith(("'_", '"_'))
            ):
                return True
    return False


def _sed_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    return bool(letters & set("rz")) or bool(longs)


def _grep_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    return "P" in letters or any(x in ("--perl-regexp", "--null-data") for x in longs)


def _readlink_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    return bool(letters & set("fem")) or any(x.startswith("--canonicalize") for x in longs)


def _date_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    # GNU -d/-r/-f and BSD -v/-j/-f all differ; %N (nanoseconds) is GNU only
    return bool(letters & set("drfvjI")) or bool(longs) or "%N" in raw


def _stat_any(args: list[str], raw: str) -> bool:
    return True  # GNU stat -c FMT, BSD stat -f FMT, and the default output differ too


def _mktemp_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    return bool(letters & set("ptu")) or bool(longs)


FIND_GNU = re.compile(
    r"(^|\s)-(printf|fprintf|fprint0?|regextype|readable|writable|executable|xtype|ls|fls|iwholename|"
    r"wholename|samefile|newer[aBcmt][aBcmt]|quit|files0-from|noleaf|ignore_readdir_race|daystart)\b"
)


def _find_gnu(args: list[str], raw: str) -> bool:
    if FIND_GNU.search(" " + " ".join(args)):
        return True
    # GNU find defaults the path to `.`; BSD find needs it: `find -name x` fails there
    first = next((a for a in args if a not in ("-H", "-L", "-P", "-E", "-X", "-s", "-x")), "")
    return len(first) > 2 and first.startswith("-") and not first.startswith("--")


def _xargs_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args[:1] if args and not args[0].startswith("-") else _leading_opts(args))
    return bool(letters & set("rdaE")) or bool(longs)


def _leading_opts(args: list[str]) -> list[str]:
    """The options before the command xargs runs (its own flags only)."""
    out = []
    for a in args:
        if not a.startswith("-"):
            break
        out.append(a)
    return out


def _sort_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    return "V" in letters or any(
        x in ("--version-sort", "--sort", "--parallel", "--files0-from") for x in longs
    )


NEG_COUNT = re.compile(r"(^|\s)-[nc]\s*-[0-9]|(^|\s)--(pid|lines=-|bytes=-)")


def _head_tail_gnu(args: list[str], raw: str) -> bool:
    return bool(NEG_COUNT.search(" " + " ".join(args)))


def _ps_gnu(args: list[str], raw: str) -> bool:
    letters, longs = _opts(args)
    # BSD ps -e shows environments (macOS: the same as -A, which is portable); long options and
    # procps-only fields do not exist there
    return (
        "e" in letters or bool(longs) or bool(re.search(r"-o\s*\S*\b(etimes|cmd|lwp|nlwp|psr|sgi_p)\b", raw))
    )


def _echo_escape(args: list[str], raw: str) -> bool:
    return bool(args) and args[0].startswith("-") and "e" in args[0][1:] and args[0][1:].isalpha()


AWK_GNU = re.compile(r"\b(gensub|strftime|systime|mktime|asorti?|patsplit|PROCINFO|IGNORECASE|FPAT)\b")


def _awk_gnu(args: list[str], raw: str) -> bool:
    return bool(_opts(_leading_opts(args))[1]) or bool(AWK_GNU.search(raw))


def _coreutils_gnu(cmd: str) -> Callable[[list[str], str], bool]:
    bad = {"ln": "rT", "cp": "tT", "mv": "tT", "install": "DtT", "base64": "w", "du": "b", "wc": "L"}[cmd]

    def check(args: list[str], raw: str) -> bool:
        letters, longs = _opts(args)
        return bool(letters & set(bad)) or bool(longs)

    return check


def _sleep_suffix(args: list[str], raw: str) -> bool:
    return any(re.fullmatch(r"[0-9.]+[smhd]", a) for a in args)


USERLAND_RULES: list[tuple[str, tuple[str, ...], Callable[[list[str], str], bool] | None, str]] = [
    (
        "sed-inplace",
        ("sed",),
        _sed_inplace,
        "sed -i with no suffix: BSD sed takes the next word as the suffix (write a temp file and mv)",
    ),
    (
        "sed-gnu",
        ("sed",),
        _sed_gnu,
        "sed -r/-z and long options are GNU only (use -E; BSD sed has no long options)",
    ),
    ("grep-gnu", ("grep", "egrep", "fgrep"), _grep_gnu, "grep -P / --null-data are GNU only (use grep -E)"),
    (
        "readlink-f",
        ("readlink",),
        _readlink_gnu,
        "readlink -f/-e/-m are GNU only (resolve links in a loop of plain readlink)",
    ),
    (
        "date-gnu",
        ("date",),
        _date_gnu,
        "date -d/-r/-f/-v/-j, long options, %N differ between GNU and BSD (use python3 or plain +FORMAT)",
    ),
    (
        "stat-gnu",
        ("stat",),
        _stat_any,
        "GNU stat -c, BSD stat -f and their default output all differ (use wc -c, [ -nt ], or python3)",
    ),
    (
        "mktemp-gnu",
        ("mktemp",),
        _mktemp_gnu,
        'mktemp -p/-t/-u and long options differ (use mktemp "${TMPDIR:-/tmp}/name.XXXXXX")',
    ),
    (
        "find-gnu",
        ("find",),
        _find_gnu,
        "GNU-only find primaries (-printf, -readable, ...) or no start path (BSD find needs one)",
    ),
    ("xargs-gnu", ("xargs",), _xargs_gnu, "xargs -r/-d/-a and long options are GNU only"),
    ("sort-gnu", ("sort",), _sort_gnu, "sort -V and GNU long options are missing on macOS"),
    (
        "head-tail-gnu",
        ("head", "tail"),
        _head_tail_gnu,
        "head -n -N, tail --pid and GNU long options are missing on macOS",
    ),
    (
        "ps-gnu",
        ("ps",),
        _ps_gnu,
        "ps -e, long options and procps-only fields differ on BSD (use ps -A -o pid= -o comm=)",
    ),
    ("echo-escape", ("echo",), _echo_escape, "echo -e is not portable (sh/zsh differ): use printf"),
    (
        "awk-gnu",
        ("awk", "gawk"),
        _awk_gnu,
        "gawk-only functions/variables or long options (macOS awk is BWK awk)",
    ),
    (
        "coreutils-gnu",
        ("ln", "cp", "mv", "install", "base64", "du", "wc"),
        None,
        "a GNU-only option of ln/cp/mv/install/base64/du/wc",
    ),
    ("sleep-suffix", ("sleep",), _sleep_suffix, "sleep 1m/1h suffixes are GNU only (give seconds)"),
    (
        "missing-command",
        tuple(MISSING_ON_MACOS),
        lambda a, r: True,
        "not on stock macOS (detect it and fall back)",
    ),
]

# A command word: at the start, after ; & | ( ` ! { or a keyword, after NAME=value assignments.
CMD_AT = re.compile(
    r"(?:^|[;&|(`!{]|\b(?:then|do|else|elif|if|while|until|exec|command|time|nice|nohup|env|xargs(?:\s+-\S+)*))"
    r"\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:\S*/)?([A-Za-z][A-Za-z0-9_.-]*)(?=\s|$|[;|&)`])"
)
SEGMENT_END = re.compile(r"[;|&)`]")


def _blank_quotes(line: str) -> str:
    """LINE with the inside of quotes replaced by `_` (same length), except command substitutions
    inside double quotes: `"$(readlink -f "$x")"` keeps its command, `"timeout"` becomes `"_______"`."""
    out: list[str] = []
    stack = ["top"]
    i = 0
    while i < len(line):
        ch = line[i]
        ctx = stack[-1]
        if ctx == "sq":
            if ch == "'":
                stack.pop()
                out.append(ch)
            else:
                out.append("_")
        elif ctx == "dq":
            if ch == "\\" and i + 1 < len(line):
                out.append("__")
                i += 2
                continue
            if ch == '"':
                stack.pop()
                out.append(ch)
            elif line.startswith("$(", i) and not line.startswith("$((", i):
                stack.append("cs")
                out.append("$(")
                i += 2
                continue
            else:
                out.append("_")
        else:  # top or cs
            if ch == "\\" and i + 1 < len(line):
                out.append(line[i : i + 2])
                i += 2
                continue
            if ch == "'":
                stack.append("sq")
            elif ch == '"':
                stack.append("dq")
            elif line.startswith("$(", i) and not line.startswith("$((", i):
                stack.append("cs")
                out.append("$(")
                i += 2
                continue
            elif ch == ")" and ctx == "cs":
                stack.pop()
            out.append(ch)
        i += 1
    return "".join(out)


def lint_userland(line: str) -> list[tuple[str, str]]:
    """(rule, message) for each GNU-only use in one logical line (comments already stripped)."""
    blank = _blank_quotes(line)
    found: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = CMD_AT.search(blank, pos)
        if m is None:
            break
        # go on from the word just found, so `; then timeout` finds `then` and then `timeout`
        pos = m.start(1) if m.start(1) > pos else m.end(1)
        cmd = m.group(1)
        start = m.end(1)
        end_m = SEGMENT_END.search(blank, start)
        end = end_m.start() if end_m else len(blank)
        # words as written, except quoted ones (`'-rf'` is data, not an option: it stays blanked)
        args = []
        for w in re.finditer(r"\S+", blank[start:end]):
            bw = w.group(0)
            args.append(bw if bw[0] in "'\"" else line[start + w.start() : start + w.end()])
        raw = line[start:end]
        for rule, cmds, check, message in USERLAND_RULES:
            if cmd in cmds and (check or _coreutils_gnu(cmd))(args, raw):
                found.append((rule, f"{cmd}: {message}"))
    return found


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
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno, raw = i + 1, lines[i]
        i += 1
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
        # the userland rules read a whole command: join backslash-continued lines (a flag may sit on
        # the next line); an allow comment on any of them counts
        logical = line
        while logical.endswith("\\") and i < len(lines):
            more = _strip_comment(lines[i])
            more_allowed = set(ALLOW.findall(lines[i]))
            for rule, pattern, message in RULES:
                if rule not in more_allowed and pattern.search(more):
                    findings.append(f"{name}:{i + 1}: {message} [{rule}]")
            allowed |= more_allowed
            logical = logical[:-1] + " " + more
            i += 1
        for rule, message in lint_userland(logical):
            if rule not in allowed:
                findings.append(f"{name}:{lineno}: {message} [{rule}]")
        m = re.search(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?", logical)
        if m:
            in_heredoc = m.group(1)
    return findings


def lint_python(name: str, text: str) -> list[str]:
    """The userland rules applied to the argv lists a Python helper runs (["ps", "-A", ...]): a
    list or tuple literal whose first item names a checked command. Non-literal items count as data."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    checked = {c for _, cmds, _, _ in USERLAND_RULES for c in cmds}
    src = text.splitlines()
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
            continue
        first = node.elts[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value in checked):
            continue
        words = [
            e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else "_" for e in node.elts
        ]
        if any(" " in w or not w for w in words[1:]):
            continue  # not an argv (a tuple of names, a message)
        line = " ".join(words)
        allowed = set(ALLOW.findall(src[node.lineno - 1])) if node.lineno <= len(src) else set()
        for rule, message in lint_userland(line):
            if rule not in allowed:
                findings.append(f"{name}:{node.lineno}: {message} [{rule}]")
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
        print(
            "usage: bash32_lint.py FILE|DIR...  (exit 1: one line per bash>=4 construct or GNU-only command)"
        )
        return 0 if argv else 2
    files: list[Path] = []
    for arg in argv:
        p = Path(arg)
        if p.is_dir():
            files.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and (is_bash_script(f) or f.suffix == ".py") and "tests" not in f.parts
                )
            )
        else:
            files.append(p)
    findings: list[str] = []
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        findings.extend(lint_python(str(f), text) if f.suffix == ".py" else lint_text(str(f), text))
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
