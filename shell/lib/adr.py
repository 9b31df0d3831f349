#!/usr/bin/env python3
"""adr.py: MADR decision records under docs/adr/NNNN-<slug>.md for loop-adr and loop-digest (stdlib, py3.8+).

A record has frontmatter `status` (Proposed | Accepted | Rejected | Superseded | Deprecated), `date`,
`verify_record`, `canary_record`, `rollback` (and `supersedes` / `superseded_by` once linked), then a
MADR body whose first `# ` heading is the title. Every write happens under an flock on
<adr-dir>/.loop-adr.lock and lands atomically (temp file, fsync, rename), so two concurrent `new`s get
two different numbers and a reader never sees half a file.

The acceptance gate: `verify_record` must be set, and `rollback` or `canary_record`; a value that is a
URL (scheme://...) passes as written, any other value is a path that must exist, relative to the
project root or to the ADR directory. Only a Proposed record can be accepted.

CLI (global options before the verb: --adr-dir D  --project-root P):
  new TITLE            create the next NNNN-<slug>.md (status Proposed); prints its path
  list [--json]        the ledger, oldest first
  show ID              the record's text (control characters made visible)
  gate ID              exit 0 when `accept` would pass, else one line per problem and exit 3
                       (1 = not found / unreadable, as for every verb)
  accept ID            the gate, then status Accepted (under the lock)
  reject ID            status Rejected (a Proposed record only)
  supersede ID --by ID2  ID becomes Superseded (superseded_by: ID2's file), ID2 gets supersedes: ID's file
  title ID             print `NNNN <title>` (for prompts)
ID is the number (7, 0007) or the file name. Exit: 0 ok, 1 refused / not found / failure, 2 usage.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import frontmatter
import fsread

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the digest's start-up; annotations are strings here
    from typing import Any, Dict, List, Optional, Tuple

# atomic (and its tempfile) is imported by the two writers below: the digest reads the ledger on every
# redraw and writes nothing.

CONTRACT_VERSION = 1
PROG = "loop-adr"
# The ledger's patterns, read by hand on the digest's path (file_parts, title_of: loop-digest then never
# imports re, whose import and compiles were a fifth of a warm --json run; tests hold them equal).
# FILE_RE, TITLE_RE and CONTROL_RE are these compiled, on first use.
FILE_PATTERN = r"^(\d{4})-(.+)\.md$"
TITLE_PATTERN = r"^#[ \t]+(?:\d+\.[ \t]+)?(.+?)[ \t]*#*[ \t]*$"  # re.MULTILINE
# Patterns only some paths need (a record without a frontmatter status; the gate's values) are compiled
# on first use (then re's own cache): the digest reads the ledger on every run and needs neither.
BODY_STATUS_PATTERN = r"^\s*(?:[-*]\s*)?\**status\**\s*:\s*\**\s*([A-Za-z]+)"
URL_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://"
CONTROL_PATTERN = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # all in Unicode's Cc: not in a str.isprintable() text
STATUSES = ("Proposed", "Accepted", "Rejected", "Superseded", "Deprecated")
LOCK_NAME = ".loop-adr.lock"
MAX_READ = 1 << 20
MAX_TITLE = 200


def __getattr__(name: str) -> Any:
    """FILE_RE, TITLE_RE and CONTROL_RE for a caller that asks: compiled on first use."""
    if name in ("FILE_RE", "TITLE_RE", "CONTROL_RE"):
        return _compiled(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _compiled(name: str) -> Any:
    if name not in globals():
        import re

        globals().update(
            FILE_RE=re.compile(FILE_PATTERN),
            TITLE_RE=re.compile(TITLE_PATTERN, re.MULTILINE),
            CONTROL_RE=re.compile(CONTROL_PATTERN),
        )
    return globals()[name]


def file_parts(name: str) -> Optional[Tuple[str, str]]:
    """FILE_RE's groups (number, slug) for a file name, else None: FILE_PATTERN read by hand (its \\d is
    any Unicode decimal digit, its $ also matches before a final newline, its . never matches one)."""
    if name.endswith("\n"):
        name = name[:-1]
    if len(name) < 9 or name[4] != "-" or name[-3:] != ".md" or "\n" in name:
        return None
    number = name[:4]
    if not number.isdecimal():
        return None
    return number, name[5:-3]


def title_of(text: str) -> Optional[str]:
    """TITLE_RE.search(text).group(1), else None: TITLE_PATTERN (multiline) read by hand, line by line."""
    for line in text.split("\n"):
        if line[:1] != "#":
            continue
        after = line[1:].lstrip(" \t")
        start = len(line) - len(after)  # after `#[ \t]+`, taken whole
        if start == 1:
            continue  # no blank after the '#'
        if start == len(line):  # nothing after the blanks: the title is the last blank, if two or more
            if start < 3:
                continue
            start -= 1
        else:
            # `(?:\d+\.[ \t]+)?` when something is left after it (else the blank before it, if two or more)
            digits = _decimal_prefix_rest(after)
            if digits is not None and digits[:1] == "." and digits[1:2] in (" ", "\t"):
                rest = digits[1:].lstrip(" \t")
                blanks = len(digits) - 1 - len(rest)
                if rest:
                    start = len(line) - len(rest)
                elif blanks >= 2:
                    start = len(line) - 1
        # `(.+?)[ \t]*#*[ \t]*$`: the shortest title (one character at least) before a trailer
        trailer = len(line.rstrip(" \t").rstrip("#").rstrip(" \t"))
        return line[start : max(start + 1, trailer)]
    return None


def _decimal_prefix_rest(text: str) -> Optional[str]:
    """text after its leading run of decimal digits (\\d+), or None when it starts with none."""
    i = 0
    while i < len(text) and text[i].isdecimal():
        i += 1
    return text[i:] if i else None


class AdrError(Exception):
    """A one-line, user-facing error (exit 1)."""


class UsageError(Exception):
    """Bad arguments (exit 2)."""


def visible(text: str) -> str:
    """Untrusted text for a terminal: control characters (ESC, C1, ...) as ^X / \\xNN; newlines, tabs kept."""

    def rep(m: Any) -> str:
        code = ord(m.group(0))
        if code < 0x20:
            return "^" + chr(code + 64)
        if code == 0x7F:
            return "^?"
        return "\\x%02x" % code

    if text.isprintable():  # no Cc character at all: nothing to replace (and no pattern to compile)
        return text
    return _compiled("CONTROL_RE").sub(rep, text)


def one_line(text: str) -> str:
    return " ".join(visible(text).replace("\t", " ").split())


def slugify(title: str, max_length: int = 60) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    return slug or "decision"


def _canon_status(value: str) -> str:
    raw = value.strip()
    if not raw:
        return "Unknown"
    head = raw.split()[0].rstrip(",.;:").lower()
    for s in STATUSES:
        if s.lower() == head:
            return s
    return one_line(raw)


class Record:
    """One ADR file as read from disk: `data` is the frontmatter (strings, lists), `error` a parse problem."""

    __slots__ = ("body", "data", "error", "fm_lines", "name", "number", "path", "text")

    def __init__(self, path: str, number: int) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.number = number
        self.data: Dict[str, Any] = {}
        self.body = ""
        self.text = ""
        self.error: Optional[str] = None
        self.fm_lines: Optional[List[str]] = None

    @property
    def status(self) -> str:
        value = self.data.get("status")
        if isinstance(value, str) and value.strip():
            return _canon_status(value)
        import re

        m = re.search(BODY_STATUS_PATTERN, self.body or self.text, re.IGNORECASE | re.MULTILINE)
        if m:
            return _canon_status(m.group(1))
        return "Unknown"

    @property
    def title(self) -> str:
        title = title_of(self.body or self.text)
        if title is not None:
            return one_line(title)[:MAX_TITLE]
        parts = file_parts(self.name)
        return parts[1].replace("-", " ") if parts else self.name

    def field(self, key: str) -> Optional[str]:
        value = self.data.get(key)
        if isinstance(value, str) and value.strip() and value.strip() not in ("~", "null"):
            return value.strip()
        return None


def read_record(path: str, number: int, limit: int = MAX_READ) -> Record:
    rec = Record(path, number)
    try:
        raw = fsread.read_head(path, limit)
    except OSError as exc:
        rec.error = f"unreadable: {exc.strerror}"
        return rec
    rec.text = raw.decode("utf-8", errors="replace")
    try:
        rec.fm_lines, rec.body = frontmatter.split(rec.text)
        rec.data = frontmatter.parse_lines(rec.fm_lines)
    except frontmatter.FrontmatterError as exc:
        rec.error = f"frontmatter: {exc}"
        rec.body = rec.text
    return rec


def scan(adr_dir: str) -> List[Tuple[int, str]]:
    """(number, path) of every NNNN-*.md in adr_dir, by number then name; [] when the folder is missing."""
    out: List[Tuple[int, str]] = []
    try:
        entries = list(os.scandir(adr_dir))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        parts = file_parts(entry.name)
        if parts and entry.is_file():
            out.append((int(parts[0]), entry.path))
    out.sort()
    return out


def ledger(adr_dir: str, limit: int = 65536) -> List[Record]:
    return [read_record(path, number, limit) for number, path in scan(adr_dir)]


def find(adr_dir: str, ident: str) -> Record:
    """The record an ID names: a number (7, 0007), NNNN-slug, a file name or a path inside adr_dir."""
    ident = ident.strip()
    if not ident:
        raise UsageError("the ADR id is empty")
    name = os.path.basename(ident)
    if name.endswith(".md") or file_parts(name + ".md"):
        want = name if name.endswith(".md") else name + ".md"
        for number, path in scan(adr_dir):
            if os.path.basename(path) == want:
                return read_record(path, number)
        raise AdrError(f"no ADR {visible(want)} in {adr_dir}")
    if not ident.isdigit():
        raise UsageError(f"not an ADR id: {visible(ident)!r} (use the number, e.g. 7, or the file name)")
    number = int(ident)
    hits = [p for n, p in scan(adr_dir) if n == number]
    if not hits:
        raise AdrError(f"no ADR {number:04d} in {adr_dir}")
    if len(hits) > 1:
        names = ", ".join(os.path.basename(p) for p in hits)
        raise AdrError(f"ADR number {number:04d} is used by more than one file ({names}); name the file")
    return read_record(hits[0], number)


# ---- the gate --------------------------------------------------------------------------------------


def is_url(value: str) -> bool:
    import re

    return bool(re.match(URL_PATTERN, value))


def _link_missing(field: str, value: str, project_root: str, adr_dir: str) -> Optional[str]:
    if is_url(value):
        return None
    candidates = (
        [value] if os.path.isabs(value) else [os.path.join(project_root, value), os.path.join(adr_dir, value)]
    )
    if any(os.path.exists(c) for c in candidates):
        return None
    return f"{field}: {visible(value)} does not exist (relative to the project root or {adr_dir})"


def gate_problems(rec: Record, project_root: str, adr_dir: str) -> List[str]:
    """Why accept must refuse (empty: the gate passes). Same rule as loop_schemas.accept_gate_problems."""
    if rec.error:
        return [rec.error]
    problems: List[str] = []
    verify = rec.field("verify_record")
    if not verify:
        problems.append("verify_record: missing (link the record that proves the decision)")
    else:
        miss = _link_missing("verify_record", verify, project_root, adr_dir)
        if miss:
            problems.append(miss)
    reversible = [(f, rec.field(f)) for f in ("rollback", "canary_record") if rec.field(f)]
    if not reversible:
        problems.append("rollback: missing (link a rollback plan or a canary_record)")
    else:
        misses = [m for m in (_link_missing(f, v or "", project_root, adr_dir) for f, v in reversible) if m]
        if len(misses) == len(reversible):
            problems.extend(misses)
    status = rec.status
    if status != "Proposed":
        problems.append(f"status: is {status}, only a Proposed ADR can be accepted")
    return problems


# ---- writing -----------------------------------------------------------------------------------------


class Lock:
    """An exclusive flock on <adr-dir>/.loop-adr.lock for the duration of a with-block."""

    def __init__(self, adr_dir: str) -> None:
        self.path = os.path.join(adr_dir, LOCK_NAME)
        self.fd = -1

    def __enter__(self) -> "Lock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        import fcntl

        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock


def set_keys(text: str, values: Dict[str, str]) -> str:
    """The record with frontmatter keys replaced or added (frontmatter.set_keys, the one writer)."""
    try:
        return frontmatter.set_keys(text, values)
    except frontmatter.FrontmatterError as exc:
        raise AdrError(f"the record: {exc}") from None


def _today() -> str:
    fixed = os.environ.get("LOOP_ADR_TODAY", "")
    import re

    if re.match(r"^\d{4}-\d{2}-\d{2}$", fixed):
        return fixed
    import datetime as _dt  # only a writer needs the date: the digest's ledger read does not import it

    return _dt.date.today().isoformat()


TEMPLATE = """\
---
status: Proposed
date: {date}
verify_record:
canary_record:
rollback:
---

# {title}

## Context and Problem Statement

What is the problem, and why does it need a lasting decision now? Link the loop, task or mail that
raised it.

## Decision Drivers

* …

## Considered Options

* …

## Decision Outcome

Chosen option: "…", because …

### Consequences

* Good, because …
* Bad, because …

## Verification

How the decision was proved. Link the record in the `verify_record` frontmatter key (a path relative
to the project root, or a URL).

## Rollback

How to reverse the decision, and what a canary showed. Link them in `rollback` and/or
`canary_record`. `loop-adr accept` refuses until `verify_record` and one of those are linked.

## More Information

Accepting is a human's call (`loop-adr accept {number}`); agents draft, they never accept.
"""


def new(adr_dir: str, title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise UsageError("the title is empty")
    if not title.isprintable() and _compiled("CONTROL_RE").search(title):
        raise UsageError("the title must be printable text on one line")
    if len(title) > MAX_TITLE:
        raise UsageError(f"the title is longer than {MAX_TITLE} characters")
    os.makedirs(adr_dir, exist_ok=True)
    slug = slugify(title)
    with Lock(adr_dir):
        numbers = [n for n, _ in scan(adr_dir)]
        number = (max(numbers) + 1) if numbers else 1
        if number > 9999:
            raise AdrError("ADR numbers are exhausted (9999)")
        path = os.path.join(adr_dir, f"{number:04d}-{slug}.md")
        from atomic import atomic_write

        atomic_write(path, TEMPLATE.format(date=_today(), title=title, number=number), exclusive=True)
    return path


def _rewrite(rec: Record, values: Dict[str, str]) -> None:
    from atomic import atomic_write

    atomic_write(rec.path, set_keys(rec.text, values))


def accept(adr_dir: str, project_root: str, ident: str) -> Record:
    with Lock(adr_dir):
        rec = find(adr_dir, ident)
        problems = gate_problems(rec, project_root, adr_dir)
        if problems:
            raise AdrError(f"refusing to accept {rec.name}: " + "; ".join(problems))
        _rewrite(rec, {"status": "Accepted", "date": _today()})
    return rec


def reject(adr_dir: str, ident: str) -> Record:
    with Lock(adr_dir):
        rec = find(adr_dir, ident)
        if rec.error:
            raise AdrError(f"{rec.name}: {rec.error}")
        if rec.status != "Proposed":
            raise AdrError(f"{rec.name} is {rec.status}; only a Proposed ADR can be rejected")
        _rewrite(rec, {"status": "Rejected", "date": _today()})
    return rec


def supersede(adr_dir: str, old_id: str, new_id: str) -> Tuple[Record, Record]:
    with Lock(adr_dir):
        old = find(adr_dir, old_id)
        new_rec = find(adr_dir, new_id)
        for rec in (old, new_rec):
            if rec.error:
                raise AdrError(f"{rec.name}: {rec.error}")
        if old.path == new_rec.path:
            raise AdrError("an ADR cannot supersede itself")
        if old.status in ("Superseded", "Rejected"):
            raise AdrError(f"{old.name} is already {old.status}")
        if new_rec.status in ("Superseded", "Rejected", "Deprecated"):
            raise AdrError(f"{new_rec.name} is {new_rec.status}; it cannot supersede anything")
        # the new record first: if the second write fails, the old one still reads as it was
        _rewrite(new_rec, {"supersedes": old.name})
        _rewrite(old, {"status": "Superseded", "superseded_by": new_rec.name, "date": _today()})
    return old, new_rec


# ---- output ----------------------------------------------------------------------------------------


def list_doc(adr_dir: str, project_root: str) -> Dict[str, Any]:
    items = []
    for rec in ledger(adr_dir):
        problems = gate_problems(rec, project_root, adr_dir)
        items.append(
            {
                "id": rec.number,
                "status": rec.status,
                "title": rec.title,
                "path": os.path.abspath(rec.path),
                "file": rec.name,
                "date": rec.field("date"),
                "verify_record": rec.field("verify_record"),
                "canary_record": rec.field("canary_record"),
                "rollback": rec.field("rollback"),
                "supersedes": rec.field("supersedes"),
                "superseded_by": rec.field("superseded_by"),
                "acceptable": not problems,
                "gate_problems": problems,
                "error": rec.error,
            }
        )
    return {"contract_version": CONTRACT_VERSION, "adr_dir": os.path.abspath(adr_dir), "adrs": items}


def list_text(adr_dir: str, project_root: str) -> str:
    doc = list_doc(adr_dir, project_root)
    if not doc["adrs"]:
        return f'no ADRs in {adr_dir} (create one: loop-adr new "<title>")\n'
    lines = []
    for a in doc["adrs"]:
        note = ""
        if a["error"]:
            note = f"  [{a['error']}]"
        elif a["status"] == "Proposed":
            note = (
                "  [gate: ready]"
                if a["acceptable"]
                else "  [gate: "
                + "; ".join(p.split(":", 1)[0] for p in a["gate_problems"] if not p.startswith("status"))
                + " missing]"
            )
        elif a["status"] == "Superseded" and a["superseded_by"]:
            note = f"  [by {one_line(a['superseded_by'])}]"
        lines.append(f"{a['id']:04d}  {a['status']:<10}  {a['date'] or '-':<10}  {a['title']}{note}")
    return "\n".join(lines) + "\n"


def _usage() -> str:
    return (__doc__ or "").strip() + "\n"


def main(argv: List[str]) -> int:
    adr_dir = ""
    project_root = "."
    args = list(argv)
    try:
        while args and args[0].startswith("--"):
            opt = args.pop(0)
            if opt in ("--adr-dir", "--project-root"):
                if not args:
                    raise UsageError(f"{opt} needs a value")
                value = args.pop(0)
                if opt == "--adr-dir":
                    adr_dir = value
                else:
                    project_root = value
            elif opt == "--help":
                sys.stdout.write(_usage())
                return 0
            else:
                raise UsageError(f"unknown option {opt}")
        if not adr_dir:
            adr_dir = os.path.join(project_root, "docs", "adr")
        adr_dir = os.path.normpath(adr_dir)
        if not args:
            raise UsageError("give a verb: new, list, show, gate, accept, reject, supersede")
        verb, rest = args[0], args[1:]
        if verb == "new" and len(rest) == 1:
            sys.stdout.write(new(adr_dir, rest[0]) + "\n")
        elif verb == "list" and rest in ([], ["--json"]):
            if rest:
                import json  # only `list --json` writes JSON: loop-digest's ledger read never imports it

                json.dump(list_doc(adr_dir, project_root), sys.stdout, ensure_ascii=False)
                sys.stdout.write("\n")
            else:
                sys.stdout.write(list_text(adr_dir, project_root))
        elif verb == "show" and len(rest) == 1:
            rec = find(adr_dir, rest[0])
            if rec.error and not rec.text:
                raise AdrError(f"{rec.name}: {rec.error}")
            text = visible(rec.text)
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        elif verb == "title" and len(rest) == 1:
            rec = find(adr_dir, rest[0])
            sys.stdout.write(f"{rec.number:04d} {rec.title}\n")
        elif verb == "gate" and len(rest) == 1:
            rec = find(adr_dir, rest[0])
            problems = gate_problems(rec, project_root, adr_dir)
            for p in problems:
                sys.stdout.write(f"{rec.name}: {p}\n")
            return 3 if problems else 0
        elif verb == "accept" and len(rest) == 1:
            rec = accept(adr_dir, project_root, rest[0])
            sys.stdout.write(f"accepted {rec.name}\n")
        elif verb == "reject" and len(rest) == 1:
            rec = reject(adr_dir, rest[0])
            sys.stdout.write(f"rejected {rec.name}\n")
        elif verb == "supersede" and len(rest) == 3 and rest[1] == "--by":
            old, new_rec = supersede(adr_dir, rest[0], rest[2])
            sys.stdout.write(f"superseded {old.name} by {new_rec.name}\n")
        else:
            raise UsageError(f"bad arguments for '{visible(verb)}'")
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2
    except AdrError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"{PROG}: {exc.filename or adr_dir}: {exc.strerror}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
