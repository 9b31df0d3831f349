"""`python -m loop_schemas validate FILE [--kind K]` and `python -m loop_schemas export DIR`.

validate exits 0 when the file is valid, 1 with one `file: field: message` line per problem, 2 on
usage errors. Never a traceback. `validate --json` prints one document
`{contract_version, file, kind, valid, problems: [{field, message}]}` instead of the lines. The kinds
`events` and `restarts` check JSON-lines logs (events.jsonl, lane-restarts.jsonl) line by line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from loop_schemas.errors import Problem, SchemaError, describe_error, problems_from_validation
from loop_schemas.fsread import (
    CONFIG_CAP,
    DOC_CAP,
    ENGINE_CAP,
    LINE_CAP,
    STATE_CAP,
    open_project_file,
    project_lines,
    read_project_file,
)

# Each command imports the models it uses (pydantic and all): `--help` imports none of them.

KINDS = ("state", "mail", "task", "adr", "lane-config", "decision", "events", "restarts")
# the most bytes read of each kind (the readers' caps); events and restarts are streamed, LINE_CAP a line
CAPS = {
    "state": STATE_CAP,
    "mail": DOC_CAP,
    "task": DOC_CAP,
    "adr": DOC_CAP,
    "lane-config": CONFIG_CAP,
    "decision": ENGINE_CAP,
}


def infer_kind(path: Path) -> str | None:
    """The kind a path's name and location imply, or None when they do not say."""
    from loop_schemas.mail import is_mail_name
    from loop_schemas.task import TASK_FILE_RE

    name = path.name
    parts = path.parts
    if name.endswith(".json") and ("state" in name or name == "orchestrator-state.json"):
        return "state"
    if name in ("pending-decision.json",) or (
        re.search(r"decision", name) and name.endswith((".md", ".txt"))
    ):
        return "decision"
    if name.endswith(".json") and len(parts) > 1 and parts[-2] == "decisions":
        return "decision"  # the engine's archive: a pending decision plus its resolution
    if name == "events.jsonl":
        return "events"
    if name == "lane-restarts.jsonl":
        return "restarts"
    if name.endswith(".json") and "engine" in parts:
        return None  # the engine's other bookkeeping files have no public format
    if name.lower() == "readme.md" and "tasks" in parts:
        return None  # tasks/README.md is not a task
    if TASK_FILE_RE.match(name) or (name.endswith(".md") and "tasks" in parts):
        return "task"
    if is_mail_name(name) or (name.endswith(".md") and "messages" in parts):
        return "mail"
    if name.endswith(".md") and "adr" in parts:
        return "adr"
    if name.endswith((".yaml", ".yml")):
        return "lane-config"
    if name.endswith(".json"):
        return "state"
    return None


def _validate_text(kind: str, path: Path, text: str) -> None:
    from loop_schemas.adr import parse_adr
    from loop_schemas.decision import parse_decision_block
    from loop_schemas.lane_config import load_lane_config
    from loop_schemas.mail import is_mail_name, parse_mail
    from loop_schemas.state import parse_state
    from loop_schemas.task import TASK_FILE_RE, parse_task

    if kind == "state":
        parse_state(text, str(path))
    elif kind == "mail":
        parse_mail(text, path.name if is_mail_name(path.name) else None)
    elif kind == "task":
        parse_task(text, path if TASK_FILE_RE.match(path.name) else None)
    elif kind == "adr":
        parse_adr(text, path if re.match(r"^\d{4}-", path.name) else None)
    elif kind == "decision":
        if path.name.endswith(".json"):
            from loop_schemas.pending import PendingDecision

            PendingDecision.model_validate_json(text)
        else:
            parse_decision_block(text)
    elif kind == "lane-config":
        load_lane_config(path)


def _validate_lines(kind: str, path: Path) -> list[Problem]:
    """events.jsonl (one EngineEvent a line) or lane-restarts.jsonl (restart or lifecycle lines), streamed
    line by line (a line over LINE_CAP bytes is a problem, never read whole)."""
    from loop_schemas.engine import parse_event
    from loop_schemas.watchdog import parse_watchdog_line

    parse: Callable[[str], object] = parse_event if kind == "events" else parse_watchdog_line
    problems: list[Problem] = []
    with open_project_file(path) as fh:
        for number, raw in enumerate(project_lines(fh, LINE_CAP), start=1):
            if raw is None:
                problems.append(Problem(f"line {number}", f"longer than {LINE_CAP} bytes"))
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(Problem(f"line {number}", f"not UTF-8 text (byte {exc.start})"))
                continue
            if not line.strip():
                continue
            try:
                parse(line)
            except SchemaError as exc:
                problems.append(Problem(f"line {number}", str(exc)))
    return problems


def validate_file(path: Path, kind: str | None) -> tuple[str | None, list[Problem]]:
    """(the kind used, the problems found: empty when valid)."""
    from pydantic import ValidationError

    use = kind or infer_kind(path)
    if use is None:
        return None, [Problem("", f"cannot tell what kind of file this is; pass --kind ({'|'.join(KINDS)})")]
    try:
        if use in ("events", "restarts"):
            return use, _validate_lines(use, path)
        raw = read_project_file(path, CAPS[use])
    except OSError as exc:
        return use, [Problem("", f"unreadable: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return use, [Problem("", f"not UTF-8 text (byte {exc.start})")]
    try:
        _validate_text(use, path, text)
    except SchemaError as exc:
        return use, [_strip_where(p, path) for p in exc.problems]
    except ValidationError as exc:
        return use, problems_from_validation(exc)
    except (RecursionError, MemoryError) as exc:  # a hostile document: said in words, never a traceback
        return use, [Problem("", describe_error(exc))]
    return use, []


def _strip_where(problem: Problem, path: Path) -> Problem:
    """Problems built with the file name as prefix would print it twice."""
    for prefix in (f"{path}: ", f"{path.name}: "):
        if problem.field == "" and problem.message.startswith(prefix):
            return Problem("", problem.message[len(prefix) :])
    return problem


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.file)
    kind, problems = validate_file(path, args.kind)
    if args.json:
        print(
            json.dumps(
                {
                    "contract_version": 1,
                    "file": str(path),
                    "kind": kind,
                    "valid": not problems,
                    "problems": [{"field": p.field, "message": p.message} for p in problems],
                }
            )
        )
    else:
        for problem in problems:
            line = f"{path}: {problem}".replace("\n", " ")
            print(line, file=sys.stderr)
        if not problems:
            print(f"{path}: valid {kind}")
    return 1 if problems else 0


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        from loop_schemas.export import export_schemas

        written = export_schemas(Path(args.dir))
    except OSError as exc:
        print(f"export: {args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `python -m loop_schemas` program (a CLI: it loads no pydantic plugin unless asked)."""
    from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

    no_pydantic_plugins_unless_asked()  # before any model is built (CONTRACT.md: pydantic plugins)
    parser = argparse.ArgumentParser(
        prog="python -m loop_schemas",
        description="Validate loop-orchestrator files; export the JSON Schemas.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_val = sub.add_parser("validate", help="check one file against its format")
    p_val.add_argument("file")
    p_val.add_argument("--kind", choices=KINDS, help="the file's kind (inferred from its path when omitted)")
    p_val.add_argument("--json", action="store_true", help="print one JSON document with the verdict")
    p_exp = sub.add_parser("export", help="write every JSON Schema into DIR")
    p_exp.add_argument("dir")
    args = parser.parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "validate": _cmd_validate,
        "export": _cmd_export,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # one line a person can act on, never a traceback or a raw exception name
        print(f"python -m loop_schemas: {describe_error(exc)}", file=sys.stderr)
        sys.exit(1)
