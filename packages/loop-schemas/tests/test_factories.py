"""No model field of the workspace has a builtin type as its default factory (loop_schemas/_factories.py):
pydantic reads each factory's signature when it builds the model, and a builtin's costs a tokenizer run
(`list` ~0.4 ms, `tuple` ~0.8 ms), paid by every process that builds the model."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil

from loop_schemas._factories import empty_list
from pydantic import BaseModel

PACKAGES = ("loop_schemas", "loop_engine", "loop_pm", "loop_pm_jira", "loop_deck")
SLOW = (list, tuple, set)


def models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for package in PACKAGES:
        if importlib.util.find_spec(package) is None:
            continue
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            found.extend(
                obj
                for obj in vars(module).values()
                if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == info.name
            )
    return found


def test_no_field_defaults_to_a_builtin_factory() -> None:
    found = models()
    assert len(found) > 100  # the walk saw the workspace's models
    slow = [
        f"{model.__module__}.{model.__qualname__}.{name}"
        for model in found
        for name, field in model.model_fields.items()
        if field.default_factory in SLOW
    ]
    assert slow == []


def test_empty_list_is_a_new_list_each_time() -> None:
    first = empty_list()
    first.append(1)
    assert empty_list() == []
