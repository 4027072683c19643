"""One module per public source. ``SOURCE_MODULES`` lists them in dependency order."""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module; reference sources first, since others resolve against them.
SOURCE_MODULES: dict[str, str] = {
    "submarine_cables": "dsrwatch.sources.submarine_cables",
}


def get_source(name: str) -> ModuleType:
    try:
        return importlib.import_module(SOURCE_MODULES[name])
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCE_MODULES)}") from None
