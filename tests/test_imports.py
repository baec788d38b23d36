"""Each package's ``__init__`` is a docstring and a short explicit ``__all__`` whose names all import."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["rag", "ingest", "ui", "eval"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_has_docstring_and_all(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ and module.__file__.endswith("__init__.py"), f"{name} is not a regular package"
    assert (module.__doc__ or "").strip(), f"{name}/__init__.py has no docstring"
    exported = module.__dict__.get("__all__")
    assert isinstance(exported, list | tuple), f"{name}/__init__.py has no explicit __all__"
    assert exported, f"{name}.__all__ is empty"
    assert all(isinstance(n, str) for n in exported)
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_import(name: str) -> None:
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr, None) is not None, f"{name}.__all__ names {attr!r}, which does not import"
        exec(f"from {name} import {attr}", {})  # the form users write
