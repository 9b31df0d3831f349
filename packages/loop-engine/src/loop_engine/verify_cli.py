"""loop-verify: verify a change headlessly -- the project's gate, the diff, three review lenses.

`loop-verify --worktree W --base B --tip T [--out F] [--harness H] [--json]`. Exit 0 only when the
overall verdict is pass; 1 for concerns or fail (and for a run that could not finish, with one line on
stderr and no report); 2 for a usage error (one line); 128+N when stopped by signal N (its children
are stopped first). Only click is imported before a command runs (`--help` stays fast).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

import loop_engine

EXIT_PASS = 0
EXIT_NOT_PASS = 1
EXIT_USAGE = 2


def _say(line: str) -> None:
    click.echo(f"loop-verify: {line}", err=True)


def _usage(message: str) -> NoReturn:
    _say(f"error: {message}")
    sys.exit(EXIT_USAGE)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--worktree", required=True, help="The change's git worktree (the gate and the lenses run there)."
)
@click.option("--base", required=True, help="The base revision (e.g. main).")
@click.option("--tip", required=True, help="The tip revision verified (e.g. the lane's branch).")
@click.option("--out", default=None, help="Write the report JSON here (atomically; folders are made).")
@click.option(
    "--harness",
    default=None,
    help="The lenses' harness (its one-shot template). Default: engine.brain.harness. "
    "Env LOOP_VERIFY_CMD wins.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report JSON instead of the summary.")
@click.option(
    "--gate-cmd",
    default=None,
    help='The gate command (split shell-style; "" = no gate). '
    "Default: engine.verify.gate_cmd, else detected.",
)
@click.option(
    "--gate-timeout",
    type=float,
    default=None,
    help="Seconds for the gate (default engine.verify.gate_timeout_s, 900).",
)
@click.option(
    "--lens-timeout",
    type=float,
    default=None,
    help="Seconds for each lens (default engine.verify.lens_timeout_s, 300).",
)
@click.option(
    "--project-root",
    envvar="LOOP_PROJECT_ROOT",
    default=None,
    help="Where the lane-config (engine: section) is read. Env LOOP_PROJECT_ROOT; "
    "default: the checkout that owns the worktree.",
)
@click.version_option(loop_engine.__version__, prog_name="loop-verify")
def main(
    worktree: str,
    base: str,
    tip: str,
    out: str | None,
    harness: str | None,
    as_json: bool,
    gate_cmd: str | None,
    gate_timeout: float | None,
    lens_timeout: float | None,
    project_root: str | None,
) -> int:
    """Verify the change BASE..TIP of a worktree: the gate (`make check`, else `uv run pytest`, or
    engine.verify.gate_cmd), then three one-shot review lenses in parallel (code-review,
    silent-failure, adversarial), each answering one ```verdict JSON block. Overall: fail > concerns >
    pass. Exit 0 only for pass, 1 for concerns or fail, 2 for a usage error.

    A LOOP_VERIFY_CMD lens command gets the prompt on its stdin and LOOP_VERIFY_LENS=<lens> in its
    environment; a harness's one-shot template gets the prompt as one argument.
    """
    from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked

    # after parsing (--help stays light), before any model is built (CONTRACT.md: pydantic plugins)
    no_pydantic_plugins_unless_asked()
    import math

    from loop_engine import config as config_mod
    from loop_engine import verify as v

    for flag, value in (("--gate-timeout", gate_timeout), ("--lens-timeout", lens_timeout)):
        if value is not None and not (math.isfinite(value) and value > 0):
            _usage(f"{flag} {value:g}: must be a positive number of seconds")
    out_path = Path(out) if out else None
    if out_path is not None and out_path.is_dir():
        _usage(f"--out {out}: is a directory")
    try:
        tree = v.resolve_worktree(Path(worktree))
        base_sha = v.resolve_commit(tree, base, "--base")
        tip_sha = v.resolve_commit(tree, tip, "--tip")
        try:
            cfg = config_mod.load(Path(project_root) if project_root else v.main_checkout(tree))
        except config_mod.ConfigError as exc:
            raise v.VerifyUsageError(str(exc)) from None
        vcfg = cfg.model.verify
        configured: str | list[str] | None = vcfg.gate_cmd if gate_cmd is None else gate_cmd
        gate_argv, gate_why = v.gate_command(tree, configured)

        def registry() -> list[Any]:
            from loop_substrate import Substrate

            return Substrate("loop-verify", tree).registry()

        bcfg = cfg.model.brain
        runner, unavailable = v.choose_runner(
            harness, cfg.brain_harness, bcfg.model, [str(a) for a in bcfg.extra_args], registry
        )
    except v.VerifyUsageError as exc:
        _usage(str(exc))
    plan = v.VerifyPlan(
        worktree=tree,
        base=base_sha,
        tip=tip_sha,
        gate_argv=gate_argv,
        gate_why=gate_why,
        gate_timeout_s=gate_timeout or vcfg.gate_timeout_s,
        lens_timeout_s=lens_timeout or vcfg.lens_timeout_s,
        runner=runner,
        runner_unavailable=unavailable,
        progress=_say,
    )
    if unavailable:
        _say(f"warning: the lenses cannot run: {unavailable}")
    groups = v.ProcessGroups()

    def stop(signum: int, _frame: FrameType | None) -> None:
        groups.kill_all()
        _say(f"stopped by signal {signum}; its gate and lens processes were stopped")
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    report = v.verify(plan, groups)
    doc = report.model_dump(mode="json")
    if out_path is not None:
        from loop_schemas import atomic_write

        out_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        click.echo(v.summary(report, out_path))
    return EXIT_PASS if report.overall == "pass" else EXIT_NOT_PASS


def run() -> None:
    """The console-script entry point: every error is one line; usage errors exit 2."""
    try:
        code = main.main(prog_name="loop-verify", standalone_mode=False)
    except click.UsageError as exc:
        _usage(exc.format_message().strip().splitlines()[0])
    except click.Abort:
        sys.exit(130)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_NOT_PASS)
    except Exception as exc:
        from loop_schemas.errors import describe_error

        text = str(exc).strip()
        _say(f"error: {text.splitlines()[0] if text else describe_error(exc)}")
        sys.exit(EXIT_NOT_PASS)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    run()
