"""The names a module keeps exporting after their definitions moved to another module (PEP 562).

A moved name is written where the tools need it and nowhere else: the TYPE_CHECKING import (what type
checkers see) and `__all__` (the public surface); `__getattr__ = moved_names(__name__, HOME, __all__)`
serves every name of `__all__` the module does not define itself from HOME, imported on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from importlib import import_module
from typing import Any


def moved_names(module: str, home: str, exported: Collection[str]) -> Callable[[str], Any]:
    """`module`'s __getattr__: a name of `exported` it does not define is `home`'s, imported on first use
    and then kept in `module`'s namespace; any other name is an AttributeError."""

    def lookup(name: str) -> Any:
        if name not in exported:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        setattr(sys.modules[module], name, value)
        return value

    return lookup
