"""Small JSON state files of the engine (asks, assignments, budget, back-off, ingest, uncertain actions).

Each is one JSON document, read-modify-written under its lock and replaced atomically, so a kill -9 at
any point leaves either the old or the new document, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loop_schemas import atomic_write, file_lock, read_project_text
from loop_schemas.fsread import ENGINE_CAP


class StoreError(Exception):
    """An engine state file that exists but is not valid JSON of the expected shape."""


def read_json(path: Path, default: Any) -> Any:
    try:
        text = read_project_text(path, ENGINE_CAP)
    except FileNotFoundError:
        return default
    except UnicodeDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON (not UTF-8 text)") from exc
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise StoreError(f"{path}: not valid JSON (too deeply nested)") from None
    if type(value) is not type(default):
        raise StoreError(f"{path}: expected a JSON {type(default).__name__}")
    return value


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


@contextlib.contextmanager
def updating(path: Path, default: Any) -> Iterator[Any]:
    """Lock, read (or start from `default`), let the caller mutate it in place, write it back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        value = read_json(path, default)
        yield value
        write_json(path, value)
