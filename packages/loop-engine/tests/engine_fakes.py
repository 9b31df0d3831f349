"""Test doubles for loop-engine's unit tests: a project on disk and a fake substrate (no tmux)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_engine.paths import EnginePaths
from loop_schemas import Harness, Lane, LaneStatus

AI = ("pi", "claude", "codex", "opencode", "amp")


def retry_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s (last value: {last!r})")


class FakeSubstrateError(Exception):
    pass


@dataclass
class FakeSubstrate:
    """Records every side effect; lanes are {name: [status, harness, base, detail, role]}."""

    lanes: dict[str, list[Any]] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    fail_lanes: set[str] = field(default_factory=set)
    checkpoint: str = "## checkpoint.md\nall quiet\n"
    oneshot: dict[str, str] = field(default_factory=dict)
    status_calls: int = 0
    on_dispatch: Callable[[str, str], None] | None = None

    def set(
        self,
        name: str,
        status: str = "idle",
        harness: str | None = "pi",
        base: bool = False,
        detail: str | None = None,
        role: str | None = None,
    ) -> None:
        self.lanes[name] = [status, harness, base, detail, role]

    def lane_status(self, lane: str | None = None) -> list[LaneStatus]:
        self.status_calls += 1
        return [
            LaneStatus(
                lane=n,
                status=v[0],
                target=f"%{i}",
                kind="fixed" if v[2] else "dynamic",
                detail=v[3],
                harness=v[1],
            )
            for i, (n, v) in enumerate(self.lanes.items())
            if lane in (None, n)
        ]

    def list_lanes(self) -> list[Lane]:
        return [
            Lane(
                window=n,
                harness=v[1],
                model=None,
                role=v[4],
                cmd=None,
                base=v[2],
                kind="standing" if v[2] else "worker",
            )
            for n, v in self.lanes.items()
        ]

    def registry(self) -> list[Harness]:
        out = [
            Harness(name=n, kind="ai", oneshot_template=self.oneshot.get(n, ""), model_flag="--model")
            for n in AI
        ]
        out += [Harness(name="shell", kind="shell"), Harness(name="mprocs", kind="tool")]
        return out

    def dispatch(
        self,
        lane: str,
        text: str,
        *,
        mode: str = "text",
        interrupt: bool = False,
        wait_ready: float | bool | None = None,
        no_clear: bool = False,
        verify: bool = False,
        no_enter: bool = False,
    ) -> None:
        if lane in self.fail_lanes:
            raise FakeSubstrateError(f"loop-dispatch: lane {lane} not delivered")
        if self.on_dispatch is not None:
            self.on_dispatch(lane, text)
        self.sent.append(
            {"lane": lane, "text": text, "mode": mode, "interrupt": interrupt, "wait_ready": wait_ready}
        )

    def add_lane(self, window: str, **kw: Any) -> None:
        self.added.append({"window": window, **kw})
        self.set(window, "idle", kw.get("harness"), False)

    def drop_lane(self, window: str, *, force: bool = False) -> None:
        self.dropped.append({"window": window, "force": force})
        self.lanes.pop(window, None)

    panes: dict[str, str] = field(default_factory=dict)
    capture_error: str | None = None

    def capture(self, lane: str, lines: int = 50) -> str:
        if self.capture_error is not None:
            raise FakeSubstrateError(self.capture_error)
        return "\n".join(self.panes.get(lane, "").splitlines()[-lines:])

    def checkpoint_prompt(self, header_file: Path | None = None) -> str:
        header = header_file.read_text() if header_file else ""
        return header + self.checkpoint

    checkpoint_starts: list[Path | None] = field(default_factory=list)

    def start_checkpoint(self, header_file: Path | None = None) -> bool:
        """Nothing runs ahead here: checkpoint_prompt answers in-process (the real early start and its
        checks are loop_substrate's, tested there and end to end)."""
        self.checkpoint_starts.append(header_file)
        return False

    def drop_early(self) -> None:
        return None

    project_root: Path | None = None
    mails: list[dict[str, Any]] = field(default_factory=list)

    def send_mail(self, sender: str, recipient: str, subject: str, body: str = "") -> Path:
        """The real writer: loop-substrate's send_mail runs `loop-mail send` (no tmux involved)."""
        from loop_substrate import Substrate

        assert self.project_root is not None
        path = Substrate("s", self.project_root).send_mail(sender, recipient, subject, body)
        self.mails.append({"from": sender, "to": recipient, "subject": subject, "body": body, "path": path})
        return path

    def sweep_mail(self, mailbox: Path | None = None) -> list[Path]:
        """The real sweep: loop-substrate's sweep_mail runs `loop-mail sweep` (no tmux involved)."""
        from loop_substrate import Substrate

        assert self.project_root is not None
        return Substrate("s", self.project_root).sweep_mail(mailbox)


TASK = """---
id: {id}
title: {title}
status: {status}
depends_on: [{deps}]
scope: one thing
---

## Objective
Do {title}.

## Context you need
None.

## Deliverables
A thing.

## Acceptance criteria
It works.

## Verification
Run it.

## Out of scope
Everything else.
"""


@dataclass
class Project:
    root: Path
    paths: EnginePaths
    substrate: FakeSubstrate

    def task(
        self,
        tid: str,
        title: str = "thing",
        status: str = "open",
        deps: tuple[str, ...] = (),
        archived: bool = False,
    ) -> Path:
        folder = self.root / "tasks" / ("archive" if archived else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{tid}-{title.replace(' ', '-')}.md"
        path.write_text(TASK.format(id=tid, title=title, status=status, deps=", ".join(deps)))
        return path

    seq: int = 0

    def mail(
        self,
        sender: str,
        to: str = "coord",
        subject: str | None = "hello",
        body: str = "body\n",
        extra: str = "",
        stamp: str | None = None,
    ) -> Path:
        """A pending message, its name stamped now (UTC, as loop-mail does) unless `stamp` is given;
        same-second messages get .2, .3, ... as loop-mail's do."""
        import datetime as dt

        self.seq += 1
        stamp = stamp or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        box = self.root / ".loop" / "messages"
        n = 1
        while True:
            name = f"{stamp}-{sender}-to-{to}{'' if n == 1 else f'.{n}'}.md"
            if not (box / name).exists() and not (box / "processed" / name).exists():
                break
            n += 1
        head = f"subject: {subject}\n" if subject is not None else ""
        path = box / name
        path.write_text(f"---\n{head}{extra}---\n{body}")
        return path

    def engine(self, config: EffectiveConfig | None = None, **overrides: Any) -> Engine:
        from loop_schemas import EngineConfig

        brain_fn = overrides.pop("brain_fn", None)
        cfg = config or EffectiveConfig(model=EngineConfig.model_validate(overrides), source=None)
        return Engine(self.paths, self.substrate, cfg, brain_fn=brain_fn)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        from loop_engine.events import EventLog

        return [e for e in EventLog(self.paths.events, "s").read() if kind in (None, e["event"])]


def make_project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text(
        "# Checkpoint\n\nstate above\n\n<!-- coord-decisions -->\n"
    )
    (root / "tasks" / "archive").mkdir(parents=True)
    sub = FakeSubstrate()
    sub.set("coord", "idle", None, True)
    sub.set("web", "idle", "pi", True)
    sub.set("infra", "idle", "claude", True)
    sub.set("docs", "working", "pi", True)
    sub.set("ops-top", "idle", "shell", True)
    sub.project_root = root
    return Project(root=root, paths=EnginePaths(root, "s"), substrate=sub)


# ---- for the CLI and watch tests (shared here: a test module importing another test module by its bare
# name breaks when pytest collects several packages' tests/ folders, each with a test_cli.py)

SESSION = "s1"


def lane_report(lanes: dict[str, tuple[str, str | None, str]]) -> dict[str, Any]:
    return {
        "contract_version": 1,
        "session": SESSION,
        "generated_at": "2026-01-01T00:00:00Z",
        "lanes": {
            name: {"status": st, "target": f"%{i}", "kind": kind, "harness": h, "detail": "ready"}
            for i, (name, (st, h, kind)) in enumerate(lanes.items())
        },
    }


def lane_list(lanes: dict[str, tuple[str, str | None, str]]) -> dict[str, Any]:
    return {
        "contract_version": 1,
        "session": SESSION,
        "generated_at": "2026-01-01T00:00:00Z",
        "lanes": [
            {
                "window": name,
                "harness": h,
                "model": None,
                "role": None,
                "cmd": None,
                "base": kind == "fixed",
                "kind": "standing" if kind == "fixed" else "worker",
            }
            for name, (_st, h, kind) in lanes.items()
        ],
    }


REGISTRY = {
    "contract_version": 1,
    "harnesses": [
        {"name": "pi", "kind": "ai", "oneshot_template": "pi -p {prompt}"},
        {"name": "claude", "kind": "ai", "oneshot_template": "claude -p {prompt}"},
        {"name": "shell", "kind": "shell"},
    ],
}


def respond_registry(fake: FakeSubstrate, registry: dict[str, Any]) -> None:
    """FakeSubstrate.respond() drops the `.sh` of `lib/harness-registry.sh` (Path.with_suffix), so the
    recorder never finds the answer; write the files under the name the recorder reads."""
    base = fake.root / "responses" / "lib__harness-registry.sh"
    Path(f"{base}.out").write_text(json.dumps(registry) + "\n")
    Path(f"{base}.code").write_text("0")
