"""The Textual flight deck of loop-orchestrator: a strict non-writer."""

from importlib.metadata import version as _version

__version__ = _version("loop-deck")

__all__ = ["__version__"]
