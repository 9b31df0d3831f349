"""The entry-point groups PM plugins register under (loop_schemas.pm re-exports them): a module of its
own so that listing the plugins (`loop-pm --help`) needs no pydantic model."""

from __future__ import annotations

ADAPTER_GROUP = "loop_orchestrator.pm_adapters"
COMMAND_GROUP = "loop_orchestrator.pm_commands"
