"""Modules whose models moved (loop_schemas._moved): each still exports the moved names, imports their
new home on first use only, and names each of them once in its TYPE_CHECKING block and once in __all__."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

MOVED = [
    ("loop_schemas.mail", "loop_schemas.mail_files"),
    ("loop_schemas.policy", "loop_schemas.governance_events"),
    ("loop_schemas.registry", "loop_schemas._roster"),
    ("loop_schemas.lane_config", "loop_schemas._resolved_lanes"),
    ("loop_schemas.lanes", "loop_schemas._boot_plan"),
    ("loop_schemas.task", "loop_schemas._task_reports"),
]


def _type_checking_names(module: str, home: str) -> set[str]:
    tree = ast.parse(Path(str(importlib.import_module(module).__file__)).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.module == home:
                    names.update(a.asname or a.name for a in imp.names)
    return names


@pytest.mark.parametrize(("module", "home"), MOVED)
def test_the_moved_names_are_the_homes_objects(module: str, home: str) -> None:
    mod = importlib.import_module(module)
    moved = _type_checking_names(module, home)
    assert moved and moved <= set(mod.__all__)
    for name in mod.__all__:
        if name in moved:
            assert getattr(mod, name) is getattr(importlib.import_module(home), name)
        else:  # defined (or imported) by the module itself
            assert name in vars(mod)
    with pytest.raises(AttributeError, match=rf"module '{module}' has no attribute 'no_such_name'"):
        mod.no_such_name  # noqa: B018


@pytest.mark.parametrize(("module", "home"), MOVED)
def test_the_home_is_imported_on_first_use_only(module: str, home: str) -> None:
    name = sorted(_type_checking_names(module, home))[0]
    code = (
        "import sys, importlib\n"
        f"mod = importlib.import_module({module!r})\n"
        f"before = {home!r} in sys.modules\n"
        f"value = getattr(mod, {name!r})\n"
        f"print(before, {home!r} in sys.modules, {name!r} in vars(mod))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]
