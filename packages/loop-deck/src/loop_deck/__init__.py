"""The Textual flight deck of loop-orchestrator: a strict non-writer."""

__version__ = "0.1.0"  # the pyproject version (tests/test_metadata.py holds them equal)

__all__ = ["__version__"]
