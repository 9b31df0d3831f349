"""The typed Python boundary to loop-orchestrator's bash substrate and tmux.

Its major version is the CONTRACT version.
"""

from importlib.metadata import version as _version

__version__ = _version("loop-substrate")

__all__ = ["__version__"]
