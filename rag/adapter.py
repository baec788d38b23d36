"""The question adapter: a linear map of the question's vector, learned on the development questions, that
reorders an answer's quotes.

The bundled model embeds a question and the sentence that answers it as near neighbours less often than a
reader would expect: on the news dev split the answering sentence scores best for 27 of the 69 questions
whose answering sentence the chain scores at all. ``python -m newsrag.eval.train_adapter`` learns a
matrix ``A`` from the development questions only (news/dev, news/dev2, news/dev3, newsrag_qa) so that
``q + A q`` lies nearer the sentences that answer ``q``; the sentence vectors stay as stored. Measured and
chosen on dev (docs/benchmarks.md, rounds 12 and 13).

It changes which passages are quoted first, never whether the chain answers: the decision to answer (and
every support check) reads the hand scores, and :func:`reorder` gives the selection new candidates with
the adapted scores. Per question, the adapted similarities are put on the scale of the plain ones (same
mean and spread over the question's candidates), so that the selection's floor and margin mean what they
meant. The matrix belongs to the model it was trained for; with any other model the chain goes without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .quote import PARAMS, Candidate, rank

__all__ = ["ADAPTER_PATH", "QuestionAdapter", "load_adapter", "adapter_for", "reorder"]

ADAPTER_PATH = Path(__file__).resolve().parent / "data" / "adapter.json"


@dataclass(frozen=True)
class QuestionAdapter:
    #: the model identity (without a backend suffix) whose vector space the matrix maps
    model: str
    #: ``(dim, dim)``: the question's vector becomes ``q + matrix @ q``, normalised
    matrix: np.ndarray
    #: how much of the sentence weight moves from the plain similarity to the adapted one (0..1)
    blend: float

    def shifts(self, questions: np.ndarray, sentences: np.ndarray) -> np.ndarray:
        """What each sentence's hand score gains (or loses) when its similarity to the questions is
        read through the adapter: averaged over ``questions`` (one row, or a follow-up and its own turn,
        as the chain averages their scores), on the scale of the plain similarities."""
        if not len(sentences):
            return np.zeros(0, dtype=np.float32)
        out = np.zeros(len(sentences), dtype=np.float32)
        for q in np.atleast_2d(questions):
            plain = sentences @ q
            moved = q + self.matrix @ q
            norm = float(np.linalg.norm(moved))
            if not norm:
                continue
            adapted = sentences @ (moved / norm)
            spread = float(adapted.std())
            scaled = plain.mean() + (adapted - adapted.mean()) * (float(plain.std()) / spread if spread else 0.0)
            out += PARAMS.sentence * self.blend * (scaled - plain)
        return out / len(np.atleast_2d(questions))


def reorder(candidates: list[Candidate], shift: dict[str, float]) -> list[Candidate]:
    """The candidates with their adapted scores (new objects: the evidence keeps its hand scores), best
    first; ``candidates`` unchanged without shifts."""
    if not shift:
        return candidates
    return rank([replace(c, score=c.score + shift.get(c.record.id, 0.0)) for c in candidates])


def load_adapter(path: Path = ADAPTER_PATH) -> QuestionAdapter:
    """The adapter described by ``path`` (its matrix in the ``.npy`` file it names), cached per process."""
    return _load(Path(path).resolve())


@lru_cache(maxsize=2)
def _load(path: Path) -> QuestionAdapter:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        matrix = np.load(path.parent / meta["matrix"]).astype(np.float32)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(
            f"{path}: cannot read the question adapter ({e}); reinstall newsrag, retrain it "
            "(python -m newsrag.eval.train_adapter) or set NEWSRAG_QUESTION_ADAPTER=false"
        ) from e
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ConfigError(f"{path}: the adapter's matrix has shape {matrix.shape}, expected a square one; retrain it")
    return QuestionAdapter(str(meta["model"]), matrix, float(meta["blend"]))


def adapter_for(identity: str, path: Path = ADAPTER_PATH) -> QuestionAdapter | None:
    """The adapter for vectors of the embedder's model identity, or None when it was trained for another
    model (the int8 export of the same model shares its space: ``<model>+onnx-int8...``)."""
    adapter = load_adapter(path)
    return adapter if identity.split("+", 1)[0] == adapter.model else None
