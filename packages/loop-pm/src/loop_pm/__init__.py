"""tasks/ as the source of truth, synced to project-management tools through adapters."""

from importlib.metadata import version as _version

__version__ = _version("loop-pm")

__all__ = ["__version__"]
