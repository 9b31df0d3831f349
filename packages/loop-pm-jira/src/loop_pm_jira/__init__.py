"""The reference Jira adapter for loop-pm (REST v3 + Agile 1.0)."""

__version__ = "0.1.0"  # the pyproject version (tests/test_metadata.py holds them equal)

__all__ = ["__version__"]
