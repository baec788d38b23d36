"""The learned scorer: two logistic models whose weights live in ``rag/data/scorer.json``, written by
``python -m newsrag.eval.train_scorer`` from the development split only (see that script and
docs/benchmarks.md). One ranks candidate quotes (the probability that a sentence answers the question);
the other decides whether the evidence answers the question at all. Both are plain numpy at query time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .features import CANDIDATE_FEATURES, QUESTION_FEATURES

__all__ = ["Linear", "Scorer", "load_scorer", "SCORER_PATH"]

SCORER_PATH = Path(__file__).resolve().parent / "data" / "scorer.json"


@dataclass(frozen=True)
class Linear:
    """A standardised logistic model: ``sigmoid(((x - mean) / scale) @ weights + bias)``."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(x.shape[0] if x.ndim > 1 else 0)
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def from_json(cls, raw: dict[str, object], expected: tuple[str, ...], where: str) -> Linear:
        features = tuple(str(f) for f in raw["features"])  # type: ignore[attr-defined]
        if features != expected:
            raise ConfigError(f"{where}: trained on features {features}, the code computes {expected}; retrain it")
        arr = {k: np.asarray(raw[k], dtype=np.float64) for k in ("mean", "scale", "weights")}
        return cls(features, arr["mean"], arr["scale"], arr["weights"], float(raw["bias"]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scorer:
    quote: Linear
    answerable: Linear
    #: the answerable model's probability below which the chain abstains
    abstain_below: float
    #: quotes are kept while their probability is at least this share of the best one's
    keep_ratio: float
    #: and at least this probability
    keep_floor: float
    #: quoted characters per answer at most (0: no limit), unless NEWSRAG_MAX_QUOTE_CHARS says otherwise
    max_chars: int = 0


@lru_cache(maxsize=4)
def load_scorer(path: Path = SCORER_PATH) -> Scorer:
    """The scorer in ``path`` (cached per process)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read the quote scorer ({e}); reinstall newsrag or retrain it") from e
    return Scorer(
        quote=Linear.from_json(raw["quote"], CANDIDATE_FEATURES, str(path)),
        answerable=Linear.from_json(raw["answerable"], QUESTION_FEATURES, str(path)),
        abstain_below=float(raw["abstain_below"]),
        keep_ratio=float(raw["keep_ratio"]),
        keep_floor=float(raw["keep_floor"]),
        max_chars=int(raw.get("max_chars", 0)),
    )
