"""The browser app: a Gradio chat over the stored articles with quote footnotes and a sources panel."""

from __future__ import annotations

from ui.app import build_app, serve

__all__ = ["build_app", "serve"]
