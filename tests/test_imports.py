"""The package's shape: one ``newsrag`` namespace, explicit ``__all__`` everywhere, and imports that flow
one way (rag <- ingest <- ui/eval) with no cycle between modules, lazy imports included."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import newsrag

PACKAGES = ["newsrag", "newsrag.rag", "newsrag.ingest", "newsrag.ui", "newsrag.eval"]
ROOT = Path(newsrag.__file__).resolve().parent
#: Which layers each layer may import (the root ``newsrag`` package re-exports from all of them).
ALLOWED = {"rag": {"rag"}, "ingest": {"rag", "ingest"}, "ui": {"rag", "ingest", "ui"}, "eval": {"rag", "ingest", "ui", "eval"}}


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


def test_public_api_from_the_top() -> None:
    from newsrag import Answer, Settings, build_chain, ingest_paths
    from newsrag.rag.chain import NewsragChain

    assert build_chain.__annotations__["return"] in ("NewsragChain", NewsragChain)
    assert Answer.model_fields and Settings.model_fields and callable(ingest_paths)


def test_import_newsrag_is_cheap_and_never_loads_the_folders_as_top_level_packages() -> None:
    """``import newsrag`` loads no heavy library, and no module is imported as bare ``rag``/``ui``/..."""
    code = (
        "import sys, newsrag, newsrag.rag, newsrag.ingest, newsrag.ui, newsrag.eval; "
        "heavy = {'torch', 'sentence_transformers', 'chromadb', 'gradio', 'langchain_core'} & set(sys.modules); "
        "bare = {m for m in sys.modules if m.split('.')[0] in ('rag', 'ingest', 'ui', 'eval')}; "
        "print(sorted(heavy), sorted(bare))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "[] []", out.stdout + out.stderr


def test_tests_import_the_installed_package() -> None:
    bare = sorted(m for m in sys.modules if m.split(".")[0] in ("rag", "ingest", "ui", "eval"))
    assert not bare, f"imported as top-level packages (by accident, from the folders): {bare}"


# -- the import graph ---------------------------------------------------------------------------------
def _modules() -> dict[str, Path]:
    out = {"newsrag": ROOT / "__init__.py"}
    for layer in ALLOWED:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("newsrag", *parts))
            out[name.removesuffix(".__init__")] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "newsrag"]
    base = module if is_package else module.rsplit(".", 1)[0]
    for _ in range(max(node.level - 1, 0)):
        base = base.rsplit(".", 1)[0]
    target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
    if not target.startswith("newsrag"):
        return []
    # "from .pkg import module" imports the module; "from .module import name" imports the module
    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
    return subs or [target]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in ast.walk(tree):  # every import, at module level or inside a function or TYPE_CHECKING
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(_resolve(name, path.name == "__init__.py", node, set(modules)))
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_imports_flow_one_way() -> None:
    wrong = []
    for module, targets in _graph().items():
        layer = _layer(module)
        if layer is None:
            continue  # the root package re-exports the public API of every layer
        for target in targets:
            if _layer(target) not in ALLOWED[layer]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that point upward:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules() -> None:
    """Package ``__init__`` files only re-export, so edges into them are ignored; module to module, the
    graph (lazy and TYPE_CHECKING imports included) is acyclic."""
    graph = {
        m: {t for t in ts if not t.endswith(tuple(f".{layer}" for layer in ALLOWED)) and t != "newsrag"}
        for m, ts in _graph().items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
