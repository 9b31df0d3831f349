"""The checkpoint prompt started ahead of need: when a cycle is likely to ask its brain, and the header
the prompt is built under. Light on purpose (no cycle code, no pydantic): `loop-engine once` starts the
prompt from here as soon as it knows the config, so loop-checkpoint runs while the cycle code loads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loop_engine.config import BUILTIN
from loop_engine.paths import EnginePaths

if TYPE_CHECKING:
    from loop_engine.observe import SubstrateLike


# The packaged checkpoint header: a file beside this module. loop-checkpoint reads it by path, so the
# package is always a folder of files, and importlib.resources (whose readers cost more than a whole
# start) adds nothing.
PACKAGED_HEADER = Path(__file__).with_name("header.md")


def header_path(paths: EnginePaths) -> Path:
    """The engine's checkpoint header: the project's .loop/engine-header.md, else PACKAGED_HEADER."""
    if paths.header_override.is_file():
        return paths.header_override
    return PACKAGED_HEADER


def start_prompt(
    paths: EnginePaths, substrate: SubstrateLike, harness: str, *, in_process: bool = False
) -> bool:
    """Start loop-checkpoint for the brain's prompt now (Substrate.start_checkpoint), when a cycle is
    likely to ask its brain: a harness, not the builtin (or a brain given in-process), and no decision
    pending. A later start of the same read is a no-op, and the prompt takes the answer only if nothing
    it read changed meanwhile, else runs it again: a guess wrong either way costs time, never a stale
    prompt. True when it started."""
    if (harness == BUILTIN and not in_process) or paths.pending.exists():
        return False
    return substrate.start_checkpoint(header_file=header_path(paths))
