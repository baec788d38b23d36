"""Evaluation: datasets of questions with gold quotes, metrics over Answers, the runner behind
``newsrag eval`` (newsrag side by side with a naive LangChain RAG baseline), and the benchmarks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..rag.lazy import lazy_exports

if TYPE_CHECKING:
    from .datasets import DatasetError, DatasetItem, load_datasets
    from .metrics import Metrics, Verdict
    from .runner import EvalReport, run_eval

_EXPORTS = {
    "run_eval": ".runner",
    "EvalReport": ".runner",
    "Metrics": ".metrics",
    "Verdict": ".metrics",
    "DatasetItem": ".datasets",
    "DatasetError": ".datasets",
    "load_datasets": ".datasets",
}
__all__ = ["run_eval", "EvalReport", "Metrics", "Verdict", "DatasetItem", "DatasetError", "load_datasets"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

logging.getLogger(__name__).addHandler(logging.NullHandler())
