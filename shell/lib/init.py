#!/usr/bin/env python3
"""init.py: scaffold an operated project for loop-orchestrator, idempotently (stdlib only, py3.8+).

Creates what is missing and never touches what exists (each file is created with O_EXCL, so even a
concurrent writer is never overwritten):

  .loop/orchestrator-state.json   schema v2, empty loops
  .loop/messages/processed/
  ops-wiki/index.md  ops-wiki/log.md  ops-wiki/checkpoint.md (one <!-- coord-decisions --> line)
  ops-wiki/lanes/  ops-wiki/loops/
  tasks/README.md  tasks/archive/
  docs/adr/
  AGENTS.md                       the operating rules for the project's lanes (unless --no-agents)
  lane-config.yaml                a starter (lanes + a manual-mode engine: section; unless --no-lane-config;
                                  --profile janitor|partner: that profile's engine: block instead,
                                  from templates/profiles/<name>.engine.yaml)

CLI: init.py --project-root P [--project NAME] [--profile NAME] [--no-agents] [--no-lane-config]
             [--dry-run] [--json]
Prints `created <path>` / `exists  <path>` per item (or JSON {contract_version, project_root,
created: [...], existing: [...]}).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

CONTRACT_VERSION = 1
PROG = "loop-init"
MARKER = "<!-- coord-decisions -->"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InitError(Exception):
    """A one-line, user-facing error."""


def _state(now: str) -> str:
    return json.dumps({"schema_version": 2, "updated_at": now, "loops": {}}, indent=2) + "\n"


INDEX = """\
# ops-wiki index

The coordinator's memory for {project}, kept on disk. The docs lane compiles this index, `log.md`,
the loop pages and the top of `checkpoint.md`; each lane writes only its own page under `lanes/`
(see AGENTS.md, "Who writes what").

- [checkpoint](checkpoint.md): the compiled state the coordinator reads at every checkpoint
- [log](log.md): append-only, one dated `## [YYYY-MM-DD] <kind> | <text>` line per event
- lanes/: one page per lane
- loops/: one page per loop
"""

LOG = """\
# ops-wiki log

Append-only. One line per event: `## [YYYY-MM-DD] <kind> | <text>` (kinds: ingest, checkpoint, lint,
metrics, task, sync, decision). Never edit or delete a line.

## [{date}] init | loop-init scaffolded this project
"""

CHECKPOINT = """\
# checkpoint

Compiled by the docs lane: what is in flight, what is proved, what needs a decision. Everything from
the marker line below down belongs to the coordinator.

Nothing in flight yet.

{marker}
""".replace("{marker}", MARKER)

TASKS_README = """\
# tasks/

One work item per file: `tasks/T<NNNN>-<slug>.md` (the slug in lowercase letters, digits and
hyphens). Done and dropped tasks move to `tasks/archive/`. This README is not a task.

Frontmatter:

```yaml
---
id: T0001                 # the file name's id, unique across tasks/ and tasks/archive/
title: One line
status: open              # open | in-progress | review | done | dropped
depends_on: []            # an inline list of existing ids, no cycles
scope: one line saying what may change
loop:                     # optional: the loop this task belongs to
jira:                     # optional: blank until an issue exists; a key always names a real issue
---
```

Body: six `## ` sections, each enough for a lane with no other context: Objective, Context you need,
Deliverables, Acceptance criteria, Verification, Out of scope (a note may follow the name, e.g.
`## Verification (manual)`).

open, in-progress and review tasks live here; the loop stops at review. Only a human marks a task done
(or a PM pull that sees the issue Done): the file moves to archive/ and
`## [YYYY-MM-DD] task | T<NNNN> done` is appended to ops-wiki/log.md. Check everything with
`loop-task-lint`.
"""

# The operating rules every project starts from: one file, shell/templates/AGENTS.md (the repository's
# own AGENTS.md is a link to it), read when a project is set up.
AGENTS_TEMPLATE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "templates", "AGENTS.md"
)


def _agents_text() -> str:
    with open(AGENTS_TEMPLATE, encoding="utf-8") as fh:
        return fh.read()


LANE_CONFIG = """\
# lane-config.yaml for {project}: which agent runs in which lane, and (optionally) the engine.
# loop-tmux --lane-config lane-config.yaml reads `lanes:`; the bash resolver ignores `engine:`.
# A lane-config.<hostname -s>.yaml beside this file is merged on top (lane by lane) for one machine.
# Every key is annotated in examples/lane-config.example.yaml of loop-orchestrator.
lanes:
  web:
    harness: claude        # pi claude opencode codex cursor-agent hermes droid forge amp openclaw mprocs
                           # or shell
    model: ""              # "" = the harness's default model
    role: impl
  docs:
    harness: claude
    model: ""
    role: docs
  validate-left:
    harness: shell
    cmd: ""                # your test watcher, e.g. npm run test:watch
  ops-top:
    harness: shell
    cmd: ""                # your health probe, e.g. watch -n 10 curl -sf https://example.com/healthz

{engine}
  approval_mode: manual
  pm:
    adapters: []           # e.g. [jira]; then loop-restart needs ~/.loop-secrets/<session>.env
"""
STARTER_ENGINE = """\
# The optional engine (loop-engine). Manual mode: every decision waits for a human.
engine:"""

# The engine profiles `--profile` offers: shell/templates/profiles/<name>.engine.yaml, each an `engine:`
# block (with its comments) that replaces the starter's.
PROFILES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "templates", "profiles")
PROFILE_SUFFIX = ".engine.yaml"


def profiles() -> List[str]:
    try:
        names = os.listdir(PROFILES_DIR)
    except OSError:
        return []
    return sorted(n[: -len(PROFILE_SUFFIX)] for n in names if n.endswith(PROFILE_SUFFIX))


def profile_path(name: str) -> str:
    return os.path.normpath(os.path.join(PROFILES_DIR, name + PROFILE_SUFFIX))


def _lane_config_text(project: str, profile: Optional[str]) -> str:
    lanes, _, rest = LANE_CONFIG.partition("{engine}")
    lanes = lanes.replace("{project}", project)  # the name is data: nothing in it is a placeholder
    if profile is None:
        return lanes + STARTER_ENGINE + rest
    with open(profile_path(profile), encoding="utf-8") as fh:
        return lanes + fh.read()


def _project_name(root: str, given: Optional[str]) -> str:
    name = given or os.path.basename(os.path.abspath(root)) or "project"
    return " ".join(name.split())


def plan(
    project_root: str, project: Optional[str], agents: bool, lane_config: bool, profile: Optional[str] = None
) -> List[Tuple[str, Optional[str]]]:
    """[(relative path, file text or None for a folder)] in creation order."""
    now = _dt.datetime.now(_dt.timezone.utc)
    name = _project_name(project_root, project)
    items: List[Tuple[str, Optional[str]]] = [
        (".loop", None),
        (".loop/orchestrator-state.json", _state(now.strftime("%Y-%m-%dT%H:%M:%SZ"))),
        (".loop/messages", None),
        (".loop/messages/processed", None),
        ("ops-wiki", None),
        ("ops-wiki/index.md", INDEX.format(project=name)),
        ("ops-wiki/log.md", LOG.format(date=now.date().isoformat())),
        ("ops-wiki/checkpoint.md", CHECKPOINT),
        ("ops-wiki/lanes", None),
        ("ops-wiki/loops", None),
        ("tasks", None),
        ("tasks/archive", None),
        ("tasks/README.md", TASKS_README),
        ("docs", None),
        ("docs/adr", None),
    ]
    if agents:
        items.append(("AGENTS.md", _agents_text()))
    if lane_config:
        items.append(("lane-config.yaml", _lane_config_text(name, profile)))
    return items


def _create_file(path: str, text: str) -> bool:
    """Create path with text unless it exists (O_EXCL: never overwrite). True when created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)  # ours, half written: leave nothing behind
        raise
    os.close(fd)
    return True


def run(
    project_root: str,
    project: Optional[str],
    agents: bool,
    lane_config: bool,
    dry_run: bool,
    profile: Optional[str] = None,
) -> Dict[str, Any]:
    if not os.path.isdir(project_root):
        raise InitError(f"project root not found: {project_root}")
    created: List[str] = []
    existing: List[str] = []
    items = plan(project_root, project, agents, lane_config, profile)
    # Every conflict is found before anything is created: a refused run leaves the project as it was
    # (it used to create the items ahead of the conflict and then exit 1 without listing them).
    for rel, text in items:
        path = os.path.join(project_root, rel)
        if text is None and os.path.lexists(path) and not os.path.isdir(path):
            raise InitError(f"{rel} exists and is not a folder; move it away and run loop-init again")
        if text is not None and os.path.isdir(path):
            raise InitError(f"{rel} is a folder, expected a file; move it away and run loop-init again")
    for rel, text in items:
        path = os.path.join(project_root, rel)
        if text is None:
            if os.path.isdir(path):
                existing.append(rel + "/")
                continue
            if os.path.lexists(path):
                raise InitError(f"{rel} exists and is not a folder; move it away and run loop-init again")
            if not dry_run:
                os.makedirs(path, exist_ok=True)
            created.append(rel + "/")
        else:
            if os.path.lexists(path):
                if os.path.isdir(path):
                    raise InitError(
                        f"{rel} is a folder, expected a file; move it away and run loop-init again"
                    )
                existing.append(rel)
                continue
            if dry_run or _create_file(path, text):
                created.append(rel)
            else:
                existing.append(rel)
    return {
        "contract_version": CONTRACT_VERSION,
        "project_root": os.path.abspath(project_root),
        "dry_run": dry_run,
        "created": created,
        "existing": existing,
        "profile": profile,
    }


def main(argv: List[str]) -> int:
    root = "."
    project: Optional[str] = None
    agents = lane_config = True
    dry_run = as_json = False
    profile: Optional[str] = None
    args = list(argv)
    try:
        while args:
            arg = args.pop(0)
            if arg in ("--project-root", "--project", "--profile"):
                if not args:
                    raise ValueError(f"{arg} needs a value")
                value = args.pop(0)
                if arg == "--profile":
                    if value not in profiles():
                        raise ValueError(f"--profile: one of {'|'.join(profiles())} (got {value!r})")
                    profile = value
                elif arg == "--project-root":
                    root = value
                else:
                    if not NAME_RE.match(value):
                        raise ValueError(f"--project: use letters, digits, '.', '_' and '-' (got {value!r})")
                    project = value
            elif arg == "--no-agents":
                agents = False
            elif arg == "--no-lane-config":
                lane_config = False
            elif arg == "--dry-run":
                dry_run = True
            elif arg == "--json":
                as_json = True
            else:
                raise ValueError(f"unknown argument: {arg}")
        if profile is not None and not lane_config:
            raise ValueError("--profile writes lane-config.yaml's engine: block; drop --no-lane-config")
    except ValueError as exc:
        sys.stderr.write(f"{PROG}: {exc}\nTry '{PROG} --help'.\n")
        return 2
    try:
        doc = run(root, project, agents, lane_config, dry_run, profile)
    except InitError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"{PROG}: {exc.filename or root}: {exc.strerror}\n")
        return 1
    if profile is not None and "lane-config.yaml" in doc["existing"]:
        sys.stderr.write(
            f"{PROG}: lane-config.yaml exists: the {profile} profile was not applied (paste "
            f"{profile_path(profile)} over its engine: block)\n"
        )
    if as_json:
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
        return 0
    verb = "would create" if dry_run else "created"
    for rel in doc["created"]:
        sys.stdout.write(f"{verb} {rel}\n")
    for rel in doc["existing"]:
        sys.stdout.write(f"exists  {rel} (left as it is)\n")
    if not doc["created"]:
        sys.stdout.write("nothing to do: the project is already set up\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
