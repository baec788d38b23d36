"""Evaluation: datasets of questions with gold quotes, metrics over Answers, and the runner behind
``newsrag eval`` (newsrag side by side with a naive LangChain RAG baseline)."""

from __future__ import annotations

import logging

from eval.datasets import DatasetError, DatasetItem, load_datasets
from eval.metrics import Metrics, Verdict
from eval.runner import EvalReport, run_eval

__all__ = ["run_eval", "EvalReport", "Metrics", "Verdict", "DatasetItem", "DatasetError", "load_datasets"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
