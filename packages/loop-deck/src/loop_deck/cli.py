"""loop-deck: the interactive flight deck for one loop session."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import click

import loop_deck

SESSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project-root",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The operated project's root (the directory holding .loop/).",
)
@click.option(
    "--session", "-s", default=None, help="The tmux session (default: the current one, inside tmux)."
)
@click.option(
    "--socket",
    envvar="LOOP_TMUX_SOCKET",
    default=None,
    help="tmux server socket path (env LOOP_TMUX_SOCKET).",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    envvar="LOOP_TMUX_STATE_DIR",
    default=None,
    help="The session's state dir: lane-restarts.jsonl and deck-crash.log "
    "(env LOOP_TMUX_STATE_DIR; default <project-root>/.loop/sessions/<session>).",
)
@click.option(
    "--adr-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The ADR folder (default: LOOP_ADR_DIR, else <project-root>/docs/adr).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 60),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Print one overview row per loop session (SESSION ENGINE PEND LANE HEALTH) and exit: "
    "no terminal needed, nothing written.",
)
@click.option(
    "--roots",
    default=None,
    metavar="A,B",
    help="With --all: the project roots to scan, comma-separated (default: --project-root).",
)
@click.option("--json", "as_json", is_flag=True, help="With --all: one JSON document (model LoopOverview).")
@click.version_option(loop_deck.__version__)
def main(
    project_root: Path,
    session: str | None,
    socket: str | None,
    state_dir: Path | None,
    adr_dir: Path | None,
    interval: float,
    show_all: bool,
    roots: str | None,
    as_json: bool,
) -> None:
    """Watch and steer one loop session: the fleet, loops, mail, the pending decision, ADRs.

    The deck writes no file of the project: every action runs the CLI a human would
    (loop-dispatch, loop-tmux, loop-adr, loop-checkpoint, loop-engine) and shows the exact
    command and its result. Without loop-engine on PATH it is a live dashboard.
    """
    from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

    no_pydantic_plugins_unless_asked()  # before any model is built (CONTRACT.md: pydantic plugins)
    if (roots is not None or as_json) and not show_all:
        raise click.UsageError("--roots and --json go with --all")
    if show_all:
        print_overview(project_root, roots, as_json)
        return
    if not project_root.is_dir():
        raise click.ClickException(f"--project-root {project_root}: not a directory")  # runtime: exit 1
    root = project_root.resolve()
    if session is None:
        from loop_substrate import current_session

        session = current_session(socket)
        if session is None:
            raise click.UsageError("--session is required outside tmux")
    if not SESSION_RE.fullmatch(session):  # `$` with match() would let a trailing newline through
        raise click.UsageError(f"--session {session!r}: letters, digits, '.', '_' and '-' only")
    from loop_substrate import SubstrateError, check_contract

    try:
        check_contract()  # refuse a substrate that speaks another CONTRACT major version
    except SubstrateError as exc:
        raise click.ClickException(str(exc)) from None
    if not has_terminal():
        raise click.ClickException("loop-deck needs a terminal (run it in a tmux pane or a terminal)")

    from loop_deck.app import make_app

    app = make_app(
        root,
        session,
        socket=socket,
        interval=interval,
        state_dir=state_dir.resolve() if state_dir else None,
        adr_dir=adr_dir.resolve() if adr_dir else None,
    )
    try:
        app.run()
    except Exception as exc:  # a crash outside the app's own handlers: logged, one line, exit 1
        from loop_schemas import describe_error

        from loop_deck.app import record_crash

        try:
            where = f"details in {record_crash(app.paths, exc)}"
        except OSError as err:
            where = f"the crash log could not be written: {err.strerror}"
        raise click.ClickException(f"crashed: {describe_error(exc)} ({where})") from None
    if app.return_code:
        # the crash line was printed by the app; the traceback is in deck-crash.log
        sys.exit(app.return_code)
    # the terminal may still show the deck's last image: say what this shell is, and how to come back
    click.echo(f"loop-deck stopped; start it again with:  {restart_command(root, session, socket)}")


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def restart_command(root: Path, session: str, socket: str | None) -> str:
    argv = ["loop-deck", "--project-root", str(root), "--session", session]
    if socket:
        argv += ["--socket", socket]
    return shlex.join(argv)


def print_overview(project_root: Path, roots: str | None, as_json: bool) -> None:
    from loop_deck.board import overview, overview_lines

    paths = [Path(r.strip()) for r in roots.split(",") if r.strip()] if roots is not None else [project_root]
    if not paths:
        raise click.UsageError("--roots: give at least one directory")
    for path in paths:
        if not path.is_dir():
            raise click.UsageError(f"--roots {path}: not a directory")
    view = overview(paths)
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    for line in overview_lines(view):
        click.echo(line)
