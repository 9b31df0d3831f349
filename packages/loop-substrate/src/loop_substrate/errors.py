"""The substrate's one error type."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections costs every console script's start-up; the annotations are strings
    from collections.abc import Sequence


class SubstrateError(RuntimeError):
    """A substrate CLI failed (or could not run). Carries the argv, the exit code and stderr's last line."""

    def __init__(self, command: Sequence[str], returncode: int | None, stderr_line: str) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stderr_line = stderr_line
        name = self.command[1].rsplit("/", 1)[-1] if len(self.command) > 1 else "substrate"
        code = "did not run" if returncode is None else f"exit {returncode}"
        super().__init__(f"{name}: {stderr_line or 'failed'} ({code})")


class ContractMismatchError(SubstrateError):
    """The bundled shell speaks a CONTRACT major this loop-substrate was not built for."""
