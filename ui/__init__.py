"""The edges: the ``newsrag`` command line and the Gradio chat, where everything is wired together."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..rag.lazy import lazy_exports

if TYPE_CHECKING:
    from .app import build_app, serve
    from .cli import main

_EXPORTS = {"build_app": ".app", "serve": ".app", "main": ".cli"}
__all__ = ["build_app", "serve", "main"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

logging.getLogger(__name__).addHandler(logging.NullHandler())
