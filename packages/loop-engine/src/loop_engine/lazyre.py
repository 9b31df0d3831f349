"""Regular expressions compiled where they are first used, not when their module loads.

A pattern that only a branch needs (a brain failure, a task spec, a quota notice) would cost its compile
on every `loop-engine once` if compiled at import. `Lazy(source, flags)` is a getter that compiles it on
its first call and returns that same pattern after; `served` answers a module's `__getattr__` for its
public pattern names, so `module.NAME` still is the compiled pattern."""

from __future__ import annotations

import re


class Lazy:
    """The pattern `source` with `flags`, compiled on the first call."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def __call__(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled

    @property
    def compiled(self) -> bool:
        return self._compiled is not None


def served(module: str, names: dict[str, Lazy], name: str) -> re.Pattern[str]:
    """A module `__getattr__`'s answer for `name`: the compiled pattern of `names[name]` (the module's public
    pattern names and their Lazy), else AttributeError as for any missing module attribute."""
    get = names.get(name)
    if get is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return get()
