"""The pydantic models a cycle's code makes when it is imported (`once` pays for each before its cycle
starts): those of the documents a cycle reads and writes, and no other; each declared with evaluated
annotations, so that pydantic does not compile and eval every field's annotation text."""

from __future__ import annotations

import json
import subprocess
import sys

# what the cycle's code imports (test_cli_imports.py's cycle case), then every loop_schemas model made
REPORT = (
    "import json, sys, loop_engine.cli, loop_engine.cycle, loop_engine.watch, loop_substrate.client\n"
    "from pydantic import BaseModel\n"
    "def made(cls):\n"
    "    for sub in cls.__subclasses__():\n"
    "        yield sub\n"
    "        yield from made(sub)\n"
    "models = {f'{c.__module__}.{c.__qualname__}': c for c in made(BaseModel)\n"
    "          if c.__module__.startswith('loop_schemas')}\n"
    "texts = sorted(name for name, c in models.items()\n"
    "               if any(isinstance(a, str) for a in vars(c).get('__annotations__', {}).values()))\n"
    "print(json.dumps({'models': sorted(models), 'texts': texts,\n"
    "                  'modules': sorted(m for m in sys.modules if m.startswith('loop_schemas'))}))\n"
)

# the documents of other commands: the roster and the health probe (read only under a harness policy,
# where loop_substrate.client imports them), the resolver's answer, the boot plan, the task linter's
# and loop-task's reports; their names stay exported where they were (loop_schemas' tests/test_moved_names)
NOT_A_CYCLES = {
    "loop_schemas._roster": {"RosterEntry", "HarnessRoster", "HarnessHealth"},
    "loop_schemas._resolved_lanes": {"ResolvedLane", "ResolvedLaneConfig"},
    "loop_schemas._boot_plan": {"PlannedLane", "BootPlan"},
    "loop_schemas._task_reports": {"TaskLintItem", "TaskLintReport", "TaskChange"},
}


def _report() -> dict[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", REPORT], capture_output=True, text=True, check=True, timeout=120
    )
    report: dict[str, list[str]] = json.loads(proc.stdout)
    return report


def test_the_cycles_code_makes_no_model_of_another_commands_document() -> None:
    report = _report()
    made = {name.rsplit(".", 1)[1] for name in report["models"]}
    assert made, report  # the cycle's own: the config, the decision, the state, ...
    assert {"EngineConfig", "Decision", "OrchestratorState", "LaneList", "TaskFrontmatter"} <= made
    for module, names in NOT_A_CYCLES.items():
        assert not made & names, module
        assert module not in report["modules"]
    # the task linter's rules load where lint_tasks runs them
    assert "loop_schemas._shared.tasks" not in report["modules"]


def test_the_cycles_models_are_declared_with_evaluated_annotations() -> None:
    """A model module without `from __future__ import annotations`: its fields' annotations are the
    types themselves when pydantic makes the class, not text it compiles and evals one by one."""
    report = _report()
    assert report["models"]
    assert report["texts"] == []
