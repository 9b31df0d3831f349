"""The `loop-engine improve` command (registered on the main group in cli.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the improver (and the cycle machinery under it) is imported when the command runs
    from loop_engine.improve import Improver

VERBS = "--list, --show N, --apply N, --judge, --revert N"


def _emit(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _improver(obj: Any) -> Improver:
    from loop_engine.improve import Improver

    cfg = obj.config()
    return Improver(obj.paths, cfg, engine=obj.engine)


def _print_run(doc: dict[str, Any]) -> None:
    weak = doc["weaknesses"]
    if not weak:
        click.echo("no weakness mined: no proposal, no brain call")
        return
    by_sig = {p["signature"]: p["id"] for p in doc["proposals"]}
    skipped = {s["signature"]: s["reason"] for s in doc["skipped"]}
    click.echo(f"mined {len(weak)} weakness cluster(s):")
    for w in weak:
        sig = w["signature"]
        if sig in by_sig:
            tail = f"-> #{by_sig[sig]}"
        elif sig in skipped:
            tail = f"({skipped[sig]})"
        else:
            tail = "(no proposal)"
        click.echo(f"  {sig}  x{w['count']}  {tail}")
    for r in doc["rejected"]:
        what = r.get("signature") or "?"
        click.echo(f"rejected ({what}, {r.get('surface') or '?'}): {r['reason']}", err=True)
    if not doc["proposals"]:
        click.echo("no proposal filed")
        return
    click.echo(f"filed {len(doc['proposals'])} proposal(s); nothing changes until `improve --apply N`:")
    for p in doc["proposals"]:
        click.echo(f"  #{p['id']} {p['surface']}  {p['signature']}  {p['title']}")


def _print_list(proposals: list[dict[str, Any]]) -> None:
    if not proposals:
        click.echo("no proposals (run `loop-engine improve`)")
        return
    for p in proposals:
        click.echo(f"#{p['id']} {p['state']:<9} {p['surface']:<6} {p['signature']}  {p['title']}")


def _print_show(doc: dict[str, Any]) -> None:
    p = doc["proposal"]
    click.echo(f"#{p['id']} {p['state']}  surface: {p['surface']}  file: {p['path'] or '-'}")
    shown = ", ".join(p["evidence"][-5:])
    click.echo(f"signature: {p['signature']} ({p['count']} occurrence(s); evidence: {shown or '-'})")
    click.echo(f"title: {p['title']}")
    click.echo(f"rationale: {p['rationale']}")
    if p.get("baseline"):
        click.echo("baseline: " + " ".join(f"{k}={p['baseline'].get(k)}" for k in _FIGURES))
    if doc["note"]:
        click.echo(f"note: {doc['note']}")
    if doc["diff"]:
        click.echo(doc["diff"], nl=False)


_FIGURES = ("checkpoint_tokens", "pending", "lane_restarts", "lane_giveups")


@click.command("improve")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--list", "list_", is_flag=True, help="List every filed proposal and its state.")
@click.option(
    "--show", type=click.IntRange(min=1), default=None, metavar="N", help="Proposal N and its diff."
)
@click.option(
    "--apply",
    "apply_",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Apply proposal N (records the loop-metrics baseline first).",
)
@click.option("--judge", is_flag=True, help="After three cycles: keep, or mark regressed, each applied one.")
@click.option(
    "--revert", type=click.IntRange(min=1), default=None, metavar="N", help="Restore N's surface exactly."
)
@click.pass_obj
def improve_command(
    obj: Any,
    as_json: bool,
    list_: bool,
    show: int | None,
    apply_: int | None,
    judge: bool,
    revert: int | None,
) -> None:
    """Mine weaknesses from the engine's traces and file at most three proposals (nothing applies
    without --apply N); or work the filed ones."""
    chosen = [list_, show is not None, apply_ is not None, judge, revert is not None]
    if sum(chosen) > 1:
        raise click.UsageError(f"use at most one of {VERBS}")
    from loop_engine.improve import ImproveError

    try:
        imp = _improver(obj)
        if list_:
            docs = [p.model_dump(mode="json") for p in imp.proposals()]
            if as_json:
                _emit({"contract_version": 1, "session": obj.paths.session, "proposals": docs})
            else:
                _print_list(docs)
        elif show is not None:
            doc = imp.show(show)
            if as_json:
                _emit(doc)
            else:
                _print_show(doc)
        elif apply_ is not None:
            p = imp.apply(apply_)
            if as_json:
                _emit({"contract_version": 1, "proposal": p.model_dump(mode="json")})
            else:
                base = " ".join(f"{k}={(p.baseline or {}).get(k)}" for k in _FIGURES)
                click.echo(f"applied #{p.id} to {p.path} (baseline: {base})")
                click.echo("judge it after three cycles: loop-engine improve --judge")
        elif judge:
            doc = imp.judge()
            if as_json:
                _emit(doc)
                return
            if not doc["judged"]:
                click.echo("no applied experiment to judge")
            for j in doc["judged"]:
                if j["verdict"] == "waiting":
                    click.echo(f"#{j['id']} waiting: {j['cycles']}/{j['needed']} cycles since --apply")
                elif j["verdict"] == "kept":
                    click.echo(f"#{j['id']} kept: no figure regressed over {j['cycles']} cycles")
                else:
                    worse = ", ".join(
                        f"{r['figure']} {r['baseline']} -> {r['current']}" for r in j["regressions"]
                    )
                    click.echo(
                        f"#{j['id']} regressed: {worse}; revert it: loop-engine improve --revert {j['id']}"
                    )
        elif revert is not None:
            p = imp.revert(revert)
            if as_json:
                _emit({"contract_version": 1, "proposal": p.model_dump(mode="json")})
            else:
                how = (
                    "removed (it did not exist before)" if not p.existed_before else "restored byte for byte"
                )
                click.echo(f"reverted #{p.id}: {p.path} {how}")
        else:
            doc = imp.run()
            if as_json:
                _emit(doc)
            else:
                _print_run(doc)
    except ImproveError as exc:
        raise click.ClickException(str(exc)) from None
