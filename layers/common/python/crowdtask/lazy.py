"""Modules loaded on first use, so a function's cold start imports the services of the route it runs.

A function module names its services as usual (`tasks.create_task(...)`); with
`tasks = lazy.load("crowdtask.services.tasks")` the import happens at the first attribute
looked up, in the first request that needs it, instead of when the function is loaded.
"""

from __future__ import annotations

import importlib
from typing import Any


class _LazyModule:
    __slots__ = ("_module", "_name")

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_module", None)

    def __getattr__(self, attribute: str) -> Any:
        module = object.__getattribute__(self, "_module")
        if module is None:
            module = importlib.import_module(object.__getattribute__(self, "_name"))
            object.__setattr__(self, "_module", module)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {object.__getattribute__(self, '_name')}>"


def load(name: str) -> Any:
    """The module `name`, imported when first used."""
    return _LazyModule(name)
