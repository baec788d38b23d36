"""The naive baseline: a plain LangChain RAG over the same stored articles and the same embedding model.

RecursiveCharacterTextSplitter (1000 characters, 200 overlap, with start offsets) over each stored
article's text, langchain-chroma in its own temporary folder, top-4 similarity search on the question
alone (no history: a plain RAG has no follow-up rewriting), and every retrieved chunk cited whole. It never
abstains. Its citations carry the chunk's ``[start, end)`` so validity and gold overlap are measured
exactly as for newsrag.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence

from langchain_core.embeddings import Embeddings

from ..rag.citations import cite
from ..rag.embed import Embedder
from ..rag.models import Answer, Article, Citation, Retrieved

__all__ = ["NaiveRag", "EmbedderEmbeddings", "BASELINES", "CHUNK_SIZE", "CHUNK_OVERLAP", "TOP_K", "cut_to_budget"]

BASELINES = ("naive",)
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP_K = 4


class EmbedderEmbeddings(Embeddings):
    """newsrag's :class:`~rag.embed.Embedder` (the same model and vectors) as a LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in v] for v in self.embedder.encode(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.encode([text])[0]]


class NaiveRag:
    """Index the given articles once; :meth:`invoke` answers a question with its top-4 chunks."""

    name = "naive"

    def __init__(self, articles: Sequence[Article], embedder: Embedder, k: int = TOP_K) -> None:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.k = k
        self.articles = {a.id: a for a in articles}
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
        docs = splitter.create_documents([a.text for a in articles], metadatas=[{"article_id": a.id} for a in articles])
        self.chunks = len(docs)
        self.folder = tempfile.mkdtemp(prefix="newsrag-naive-")
        self.store = Chroma(
            collection_name="naive_baseline",
            embedding_function=EmbedderEmbeddings(embedder),
            persist_directory=self.folder,
            client_settings=chromadb.config.Settings(anonymized_telemetry=False),
            collection_metadata={"hnsw:space": "cosine"},
        )
        if docs:
            self.store.add_documents(docs)

    def invoke(self, question: str) -> Answer:
        t0 = time.perf_counter()
        hits = self.store.similarity_search_with_score(question, k=self.k) if self.chunks else []
        citations: list[Citation] = []
        retrieved: list[Retrieved] = []
        for n, (doc, distance) in enumerate(hits, start=1):
            article = self.articles[doc.metadata["article_id"]]
            start = int(doc.metadata.get("start_index", -1))
            score = round(1.0 - float(distance), 4)
            citations.append(cite(article, start, start + len(doc.page_content), n, score))
            retrieved.append(
                Retrieved(
                    article_id=article.id,
                    section=n - 1,
                    headline=f"chars {start}-{start + len(doc.page_content)}",
                    title=article.title,
                    similarity=score,
                )
            )
        text = "\n\n".join(f"{c.quote} [{c.n}]" for c in citations)
        return Answer(
            question=question,
            answer=text,
            abstained=False,
            citations=citations,
            retrieved=retrieved,
            timings_ms={"total_ms": round((time.perf_counter() - t0) * 1000, 2)},
            backend="naive",
        )

    def close(self) -> None:
        """Drop the temporary Chroma folder."""
        try:
            self.store.delete_collection()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def cut_to_budget(answer: Answer, budget: int, articles: dict[str, Article]) -> Answer:
    """The same answer quoting at most ``budget`` characters in all: its citations, in rank order, keep
    their first characters until the budget is spent (each cut is still a span of the stored text), so
    that a system cannot win by quoting more than the one it is compared with."""
    left = budget
    kept: list[Citation] = []
    for c in answer.citations:
        if left <= 0:
            break
        take = min(left, c.end - c.start)
        kept.append(cite(articles[c.article_id], c.start, c.start + take, len(kept) + 1, c.score))
        left -= take
    text = "\n\n".join(f"{c.quote} [{c.n}]" for c in kept)
    return answer.model_copy(update={"citations": kept, "answer": text, "backend": f"{answer.backend}@{budget}"})
