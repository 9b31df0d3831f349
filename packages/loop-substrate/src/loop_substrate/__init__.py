"""loop-substrate: the one place Python reaches tmux and the bash substrate. Its major version is the
CONTRACT version; the shell scripts it runs are bundled in the wheel.

The names below are imported on first use (PEP 562), so a command pays only for the submodules it
touches: `from loop_substrate import X` imports X's submodule and no other.
"""

from __future__ import annotations

# typing (and the re, enum and collections it imports) would cost every console script a few ms before
# it execs bash: TYPE_CHECKING is False at run time, and the annotations below are strings
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from loop_substrate.client import (
        SUPPORTED_CONTRACT,
        Substrate,
        check_contract,
        harness_health,
        roster,
    )
    from loop_substrate.errors import ContractMismatchError, SubstrateError
    from loop_substrate.paths import SCRIPT_NAMES, contract_version, script_path, shell_dir
    from loop_substrate.session import current_session

__version__ = "1.0.0"  # the pyproject version (tests/test_metadata.py holds them equal)

# each public name -> the submodule that defines it (the TYPE_CHECKING imports above, for type checkers;
# tests/test_lazy_imports.py holds the two equal)
_LAZY: dict[str, str] = {
    "SUPPORTED_CONTRACT": "loop_substrate.client",
    "Substrate": "loop_substrate.client",
    "check_contract": "loop_substrate.client",
    "harness_health": "loop_substrate.client",
    "roster": "loop_substrate.client",
    "current_session": "loop_substrate.session",
    "ContractMismatchError": "loop_substrate.errors",
    "SubstrateError": "loop_substrate.errors",
    "SCRIPT_NAMES": "loop_substrate.paths",
    "contract_version": "loop_substrate.paths",
    "script_path": "loop_substrate.paths",
    "shell_dir": "loop_substrate.paths",
}

__all__ = [
    "SCRIPT_NAMES",
    "SUPPORTED_CONTRACT",
    "ContractMismatchError",
    "Substrate",
    "SubstrateError",
    "__version__",
    "check_contract",
    "contract_version",
    "current_session",
    "harness_health",
    "roster",
    "script_path",
    "shell_dir",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # __import__ (not importlib.import_module): `python -X importtime` reports what it loads
    value = getattr(__import__(module, fromlist=(name,)), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
