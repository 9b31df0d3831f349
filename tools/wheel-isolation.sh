#!/usr/bin/env bash
# wheel-isolation.sh DIST: install each built wheel ALONE into a fresh venv (its workspace siblings
# come from DIST only through its declared dependencies) and import it. Fails on the first problem.
set -euo pipefail
dist=${1:?usage: wheel-isolation.sh DIST}
dist=$(cd "$dist" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
for whl in "$dist"/*.whl; do
  name=$(basename "$whl" | cut -d- -f1)
  venv="$work/$name"
  uv venv --quiet --python python3 "$venv"
  uv pip install --quiet --python "$venv/bin/python" --find-links "$dist" "$whl"
  "$venv/bin/python" -c "import importlib, sys; m = importlib.import_module('$name'); print('$name', m.__version__)"
  count=$((count + 1))
done
[ "$count" -eq 6 ] || { echo "expected 6 wheels in $dist, found $count" >&2; exit 1; }
echo "wheel isolation: $count wheels installed alone and imported"
