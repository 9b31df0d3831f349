#!/usr/bin/env python3
"""Run many calls of a shell/lib helper's CLI in one process (the differential tests' batch runner).

Each stdin line is a JSON request {"module": "lane_config", "argv": [...]}: the helper's `main(argv)` runs
as the shell runs it (the module loaded from shell/lib as a top-level script, its siblings importable),
with stdout and stderr captured. Each answer is one JSON line {"rc", "out", "err"}, in order. One process
answers thousands of requests: a python3 start per document would dominate the tests' time.

Usage: shell_batch.py SHELL_LIB_DIR < requests.jsonl > answers.jsonl
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import sys
import traceback
from types import ModuleType


def _load(lib: str, name: str, cache: dict[str, ModuleType]) -> ModuleType:
    if name not in cache:
        spec = importlib.util.spec_from_file_location(f"_batch_{name}", f"{lib}/{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        registry = getattr(module, "registry", None)
        if registry is not None and not hasattr(registry.load, "cache_info"):
            # the harness registry runs bash each time it is read; within one batch it does not change
            registry.load = functools.lru_cache(maxsize=None)(registry.load)
        cache[name] = module
    return cache[name]


def _call(module: ModuleType, argv: list[str]) -> dict[str, object]:
    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    err_text = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    with contextlib.redirect_stdout(out_text), contextlib.redirect_stderr(err_text):
        try:
            rc = module.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # what the shell would show as a traceback: the test fails on it
            traceback.print_exc()
            rc = -1
        sys.stdout.flush()
        sys.stderr.flush()
    return {
        "rc": rc,
        "out": out.getvalue().decode("utf-8", "surrogateescape"),
        "err": err.getvalue().decode("utf-8", "surrogateescape"),
    }


def main() -> int:
    lib = sys.argv[1]
    sys.path.insert(0, lib)
    sys.dont_write_bytecode = True
    cache: dict[str, ModuleType] = {}
    for line in sys.stdin:
        request = json.loads(line)
        answer = _call(_load(lib, request["module"], cache), request["argv"])
        sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
