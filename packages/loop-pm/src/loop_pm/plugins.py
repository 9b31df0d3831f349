"""Adapter discovery through entry points: listed by name without importing, loaded on demand.

Two groups: `loop_orchestrator.pm_adapters` (the sync adapters, objects satisfying
`loop_schemas.pm.PmAdapter`) and `loop_orchestrator.pm_commands` (click groups mounted as
`loop-pm <name> …`). A plugin that fails to load is reported with the reason, never skipped.
The listing is importlib.metadata's, reused from loop_pm.entrycache while nothing it read has changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loop_schemas import ADAPTER_GROUP, COMMAND_GROUP
from loop_schemas.errors import describe_error

if TYPE_CHECKING:  # the models (and pydantic) are imported where an adapter is loaded, not to list names
    from collections.abc import Iterable
    from importlib.metadata import EntryPoint

    from loop_schemas.pm import AdapterInfo, PmAdapter


class PluginLoadError(Exception):
    """An entry point that could not be imported or does not provide what its group promises."""


GROUPS = (ADAPTER_GROUP, COMMAND_GROUP)


@dataclass(frozen=True)
class PluginEntry:
    """An installed plugin as its distribution's metadata declares it (nothing imported); entry_point
    is None when the listing came from the cache (loop_pm.entrycache: `value` is `module:attr` then)."""

    name: str
    value: str
    distribution: str | None
    version: str | None
    entry_point: EntryPoint | None = field(default=None, compare=False)

    def load(self) -> object:
        """The object the entry point names: importlib.metadata's EntryPoint.load(), or for a cached
        `module:attr` the same steps (import the module, then each attribute in turn)."""
        if self.entry_point is not None:
            return self.entry_point.load()
        from importlib import import_module

        module, _, attrs = self.value.partition(":")
        obj: object = import_module(module)
        for attr in attrs.split("."):
            obj = getattr(obj, attr)
        return obj


def _dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    try:
        return str(dist.name), str(dist.version)
    except Exception:  # malformed metadata: still list the plugin
        return None, None


def entry_points(group: str) -> Iterable[EntryPoint]:
    """importlib.metadata's entry points of `group`, imported on first use: `--version` and a built-in
    command's `--help` list no plugin and need none of it."""
    from importlib.metadata import entry_points as metadata_entry_points

    return metadata_entry_points(group=group)


def discover(group: str = ADAPTER_GROUP) -> list[PluginEntry]:
    """Every entry point of the group, sorted by name, read from metadata only (no import): from the
    cache while it holds (loop_pm.entrycache), else from importlib.metadata (and the cache rewritten)."""
    from loop_pm import entrycache

    if group not in GROUPS or not entrycache.readable():
        return _scan(group)
    cached = entrycache.load(GROUPS)
    if cached is not None:
        return [PluginEntry(*row) for row in cached[group]]
    if not entrycache.writable():  # nothing to store: this group only, as without a cache
        return _scan(group)
    scanned: dict[str, list[PluginEntry]] = {}

    def compute() -> entrycache.Listing:
        scanned.update({g: _scan(g) for g in GROUPS})
        return {g: [(e.name, e.value, e.distribution, e.version) for e in scanned[g]] for g in GROUPS}

    entrycache.store(GROUPS, compute)
    return scanned[group]


def _scan(group: str) -> list[PluginEntry]:
    """importlib.metadata's entry points of the group, one per (name, value, distribution), by name."""
    found: list[PluginEntry] = []
    seen: set[tuple[str, str, str | None]] = set()
    for ep in entry_points(group=group):
        dist, version = _dist_of(ep)
        ident = (ep.name, ep.value, dist)
        if ident in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ident)
        found.append(PluginEntry(ep.name, ep.value, dist, version, ep))
    return sorted(found, key=lambda e: (e.name, e.distribution or ""))


def _describe(exc: BaseException) -> str:
    return describe_error(exc)


def load_adapter(entry: PluginEntry) -> PmAdapter:
    """Import the entry point; instantiate it when it is a class; check it satisfies PmAdapter."""
    from loop_schemas.pm import PmAdapter

    try:
        obj = entry.load()
    except Exception as exc:
        raise PluginLoadError(
            f"adapter '{entry.name}' ({entry.value}) failed to load: {_describe(exc)}"
        ) from None
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise PluginLoadError(
                f"adapter '{entry.name}' ({entry.value}) failed to initialise: {_describe(exc)}"
            ) from None
    if not isinstance(obj, PmAdapter):
        missing = [
            m for m in ("availability", "sync_options", "connect") if not callable(getattr(obj, m, None))
        ]
        raise PluginLoadError(
            f"adapter '{entry.name}' ({entry.value}) does not implement the PmAdapter protocol"
            f" (missing: {', '.join(missing) or 'unknown'})"
        )
    return obj


def find_adapter(name: str) -> PluginEntry:
    """The single installed adapter called `name`; PluginLoadError when absent or ambiguous."""
    entries = [e for e in discover(ADAPTER_GROUP) if e.name == name]
    if not entries:
        installed = ", ".join(sorted({e.name for e in discover(ADAPTER_GROUP)})) or "none"
        raise PluginLoadError(f"no PM adapter named '{name}' is installed (installed: {installed})")
    if len(entries) > 1:
        dists = ", ".join(e.distribution or e.value for e in entries)
        raise PluginLoadError(
            f"PM adapter name '{name}' is registered by more than one distribution: {dists}"
        )
    return entries[0]


def adapter_infos() -> tuple[list[AdapterInfo], list[str]]:
    """One row per installed adapter (loading each to ask its availability) and the load problems."""
    from loop_schemas.pm import AdapterInfo, Availability

    problems: list[str] = []
    entries = discover(ADAPTER_GROUP)
    command_names = {e.name for e in discover(COMMAND_GROUP)}
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.name] = counts.get(entry.name, 0) + 1
    rows: list[AdapterInfo] = []
    for entry in entries:
        loaded = False
        if counts[entry.name] > 1:
            availability = Availability(
                available=False, reason=f"the name '{entry.name}' is registered by more than one distribution"
            )
            problems.append(f"adapter '{entry.name}': {availability.reason}")
        else:
            try:
                adapter = load_adapter(entry)
                loaded = True
                availability = adapter.availability()
            except PluginLoadError as exc:
                availability = Availability(available=False, reason=str(exc))
                problems.append(str(exc))
            except Exception as exc:
                availability = Availability(
                    available=False, reason=f"availability check failed: {_describe(exc)}"
                )
                problems.append(f"adapter '{entry.name}': {availability.reason}")
        rows.append(
            AdapterInfo(
                name=entry.name,
                entry_point=entry.value,
                distribution=entry.distribution,
                version=entry.version,
                available=availability.available,
                reason=availability.reason,
                loaded=loaded,
                commands=entry.name in command_names,
            )
        )
    return rows, problems


def load_command(entry: PluginEntry) -> object:
    """Import a command-group entry point (the caller checks it is a click command)."""
    try:
        return entry.load()
    except Exception as exc:
        raise PluginLoadError(
            f"commands '{entry.name}' ({entry.value}) failed to load: {_describe(exc)}"
        ) from None
