"""One module per public source: a module here that defines ``SOURCE`` (a ``SourceSpec``) is a
source, and ``SOURCE.name`` is its module's name (checked here and by the integrity tests).

Source modules import nothing heavy (no database driver), so DAG files can read every source's
declaration at parse time.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType


@functools.cache
def _declared() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SOURCE", None)
        if spec is None:
            continue  # a helper module (base), not a source
        if spec.name != info.name:
            raise ValueError(f"{module.__name__} declares SOURCE.name {spec.name!r}: a source is named after "
                             "its module (the name is the DAG id, the Asset and the ledger's source)")  # fmt: skip
        found[info.name] = module
    return found


def source_names() -> list[str]:
    return sorted(_declared())


def get_source(name: str) -> ModuleType:
    if name not in _declared():
        raise KeyError(f"unknown source {name!r}; known: {', '.join(source_names())}")
    return _declared()[name]
