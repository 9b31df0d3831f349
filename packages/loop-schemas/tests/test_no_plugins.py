"""Our CLIs load no pydantic plugin unless the user asks (loop_schemas._no_plugins): a plugin installed in
the same environment is not discovered (no importlib.metadata, no scan) while PYDANTIC_DISABLE_PLUGINS is
unset; set, pydantic's own rule applies; the environment is never touched; a library use is unchanged.
Each case is a fresh interpreter with a real pydantic plugin (a distribution on PYTHONPATH whose entry
point of the group `pydantic` prints PLUGIN when pydantic asks it about a validator)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SPY = """import sys


class Plugin:
    def new_schema_validator(self, *args, **kwargs):
        print("PLUGIN", args[2].name)
        return None, None, None


plugin = Plugin()
"""

MODEL = (
    "import os, sys, pydantic\n"
    "class Doc(pydantic.BaseModel):\n"
    "    n: int\n"
    "Doc.model_validate({'n': 1})\n"
    "print('METADATA', 'importlib.metadata' in sys.modules)\n"
    "print('ENV', sorted(k for k in os.environ if k.startswith('PYDANTIC')))\n"
)
CLI = "from loop_schemas._no_plugins import no_pydantic_plugins_unless_asked as off\noff()\n"


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    (tmp_path / "spy_plugin.py").write_text(SPY)
    info = tmp_path / "spy_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    return tmp_path


def run(plugin_path: Path, code: str, switch: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin_path), env.get("PYTHONPATH")) if p)
    if switch is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = switch
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_library_use_loads_the_plugin(plugin_path: Path) -> None:
    """The check that the spy is a working plugin: without the call, pydantic finds and uses it."""
    out = run(plugin_path, MODEL)
    assert "PLUGIN Doc" in out
    assert "METADATA True" in out


def test_a_cli_loads_no_plugin_and_no_importlib_metadata_and_sets_no_variable(plugin_path: Path) -> None:
    out = run(plugin_path, CLI + MODEL)
    assert "PLUGIN Doc" not in out
    assert "METADATA False" in out
    assert "ENV []" in out  # nothing in the environment a child would inherit


@pytest.mark.parametrize("switch", ["", "other"])
def test_the_users_setting_is_pydantics_rule(plugin_path: Path, switch: str) -> None:
    """Set (even empty), the variable is pydantic's: plugins not named in it load."""
    out = run(plugin_path, CLI + MODEL, switch=switch)
    assert "PLUGIN Doc" in out


@pytest.mark.parametrize("switch", ["spy", "__all__"])
def test_the_users_setting_turns_plugins_off_as_pydantic_does(plugin_path: Path, switch: str) -> None:
    out = run(plugin_path, CLI + MODEL, switch=switch)
    assert "PLUGIN Doc" not in out


def test_a_setting_made_after_the_call_is_pydantics_rule_from_then_on(plugin_path: Path) -> None:
    code = (
        CLI
        + "import pydantic\n"
        + "class First(pydantic.BaseModel):\n    n: int\n"
        + "os.environ['PYDANTIC_DISABLE_PLUGINS'] = ''\n"
        + MODEL
    )
    out = run(plugin_path, "import os\n" + code)
    assert "PLUGIN First" not in out
    assert "PLUGIN Doc" in out


def test_a_process_that_loaded_pydantics_loader_already_keeps_it(plugin_path: Path) -> None:
    out = run(plugin_path, "import pydantic.plugin._loader\n" + CLI + MODEL)
    assert "PLUGIN Doc" in out


def test_any_other_name_of_the_loader_is_the_real_modules(plugin_path: Path) -> None:
    """A pydantic that asks the loader for more than get_plugins gets the real module's objects."""
    code = (
        CLI
        + "from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP, get_plugins\n"
        + "print('GROUP', PYDANTIC_ENTRY_POINT_GROUP, list(get_plugins()))\n"
    )
    assert "GROUP pydantic []" in run(plugin_path, code)


def test_a_pydantic_without_that_loader_is_left_to_its_own_finder(tmp_path: Path) -> None:
    from loop_schemas._no_plugins import LOADER, _StandIn

    assert _StandIn().find_spec(LOADER, [str(tmp_path)]) is None
    assert _StandIn().find_spec("pydantic.plugin", None) is None


def test_calling_it_twice_installs_one_finder(plugin_path: Path) -> None:
    code = (
        CLI
        + "off()\n"
        + "from loop_schemas._no_plugins import _StandIn\n"
        + "print('FINDERS', sum(isinstance(f, _StandIn) for f in sys.meta_path))\n"
    )
    assert "FINDERS 1" in run(plugin_path, "import sys\n" + code)
