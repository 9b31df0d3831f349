"""The package's public names load on first use (PEP 562): a console script that only execs its bash
script, or a CLI that only looks up the current session, imports no client, model or pydantic. The
TYPE_CHECKING imports (what type checkers see) and the runtime map must name the same things."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import loop_substrate
import pytest

INIT = Path(loop_substrate.__file__)


def test_the_runtime_map_is_the_type_checking_block() -> None:
    lazy: dict[str, str] = {}
    for node in ast.parse(INIT.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                if imp.module == "typing":  # the annotations' own names (typing is not imported at run time)
                    continue
                lazy.update({a.asname or a.name: imp.module for a in imp.names})
    assert lazy == loop_substrate._LAZY
    assert set(loop_substrate.__all__) == set(lazy) | {"__version__"}


@pytest.mark.parametrize("name", sorted(loop_substrate._LAZY))
def test_each_name_is_its_submodules_object(name: str) -> None:
    module = importlib.import_module(loop_substrate._LAZY[name])
    assert getattr(loop_substrate, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        loop_substrate.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "code",
    [
        "import loop_substrate",
        "from loop_substrate import current_session",
        "from loop_substrate import SubstrateError, script_path",
        "import loop_substrate.cli",
    ],
)
def test_light_names_import_no_client(code: str) -> None:
    full = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", full], capture_output=True, text=True, check=True).stdout
    modules = set(out.split())
    assert not modules & {
        "pydantic",
        "loop_schemas",
        "loop_substrate.client",
        "libtmux",
        "importlib.metadata",
    }
