"""Re-embed every stored article with the configured model (after changing NEWSRAG_EMBEDDING_MODEL).

The article texts and spans are kept in the store, so no input file is needed. New vectors are written
to side collections first and swapped in at the end: a run killed half way leaves the old store intact.
It holds the store's write lock throughout (no ingest or delete runs meanwhile), and the swapped-in store
is a new collection with a higher generation, so every running reader notices it.
"""

from __future__ import annotations

import logging

from ..rag.embed import make_embedder
from ..rag.settings import Settings, get_settings
from ..rag.store import Store, _handle_for, _write_lock
from .pipeline import write_articles

__all__ = ["reindex"]

log = logging.getLogger(__name__)
KINDS = ("articles", "sections", "sentences")


def reindex(settings: Settings | None = None) -> int:
    """Returns the number of articles re-embedded."""
    settings = settings or get_settings()
    handle = _handle_for(settings)
    prefix, where = settings.collection, settings.chroma_url or str(settings.chroma_path)
    lock = _write_lock(settings)
    probe = Store(handle, prefix, "", where, write_lock=lock)
    with probe.exclusive("newsrag reindex"):
        client = handle.client
        names = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
        if f"{prefix}_articles" not in names:
            return 0
        meta = client.get_collection(f"{prefix}_articles").metadata or {}
        stored_model, generation = meta.get("model", ""), int(meta.get("generation", 0))
        old = Store(handle, prefix, stored_model, where)
        ids = list(old.markers())
        stream = (a for i in range(0, len(ids), 200) for a in old.get_articles(ids[i : i + 200]).values())
        embedder = make_embedder(settings)
        side = f"{prefix}.reindex"
        for kind in KINDS:
            if f"{side}_{kind}" in names:
                client.delete_collection(f"{side}_{kind}")
        new = Store(handle, side, embedder.name, where, ef_search=settings.hnsw_ef_search)
        new.set_dirty(True)
        write_articles(new, embedder, stream, settings.chunk_chars)
        new.set_dirty(False)
        side_meta = dict(client.get_collection(f"{side}_articles").metadata or {})
        side_meta["generation"] = max(generation, int(side_meta.get("generation", 0))) + 1  # never goes back
        client.get_collection(f"{side}_articles").modify(metadata=side_meta)
        for kind in KINDS:
            if f"{prefix}_{kind}" in names:
                client.delete_collection(f"{prefix}_{kind}")
            client.get_collection(f"{side}_{kind}").modify(name=f"{prefix}_{kind}")
    log.info("re-embedded %d articles from %s to %s", len(ids), stored_model, embedder.name)
    return len(ids)
