"""Switching embedding models: the store refuses to mix vectors, and `newsrag reindex` re-embeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsrag.ingest import ingest_paths
from newsrag.ingest.reindex import reindex
from newsrag.rag.chain import build_chain
from newsrag.rag.errors import ModelMismatchError
from newsrag.rag.settings import BUNDLED_ARTICLES, Settings


def test_model_switch_stops_with_a_remedy_then_reindex_re_embeds(tmp_path: Path) -> None:
    fake = Settings(home=tmp_path, embedding_model="hash-384", progress=False)
    report = ingest_paths([BUNDLED_ARTICLES], fake)
    assert report.added == 1
    real = Settings(home=tmp_path, progress=False)
    with pytest.raises(ModelMismatchError, match="newsrag reindex"):
        build_chain(real)
    assert reindex(real) == 1
    chain = build_chain(real)
    answer = chain.invoke({"question": "What did Hegseth say about borders?"})
    assert any("pre-2014 borders" in c.quote for c in answer.citations)
    assert chain.store.sections.metadata["model"] == real.embedding_model
    assert chain.store.count() == 1 and chain.store.sections.count() == 5
    # the old model is now the one refused
    with pytest.raises(ModelMismatchError):
        build_chain(fake)
