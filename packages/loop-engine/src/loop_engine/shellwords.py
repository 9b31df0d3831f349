"""Read a text the way a shell (and an AI agent that pastes it into one) would, before the gate matches it.

The gate asks what a text MEANS: which programs it would run with which words, and which files it would
write. `read_commands` lexes a text like a POSIX shell (bash flavoured) and returns every simple command
it holds, nested ones included, with the spelling tricks undone:

- quotes of every kind and their concatenation (`loop-ad''r`, `"acc"ept`), backslash escapes, line
  continuations, `$'…'` ANSI-C strings (`\\x61`, `\\141`, `\\u0061`, `\\cA`), `$"…"`;
- parameter expansion with what the text itself assigned (`A=acc; …${A}ept`, `export`, `set --`,
  arrays, `${X:-default}`, `${X:0:1}`), unset names expanding to nothing (empty-string splices), and
  unquoted expansions word-split on `$IFS` (also after `IFS=,`);
- brace expansion (`{accept,x}`), command substitution (`$(…)`, backticks: the inner commands are read
  too, and an inner `echo`/`printf` gives its output), here-documents and here-strings (their bodies
  are read as commands), `bash -c`/`sh -c`/`eval` strings (read as commands by the gate's unwrapping);
- Unicode compatibility forms (NFKC) and invisible format characters (zero-width spaces …) removed.

A text is also meant for an AI agent, which reads prose rather than shell: the content of every quoted
string is read again as a text of its own (an apostrophe in "don't" must not hide what follows it), and
a second reading keeps an apostrophe between two letters as a letter; `#` starts no comment (what
follows it still reaches the reader). Nothing here runs anything; the
reader is total (any input gives commands, never an exception) and bounded in depth and size.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass, field

MAX_DEPTH = 6
MAX_COMMANDS = 2000
MAX_BRACE_WORDS = 64
DEFAULT_IFS = " \t\n"
_PIPELINES = itertools.count(1)
_COMMAND_LIKE = re.compile(r"[\s;|&<>`]|\$[({]")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=(.*)", re.DOTALL)
_APOSTROPHE_IN_WORD = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")
_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "busybox", "su", "script"})
_REDIRECTS = ("<<<", "<<-", "&>>", ">>", "<<", ">|", "&>", ">&", "<&", "<>", ">", "<")
_SIMPLE_ESC = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


@dataclass
class Command:
    """One simple command as a shell would run it: its words, redirections and here-document bodies."""

    words: list[str]
    redirects: list[tuple[str, str]] = field(default_factory=list)
    stdin_texts: list[str] = field(default_factory=list)
    pipeline: int = 0
    cwd: tuple[str, ...] = ()  # the folder `cd` in the same text moved to, relative to where it starts
    decoded_input: bool = False  # a word of it is the output of a decoder (`$(… | base64 -d)`)


def decode_ansi_c(body: str) -> str:
    """The value of `$'body'` (also what `printf` and `echo -e` make of escapes)."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESC:
            out.append(_SIMPLE_ESC[e])
        elif e in "01234567":
            digits = e
            while i < n and len(digits) < 3 and body[i] in "01234567":
                digits += body[i]
                i += 1
            out.append(chr(int(digits, 8) & 0xFF))
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = ""
            while i < n and len(digits) < width and body[i] in "0123456789abcdefABCDEF":
                digits += body[i]
                i += 1
            if digits:
                code = int(digits, 16)
                out.append(chr(code) if code <= 0x10FFFF else "")
            else:
                out.append("\\" + e)
        elif e == "c" and i < n:
            out.append(chr(ord(body[i].upper()) ^ 0x40) if body[i].isascii() else "")
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)


def clean_text(text: str) -> str:
    """NFKC, invisible format characters removed: what a reader (human or model) takes the text to say."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def expand_braces(word: str) -> list[str]:
    """Bash brace expansion of one word (`{a,b}` and `{1..3}` forms), at most MAX_BRACE_WORDS words."""
    out = [word]
    for _ in range(8):
        nxt: list[str] = []
        changed = False
        for w in out:
            parts = _one_brace(w)
            if parts is None:
                nxt.append(w)
            else:
                nxt.extend(parts)
                changed = True
        out = nxt[:MAX_BRACE_WORDS]
        if not changed:
            break
    return out


def _one_brace(word: str) -> list[str] | None:
    start = word.find("{")
    while start >= 0:
        depth = 0
        commas: list[int] = []
        for j in range(start, len(word)):
            ch = word[j]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    inner = word[start + 1 : j]
                    head, tail = word[:start], word[j + 1 :]
                    if commas:
                        pieces, prev = [], start + 1
                        for k in commas:
                            pieces.append(word[prev:k])
                            prev = k + 1
                        pieces.append(word[prev:j])
                        return [head + p + tail for p in pieces]
                    m = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", inner) or re.fullmatch(
                        r"([a-zA-Z])\.\.([a-zA-Z])", inner
                    )
                    if m:
                        a, b = m.group(1), m.group(2)
                        if a.lstrip("-").isdigit():
                            lo, hi = int(a), int(b)
                            step = 1 if hi >= lo else -1
                            seq = [str(x) for x in range(lo, hi + step, step)][:MAX_BRACE_WORDS]
                        else:
                            lo, hi = ord(a), ord(b)
                            step = 1 if hi >= lo else -1
                            seq = [chr(x) for x in range(lo, hi + step, step)][:MAX_BRACE_WORDS]
                        return [head + s + tail for s in seq]
                    break
            elif ch == "," and depth == 1:
                commas.append(j)
        start = word.find("{", start + 1)
    return None


class _Reader:
    """One reading of one text. `vars` and `arrays` persist across the commands of the text."""

    def __init__(self, text: str, env: dict[str, str], depth: int, out: list[Command], prose: bool) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.vars = env
        self.arrays: dict[str, list[str]] = {}
        self.depth = depth
        self.out = out
        self.prose = prose
        self.pipeline = next(_PIPELINES)
        self.cwd: tuple[str, ...] = ()
        self.pending_heredocs: list[tuple[str, bool, bool, Command]] = []
        self.decoded = False
        self.feeder: Command | None = None  # the command before, whose output a `|` feeds on

    # ---------------------------------------------------------------- nested texts
    def nested(self, text: str) -> None:
        """Read `text` as a text of its own (a quoted string, a substitution, a here-document)."""
        if self.depth >= MAX_DEPTH or len(self.out) >= MAX_COMMANDS or not _COMMAND_LIKE.search(text):
            return  # one bare word is no command with arguments: nothing a second reading could add
        read_into(text, self.out, env=self.vars, depth=self.depth + 1, prose=self.prose)

    # ---------------------------------------------------------------- words
    def _split_into(self, fields: list[str], value: str) -> None:
        """Append an unquoted expansion to the fields, split on $IFS (and blanks) as a shell splits it."""
        seps = "".join(sorted(set(self.vars.get("IFS", DEFAULT_IFS)) | set(DEFAULT_IFS)))
        pieces = re.split("[" + re.escape(seps) + "]", value)
        fields[-1] += pieces[0]
        fields.extend(pieces[1:])

    def read_word(self) -> tuple[list[str], bool]:
        """Read one shell word from the current position: its fields (after splitting) and whether any part
        was quoted (a quoted empty string is still a word)."""
        fields: list[str] = [""]
        quoted = False
        s = self.s
        while self.i < self.n:
            c = s[self.i]
            if c in " \t\n" or c in ";&|()<>":
                break
            if c == "\\":
                if self.i + 1 < self.n:
                    if s[self.i + 1] == "\n":  # a line continuation joins the lines
                        self.i += 2
                        continue
                    fields[-1] += s[self.i + 1]
                    quoted = True
                    self.i += 2
                else:
                    self.i += 1
                continue
            if c == "'" and not (self.prose and _APOSTROPHE_IN_WORD.match(s, self.i)):
                end = s.find("'", self.i + 1)
                end = self.n if end < 0 else end
                body = s[self.i + 1 : end]
                fields[-1] += body
                self.nested(body)
                quoted = True
                self.i = end + 1
                continue
            if c == '"':
                fields[-1] += self._double_quoted()
                quoted = True
                continue
            if c == "`":
                end = self.i + 1
                while end < self.n and s[end] != "`":
                    end += 2 if s[end] == "\\" else 1
                body = s[self.i + 1 : min(end, self.n)]
                self.i = min(end, self.n) + 1
                fields[-1] += self._substitute(body.replace("\\`", "`"))
                continue
            if c == "$":
                if s.startswith("$'", self.i):
                    end = self.i + 2
                    while end < self.n and s[end] != "'":
                        end += 2 if s[end] == "\\" else 1
                    body = decode_ansi_c(s[self.i + 2 : min(end, self.n)])
                    fields[-1] += body
                    self.nested(body)
                    quoted = True
                    self.i = min(end, self.n) + 1
                    continue
                if s.startswith('$"', self.i):
                    self.i += 1
                    fields[-1] += self._double_quoted()
                    quoted = True
                    continue
                value, splits = self._dollar()
                if splits:
                    self._split_into(fields, value)
                else:
                    fields[-1] += value
                continue
            fields[-1] += c
            self.i += 1
        return fields, quoted

    def _double_quoted(self) -> str:
        """At a `"`: the value of the double-quoted string (expansions done, no splitting)."""
        s = self.s
        self.i += 1
        buf: list[str] = []
        raw_start = self.i
        while self.i < self.n and s[self.i] != '"':
            c = s[self.i]
            if c == "\\" and self.i + 1 < self.n:
                nxt = s[self.i + 1]
                if nxt == "\n":
                    self.i += 2
                    continue
                if nxt in '$`"\\':
                    buf.append(nxt)
                    self.i += 2
                    continue
                buf.append(c)
                self.i += 1
                continue
            if c == "$" and self.i + 1 < self.n and s[self.i + 1] not in ' \t\n"':
                value, _ = self._dollar()
                buf.append(value)
                continue
            if c == "`":
                end = self.i + 1
                while end < self.n and s[end] not in '`"':
                    end += 2 if s[end] == "\\" else 1
                body = s[self.i + 1 : min(end, self.n)]
                self.i = min(end, self.n) + (1 if end < self.n and s[end] == "`" else 0)
                buf.append(self._substitute(body))
                continue
            buf.append(c)
            self.i += 1
        raw = s[raw_start : self.i]
        self.i += 1
        value = "".join(buf)
        self.nested(value)
        if raw != value:
            self.nested(raw)
        return value

    def _matching(self, start: int, open_ch: str, close_ch: str) -> int:
        """Index of the bracket closing the one before `start` (quotes respected roughly); n when none."""
        depth = 1
        j = start
        s = self.s
        while j < self.n:
            c = s[j]
            if c == "\\":
                j += 2
                continue
            if c == "'":
                k = s.find("'", j + 1)
                j = self.n if k < 0 else k + 1
                continue
            if c == open_ch:
                depth += 1
            elif c == close_ch:
                depth -= 1
                if depth == 0:
                    return j
            j += 1
        return self.n

    def _dollar(self) -> tuple[str, bool]:
        """At a `$`: (the expansion's value, whether it is word-split when unquoted)."""
        s = self.s
        i = self.i + 1
        if s.startswith("((", i):
            end = self._matching(i + 2, "(", ")")
            self.i = min(end + 2, self.n)
            return "", False
        if s.startswith("(", i):
            end = self._matching(i + 1, "(", ")")
            body = s[i + 1 : end]
            self.i = min(end + 1, self.n)
            return self._substitute(body), True
        if s.startswith("{", i):
            end = self._matching(i + 1, "{", "}")
            body = s[i + 1 : end]
            self.i = min(end + 1, self.n)
            return self._braced(body), True
        m = _NAME_RE.match(s, i)
        if m:
            self.i = m.end()
            return self._value(m.group(0)), True
        if i < self.n and s[i] in "@*#?-$!0123456789":
            self.i = i + 1
            return self._value(s[i]), True
        self.i = i
        return "$", False

    def _value(self, name: str) -> str:
        if name in self.arrays:
            items = self.arrays[name]
            return items[0] if items else ""
        return self.vars.get(name, "")

    def _braced(self, body: str) -> str:
        m = re.fullmatch(r"#?([A-Za-z_][A-Za-z0-9_]*|[@*#?$!0-9])(\[([^\]]*)\])?(.*)", body, re.DOTALL)
        if not m:
            return ""
        name, index, rest = m.group(1), m.group(3), m.group(4)
        if index is not None:
            items = self.arrays.get(name, [self.vars[name]] if name in self.vars else [])
            if index in ("@", "*"):
                value = " ".join(items)
            else:
                try:
                    value = items[int(index)]
                except (ValueError, IndexError):
                    value = ""
        else:
            value = self._value(name)
        is_set = name in self.vars or name in self.arrays
        if body.startswith("#"):
            return str(len(value))
        if not rest:
            return value
        op = re.match(r":?[-=+?]", rest)
        if op:
            word = self._expand_fragment(rest[op.end() :])
            colon = op.group(0).startswith(":")
            empty = (not is_set) or (colon and value == "")
            kind = op.group(0)[-1]
            if kind in "-=?":
                if empty and kind == "=":
                    self.vars[name] = word
                return word if empty else value
            return "" if empty else word
        sub = re.fullmatch(r":\s*(-?\d+)(?::\s*(-?\d+))?", rest)
        if sub:
            off = int(sub.group(1))
            off = max(0, len(value) + off) if off < 0 else off
            if sub.group(2) is None:
                return value[off:]
            length = int(sub.group(2))
            end = off + length if length >= 0 else len(value) + length
            return value[off:end]
        repl = re.fullmatch(r"(//?)([^/]*)/?(.*)", rest, re.DOTALL)
        if repl:
            pat, rep = self._expand_fragment(repl.group(2)), self._expand_fragment(repl.group(3))
            if not pat:
                return value
            return value.replace(pat, rep) if repl.group(1) == "//" else value.replace(pat, rep, 1)
        case = re.fullmatch(r"(\^\^|,,|\^|,)", rest)
        if case:
            return value.upper() if case.group(1).startswith("^") else value.lower()
        return value  # `#`, `%` trims and the like: the value, untrimmed, is what a reader must consider

    def _expand_fragment(self, text: str) -> str:
        sub = _Reader(text, self.vars, self.depth + 1, self.out, self.prose)
        fields, _ = sub.read_word()
        return " ".join(fields)

    def _substitute(self, body: str) -> str:
        """A command substitution: its commands are read too; an echo/printf gives its output."""
        before = len(self.out)
        if self.depth < MAX_DEPTH:
            read_into(body, self.out, env=self.vars, depth=self.depth + 1, prose=self.prose)
        inner = self.out[before:]
        if any(is_decoder(c.words) for c in inner):
            self.decoded = True
        printed = output_of(inner[0]) if inner else None
        return printed or ""

    # ---------------------------------------------------------------- commands
    def read(self) -> None:
        cmd = Command(words=[], pipeline=self.pipeline, cwd=self.cwd)
        s = self.s
        while self.i < self.n and len(self.out) < MAX_COMMANDS:
            c = s[self.i]
            if c in " \t":
                self.i += 1
                continue
            if c == "\\" and s.startswith("\\\n", self.i):
                self.i += 2
                continue
            if c == "\n":
                self.i += 1
                self._end(cmd, new_pipeline=True)
                self._heredoc_bodies()
                cmd = Command(words=[], pipeline=self.pipeline, cwd=self.cwd)
                continue
            redirect = next((r for r in _REDIRECTS if s.startswith(r, self.i)), None)
            if redirect is not None:
                self.i += len(redirect)
                while self.i < self.n and s[self.i] in " \t":
                    self.i += 1
                start = self.i
                fields, quoted = self.read_word()
                target = " ".join(fields)
                if redirect in ("<<", "<<-"):
                    delim_raw = s[start : self.i]
                    literal = any(q in delim_raw for q in "'\"\\")
                    self.pending_heredocs.append((target, redirect == "<<-", literal, cmd))
                elif redirect == "<<<":
                    cmd.stdin_texts.append(target)
                    self.nested(target)
                else:
                    cmd.redirects.append((redirect, target))
                continue
            op = next((o for o in _OPERATORS if s.startswith(o, self.i)), None)
            if op is not None:
                self.i += len(op)
                array = (
                    op == "("
                    and bool(cmd.words)
                    and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\+?=", cmd.words[-1]) is not None
                    and s[self.i - 2] == "="
                )
                if array:
                    name = cmd.words.pop().rstrip("=+")
                    self.arrays[name] = self._array_items()
                    self.vars[name] = " ".join(self.arrays[name])
                    continue
                self._end(cmd, new_pipeline=op not in ("|", "|&"))
                cmd = Command(words=[], pipeline=self.pipeline, cwd=self.cwd)
                continue
            fields, quoted = self.read_word()
            if self.decoded:
                cmd.decoded_input = True
                self.decoded = False
            if len(fields) == 1 and not quoted and fields[0] == "" and self.i < self.n:
                if s[self.i] not in " \t\n;&|()<>":
                    self.i += 1  # never stall
                continue
            # an fd number right before a redirection (`2>`) is not a word
            if (
                len(fields) == 1
                and fields[0].isdigit()
                and not quoted
                and any(s.startswith(r, self.i) for r in _REDIRECTS)
            ):
                continue
            words = [w for f in fields for w in expand_braces(f)]
            if not quoted:
                words = [w for w in words if w != ""]
            cmd.words.extend(words)
            if words and all(_ASSIGN_RE.fullmatch(w) for w in cmd.words[:-1]):
                m = _ASSIGN_RE.fullmatch(cmd.words[-1])
                if m and m.group(2) is None:
                    self.vars[m.group(1)] = m.group(3)  # seen at once: a later $NAME reads it
        self._end(cmd, new_pipeline=True)
        self._heredoc_bodies()

    def _array_items(self) -> list[str]:
        items: list[str] = []
        while self.i < self.n:
            while self.i < self.n and self.s[self.i] in " \t\n":
                self.i += 1
            if self.i >= self.n:
                break
            if self.s[self.i] == ")":
                self.i += 1
                break
            fields, quoted = self.read_word()
            got = [f for f in fields if f or quoted]
            items.extend(got)
            if not got and self.i < self.n and self.s[self.i] not in ")":
                self.i += 1
        return items

    def _heredoc_bodies(self) -> None:
        while self.pending_heredocs:
            delim, strip_tabs, literal, owner = self.pending_heredocs.pop(0)
            lines: list[str] = []
            while self.i < self.n:
                end = self.s.find("\n", self.i)
                end = self.n if end < 0 else end
                line = self.s[self.i : end]
                self.i = end + 1
                check = line.lstrip("\t") if strip_tabs else line
                if check == delim:
                    break
                lines.append(check)
            body = "\n".join(lines)
            if not literal:
                body = self._expand_fragment_text(body)
            owner.stdin_texts.append(body)
            self.nested(body)

    def _expand_fragment_text(self, text: str) -> str:
        out: list[str] = []
        sub = _Reader(text, self.vars, self.depth + 1, self.out, self.prose)
        while sub.i < sub.n:
            c = text[sub.i]
            if c == "$":
                value, _ = sub._dollar()
                out.append(value)
            elif c == "\\" and sub.i + 1 < sub.n and text[sub.i + 1] in "$`\\\n":
                out.append("" if text[sub.i + 1] == "\n" else text[sub.i + 1])
                sub.i += 2
            else:
                out.append(c)
                sub.i += 1
        return "".join(out)

    def _end(self, cmd: Command, *, new_pipeline: bool) -> None:
        if cmd.words or cmd.redirects or cmd.stdin_texts or cmd.decoded_input:
            cmd.cwd = self.cwd
            self.out.append(cmd)
            self._after(cmd)
            self.feeder = cmd
        if new_pipeline:
            self.pipeline = next(_PIPELINES)

    def _reread(self, cmd: Command) -> None:
        """Text a command runs as commands is read as commands: what echo/printf print, `eval` and
        `bash -c` strings, and the words `xargs` gets from an echo before it in the pipeline."""
        printed = output_of(cmd)
        if printed is not None and printed != " ".join(cmd.words[1:]):
            self.nested(printed)
        # only the first runner of a command matters: the words after it hold any later one (and a text of
        # `eval eval eval …` must not be read once per word)
        for k, word in enumerate(cmd.words):
            name = program_name(word)
            rest = cmd.words[k + 1 :]
            if name == "eval":
                self.nested(" ".join(rest))
                return
            if name in _SHELLS:
                if any(not w.startswith("--") and w.startswith("-") and "c" in w for w in rest):
                    self.nested(" ".join(_after_options(rest)))
                return
            if name == "xargs":
                before = self.feeder
                fed = output_of(before) if before is not None and before.pipeline == cmd.pipeline else None
                if fed is not None:
                    self.nested(" ".join(_after_options(rest)) + " " + fed)
                return

    def _after(self, cmd: Command) -> None:
        """What a command changes for the commands after it: cd, export, set --."""
        words = cmd.words
        if not words:
            return
        self._reread(cmd)
        head = program_name(words[0])
        if head in ("cd", "pushd", "chdir"):
            args = [w for w in words[1:] if not w.startswith("-")]
            self.cwd = _join(self.cwd, args[0]) if args else ()
        elif head in ("export", "declare", "typeset", "local", "readonly"):
            for w in words[1:]:
                m = _ASSIGN_RE.fullmatch(w)
                if m and m.group(2) is None:
                    self.vars[m.group(1)] = m.group(3)
        elif head == "set" and "--" in words:
            args = words[words.index("--") + 1 :]
            for k, v in enumerate(args[:9], start=1):
                self.vars[str(k)] = v
            self.vars["@"] = self.vars["*"] = " ".join(args)


@functools.lru_cache(maxsize=4096)
def program_name(word: str) -> str:
    """How a word names a program whatever its spelling: base name, lower case (case-insensitive file
    systems run `LOOP-ADR`), no .sh/.bash/.py suffix, `_` read as `-`."""
    name = word.rsplit("/", 1)[-1].strip().lower().replace("_", "-")
    for suffix in (".sh", ".bash", ".py", ".exe"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _after_options(words: list[str]) -> list[str]:
    rest = list(words)
    while rest and rest[0].startswith("-"):
        rest.pop(0)
    return rest


def _join(cwd: tuple[str, ...], path: str) -> tuple[str, ...]:
    if path.startswith("/") or path.startswith("~"):
        return ("/", *[p for p in path.split("/") if p])
    return (*cwd, *[p for p in path.split("/") if p])


_DECODERS = frozenset(
    {"base64", "base32", "basenc", "xxd", "openssl", "rev", "tr", "gunzip", "zcat", "uudecode"}
)


def is_decoder(words: list[str]) -> bool:
    """A command that turns unreadable text into text (`base64 -d`, `xxd -r`, `rev`, `tr` …)."""
    names = [program_name(w) for w in words]
    for k, name in enumerate(names):
        if name in _DECODERS:
            args = words[k + 1 :]
            if name in ("base64", "base32", "basenc"):
                return any(
                    a in ("-d", "-D", "--decode") or re.fullmatch(r"-[a-zA-Z]*d[a-zA-Z]*", a) for a in args
                )
            if name == "xxd":
                return any(a.startswith("-r") for a in args)
            return True
    return False


def output_of(cmd: Command) -> str | None:
    """What an `echo` or `printf` of literal words prints (None for any other command)."""
    if not cmd.words:
        return None
    head = cmd.words[0].rsplit("/", 1)[-1].lower()
    args = cmd.words[1:]
    if head == "echo":
        escapes = False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            escapes = escapes or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        return decode_ansi_c(text) if escapes else text
    if head == "printf" and args:
        if args[0] == "--":
            args = args[1:]
        if not args:
            return ""
        fmt, rest = decode_ansi_c(args[0]), list(args[1:])
        out = re.sub(r"%[-+ #0-9.]*[sbdqc]", lambda _m: rest.pop(0) if rest else "", fmt)
        return out + "".join(rest)
    if head == "base64" and cmd.stdin_texts and any(a in ("-d", "--decode", "-D") for a in args):
        try:
            return base64.b64decode(cmd.stdin_texts[0].strip() + "==", validate=False).decode(
                "utf-8", "replace"
            )
        except (binascii.Error, ValueError):
            return None
    return None


def read_into(
    text: str, out: list[Command], *, env: dict[str, str] | None = None, depth: int = 0, prose: bool = False
) -> None:
    reader = _Reader(
        text, dict(env or {}) if depth == 0 else (env if env is not None else {}), depth, out, prose
    )
    reader.read()


def read_commands(text: str, env: dict[str, str] | None = None) -> list[Command]:
    """Every simple command a text holds, in both readings (shell, and prose-apostrophes), nested included."""
    text = clean_text(text)
    out: list[Command] = []
    base = {"IFS": DEFAULT_IFS, **(env or {})}
    read_into(text, out, env=dict(base), prose=False)
    if _APOSTROPHE_IN_WORD.search(text) and len(out) < MAX_COMMANDS:
        read_into(text, out, env=dict(base), prose=True)
    return out[:MAX_COMMANDS]


def flatten(commands: list[Command]) -> str:
    """The commands as plain text, one per line, words joined by one space: what payload patterns match."""
    lines = []
    for cmd in commands:
        parts = list(cmd.words) + [f"{op} {target}" for op, target in cmd.redirects]
        lines.append(" ".join(parts))
        lines.extend(cmd.stdin_texts)
    return "\n".join(lines)
