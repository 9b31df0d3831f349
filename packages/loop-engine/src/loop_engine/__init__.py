"""The deterministic orchestration loop of loop-orchestrator: brain, human gate, watch daemon."""

__version__ = "0.1.0"  # the pyproject version (tests/test_metadata.py holds them equal)

__all__ = ["__version__"]
