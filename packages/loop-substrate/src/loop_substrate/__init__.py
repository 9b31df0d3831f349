"""loop-substrate: the one place Python reaches tmux and the bash substrate. Its major version is the
CONTRACT version; the shell scripts it runs are bundled in the wheel."""

from importlib.metadata import version as _version

from loop_substrate.client import (
    SUPPORTED_CONTRACT,
    Substrate,
    check_contract,
    current_session,
    harness_health,
    roster,
)
from loop_substrate.errors import ContractMismatchError, SubstrateError
from loop_substrate.paths import SCRIPT_NAMES, contract_version, script_path, shell_dir

__version__ = _version("loop-substrate")

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
