"""`loop-pm jira …` (entry point `loop_orchestrator.pm_commands: jira`), also installed as `loop-pm-jira`.

The scrum verbs: ensure-epic, sprint-status, move-to-sprint, start-sprint, complete-sprint,
complete-epic, retro. Ceremony decisions stay with the human; these make them one command each.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from loop_schemas.errors import describe_error
from loop_schemas.plain import printable

from loop_pm_jira import __version__

if TYPE_CHECKING:
    from loop_pm_jira.jira import Jira

# Start-up: `--help` (also `loop-pm --help`, which lists this group) imports neither the HTTP client nor
# a model; each verb imports what it uses (tests/test_cli_imports.py holds that).

PROG = "loop-pm jira"
F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """One line, exit 1; what Jira named in it (sprint, status) shows control characters visibly."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message, multiline=False))


def _echo(text: str, err: bool = False) -> None:
    """Every line the verbs print: Jira's strings are redacted by the client, made visible here."""
    click.echo(printable(text, multiline=False), err=err)


@contextmanager
def _session(project: str | None = None, board: str | None = None) -> Iterator[Jira]:
    """A Jira session from the environment; every adapter error becomes one line (exit 1)."""
    from loop_schemas.pm import AdapterError

    from loop_pm_jira.client import JiraClient
    from loop_pm_jira.config import settings_from_env
    from loop_pm_jira.jira import Jira

    try:
        settings = settings_from_env(project=project, board=board)
        with JiraClient(settings) as client:
            yield Jira(client)
    except AdapterError as exc:
        raise Failure(str(exc)) from None


def _board_option(func: F) -> F:
    return click.option("--board", metavar="ID", default=None, help="Board id (default: JIRA_BOARD_ID).")(
        func
    )


def _project_option(func: F) -> F:
    return click.option(
        "--project", metavar="KEY", default=None, help="Project key (default: JIRA_PROJECT_KEY)."
    )(func)


def _sprint_label(sprint: dict[str, Any]) -> str:
    return f"{sprint.get('id')} ({sprint.get('name', '?')})"


def _exclusive(ctx: click.Context, given: Sequence[tuple[str, bool]]) -> str:
    chosen = [name for name, present in given if present]
    names = " | ".join(name for name, _ in given)
    if len(chosen) != 1:
        raise click.UsageError(f"give exactly one of {names}", ctx)
    return chosen[0]


@click.group("jira", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="loop-pm-jira")
def jira() -> None:
    """Jira scrum verbs (REST v3 + Agile 1.0).

    Credentials come from the environment only: JIRA_BASE_URL (https://, no user@),
    JIRA_EMAIL, JIRA_API_TOKEN; optional JIRA_PROJECT_KEY and JIRA_BOARD_ID.
    JIRA_ALLOW_INSECURE_BASE_URL=1 allows http:// for localhost only.
    """


@jira.command("ensure-epic")
@click.option("--name", required=True, help="The epic's name (summary), matched exactly, case-insensitively.")
@_project_option
def ensure_epic(name: str, project: str | None) -> None:
    """Print the key of the epic called NAME, creating it when the project has none."""
    from loop_schemas.pm import AdapterError
    from loop_schemas.task import TaskStatus

    from loop_pm_jira.jira import EPIC_TYPE

    if not name.strip():
        raise click.UsageError("--name must not be blank")
    with _session(project=project) as j:
        project_key = j.require_project(None)
        try:
            found = j.find_epic(project_key, name)
            if found is not None:
                if found.task_status in (TaskStatus.DONE, TaskStatus.DROPPED):
                    _echo(f"{PROG}: warning: epic {found.key} is '{found.status}'", err=True)
                _echo(found.key)
                return
            key, warnings = j.create_issue(
                project=project_key, summary=" ".join(name.split()), issue_type=EPIC_TYPE
            )
        except AdapterError as exc:
            raise Failure(str(exc)) from None
        for w in warnings:
            _echo(f"{PROG}: warning: {w}", err=True)
        _echo(f"{PROG}: created epic {key}", err=True)
        _echo(key)


@jira.command("sprint-status")
@_board_option
@click.option("--json", "as_json", is_flag=True, help="Print {contract_version, board, active}.")
def sprint_status(board: str | None, as_json: bool) -> None:
    """The board's active sprint (id, name, dates, goal), or 'no active sprint'."""
    from loop_schemas.pm import AdapterError

    with _session(board=board) as j:
        try:
            board_id = j.board_id(None, None)
            sprint = j.active_sprint(board_id)
        except AdapterError as exc:
            raise Failure(str(exc)) from None
    if as_json:
        active = None
        if sprint is not None:
            active = {k: sprint.get(k) for k in ("id", "name", "state", "startDate", "endDate", "goal")}
        _echo(json.dumps({"contract_version": 1, "board": board_id, "active": active}))
        return
    if sprint is None:
        _echo("no active sprint")
        return
    line = f"active sprint {_sprint_label(sprint)}"
    if sprint.get("startDate") or sprint.get("endDate"):
        line += f": {sprint.get('startDate', '?')} -> {sprint.get('endDate', '?')}"
    if sprint.get("goal"):
        line += f"; goal: {sprint['goal']}"
    _echo(line)


@jira.command("move-to-sprint")
@click.option("--sprint", "sprint_id", type=int, default=None, metavar="ID", help="The sprint id.")
@click.option("--active", is_flag=True, help="The board's active sprint.")
@_board_option
@click.argument("keys", nargs=-1, required=True)
@click.pass_context
def move_to_sprint(
    ctx: click.Context, sprint_id: int | None, active: bool, board: str | None, keys: tuple[str, ...]
) -> None:
    """Move issues KEY… into a sprint."""
    from loop_schemas.pm import AdapterError

    _exclusive(ctx, [("--sprint ID", sprint_id is not None), ("--active", active)])
    with _session(board=board) as j:
        try:
            sprint = j.resolve_sprint("active" if active else str(sprint_id), None)
            j.move_to_sprint(int(sprint["id"]), list(keys))
        except AdapterError as exc:
            raise Failure(str(exc)) from None
    count = len(keys)
    _echo(
        f"moved {count} issue{'s' if count != 1 else ''} to sprint {_sprint_label(sprint)}: {' '.join(keys)}"
    )


@jira.command("start-sprint")
@click.option("--sprint", "sprint_id", type=int, default=None, metavar="ID", help="Start this future sprint.")
@click.option("--next", "next_", is_flag=True, help="Start the board's earliest future sprint.")
@click.option(
    "--create", "create_name", default=None, metavar="NAME", help="Create a sprint called NAME, start it."
)
@click.option("--duration-days", type=click.IntRange(1, 365), default=14, show_default=True)
@click.option("--goal", default=None, metavar="TEXT", help="The sprint goal.")
@_board_option
@click.pass_context
def start_sprint(
    ctx: click.Context,
    sprint_id: int | None,
    next_: bool,
    create_name: str | None,
    duration_days: int,
    goal: str | None,
    board: str | None,
) -> None:
    """Activate a sprint: starts now (UTC), ends after --duration-days."""
    from loop_schemas.pm import AdapterError

    how = _exclusive(
        ctx,
        [
            ("--sprint ID", sprint_id is not None),
            ("--next", next_),
            ("--create NAME", create_name is not None),
        ],
    )
    if create_name is not None and not create_name.strip():
        raise click.UsageError("--create NAME must not be blank", ctx)
    with _session(board=board) as j:
        try:
            if how == "--sprint ID":
                assert sprint_id is not None
                target = j.get_sprint(sprint_id)
            else:
                board_id = j.board_id(None, None)
                if how == "--next":
                    future = j.sprints(board_id, "future")
                    if not future:
                        raise Failure(f"board {board_id} has no future sprint (use --create NAME)")
                    target = min(enumerate(future), key=lambda p: (str(p[1].get("startDate") or "~"), p[0]))[
                        1
                    ]
                else:
                    assert create_name is not None
                    running = j.active_sprint(board_id)
                    if running is not None:  # Jira would refuse to start it: do not leave a stray sprint
                        raise Failure(
                            f"board {board_id} already has an active sprint {_sprint_label(running)}: "
                            "complete it first (complete-sprint --active)"
                        )
                    target = j.create_sprint(board_id, create_name.strip())
            if str(target.get("state", "future")).lower() != "future":
                raise Failure(
                    f"sprint {_sprint_label(target)} is {target.get('state')}, not future: "
                    "only a future sprint starts"
                )
            started = j.start_sprint(int(target["id"]), duration_days, goal)
        except AdapterError as exc:
            raise Failure(str(exc)) from None
    merged = {**target, **{k: v for k, v in started.items() if v is not None}}
    _echo(
        f"started sprint {_sprint_label(merged)}: "
        f"{merged.get('startDate', '?')} -> {merged.get('endDate', '?')}"
        + (f"; goal: {goal}" if goal else "")
    )


@jira.command("complete-sprint")
@click.option("--sprint", "sprint_id", type=int, default=None, metavar="ID", help="The sprint id.")
@click.option("--active", is_flag=True, help="The board's active sprint.")
@_board_option
@click.pass_context
def complete_sprint(ctx: click.Context, sprint_id: int | None, active: bool, board: str | None) -> None:
    """Close a sprint. Jira moves its incomplete issues back to the backlog."""
    from loop_schemas.pm import AdapterError

    _exclusive(ctx, [("--sprint ID", sprint_id is not None), ("--active", active)])
    with _session(board=board) as j:
        try:
            sprint = j.resolve_sprint("active" if active else str(sprint_id), None)
            if str(sprint.get("state", "")).lower() != "active":
                raise Failure(
                    f"sprint {_sprint_label(sprint)} is {sprint.get('state')}, not active: "
                    "only an active sprint completes"
                )
            incomplete = j.incomplete_in_sprint(int(sprint["id"]))
            j.complete_sprint(int(sprint["id"]))
        except AdapterError as exc:
            raise Failure(str(exc)) from None
    _echo(
        f"completed sprint {_sprint_label(sprint)}; "
        f"{incomplete} incomplete issue{'s' if incomplete != 1 else ''}"
        " returned to the backlog (Jira moves unfinished issues out of a closed sprint)"
    )


@jira.command("complete-epic")
@click.argument("key")
def complete_epic(key: str) -> None:
    """Transition epic KEY to Done (its child issues are not touched: no auto-rollup)."""
    from loop_schemas.pm import AdapterError
    from loop_schemas.task import TaskStatus

    from loop_pm_jira.jira import DONE_NAMES

    with _session() as j:
        try:
            epic = j.get_issue(key)
            if epic.task_status == TaskStatus.DONE:
                _echo(f"{epic.key} is already '{epic.status}'")
                return
            reached = j.transition_to(epic.key, epic.status, DONE_NAMES)
        except AdapterError as exc:
            raise Failure(str(exc)) from None
        if reached is None or reached.lower() not in (n.lower() for n in DONE_NAMES):
            names = ", ".join(sorted({t.to_name for t in j.transitions(epic.key)})) or "none"
            raise Failure(f"{epic.key}: no transition to Done from '{epic.status}' (available: {names})")
    _echo(f"{epic.key} -> {reached} (child issues unchanged)")


@jira.command("retro")
@click.option("--epic", required=True, metavar="KEY", help="The epic the retrospective is about.")
@click.option(
    "--title", default=None, metavar="T", help="Heading / issue summary (default: 'Retrospective: <epic>')."
)
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    default=None,
    help="Markdown body from a file ('-' for stdin).",
)
@click.option("--body", default=None, metavar="TEXT", help="Markdown body.")
@click.option("--as-issue", is_flag=True, help="Create a Task labelled 'retrospective' instead of a comment.")
@_project_option
@click.pass_context
def retro(
    ctx: click.Context,
    epic: str,
    title: str | None,
    body_file: Path | None,
    body: str | None,
    as_issue: bool,
    project: str | None,
) -> None:
    """Post a retrospective on an epic: an ADF comment by default, or a Task (--as-issue)."""
    from loop_schemas.pm import AdapterError

    _exclusive(ctx, [("--body-file F", body_file is not None), ("--body TEXT", body is not None)])
    if body_file is not None:
        try:
            text = sys.stdin.read() if str(body_file) == "-" else body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Failure(f"--body-file: {describe_error(exc, str(body_file))}") from None
    else:
        text = body or ""
    if not text.strip():
        raise click.UsageError("the retrospective body is empty", ctx)
    with _session(project=project) as j:
        try:
            epic_issue = j.get_issue(epic)
            heading = " ".join((title or f"Retrospective: {epic_issue.title}").split())
            if as_issue:
                project_key = project or j.client.settings.project or epic_issue.key.rsplit("-", 1)[0]
                key, warnings = j.create_issue(
                    project=project_key,
                    summary=heading,
                    issue_type="Task",
                    description=text,
                    labels=["retrospective"],
                    parent=epic_issue.key,
                )
                for w in warnings:
                    _echo(f"{PROG}: warning: {w}", err=True)
                _echo(f"created retrospective {key} under {epic_issue.key}: {j.client.browse_url(key)}")
                return
            comment_id = j.add_comment(epic_issue.key, f"## {heading}\n\n{text}")
        except AdapterError as exc:
            raise Failure(str(exc)) from None
    _echo(f"posted the retrospective on {epic_issue.key} (comment {comment_id})")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point `loop-pm-jira`: one line for anything unexpected, never a traceback."""
    from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

    no_pydantic_plugins_unless_asked()  # before any model is built (CONTRACT.md: pydantic plugins)
    try:
        jira.main(
            args=list(argv) if argv is not None else None, prog_name="loop-pm-jira", standalone_mode=True
        )
    except SystemExit:
        raise
    except Exception as exc:
        sys.stderr.write(f"loop-pm-jira: internal error: {describe_error(exc)}\n")
        sys.exit(1)
