"""`loop-pm`: list the installed PM adapters, sync tasks/ with one, and mount adapter verbs.

loop-pm list-adapters [--json]
loop-pm sync --adapter A (pull|push|both) [--dry-run] [--json] [--tasks-dir D] [--project-root P]
             [adapter options, e.g. --project K --epic KEY --sprint ID|active --board B]
loop-pm <adapter> …            verbs an adapter ships (entry-point group loop_orchestrator.pm_commands)
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from loop_schemas import ADAPTER_GROUP, COMMAND_GROUP
from loop_schemas.errors import describe_error

from loop_pm import __version__
from loop_pm.plugins import (
    PluginEntry,
    PluginLoadError,
    adapter_infos,
    discover,
    find_adapter,
    load_adapter,
    load_command,
)

if TYPE_CHECKING:
    from loop_schemas.pm import SyncAction, SyncOption, SyncPlan, SyncResult

# Start-up: `--help` and `--version` list commands and import no model; each command imports what it uses
# (tests/test_cli_imports.py holds that).

PROG = "loop-pm"


class PmGroup(click.Group):
    """Built-in commands plus one sub-group per `loop_orchestrator.pm_commands` entry point, loaded only
    when used. A group that fails to load stays listed and says why when run."""

    @staticmethod
    def plugins(ctx: click.Context) -> list[PluginEntry]:
        """The command groups' entry points, listed once per invocation (--help lists, then loads each)."""
        found: list[PluginEntry] | None = ctx.meta.get("loop_pm.commands")
        if found is None:
            found = ctx.meta["loop_pm.commands"] = discover(COMMAND_GROUP)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(e.name for e in self.plugins(ctx) if e.name not in self.commands)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = super().get_command(ctx, cmd_name)
        if builtin is not None:
            return builtin
        entries = [e for e in self.plugins(ctx) if e.name == cmd_name]
        if not entries:
            return None
        entry = entries[0]
        try:
            obj = load_command(entry)
        except PluginLoadError as exc:
            return _broken_command(cmd_name, str(exc))
        if not isinstance(obj, click.Command):
            return _broken_command(cmd_name, f"commands '{cmd_name}' ({entry.value}) is not a click command")
        return obj


def _broken_command(name: str, reason: str) -> click.Command:
    def _fail(**_: object) -> None:
        raise click.ClickException(reason)

    return click.Command(
        name,
        callback=_fail,
        help=f"(failed to load) {reason}",
        short_help="(failed to load)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    )


@click.group(cls=PmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """tasks/ as the source of truth, synced to project-management tools through adapters.

    Adapters come from the entry-point group loop_orchestrator.pm_adapters; adapter verbs
    (loop-pm jira …) from loop_orchestrator.pm_commands.
    """
    from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

    no_pydantic_plugins_unless_asked()  # before any model is built (CONTRACT.md: pydantic plugins)


# ------------------------------------------------------------------------------------- list-adapters


@cli.command("list-adapters")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document ({contract_version, adapters})."
)
def list_adapters(as_json: bool) -> None:
    """List the installed PM adapters: name, distribution, version, available or why not.

    Availability is a configuration check (e.g. the environment the adapter needs); no network call.
    An adapter that fails to load is listed as unavailable with the reason, and reported on stderr.
    """
    from loop_schemas.pm import AdapterList

    rows, problems = adapter_infos()
    for problem in problems:
        click.echo(f"{PROG}: warning: {problem}", err=True)
    if as_json:
        click.echo(AdapterList(adapters=rows).model_dump_json())
        return
    if not rows:
        click.echo(f"no PM adapters installed (entry-point group {ADAPTER_GROUP})")
        return
    table = [("NAME", "DISTRIBUTION", "VERSION", "STATUS")]
    for row in rows:
        status = "available" if row.available else f"unavailable: {row.reason or 'unknown'}"
        table.append((row.name, row.distribution or "-", row.version or "-", status))
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for r in table:
        click.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")


# ---------------------------------------------------------------------------------------------- sync


def parse_adapter_options(
    args: Sequence[str], specs: Sequence[SyncOption], direction: str, adapter: str
) -> dict[str, str]:
    """`--name VALUE` / `--name=VALUE` pairs the adapter declared; click.UsageError for anything else."""
    by_name = {s.name: s for s in specs}
    out: dict[str, str] = {}
    items = list(args)
    index = 0
    while index < len(items):
        token = items[index]
        if not token.startswith("--") or token == "--":  # noqa: S105 - an argv token, not a secret
            raise click.UsageError(f"unexpected argument: {token}")
        name, eq, value = token[2:].partition("=")
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(f"--{s.name}" for s in specs) or "none"
            raise click.UsageError(f"no such option: --{name} (adapter '{adapter}' takes: {known})")
        if not eq:
            if index + 1 >= len(items):
                raise click.UsageError(f"option --{name} needs a value")
            value = items[index + 1]
            index += 1
        index += 1
        if direction != "both" and direction not in spec.directions:
            raise click.UsageError(f"option --{name} applies to {' and '.join(spec.directions)} only")
        if name in out:
            raise click.UsageError(f"option --{name} given twice")
        out[name] = value
    return out


def _action_line(action: SyncAction, dry_run: bool) -> str:
    who = " ".join(x for x in (action.task_id, action.key) if x)
    parts = [action.direction, action.kind, who]
    if action.title:
        parts.append(json.dumps(action.title, ensure_ascii=False))
    if action.path:
        parts.append(action.path)
    if action.changes:
        parts.append("[" + "; ".join(action.changes) + "]")
    if action.detail:
        parts.append(f"({action.detail})")
    line = "  ".join(p for p in parts if p)
    if dry_run:
        return "would " + line
    if action.state == "failed":
        return f"FAILED {line}: {action.error}"
    if action.state == "skipped":
        return f"skipped {line}"
    return line


def _summary(result: SyncResult) -> str:
    if result.dry_run:
        count = len(result.actions)
        return f"dry run: {count} action{'s' if count != 1 else ''} planned; nothing was written"
    done = sum(1 for a in result.actions if a.state == "done")
    failed = sum(1 for a in result.actions if a.state == "failed")
    if not result.actions:
        return "nothing to do: tasks/ and the remote agree"
    return f"{done} done, {failed} failed"


def adapter_secrets(adapter: object) -> tuple[str, ...]:
    """The credential values an adapter declares (loop_schemas.pm.HoldsSecrets), or none."""
    from loop_schemas.pm import HoldsSecrets

    if not isinstance(adapter, HoldsSecrets):
        return ()
    try:
        values = adapter.secret_values()
        return tuple(v for v in values if isinstance(v, str) and v.strip())
    except Exception:  # a broken hook must not stop the run; the adapter's own scrubbing still applies
        return ()


def _emit(result: SyncResult, as_json: bool, secrets: tuple[str, ...] = ()) -> None:
    """The one result: every line (and every string of the JSON document) with the adapter's secrets
    redacted in every form, and control characters visible on the terminal."""
    from loop_schemas.plain import printable
    from loop_schemas.pm import SyncResult
    from loop_schemas.redact import redact, redact_data

    def say(line: str, err: bool = False) -> None:
        click.echo(printable(redact(line, secrets), multiline=False), err=err)

    if as_json:
        clean = SyncResult.model_validate(redact_data(result.model_dump(mode="json"), secrets))
        click.echo(clean.model_dump_json())
        for warning in result.warnings:
            say(f"{PROG}: warning: {warning}", err=True)
    else:
        for warning in result.warnings:
            say(f"{PROG}: warning: {warning}", err=True)
        for action in result.actions:
            say(_action_line(action, result.dry_run))
        if not (result.error and not result.actions):  # a run that failed before planning has no summary
            say(_summary(result))
    if result.error:
        say(f"{PROG}: error: {result.error}", err=True)


@cli.command(
    "sync",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option(
    "--adapter", "adapter_name", required=True, metavar="NAME", help="The adapter (see list-adapters)."
)
@click.option("--dry-run", is_flag=True, help="Read the remote and print the plan; write nothing anywhere.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (the plan or the result).")
@click.option(
    "--tasks-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The tasks folder (default: <project-root>/tasks).",
)
@click.option(
    "--project-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Where ops-wiki/log.md and .loop/ live (default: the tasks folder's parent, else the current dir).",
)
@click.argument("direction", type=click.Choice(["pull", "push", "both"]))
@click.pass_context
def sync(
    ctx: click.Context,
    adapter_name: str,
    dry_run: bool,
    as_json: bool,
    tasks_dir: Path | None,
    project_root: Path | None,
    direction: str,
) -> None:
    """Sync tasks/ with a PM tool. Task files win every conflict.

    \b
    pull  creates task files for remote issues that have none (idempotent), and
          archives a task whose issue a human moved to Done (logged in ops-wiki/log.md)
    push  updates the remote issues from the files and creates issues for open and
          in-progress tasks with no key, writing the key back into the task
    both  pull, then push

    Adapter options (e.g. jira: --project K --epic KEY --sprint ID|active --board B) follow the
    direction. Exit 0 all done, 1 a failure, 2 usage.
    """
    from loop_schemas import LockTimeoutError
    from loop_schemas.pm import AdapterError, SyncResult

    from loop_pm.sync import Context, SyncAbortedError, run_direction, sync_lock, unexpected

    if project_root is None:
        project_root = tasks_dir.parent if tasks_dir is not None else Path.cwd()
    if tasks_dir is None:
        tasks_dir = project_root / "tasks"
    tasks_dir = tasks_dir.absolute()
    project_root = project_root.absolute()

    result = SyncResult(adapter=adapter_name, direction=direction, dry_run=dry_run, ok=True)
    secrets: tuple[str, ...] = ()

    def emit() -> None:
        _emit(result, as_json, secrets)

    def fail(message: str) -> None:
        """A run that cannot start: still the one result (JSON or text), exit 1."""
        result.ok = False
        result.error = message
        emit()
        ctx.exit(1)

    try:
        entry = find_adapter(adapter_name)
        adapter = load_adapter(entry)
    except PluginLoadError as exc:
        fail(str(exc))
        return
    secrets = adapter_secrets(adapter)
    try:
        specs = list(adapter.sync_options())
    except Exception as exc:
        fail(f"adapter '{adapter_name}': sync_options failed: {describe_error(exc)}")
        return
    options = parse_adapter_options(ctx.args, specs, direction, adapter_name)

    if not tasks_dir.is_dir():
        result.ok = False
        result.error = f"tasks folder not found: {tasks_dir} (give --tasks-dir or --project-root)"
        emit()
        ctx.exit(1)
    try:
        availability = adapter.availability()
    except Exception as exc:
        fail(f"adapter '{adapter_name}': availability check failed: {exc}")
        return
    if not availability.available:
        result.ok = False
        result.error = f"adapter '{adapter_name}' is not available: {availability.reason or 'unknown reason'}"
        emit()
        ctx.exit(1)

    directions = ["pull", "push"] if direction == "both" else [direction]
    plans: list[SyncPlan] = []
    try:
        conn = adapter.connect(options)
    except AdapterError as exc:
        result.ok = False
        result.error = str(exc)
        emit()
        ctx.exit(1)
    except Exception as exc:  # an adapter that broke its contract: still one result, exit 1
        result.ok = False
        result.error = unexpected(adapter_name, exc)
        emit()
        ctx.exit(1)
    try:
        sync_ctx = Context(adapter_name, tasks_dir, project_root, conn, dry_run, options, secrets)
        with sync_lock(sync_ctx):
            for one in directions:
                plans.append(run_direction(sync_ctx, one))
    except SyncAbortedError as exc:
        if exc.plan is not None:
            plans.append(exc.plan)
        result.ok = False
        result.error = str(exc)
    except LockTimeoutError:
        result.ok = False
        result.error = "another loop-pm sync holds the lock on this project (.loop/pm-sync.lock)"
    except OSError as exc:  # e.g. the project root cannot hold .loop/ (read-only, not a directory)
        result.ok = False
        reason = exc.strerror or describe_error(exc)
        result.error = f"cannot use {exc.filename}: {reason}" if exc.filename else f"file error: {reason}"
    finally:
        with contextlib.suppress(Exception):  # closing must never hide the result
            conn.close()
    for plan in plans:
        result.actions.extend(plan.actions)
        result.warnings.extend(f"{plan.direction}: {w}" for w in plan.warnings)
        result.possible_links.extend(plan.possible_links)
    if any(a.state == "failed" for a in result.actions):
        result.ok = False
    emit()
    if not result.ok:
        ctx.exit(1)


def _format_unexpected(exc: BaseException) -> str:
    return describe_error(exc)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: click's own handling, plus one line (never a traceback) for anything else."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        sys.stderr.write(f"{PROG}: internal error: {_format_unexpected(exc)}\n")
        sys.exit(1)
