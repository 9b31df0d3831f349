"""Every file format and JSON surface of loop-orchestrator, as pydantic models and exported JSON Schema."""

from importlib.metadata import version as _version

__version__ = _version("loop-schemas")

__all__ = ["__version__"]
