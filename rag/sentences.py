"""Sentence spans, from sentencex (a maintained Rust segmenter that needs no downloaded data).

It keeps ``U.S.``, ``Dr.``, ``Feb. 12`` and ``5.5%`` inside one sentence. Spans are trimmed of white
space and always satisfy ``text[start:end] == sentence``.
"""

from __future__ import annotations

import sentencex

__all__ = ["sentence_spans"]


def sentence_spans(text: str, start: int = 0, end: int | None = None, language: str = "en") -> list[tuple[int, int]]:
    """``[start, end)`` spans of the sentences in ``text[start:end]``, as offsets into ``text``."""
    end = len(text) if end is None else end
    piece = text[start:end]
    spans: list[tuple[int, int]] = []
    for boundary in sentencex.get_sentence_boundaries(language, piece):
        s, e = int(boundary["start_index"]), int(boundary["end_index"])
        # trim white space so that a quote never starts or ends with a blank
        while s < e and piece[s].isspace():
            s += 1
        while e > s and piece[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((start + s, start + e))
    return spans
