"""Our command-line programs load no pydantic plugin unless the user asks for them.

pydantic looks for plugins (entry points of the group `pydantic`) when it builds its first validator:
that imports importlib.metadata and reads the metadata of every installed distribution, some 50 ms of
each CLI run that validates a model. pydantic's switch is the environment variable
PYDANTIC_DISABLE_PLUGINS, but a variable set in os.environ would reach every child process (the brain,
the substrate scripts, a tmux server the engine starts and so the user's lanes). So the CLIs
(loop-engine, loop-pm, loop-deck) call `no_pydantic_plugins_unless_asked()` before any model is built:
while PYDANTIC_DISABLE_PLUGINS is unset, the module pydantic asks for its plugins
(pydantic.plugin._loader) is served by a stand-in whose get_plugins() answers "none" without the scan,
which is what pydantic's own get_plugins() answers under PYDANTIC_DISABLE_PLUGINS=__all__. The
environment is not touched. A user who sets the variable (to anything, even empty: `=` turns no
plugin off) gets pydantic's own rule, whenever it is set.

It degrades to pydantic's own behaviour: a pydantic without that module is served by its own finder,
any other name pydantic asks of the stand-in is the real module's (loaded then), and a process that
imported the real module already keeps it. Importing loop_schemas as a library installs nothing.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader
    from types import ModuleType

LOADER = "pydantic.plugin._loader"
SWITCH = "PYDANTIC_DISABLE_PLUGINS"


class _StandIn:
    """The finder (first on sys.meta_path) and loader of the stand-in for LOADER (the import protocol's
    methods; importlib.abc, their base classes, would cost an import of importlib.resources)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != LOADER or SWITCH in os.environ:
            return None
        real = PathFinder.find_spec(fullname, path)
        if real is None or real.loader is None:  # nothing to stand in for: the import goes on as ever
            return None
        spec = ModuleSpec(fullname, cast("Loader", self), origin=real.origin)
        spec.loader_state = real
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None
        real_spec: ModuleSpec = spec.loader_state
        loaded: list[ModuleType] = []

        def real() -> ModuleType:
            if not loaded:
                import importlib.util

                found = importlib.util.module_from_spec(real_spec)
                assert real_spec.loader is not None
                real_spec.loader.exec_module(found)
                loaded.append(found)
            return loaded[0]

        def get_plugins(*args: Any, **kwargs: Any) -> Any:
            if SWITCH in os.environ:  # set since: pydantic's own rule
                return real().get_plugins(*args, **kwargs)
            return ()

        def real_attribute(name: str) -> Any:  # anything else pydantic asks for is the real module's
            if name.startswith("__"):
                raise AttributeError(name)
            return getattr(real(), name)

        module.get_plugins = get_plugins  # type: ignore[attr-defined]
        module.__getattr__ = real_attribute  # type: ignore[method-assign]  # PEP 562


def no_pydantic_plugins_unless_asked() -> None:
    """Serve pydantic's plugin loader by the stand-in in this process (see the module's docstring).
    Called once by each CLI before it builds a model; calling it again changes nothing."""
    if LOADER in sys.modules or any(isinstance(finder, _StandIn) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _StandIn())
