"""The reference Jira adapter for loop-pm (REST v3 + Agile 1.0)."""

from importlib.metadata import version as _version

__version__ = _version("loop-pm-jira")

__all__ = ["__version__"]
