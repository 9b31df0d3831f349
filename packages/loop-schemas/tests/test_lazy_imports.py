"""The package's public names load on first use (PEP 562): `import loop_schemas` builds no model, and
`from loop_schemas import X` imports X's submodule only. The TYPE_CHECKING imports (what type checkers
see) and the runtime map must name the same things."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import loop_schemas
import pytest
from pydantic import BaseModel

INIT = Path(loop_schemas.__file__)


def _declared() -> tuple[dict[str, str], set[str]]:
    """(name -> submodule from the TYPE_CHECKING block, names imported eagerly at the top level)."""
    tree = ast.parse(INIT.read_text())
    lazy: dict[str, str] = {}
    eager: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                lazy.update({a.asname or a.name: imp.module for a in imp.names})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("loop_schemas"):
            eager.update(a.asname or a.name for a in node.names)
    return lazy, eager


def test_the_runtime_map_is_the_type_checking_block() -> None:
    lazy, eager = _declared()
    assert lazy == loop_schemas._LAZY
    assert set(loop_schemas.__all__) == set(lazy) | eager | {"__version__"}


@pytest.mark.parametrize("name", sorted(loop_schemas._LAZY))
def test_each_name_is_its_submodules_object(name: str) -> None:
    module = importlib.import_module(loop_schemas._LAZY[name])
    assert getattr(loop_schemas, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        loop_schemas.no_such_name  # noqa: B018
    assert set(loop_schemas.__all__) <= set(dir(loop_schemas))


def test_redact_is_the_function_whatever_was_imported_first() -> None:
    """The submodule `redact` and the function `redact` share a name: the package's is the function."""
    code = (
        "import sys, loop_schemas.redact\n"
        "module = sys.modules['loop_schemas.redact']\n"
        "import loop_schemas\n"
        "print(loop_schemas.redact is module.redact)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True"]


def _modules_after(code: str) -> set[str]:
    full = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", full], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_importing_the_package_builds_no_model() -> None:
    modules = _modules_after("import loop_schemas")
    assert "pydantic" not in modules and "yaml" not in modules and "importlib.metadata" not in modules
    assert "base64" not in modules  # redact's, loaded where a secret is looked for
    assert {m for m in modules if m.startswith("loop_schemas.")} == {"loop_schemas.redact"}


def test_a_name_imports_its_submodule_only() -> None:
    modules = _modules_after("from loop_schemas import load_state")
    ours = {m for m in modules if m.startswith("loop_schemas.")}
    assert "loop_schemas.state" in ours
    assert not ours & {"loop_schemas.decision", "loop_schemas.engine", "loop_schemas.pm", "loop_schemas.task"}


def test_every_model_builds_on_first_use() -> None:
    """defer_build on every model: importing a submodule collects fields, validation builds the schema."""
    missing = []
    for info in pkgutil.iter_modules(loop_schemas.__path__):
        module = importlib.import_module(f"loop_schemas.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            ours = issubclass(cls, BaseModel) and cls.__module__ == module.__name__
            # pydantic's own parametrization of a generic (the RootModel[...] a union model is declared
            # on) is made where it is spelled; the model declared on it is ours, and checked
            made_by_pydantic = ours and cls.__pydantic_generic_metadata__["origin"] is not None
            if ours and not made_by_pydantic and not cls.model_config.get("defer_build"):
                missing.append(f"{cls.__module__}.{cls.__name__}")
    assert missing == []
