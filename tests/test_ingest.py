"""Ingest into real Chroma in a temporary folder: counts, metadata, deterministic ids, idempotence,
update, prune, delete, recovery after a failed run, every bad input, and the model check.

The main flow uses the real bundled model; the rest uses the hash embedder (they are about the store).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CORPUS, FORMATS, SEED, make_settings

from newsrag.ingest import ingest_paths
from newsrag.ingest.chunk import make_chunks
from newsrag.ingest.parse import parse_file
from newsrag.rag.embed import HashEmbedder
from newsrag.rag.errors import ModelMismatchError, NotFoundError
from newsrag.rag.models import Article
from newsrag.rag.settings import BUNDLED_MODEL, Settings
from newsrag.rag.store import Store, make_store

SEED_ID = "e44121d3b4a018c4"
SEED_URL_KEY = "sputnikglobe.com/20250212/pentagon-chief-casts-doubt-on-ukraines-nato-gamble-as-peace-talks-loom-1121560067.html"
KINDS = ("articles", "sections", "sentences")


# -- helpers ----------------------------------------------------------------------------------------
def parsed_all(folder: Path) -> dict[str, Article]:
    out: dict[str, Article] = {}
    for path in sorted(folder.glob("*.txt")):
        for a in parse_file(path).articles:
            out[a.id] = a
    return out


def snapshot(store: Store) -> dict[str, dict[str, tuple[str, str, tuple[float, ...]]]]:
    """Every record of every collection: id -> (document, metadata as JSON, vector)."""
    out: dict[str, dict[str, tuple[str, str, tuple[float, ...]]]] = {}
    for kind in KINDS:
        got = getattr(store, kind).get(include=["documents", "metadatas", "embeddings"])
        out[kind] = {
            i: (doc, json.dumps(meta, sort_keys=True), tuple(np.round(np.asarray(vec, dtype=float), 6)))
            for i, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
        }
    return out


def owned_by(snap: dict[str, dict[str, Any]], article_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The part of a snapshot that belongs to the given articles."""
    return {kind: {i: r for i, r in recs.items() if i.split(":", 1)[0] in article_ids} for kind, recs in snap.items()}


def ids(store: Store, kind: str) -> set[str]:
    return set(getattr(store, kind).get(include=[])["ids"])


def counts(store: Store) -> tuple[int, int, int]:
    return store.articles.count(), store.sections.count(), store.sentences.count()


def results_by_status(report: Any, status: str) -> list[Any]:
    return [r for r in report.results if r.status == status]


class WriteSpy:
    """Records every write-side call on a store and every embedding call."""

    def __init__(self, store: Store, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for name in ("write", "delete", "set_dirty", "sweep_orphans", "_upsert", "_delete_children"):
            self._wrap(monkeypatch, store, name)
        self._wrap(monkeypatch, embedder, "encode")

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, obj: Any, name: str) -> None:
        original = getattr(obj, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(obj, name, spy)


# -- the main flow with the real model --------------------------------------------------------------
@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> dict[str, Any]:
    """Seed + corpus ingested once with the real bundled model."""
    root = tmp_path_factory.mktemp("real")
    folder = root / "articles"
    folder.mkdir()
    shutil.copy2(SEED, folder / SEED.name)
    for p in sorted(CORPUS.glob("*.txt")):
        shutil.copy2(p, folder / p.name)
    settings = make_settings(root / "home")
    report = ingest_paths([folder], settings, embedder=embedder)
    store = make_store(settings, model=embedder.name)
    return {"folder": folder, "settings": settings, "report": report, "store": store, "parsed": parsed_all(folder)}


@pytest.mark.slow
def test_report_counts_match_the_store(real: dict[str, Any]) -> None:
    report, store, parsed = real["report"], real["store"], real["parsed"]
    n_chunks = sum(len(make_chunks(a, real["settings"].chunk_chars)) for a in parsed.values())
    n_sentences = sum(len(a.sentences) for a in parsed.values())
    assert len(parsed) == 9
    assert (report.added, report.updated, report.unchanged, report.failed, report.pruned) == (9, 0, 0, 0, 0)
    assert report.ok and report.errors == []
    assert (report.sections, report.sentences) == (n_chunks, n_sentences)
    assert n_chunks >= sum(len(a.sections) for a in parsed.values()) > 9  # the corpus really has headlines
    assert counts(store) == (9, n_chunks, n_sentences)
    assert report.summary().startswith("added 9, updated 0, unchanged 0, failed 0; ")
    assert {r.article_id for r in report.results} == set(parsed)
    assert store.model == BUNDLED_MODEL


@pytest.mark.slow
def test_article_records_round_trip_text_and_spans(real: dict[str, Any]) -> None:
    store, parsed = real["store"], real["parsed"]
    for aid, a in parsed.items():
        got = store.get_article(aid)
        assert got.text == a.text  # byte for byte, curly quotes included
        assert got.title == a.title and got.url == a.url and got.date == a.date and got.source == a.source
        assert got.sections == a.sections and got.sentences == a.sentences
        assert got.content_hash == a.content_hash
        assert got.path == a.path and Path(a.path or "").parent == real["folder"].resolve()
    seed = store.get_article(SEED_ID)
    assert seed.title == "Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"
    assert [s.headline for s in seed.sections][1:] == [
        "Returning to Ukraine's Pre-2014 Borders Unrealistic Objective",
        "Security Guarantees for Ukraine Must Be Backed by European, Non-European Troops",
        "US Prioritizing Deterring War With China in Pacific",
        "US Won't Tolerate Imbalanced Relationship With Allies Based on Dependency",
    ]
    listed = store.list_articles()
    assert {s.id for s in listed} == set(parsed)
    assert [s.date for s in listed] == sorted((s.date for s in listed), reverse=True)
    with pytest.raises(NotFoundError, match="newsrag articles"):
        store.get_article("0000000000000000")


@pytest.mark.slow
def test_section_record_metadata(real: dict[str, Any]) -> None:
    store, parsed = real["store"], real["parsed"]
    got = store.sections.get(include=["metadatas", "documents"])
    assert len(got["ids"]) > 0
    for cid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True):
        a = parsed[meta["article_id"]]
        chunk = next(c for c in make_chunks(a) if c.id == cid)
        section = a.sections[chunk.section]
        assert cid == f"{a.id}:{chunk.section}:{chunk.part}"
        assert meta["title"] == a.title and meta["url"] == a.url
        assert meta["source"] == a.source
        assert meta["date"] == a.date.isoformat()
        assert isinstance(meta["day"], int) and meta["day"] == (a.date - dt.date(1970, 1, 1)).days
        assert meta["section"] == chunk.section and meta["part"] == chunk.part
        assert meta["headline"] == (section.headline or "")
        assert (meta["start"], meta["end"]) == (chunk.start, chunk.end)
        assert meta["hash"] == a.content_hash
        assert doc == chunk.embed_text and a.title in doc and (section.headline or "") in doc


@pytest.mark.slow
def test_sentence_and_article_record_metadata(real: dict[str, Any]) -> None:
    store, parsed = real["store"], real["parsed"]
    section_ids = ids(store, "sections")
    got = store.sentences.get(include=["metadatas", "documents"])
    seen = set()
    for sid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True):
        a = parsed[meta["article_id"]]
        s = a.sentences[meta["sentence"]]
        assert sid == f"{a.id}:s{s.index}"
        assert (meta["start"], meta["end"], meta["section"]) == (s.start, s.end, s.section)
        assert doc == a.text[s.start : s.end]
        assert meta["chunk_id"] in section_ids and meta["chunk_id"].startswith(f"{a.id}:{s.section}:")
        assert meta["day"] == (a.date - dt.date(1970, 1, 1)).days
        seen.add(sid)
    assert len(seen) == sum(len(a.sentences) for a in parsed.values())
    arts = store.articles.get(include=["metadatas", "documents"])
    for aid, meta, doc in zip(arts["ids"], arts["metadatas"], arts["documents"], strict=True):
        a = parsed[aid]
        assert doc == a.text
        assert meta["model"] == BUNDLED_MODEL and meta["hash"] == a.content_hash
        assert meta["n_sections"] == len(a.sections) and meta["n_sentences"] == len(a.sentences)
        assert meta["date"] == a.date.isoformat() and isinstance(meta["day"], int)


@pytest.mark.slow
def test_real_model_vectors_find_the_right_section(real: dict[str, Any], embedder: Any) -> None:
    store = real["store"]
    vec = embedder.encode(["Is the US prioritizing deterring a war with China in the Pacific?"])[0]
    assert vec.shape == (384,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-4
    hits = store.query_sections(vec, 3, None)
    assert hits[0].chunk_id == f"{SEED_ID}:3:0"
    assert hits[0].headline == "US Prioritizing Deterring War With China in Pacific"
    rail = store.query_sections(embedder.encode(["Did the rail workers accept the pay deal?"])[0], 1, None)
    assert parsed_title(real, rail[0].article_id) == "Rail Workers Accept Pay Deal, Ending Tidewater Strike Dispute"
    # date filter through the integer day
    since = (dt.date(2025, 3, 1) - dt.date(1970, 1, 1)).days
    filtered = store.query_sections(vec, 50, {"day": {"$gte": since}})
    assert filtered and all(h.metadata["day"] >= since for h in filtered)
    assert all(h.article_id != SEED_ID for h in filtered)


def parsed_title(real: dict[str, Any], aid: str) -> str:
    return str(real["parsed"][aid].title)


def test_article_ids_are_deterministic_from_the_url() -> None:
    assert hashlib.sha256(SEED_URL_KEY.encode()).hexdigest()[:16] == SEED_ID
    assert parse_file(SEED).articles[0].id == SEED_ID


@pytest.mark.slow
def test_same_ids_in_a_fresh_home(real: dict[str, Any], tmp_path: Path, embedder: Any) -> None:
    """A second, empty NEWSRAG_HOME gets exactly the same record ids, documents and spans."""
    settings = make_settings(tmp_path / "fresh")
    report = ingest_paths([real["folder"]], settings, embedder=embedder)
    assert report.added == 9
    first, second = snapshot(real["store"]), snapshot(make_store(settings, model=embedder.name))
    for kind in KINDS:
        assert set(first[kind]) == set(second[kind]), kind
        for i, (doc, meta, _vec) in first[kind].items():
            m1, m2 = json.loads(meta), json.loads(second[kind][i][1])
            m1.pop("ingested", None), m2.pop("ingested", None)
            assert (doc, m1) == (second[kind][i][0], m2), i


# -- idempotence, update, prune, delete ------------------------------------------------------------
@pytest.fixture
def hashed(articles_dir: Path, settings: Settings, hash_embedder: HashEmbedder) -> dict[str, Any]:
    report = ingest_paths([articles_dir], settings, embedder=hash_embedder)
    assert report.added == 9 and report.ok
    store = make_store(settings, model=hash_embedder.name)
    return {"folder": articles_dir, "settings": settings, "store": store, "embedder": hash_embedder}


def test_reingest_unchanged_writes_nothing(hashed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    store, emb = hashed["store"], hashed["embedder"]
    before, generation = snapshot(store), store.generation()
    spy = WriteSpy(store, emb, monkeypatch)
    report = ingest_paths([hashed["folder"]], hashed["settings"], embedder=emb, store=store)
    assert (report.added, report.updated, report.unchanged, report.failed) == (0, 0, 9, 0)
    assert (report.sections, report.sentences) == (0, 0)
    assert spy.calls == [], f"an unchanged re-ingest wrote or embedded: {spy.calls}"
    assert store.generation() == generation
    assert snapshot(store) == before


def test_reingest_from_another_process_view_is_also_unchanged(hashed: dict[str, Any]) -> None:
    """A new Store object (as a new process would make) sees the same markers: still nothing to do."""
    store = make_store(hashed["settings"], model="hash-384")
    generation = store.generation()
    report = ingest_paths([hashed["folder"]], hashed["settings"], embedder=HashEmbedder())
    assert report.unchanged == 9 and report.added == report.updated == 0
    assert store.generation() == generation


def test_changed_file_replaces_exactly_its_own_records(hashed: dict[str, Any]) -> None:
    store, folder = hashed["store"], hashed["folder"]
    path = folder / "rail_strike_settled.txt"
    old = parse_file(path).articles[0]
    before, generation = snapshot(store), store.generation()
    # a shorter version: the last section goes, one sentence changes
    text = path.read_text(encoding="utf-8")
    cut = text.index(old.sections[-1].headline or "")
    new_text = text[:cut].replace("Members of the Coastal Rail Workers' Union", "Members of the rail union", 1)
    path.write_text(new_text, encoding="utf-8")
    new = parse_file(path).articles[0]
    assert new.id == old.id and len(new.sentences) < len(old.sentences) and new.content_hash != old.content_hash

    report = ingest_paths([folder], hashed["settings"], embedder=hashed["embedder"])
    assert (report.added, report.updated, report.unchanged, report.failed) == (0, 1, 8, 0)
    [updated] = results_by_status(report, "updated")
    assert updated.article_id == old.id and updated.path == str(path)
    after = snapshot(store)
    others = set(parsed_all(folder)) - {old.id}
    assert owned_by(after, others) == owned_by(before, others), "another article's records changed"
    # exactly the new version's records, no stale sentence or section of the old one
    assert {i for i in after["sentences"] if i.startswith(old.id)} == {f"{old.id}:s{k}" for k in range(len(new.sentences))}
    assert {i for i in after["sections"] if i.startswith(old.id)} == {c.id for c in make_chunks(new)}
    assert f"{old.id}:s{len(old.sentences) - 1}" not in after["sentences"]
    assert store.get_article(old.id).text == new.text
    assert "Members of the rail union" in store.get_article(old.id).text
    assert counts(store)[0] == 9
    assert store.generation() == generation + 1
    # and a third run is a no-op again
    again = ingest_paths([folder], hashed["settings"], embedder=hashed["embedder"])
    assert again.unchanged == 9 and again.updated == 0


def test_prune_removes_articles_whose_files_are_gone(hashed: dict[str, Any]) -> None:
    store, folder, settings, emb = hashed["store"], hashed["folder"], hashed["settings"], hashed["embedder"]
    gone = folder / "coastal_cup_final.txt"
    gone_id = parse_file(gone).articles[0].id
    before = snapshot(store)
    gone.unlink()

    kept = ingest_paths([folder], settings, embedder=emb)
    assert kept.pruned == 0 and kept.unchanged == 8
    assert gone_id in ids(store, "articles"), "without --prune nothing is removed"

    report = ingest_paths([folder], settings, embedder=emb, prune=True)
    assert report.pruned == 1 and report.unchanged == 8 and report.ok
    [pruned] = results_by_status(report, "pruned")
    assert pruned.article_id == gone_id and pruned.path == str(gone.resolve())
    after = snapshot(store)
    for kind in KINDS:
        assert not [i for i in after[kind] if i.startswith(gone_id)], f"{kind} of the pruned article remain"
    others = set(parsed_all(folder))
    assert owned_by(after, others) == owned_by(before, others)
    assert "pruned 1" in report.summary()


def test_prune_keeps_articles_from_files_not_named_in_this_run(
    hashed: dict[str, Any], tmp_path: Path, write_article: Callable[..., Path]
) -> None:
    other = write_article(
        "elsewhere.txt",
        "Harbour Lights Return",
        "The lights came back on Friday.",
        url="https://ex.example/lights",
        folder=tmp_path / "other",
    )
    settings, emb, store = hashed["settings"], hashed["embedder"], hashed["store"]
    assert ingest_paths([other], settings, embedder=emb).added == 1
    report = ingest_paths([hashed["folder"]], settings, embedder=emb, prune=True)
    assert report.pruned == 0 and counts(store)[0] == 10


def test_delete_removes_an_article_and_all_its_records(hashed: dict[str, Any]) -> None:
    store, folder = hashed["store"], hashed["folder"]
    before = snapshot(store)
    store.set_dirty(True)
    store.delete([SEED_ID])
    store.set_dirty(False)
    after = snapshot(store)
    for kind in KINDS:
        assert not [i for i in after[kind] if i.startswith(SEED_ID)]
    others = set(parsed_all(folder)) - {SEED_ID}
    assert owned_by(after, others) == owned_by(before, others)
    with pytest.raises(NotFoundError):
        store.get_article(SEED_ID)
    # the file is still there: the next ingest adds it back, with the same ids
    report = ingest_paths([folder], hashed["settings"], embedder=hashed["embedder"])
    assert (report.added, report.unchanged) == (1, 8)
    restored = snapshot(store)
    assert {k: set(v) for k, v in restored.items()} == {k: set(v) for k, v in before.items()}


class SimulatedCrash(Exception):
    """Raised in place of the article-marker write, as if the process died right there."""


def crash_before_markers(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make Store writes die before the article markers; returns the real ``_upsert`` to restore."""
    original = Store._upsert

    def die_on_markers(self: Store, col: Any, *args: Any, **kwargs: Any) -> None:
        if col.name.endswith("_articles"):
            raise SimulatedCrash("killed before the article markers were written")
        original(self, col, *args, **kwargs)

    monkeypatch.setattr(Store, "_upsert", die_on_markers)
    return original


def test_a_crashed_write_is_completed_by_the_next_run(
    articles_dir: Path, settings: Settings, hash_embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Children written, marker not (the process died): the next run sweeps and re-writes the article."""
    store = make_store(settings, model=hash_embedder.name)
    original = crash_before_markers(monkeypatch)
    with pytest.raises(SimulatedCrash):
        ingest_paths([articles_dir], settings, embedder=hash_embedder, store=store)
    assert counts(store)[0] == 0 and counts(store)[1] > 0  # half-written: children without markers
    assert store.is_dirty()
    monkeypatch.setattr(Store, "_upsert", original)

    report = ingest_paths([articles_dir], settings, embedder=hash_embedder, store=store)
    assert report.added == 9 and report.ok
    assert not store.is_dirty()
    fresh = make_settings(settings.home.parent / "clean")
    ingest_paths([articles_dir], fresh, embedder=hash_embedder)
    clean = make_store(fresh, model=hash_embedder.name)
    assert counts(store) == counts(clean)
    for kind in KINDS:
        assert ids(store, kind) == ids(clean, kind)


def test_records_of_a_crashed_write_are_swept_when_the_file_is_gone_too(
    articles_dir: Path, settings: Settings, hash_embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(settings, model=hash_embedder.name)
    original = crash_before_markers(monkeypatch)
    with pytest.raises(SimulatedCrash):
        ingest_paths([articles_dir], settings, embedder=hash_embedder, store=store)
    monkeypatch.setattr(Store, "_upsert", original)
    gone = articles_dir / "velmora_halo_tab_fine.txt"
    gone_id = parse_file(gone).articles[0].id
    assert [i for i in ids(store, "sections") if i.startswith(gone_id)]
    gone.unlink()
    report = ingest_paths([articles_dir], settings, embedder=hash_embedder, store=store)
    assert report.added == 8 and report.ok
    for kind in KINDS:
        assert not [i for i in ids(store, kind) if i.startswith(gone_id)], f"orphan {kind} of {gone_id} remain"
    children = {
        m["article_id"]
        for kind in ("sections", "sentences")
        for m in getattr(store, kind).get(include=["metadatas"])["metadatas"]
    }
    assert children == ids(store, "articles")


def test_long_sections_are_split_into_sentence_aligned_chunks(
    tmp_path: Path, write_article: Callable[..., Path], hash_embedder: HashEmbedder
) -> None:
    body = "The lead is short.Long Section Headline Here" + " ".join(
        f"Sentence number {k} of the long section says something new." for k in range(30)
    )
    path = write_article("long.txt", "Long One", body, url="https://ex.example/long")
    settings = make_settings(tmp_path / "home", chunk_chars=300)
    report = ingest_paths([path], settings, embedder=hash_embedder)
    a = parse_file(path).articles[0]
    assert [s.headline for s in a.sections] == [None, "Long Section Headline Here"]
    store = make_store(settings, model=hash_embedder.name)
    got = store.sections.get(where={"section": 1}, include=["metadatas"])
    parts = sorted((m["part"], m["start"], m["end"]) for m in got["metadatas"])
    assert len(parts) > 1 and report.sections == len(parts) + 1
    assert parts[0][1] == a.sections[1].start and parts[-1][2] == a.sections[1].end
    starts = {s.start for s in a.sentences}
    for (_, _, end), (_, start, _) in zip(parts, parts[1:], strict=False):
        assert end == start and start in starts, "parts must tile the section at sentence starts"
    assert all(e - s <= 300 + 80 for _, s, e in parts)


# -- every bad input --------------------------------------------------------------------------------
GOOD_NEW = ("fresh.txt", "Harbour Lights Return", "The harbour lights came back on Friday. Everyone cheered.")


def _bad_empty(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    p = write_bytes("empty.txt", b"", folder=folder)
    return [p], str(p), "empty file"


def _bad_blank(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    p = write_bytes("blank.txt", b"  \n\n \t\n", folder=folder)
    return [p], str(p), "empty file"


def _bad_binary(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    p = write_bytes("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), folder=folder)
    return [p], str(p), "binary file"


def _bad_latin1(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    data = " date 2025-02-12 https://ex.example/cafe\n\nCafé Opens\n\nThe café opened today.\n".encode("latin-1")
    p = write_bytes("latin1.txt", data, folder=folder)
    offset = data.index("é".encode("latin-1"))
    return [p], str(p), f"not UTF-8 text (byte 0xe9 at offset {offset})"


def _bad_date(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    text = " date 2025-02-30 https://ex.example/bad-date\n\nA Title Here\n\nThe body text. More of it.\n"
    p = write_bytes("bad_date.txt", text.encode(), folder=folder)
    return [p], f"{p}:1", "2025-02-30"  # the header's line, not just the file


def _bad_too_big(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    text = " date 2025-02-12 https://ex.example/big\n\nBig One\n\n" + "Word word word. " * 500
    p = write_bytes("big.txt", text.encode(), folder=folder)
    return [p], str(p), "over the limit of 5,000"


def _bad_jsonl_line(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    good = (FORMATS / "crawl_export.jsonl").read_text(encoding="utf-8").splitlines()
    p = write_bytes("export.jsonl", "\n".join([good[0], "{this is not json", good[2]]).encode() + b"\n", folder=folder)
    return [p], f"{p}:2", "not valid JSON"


def _bad_same_url_two_files(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    a = write_bytes("dup_a.txt", b" date 2025-03-01 https://ex.example/dup\n\nDup One\n\nText one. More.\n", folder=folder)
    b = write_bytes("dup_b.txt", b" date 2025-03-01 https://www.ex.example/dup/\n\nDup Two\n\nText two.\n", folder=folder)
    return [a, b], str(b), f"same URL as {a}"


def _bad_same_url_as_stored(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    raw = SEED.read_bytes().replace(b"The United States holds the view", b"A DIFFERENT COPY holds the view")
    p = write_bytes("seed_copy.txt", raw, folder=folder)
    return [p], str(p), f"same URL as {SEED.name}"


def _bad_missing(write_bytes: Callable[..., Path], folder: Path) -> tuple[list[Path], str, str]:
    p = folder / "does_not_exist.txt"
    return [p], str(p), "no such file or folder"


BAD_INPUTS = {
    "empty": _bad_empty,
    "blank": _bad_blank,
    "binary": _bad_binary,
    "latin1": _bad_latin1,
    "impossible-date": _bad_date,
    "too-big": _bad_too_big,
    "jsonl-bad-line": _bad_jsonl_line,
    "same-url-two-files": _bad_same_url_two_files,
    "same-url-as-stored": _bad_same_url_as_stored,
    "missing-path": _bad_missing,
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_fails_alone_and_leaves_the_store_as_it_was(
    case: str,
    hashed: dict[str, Any],
    tmp_path: Path,
    write_bytes: Callable[..., Path],
    write_article: Callable[..., Path],
) -> None:
    store, emb = hashed["store"], hashed["embedder"]
    settings = make_settings(hashed["settings"].home, max_file_bytes=5000)
    before = snapshot(store)
    bad_folder = tmp_path / "incoming"
    bad_folder.mkdir()
    bad_paths, where, reason = BAD_INPUTS[case](write_bytes, bad_folder)
    fresh = write_article(GOOD_NEW[0], GOOD_NEW[1], GOOD_NEW[2], url="https://ex.example/fresh", folder=bad_folder)

    report = ingest_paths([hashed["folder"], *bad_paths, fresh], settings, embedder=emb)

    failed = results_by_status(report, "failed")
    assert len(failed) == 1, [f.model_dump() for f in failed]
    assert failed[0].where == where
    shown_reason = (failed[0].reason or "").replace(str(hashed["folder"]) + "/", "")
    assert reason in shown_reason, failed[0].reason
    assert report.failed == 1 and not report.ok
    assert report.errors == [f"{where}: {failed[0].reason}"]
    assert report.unchanged == 9, "the stored articles must be seen as unchanged"
    # the batch went on: the good new file (and the good JSONL lines / first duplicate) were added
    assert str(fresh) in [r.path for r in results_by_status(report, "added")]
    expected_added = {"jsonl-bad-line": 3, "same-url-two-files": 2}.get(case, 1)
    assert report.added == expected_added
    # what was stored before is still there, unchanged record by record
    after = snapshot(store)
    for kind in KINDS:
        for i, record in before[kind].items():
            assert after[kind].get(i) == record, f"{kind} record {i} changed"
    assert counts(store)[0] == 9 + expected_added
    if case == "same-url-as-stored":
        assert "A DIFFERENT COPY" not in store.get_article(SEED_ID).text


def test_another_file_with_a_stored_url_is_refused(hashed: dict[str, Any], write_bytes: Callable[..., Path]) -> None:
    """Ingesting only the copy (the original not named in this run) still refuses to overwrite."""
    store = hashed["store"]
    before = owned_by(snapshot(store), {SEED_ID})
    raw = SEED.read_bytes().replace(b"The United States holds the view", b"A DIFFERENT COPY holds the view")
    copy = write_bytes("copy.txt", raw, folder=hashed["folder"].parent / "elsewhere")
    report = ingest_paths([copy], hashed["settings"], embedder=hashed["embedder"])
    [failed] = report.results
    assert failed.status == "failed" and failed.path == str(copy) and not report.ok
    assert f"same URL as the stored article from {hashed['folder'] / SEED.name}" in (failed.reason or "")
    assert f"newsrag delete {SEED_ID}" in (failed.reason or ""), "the reason must say how to replace it"
    assert owned_by(snapshot(store), {SEED_ID}) == before


def test_a_stored_file_that_turns_bad_keeps_its_stored_version(hashed: dict[str, Any]) -> None:
    store, folder = hashed["store"], hashed["folder"]
    path = folder / "velmora_halo_tab_fine.txt"
    aid = parse_file(path).articles[0].id
    before = snapshot(store)
    path.write_bytes(path.read_text(encoding="utf-8").replace("’", "'").encode() + "café".encode("latin-1"))
    report = ingest_paths([folder], hashed["settings"], embedder=hashed["embedder"], prune=True)
    assert report.failed == 1 and report.pruned == 0 and report.unchanged == 8
    assert results_by_status(report, "failed")[0].path == str(path)
    assert owned_by(snapshot(store), {aid}) == owned_by(before, {aid})


def test_a_folder_of_only_bad_files_writes_nothing(
    hashed: dict[str, Any], tmp_path: Path, write_bytes: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = hashed["store"]
    folder = tmp_path / "junk"
    write_bytes("a.txt", b"", folder=folder)
    write_bytes("b.txt", b"\xff\xfe\x00b\x00a\x00d", folder=folder)
    write_bytes("c.jsonl", b"nope\n[1, 2]\n", folder=folder)
    generation, before = store.generation(), snapshot(store)
    spy = WriteSpy(store, hashed["embedder"], monkeypatch)
    report = ingest_paths([folder], hashed["settings"], embedder=hashed["embedder"], store=store)
    assert report.failed == 4 and report.added == 0
    assert sorted(r.where for r in report.results) == sorted(
        [str(folder / "a.txt"), str(folder / "b.txt"), f"{folder / 'c.jsonl'}:1", f"{folder / 'c.jsonl'}:2"]
    )
    assert spy.calls == [] and store.generation() == generation and snapshot(store) == before


# -- the embedding model is checked ---------------------------------------------------------------
def test_model_mismatch_is_refused_with_a_remedy(hashed: dict[str, Any]) -> None:
    settings, folder = hashed["settings"], hashed["folder"]
    before = counts(hashed["store"])
    with pytest.raises(ModelMismatchError) as info:
        make_store(settings, model=BUNDLED_MODEL).check()
    message = str(info.value)
    assert "'hash-384'" in message and BUNDLED_MODEL in message
    assert "NEWSRAG_EMBEDDING_MODEL='hash-384'" in message, "the message must say which setting fixes it"
    assert str(settings.chroma_path) in message
    with pytest.raises(ModelMismatchError):
        ingest_paths([folder], settings, embedder=HashEmbedder(128))
    assert counts(hashed["store"]) == before
    meta = hashed["store"].client.get_collection("newsrag_articles").metadata
    assert meta["model"] == "hash-384", "a refused open must not relabel the store"


def test_another_collection_prefix_can_hold_another_model(hashed: dict[str, Any]) -> None:
    """The remedy the message offers (another NEWSRAG_COLLECTION) really works."""
    settings = make_settings(hashed["settings"].home, collection="other")
    report = ingest_paths([SEED], settings, embedder=HashEmbedder(128))
    assert report.added == 1
    assert make_store(settings, model="hash-128").count() == 1
    assert hashed["store"].count() == 9


def test_editing_the_url_of_a_file_replaces_its_article(
    tmp_path: Path, write_article: Callable[..., Path], settings: Settings, hash_embedder: HashEmbedder
) -> None:
    path = write_article("a.txt", "A Title Here", "Text one. More text.", url="https://ex.example/typo")
    assert ingest_paths([path], settings, embedder=hash_embedder).added == 1
    write_article("a.txt", "A Title Here", "Text one. More text.", url="https://ex.example/fixed")
    ingest_paths([path.parent], settings, embedder=hash_embedder, prune=True)
    stored = make_store(settings, model=hash_embedder.name).list_articles()
    assert [a.url for a in stored if a.path == str(path.resolve())] == ["https://ex.example/fixed"]


def test_jsonl_lines_removed_or_shifted_are_reconciled(tmp_path: Path, settings: Settings, hash_embedder: HashEmbedder) -> None:
    import json as _json

    def record(n: int) -> str:
        return _json.dumps(
            {
                "url": f"https://crawl.example/{n}",
                "date": f"2025-01-0{n}",
                "title": f"Record {n}",
                "text": f"Body of record {n} is here. It has two sentences.",
            }
        )

    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(record(n) for n in (1, 2, 3)) + "\n", encoding="utf-8")
    assert ingest_paths([path], settings, embedder=hash_embedder).added == 3
    # a new first line shifts every record down: no conflict, nothing lost
    path.write_text("\n".join(record(n) for n in (4, 1, 2, 3)) + "\n", encoding="utf-8")
    report = ingest_paths([path], settings, embedder=hash_embedder)
    assert report.failed == 0 and report.added == 1, report.errors
    # a removed line removes its article
    path.write_text("\n".join(record(n) for n in (4, 1, 3)) + "\n", encoding="utf-8")
    report = ingest_paths([path], settings, embedder=hash_embedder)
    assert report.pruned == 1
    urls = sorted(a.url or "" for a in make_store(settings, model=hash_embedder.name).list_articles())
    assert urls == [f"https://crawl.example/{n}" for n in (1, 3, 4)]
    # a broken line keeps what is stored: the unreadable record may be the one stored before
    path.write_text(record(4) + "\n{not json\n" + record(3) + "\n", encoding="utf-8")
    report = ingest_paths([path], settings, embedder=hash_embedder)
    assert report.failed == 1 and report.pruned == 0
    assert make_store(settings, model=hash_embedder.name).count() == 3
