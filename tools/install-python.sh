#!/usr/bin/env bash
# install-python.sh: install the Python layers from this checkout as uv tools (pip --user fallback).
# loop-engine brings loop-substrate's CLIs (loop-tmux, loop-dispatch, …) and loop-pm's along with it;
# loop-deck is installed as its own tool. Python >= 3.10.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools="loop-engine loop-deck loop-pm"
has_scripts() { grep -q '^\[project.scripts\]' "packages/$1/pyproject.toml"; }
if command -v uv >/dev/null 2>&1; then
  for t in $tools; do
    if ! has_scripts "$t"; then echo "skip $t (no commands yet)"; continue; fi
    extra=()
    if [ "$t" = loop-engine ] && has_scripts loop-substrate; then
      extra=(--with-executables-from loop-substrate)
    fi
    if [ "$t" = loop-pm ]; then
      extra=(--with ./packages/loop-pm-jira)  # the reference adapter, found through its entry point
    fi
    uv tool install --force --reinstall ${extra[@]+"${extra[@]}"} "./packages/$t"
  done
else
  echo "uv not found: falling back to pip --user" >&2
  for t in $tools; do
    has_scripts "$t" || continue
    python3 -m pip install --user --upgrade "./packages/loop-schemas" "./packages/loop-substrate" "./packages/$t"
    if [ "$t" = loop-pm ]; then python3 -m pip install --user --upgrade "./packages/loop-pm-jira"; fi
  done
fi
