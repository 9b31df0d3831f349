"""tasks/ as the source of truth, synced to project-management tools through adapters."""

__version__ = "0.1.0"  # the pyproject version (tests/test_metadata.py holds them equal)

__all__ = ["__version__"]
