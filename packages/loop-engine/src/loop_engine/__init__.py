"""The deterministic orchestration loop of loop-orchestrator: brain, human gate, watch daemon."""

from importlib.metadata import version as _version

__version__ = _version("loop-engine")

__all__ = ["__version__"]
