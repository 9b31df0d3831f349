"""loop-engine: the command line of the deterministic orchestration loop.

Every command is a few lines: parse, call the engine, print. User errors are one line on stderr and
exit 1; usage errors exit 2; `--json` prints exactly one JSON document carrying contract_version 1.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

import loop_engine
from loop_engine.improve_cli import improve_command
from loop_engine.paths import EnginePaths

if TYPE_CHECKING:
    from loop_substrate.client import Substrate

    from loop_engine import config as config_mod
    from loop_engine import watch as watch_mod
    from loop_engine.cycle import Engine
    from loop_engine.readcache import ReadCache

# Start-up: `--help`, `--version` and the file-reading verbs (status, events, pause...) must not pay for
# the cycle machinery, pydantic models or yaml they never use, so each command imports what it needs
# (tests/test_cli_imports.py holds every --help to that).

EXIT_FAILURE = 1
EXIT_BOOT = 2  # the boot check: the brain's (or headless ingest's) harness cannot serve
# cycle.APPROVALS, spelled here so that --help needs no import of the cycle (tests/test_cli_imports.py
# holds the two equal)
APPROVALS = ("manual", "auto", "full")
# the verbs that work outside a loop project: `stop` writes nothing when no daemon is there, and stops
# one an older engine may have started in a folder that is not a project; every other verb refuses
OUTSIDE_A_PROJECT = frozenset({"stop"})


GROUP_OPTIONS = ("--project-root", "--session")


def hoist_group_options(args: list[str]) -> list[str]:
    """The group's options moved in front of the command: `loop-engine status --session s` reads as
    `loop-engine --session s status` (no command has options of those names). `--` ends the scan."""
    front: list[str] = []
    rest: list[str] = []
    seen_command = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        takes_value = arg in GROUP_OPTIONS and i + 1 < len(args)
        if not seen_command:
            if takes_value:
                front.extend(args[i : i + 2])
                i += 2
                continue
            seen_command = not arg.startswith("-")
            front.append(arg)
        elif arg.split("=", 1)[0] in GROUP_OPTIONS and "=" in arg:
            front.insert(0, arg)
        elif takes_value:
            front[0:0] = args[i : i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return [*front, *rest]


class _Group(click.Group):
    """Turns any unexpected exception into one line on stderr and exit 1 (never a traceback)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_group_options(args))

    def invoke(self, ctx: click.Context) -> Any:
        # `loop-engine <command> --help` must work without a session: note it before the group runs
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        ctx.meta["loop_engine.help"] = any(arg in ("--help", "-h") for arg in rest)
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # the reader went away (`loop-engine events | head`): stop quietly, as other CLIs do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_FAILURE)
        except Exception as exc:
            raise click.ClickException(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    from loop_schemas.errors import describe_error
    from loop_substrate import SubstrateError

    from loop_engine import config as config_mod
    from loop_engine import queue as q
    from loop_engine import watch
    from loop_engine.cycle import EngineError
    from loop_engine.store import StoreError

    text = str(exc).strip()
    first = text.splitlines()[0] if text else describe_error(exc)
    if isinstance(exc, SubstrateError):
        return f"substrate: {first}"
    if isinstance(exc, (EngineError, q.QueueError, StoreError, watch.DaemonError, config_mod.ConfigError)):
        return first
    return describe_error(exc)  # a person's words: never a raw exception name


@dataclass
class Ctx:
    """The command's context: the project's and the session's engine paths."""

    paths: EnginePaths

    def config(self) -> config_mod.EffectiveConfig:
        from loop_engine import config as config_mod

        try:
            return config_mod.load(self.paths.project_root)
        except config_mod.ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def facts(self, cache: ReadCache) -> config_mod.ConfigFacts:
        """config().facts(), read from `cache` while the lane-config is unchanged (no yaml, no pydantic)."""
        from loop_engine import config as config_mod

        try:
            return config_mod.load_facts(self.paths.project_root, cache)
        except config_mod.ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def engine(self, abort: Any = None, early: Substrate | None = None) -> Engine:
        """The engine of this project and session. With `early` (the substrate `once` started its probe
        on), the brain's prompt starts there as soon as the config says the brain is a harness: its
        loop-checkpoint runs while the cycle code loads (early.start_prompt)."""
        from loop_engine import config as config_mod
        from loop_engine.readcache import ReadCache

        def start_prompt(facts: config_mod.ConfigFacts) -> None:
            if early is not None:
                from loop_engine import early as early_mod

                early_mod.start_prompt(self.paths, early, facts.brain_harness)

        reads = ReadCache(self.paths.loop_dir)
        try:
            cfg = config_mod.load_cached(self.paths.project_root, reads, on_facts=start_prompt)
        except config_mod.ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        reads.save()
        from loop_engine.cycle import Engine
        from loop_engine.observe import SubstrateUnavailableError, make_substrate

        for warning in cfg.warnings:
            click.echo(f"loop-engine: warning: {warning}", err=True)
        try:
            substrate = make_substrate(self.paths.session, self.paths.project_root)
        except SubstrateUnavailableError as exc:
            raise click.ClickException(str(exc)) from None
        return Engine(self.paths, substrate, cfg, abort=abort)

    def argv_prefix(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "loop_engine",
            "--project-root",
            str(self.paths.project_root),
            "--session",
            self.paths.session,
        ]


def boot_check(engine: Engine) -> None:
    """The brain's harness, and the headless ingest's, can serve: in harness_policy.brain_allow (when set)
    and with a one-shot template. Each problem prints `error: …`; any problem exits 2."""
    from loop_engine import config as config_mod
    from loop_engine import policy as policy_mod

    if engine.config.brain_harness == config_mod.BUILTIN:
        return
    problems = policy_mod.boot_problems(engine.config.model, engine.registry())
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(EXIT_BOOT)


def _emit(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@click.group(cls=_Group)
@click.option(
    "--project-root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LOOP_PROJECT_ROOT",
    default=".",
    show_default=True,
    help="The operated project's root (holds .loop/). Env: LOOP_PROJECT_ROOT.",
)
@click.option(
    "--session",
    envvar="LOOP_SESSION",
    default=None,
    help="The loop session (tmux session) name. Env: LOOP_SESSION; default: the current tmux session.",
)
@click.version_option(loop_engine.__version__)
@click.pass_context
def main(ctx: click.Context, project_root: Path, session: str | None) -> None:
    """The orchestration loop: one cycle, the human gate, the watch daemon."""
    if not session:
        from loop_substrate import current_session

        session = current_session()
    if not ctx.meta.get("loop_engine.help"):
        from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

        no_pydantic_plugins_unless_asked()  # before any model is built (CONTRACT.md: pydantic plugins)
    if not session:
        if ctx.meta.get("loop_engine.help"):
            return  # `loop-engine <command> --help` needs no session: click prints the help next
        raise click.UsageError("--session is required (or set LOOP_SESSION, or run inside tmux)")
    if not project_root.is_dir():
        raise click.ClickException(f"--project-root {project_root}: not a directory")  # runtime: exit 1
    try:
        ctx.obj = Ctx(EnginePaths(project_root.resolve(), session))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if ctx.invoked_subcommand not in OUTSIDE_A_PROJECT and not ctx.meta.get("loop_engine.help"):
        problem = ctx.obj.paths.project_problem()
        if problem:
            raise click.ClickException(problem)
    engine_dir = ctx.obj.paths.engine_dir
    for folder in (engine_dir, *engine_dir.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir() and not ctx.meta.get("loop_engine.help"):
                raise click.ClickException(f"{folder} is not a directory: the engine keeps its files there")
            break


@main.command()
@click.option(
    "--approval",
    type=click.Choice(APPROVALS),
    default=None,
    help="manual queues everything; auto runs safe actions; full runs safe and destructive ones "
    "(default: the config's approval_mode).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the cycle result as JSON.")
@click.pass_obj
def once(obj: Ctx, approval: str | None, as_json: bool) -> None:
    """Run one cycle now (observe, ingest, brain, gate, run or queue). Exit 1 when the brain failed or any
    action it ran failed (recorded, never retried)."""
    from loop_schemas.plain import printable
    from loop_substrate.client import Substrate

    from loop_engine import watch

    # the observation's two reads run while the cycle code loads (the engine's probe takes their answers),
    # and so does the brain's prompt, started as soon as the config is known (before the cycle code)
    early = Substrate(obj.paths.session, obj.paths.project_root)
    early.start_probe()
    engine = obj.engine(early=early)
    boot_check(engine)
    engine.require_session()  # a session that is not there is the operator's news, not an engine crash
    if not watch.daemon_alive(obj.paths):  # a running daemon reaps for itself and its calls are its own
        watch.reap(obj.paths, "once")
    result = engine.cycle(approval=approval, trigger="once")
    failed = result.outcome in ("brain-failed", "observe-failed") or bool(result.failed)
    warnings = [w for w in (state_problem(obj.paths),) if w]
    if result.stale:
        warnings.append("the observation failed or timed out: this cycle ran on the last snapshot")
    for warning in warnings:
        click.echo(f"loop-engine: warning: {warning}", err=True)
    if as_json:
        _emit({**result.as_dict(), "warnings": warnings})
    else:
        suffix = f" ({result.decision_id})" if result.decision_id else ""
        click.echo(f"{result.outcome}: {result.detail}{suffix}", err=failed)
        if result.reason:
            click.echo(f"  why: {printable(result.reason, multiline=False)}", err=failed)
    for o in result.failed:
        click.echo(f"loop-engine: action {o['index']} failed: {o.get('error')}", err=True)
    if failed:
        sys.exit(EXIT_FAILURE)


def _recent(stamps: list[Any]) -> list[str]:
    from loop_engine.events import parse_iso, utcnow

    out = []
    for stamp in stamps:
        try:
            if (utcnow() - parse_iso(str(stamp))).total_seconds() < 3600:
                out.append(str(stamp))
        except ValueError:
            continue
    return out


def state_problem(paths: EnginePaths, cache: ReadCache | None = None) -> str | None:
    """Why .loop/orchestrator-state.json cannot be used (the engine keeps it as it is and writes no lanes
    into it), or None when it can or is not there; from `cache` while the file is unchanged."""

    def compute() -> tuple[str | None, list[Path]]:
        if not paths.state_file.exists():
            return None, [paths.state_file]
        from loop_schemas.errors import SchemaError
        from loop_schemas.state import load_state

        try:
            load_state(paths.state_file)
        except SchemaError as exc:
            return f"the state file cannot be used: {exc}", [paths.state_file]
        return None, [paths.state_file]

    if cache is None:
        return compute()[0]

    def decode(value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            raise TypeError("not a problem")
        return value

    problem: str | None = cache.verdict("state", (), compute, decode, lambda value: value)
    return problem


def status_doc(obj: Ctx) -> dict[str, Any]:
    from loop_engine import queue as q
    from loop_engine import watch
    from loop_engine.events import iso, parse_iso, utcnow
    from loop_engine.readcache import ReadCache
    from loop_engine.store import StoreError, read_json

    paths = obj.paths
    reads = ReadCache(paths.loop_dir)
    cfg = obj.facts(reads)
    pending = q.read_pending(paths)
    if pending is not None:
        from loop_schemas.pending import PendingDecision

        PendingDecision.model_validate(pending)
    warnings = list(cfg.warnings)

    def aux(path: Path, default: Any, item: type) -> Any:
        # status is how a human finds out what is wrong: a damaged side file is a warning, not a failure
        try:
            value = read_json(path, default)
        except StoreError as exc:
            warnings.append(f"{exc}; it is ignored here, move it aside")
            return default
        items = value.values() if isinstance(value, dict) else value
        if path not in (paths.budget, paths.backoff) and not all(isinstance(v, item) for v in items):
            warnings.append(f"{path}: unexpected entries; it is ignored here, move it aside")
            return default
        return value

    budget = aux(paths.budget, {}, object)
    backoff = aux(paths.backoff, {}, object)
    asks = aux(paths.asks, {}, dict)
    calls = budget.get("calls", [])
    active_backoff = None
    if backoff.get("until"):
        try:
            if parse_iso(str(backoff["until"])) > utcnow():
                active_backoff = {
                    "until": backoff["until"],
                    "reason": backoff.get("reason"),
                    "kind": backoff.get("kind") or "quota",  # model-unavailable | quota (an addition)
                    "harness": backoff.get("harness"),
                    "model": backoff.get("model"),
                }
        except ValueError:
            pass
    daemon = watch.daemon_info(paths)
    problem = state_problem(paths, reads)
    reads.save()
    if problem:
        warnings.append(problem)
    if daemon["warning"]:
        warnings.append(daemon["warning"])
    uncertain = aux(paths.uncertain, [], dict)
    views: list[dict[str, Any]] = []
    if pending is not None:
        held = aux(paths.assignments, {}, dict)
        lane_tasks = {
            str(a.get("lane")): str(tid) for tid, a in held.items() if a.get("state") == "in-progress"
        }
        from loop_schemas.decision_view import action_views, task_titles

        views = [
            v.model_dump(mode="json")
            for v in action_views(pending, titles=task_titles(paths.tasks_dir), lane_tasks=lane_tasks)
        ]
    if uncertain:
        warnings.append(
            f"{len(uncertain)} action(s) may have been sent before a crash: check the lane, then run "
            "`loop-engine resolve ID --sent` or `--not-sent`"
        )
    return {
        "contract_version": 1,
        "session": paths.session,
        "project_root": str(paths.project_root),
        "generated_at": iso(),
        "approval_mode": cfg.approval_mode,
        "brain_harness": cfg.brain_harness,
        "pending": pending,
        "pending_digest": q.pending_digest(paths) if pending is not None else None,
        "daemon": daemon,
        "budget": {
            "calls_last_hour": len(_recent(calls if isinstance(calls, list) else [])),
            "max_calls_per_hour": cfg.max_calls_per_hour,
        },
        "backoff": active_backoff,
        "asks": {
            "open": sum(1 for a in asks.values() if a.get("state") == "open"),
            "timed_out": sum(1 for a in asks.values() if a.get("state") == "timed-out"),
        },
        "uncertain": uncertain,
        "warnings": warnings,
        "actions": views,
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON document.")
@click.pass_obj
def status(obj: Ctx, as_json: bool) -> None:
    """The pending decision, the daemon, the brain budget and back-off, warnings."""
    from loop_schemas.plain import printable

    doc = status_doc(obj)
    if as_json:
        _emit(doc)
        return
    d = doc["daemon"]
    state = "running" if d["running"] else "not running"
    if d["paused"]:
        state += ", paused"
    since = f" (pid {d['pid']}, since {d['started_at']})" if d["running"] else ""
    click.echo(f"daemon: {state}{since}")
    if d["running"] and d["pid"] is not None and d.get("code"):  # the lines loop-restart waits for (added)
        age = d.get("heartbeat_age_s")
        click.echo(f"watch: alive (pid {d['pid']}, heartbeat {age if age is not None else '?'}s ago)")
        click.echo(f"code: {d['code']}")
    budget = doc["budget"]
    click.echo(
        f"approval: {doc['approval_mode']}  brain: {doc['brain_harness']}  "
        f"calls last hour: {budget['calls_last_hour']}/{budget['max_calls_per_hour']}"
    )
    if doc["backoff"]:
        click.echo(f"brain backing off until {doc['backoff']['until']}")
    pending = doc["pending"]
    if pending is None:
        click.echo("no pending decision")
    else:
        click.echo(f"pending decision {pending['id']} ({pending.get('created_at')})")
        critique = " ".join(str(pending["decision"].get("critique", "")).split())
        click.echo(f"  critique: {printable(critique, multiline=False)}")
        for view in doc["actions"]:
            _echo_action(view)
    for u in doc["uncertain"]:
        click.echo(f"uncertain: {u.get('id')} {u.get('kind')} {u.get('target')} (may have been sent)")
    for w in doc["warnings"]:
        click.echo(f"warning: {w}", err=True)


def _echo_action(view: dict[str, Any]) -> None:
    """One action of the pending decision as the gate shows it; every text from the brain or a task file
    is data: control characters made visible."""
    from loop_schemas.plain import printable

    def show(text: Any) -> str:
        return printable(str(text), multiline=False)

    target = f" {show(view['lane'])}" if view.get("lane") else ""
    click.echo(f"  [{view['index']}] {view['kind']}{target} - {view['gate_class']}, {view['state']}")
    for reason in view.get("reasons", []):
        click.echo(f"       gate: {show(reason)}")
    if view.get("task"):
        title = f" {show(view['task_title'])}" if view.get("task_title") else ""
        click.echo(f"       task: {show(view['task'])}{title}")
    rationale = " ".join(str(view.get("rationale", "")).split())
    click.echo(f"       why: {show(rationale)}")
    for i, line in enumerate(view.get("preview", [])):
        click.echo(f"       {'sends: ' if i == 0 else '       '}{show(line)}")


@main.command()
@click.argument("decision_id")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option(
    "--expect-digest",
    metavar="SHA256",
    default=None,
    help="Run nothing unless pending-decision.json still has this sha256 (status --json: pending_digest), "
    "i.e. the decision is exactly the one reviewed.",
)
@click.pass_obj
def approve(obj: Ctx, decision_id: str, as_json: bool, expect_digest: str | None) -> None:
    """Run the pending decision's queued actions (blocked ones never run), archive and file it.

    Exit 1 when any action failed (it is recorded, never retried)."""
    result = obj.engine().approve(decision_id, expect_digest=expect_digest)
    failed = [o for o in result["outcomes"] if o["state"] != "done"]
    if as_json:
        _emit(result)
    else:
        done = len(result["outcomes"]) - len(failed)
        click.echo(f"approved {decision_id}: {done} action(s) run, {len(failed)} failed")
    for o in failed:
        click.echo(f"loop-engine: action {o['index']} failed: {o.get('error')}", err=True)
    if failed:
        sys.exit(EXIT_FAILURE)


@main.command()
@click.argument("decision_id")
@click.option("--reason", default=None, help="Why (recorded in the archive and events).")
@click.pass_obj
def reject(obj: Ctx, decision_id: str, reason: str | None) -> None:
    """Reject the pending decision: nothing runs; it is archived with the reason."""
    obj.engine().reject(decision_id, reason)
    click.echo(f"rejected {decision_id}")


@main.command()
@click.argument("action_id")
@click.option("--sent", "sent", flag_value=True, default=None, help="It did arrive: record it as done.")
@click.option("--not-sent", "sent", flag_value=False, help="It did not arrive: drop it (never re-sent).")
@click.pass_obj
def resolve(obj: Ctx, action_id: str, sent: bool | None) -> None:
    """Settle an action a crash left uncertain (see status), after checking the lane by hand."""
    if sent is None:
        raise click.UsageError("say --sent or --not-sent")
    obj.engine().resolve(action_id, sent=sent)
    click.echo(f"resolved {action_id} as {'sent' if sent else 'not sent'}")


@main.command("watch")
@click.option("--foreground", is_flag=True, help="Run in this process instead of detaching.")
@click.pass_obj
def watch_cmd(obj: Ctx, foreground: bool) -> None:
    """Start the daemon (a singleton): cycles on triggers, zero brain calls while nothing changes."""
    from loop_engine import watch

    if foreground:
        # Linux: each cycle runs in a forked child (watch.Forked), so the daemon's own process never
        # loads the cycle's code and models: the boot check too runs in a child
        forked = _forked(obj) if sys.platform.startswith("linux") else None
        if forked is None:
            _boot(obj)
        else:
            _boot_forked(obj)
        daemon = watch.Daemon(obj.paths, lambda abort: obj.engine(abort=abort), forked=forked)
        sys.exit(daemon.run())
    engine = obj.engine()
    boot_check(engine)
    engine.require_session()  # a daemon for a session that is not there would only crash-loop
    pid = watch.spawn(obj.paths, obj.argv_prefix())
    click.echo(f"loop-engine watch started (pid {pid}); log: {obj.paths.daemon_log}")


def _boot(obj: Ctx) -> None:
    obj.config()  # fail fast on a bad config
    boot_check(obj.engine())


def _boot_forked(obj: Ctx) -> None:
    """_boot in a forked child (its models stay there): what it printed is printed here, its exit is ours."""
    from loop_engine import watch

    report, _status = watch.run_forked(lambda: _boot_report(obj))
    if report is None or "code" not in report:
        _fail(str((report or {}).get("error") or "the boot check's process ended without an answer"))
    click.echo(str(report["stdout"]), nl=False)
    click.echo(str(report["stderr"]), nl=False, err=True)
    if report["code"]:
        sys.exit(int(report["code"]))


def _boot_report(obj: Ctx) -> dict[str, Any]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _boot_code(obj)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _boot_code(obj: Ctx) -> int:
    """_boot's exit code, its problems said as the CLI says them."""
    try:
        _boot(obj)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_FAILURE)
    except Exception as exc:
        click.ClickException(_one_line(exc)).show()
        return EXIT_FAILURE
    return 0


def _forked(obj: Ctx) -> watch_mod.Forked:
    """The daemon's forked mode: its poll reads the lanes' words, and asks after a session that went away,
    with no model."""
    from loop_substrate import Substrate

    from loop_engine import watch

    substrate = Substrate(
        obj.paths.session, obj.paths.project_root, os.environ.get("LOOP_TMUX_SOCKET") or None
    )
    return watch.Forked(lanes=substrate.lane_states, session=substrate.probe_session)


@main.command("stop")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0))
@click.pass_obj
def stop_cmd(obj: Ctx, timeout: float) -> None:
    """Stop the daemon and wait until it is gone (SIGKILL after --timeout)."""
    from loop_engine import watch

    stopped = watch.stop(obj.paths, timeout)
    click.echo("daemon stopped" if stopped else "no daemon running")


@main.command()
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait for the old daemon to exit before SIGKILL.",
)
@click.pass_obj
def restart(obj: Ctx, timeout: float) -> None:
    """Stop the daemon, confirm it is dead, start a new one (never two at once)."""
    from loop_engine import watch

    watch.stop(obj.paths, timeout)
    if watch.daemon_alive(obj.paths):
        _fail("the old daemon is still alive; not starting another")
    pid = watch.spawn(obj.paths, obj.argv_prefix())
    click.echo(f"loop-engine watch restarted (pid {pid})")


@main.command("pause")
@click.pass_obj
def pause_cmd(obj: Ctx) -> None:
    """Hold the daemon's cycles (it keeps running and observing) until resume."""
    from loop_engine import watch
    from loop_engine.events import EventLog

    watch.pause(obj.paths)
    EventLog(obj.paths.events, obj.paths.session).emit("paused")
    click.echo("paused")


@main.command("resume")
@click.pass_obj
def resume_cmd(obj: Ctx) -> None:
    """Let the daemon cycle again."""
    from loop_engine import watch
    from loop_engine.events import EventLog

    watch.resume(obj.paths)
    EventLog(obj.paths.events, obj.paths.session).emit("resumed")
    click.echo("resumed")


@main.command("cycle-now")
@click.pass_obj
def cycle_now(obj: Ctx) -> None:
    """Ask the running daemon for a cycle now (skips debounce and the unchanged-observation check)."""
    from loop_engine import watch

    watch.request_cycle(obj.paths)
    if not watch.daemon_alive(obj.paths):
        click.echo("no daemon running: the request waits for `watch` (or run `once`)", err=True)
    else:
        click.echo("cycle requested")


@main.command()
@click.option("--since", default=None, help="An event id (events after it) or an ISO-8601 time.")
@click.option("--json", "as_json", is_flag=True, help="Print {contract_version, session, events}.")
@click.pass_obj
def events(obj: Ctx, since: str | None, as_json: bool) -> None:
    """The engine's events, oldest first."""
    from loop_engine.events import EventLog

    log = EventLog(obj.paths.events, obj.paths.session)
    try:
        records = list(log.read(since))
    except ValueError:
        raise click.BadParameter(
            "not an event id (e-...) or an ISO-8601 time", param_hint="--since"
        ) from None
    if as_json:
        _emit({"contract_version": 1, "session": obj.paths.session, "events": records})
        return
    skip = {"contract_version", "id", "timestamp", "session", "event"}
    for r in records:
        extra = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in r.items() if k not in skip)
        click.echo(f"{r.get('timestamp')} {r.get('event')} {extra}".rstrip())


@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print the effective config as JSON.")
@click.pass_obj
def config_cmd(obj: Ctx, as_json: bool) -> None:
    """The effective engine config (lane-config.yaml engine:, host overlay, env)."""
    from loop_engine.readcache import ReadCache

    reads = ReadCache(obj.paths.loop_dir)
    cfg = obj.facts(reads)
    reads.save()
    doc = {
        "contract_version": 1,
        "source": cfg.source,
        "sources": cfg.sources,
        "env_overrides": cfg.env_overrides,
        "warnings": cfg.warnings,
        "engine": cfg.engine,
    }
    if as_json:
        _emit(doc)
        return
    click.echo(f"# source: {' + '.join(cfg.sources) if cfg.sources else '(none: defaults)'}")
    for var, value in cfg.env_overrides.items():
        click.echo(f"# env: {var}={value}")
    import yaml

    click.echo(yaml.safe_dump({"engine": doc["engine"]}, sort_keys=False).rstrip())
    for w in cfg.warnings:
        click.echo(f"warning: {w}", err=True)


main.add_command(improve_command)


def run() -> None:
    """The console-script entry point: the command, then the process ends at once (see _end)."""
    try:
        main(prog_name="loop-engine")
    except SystemExit as exc:
        _end(exc.code)
    _end(0)


def _end(code: object) -> NoReturn:
    """End the process with `code` (SystemExit's meaning) without tearing the interpreter down: freeing
    every module, model class and validator one by one costs a cycle's process more CPU than most of its
    work (shell/lib/codecache.py does the same). The atexit handlers run and the output is flushed first;
    while another thread is alive, or the output cannot be flushed, the interpreter ends as usual."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        raise SystemExit(code)
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    if code is None or isinstance(code, int):
        os._exit(code or 0)
    sys.stderr.write(f"{code}\n")
    sys.stderr.flush()
    os._exit(1)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run()
