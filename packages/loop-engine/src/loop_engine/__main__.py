"""`python -m loop_engine` runs the loop-engine CLI (the daemon is started this way)."""

from loop_engine.cli import run

run()
