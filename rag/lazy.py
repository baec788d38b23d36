"""Lazy package exports (PEP 562): ``from newsrag import build_chain`` imports the chain's module only
when the name is first used, so that ``import newsrag`` (and the CLI's start) stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``names`` map to relative module paths."""

    def getattr_(name: str) -> Any:
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where, package), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # later lookups skip this function
        return value

    def dir_() -> list[str]:
        return sorted(set(importlib.import_module(package).__dict__) | set(names))

    return getattr_, dir_
