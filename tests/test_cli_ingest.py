"""``newsrag ingest / articles / article / delete`` as a user runs them: a real process, a real store in a
temporary NEWSRAG_HOME, exit codes and printed output. The hash embedder keeps these fast, except in the
one test about the default (bundled) model."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FORMATS, NEWSRAG, SEED, newsrag_env

from newsrag.ingest.parse import parse_file

SEED_ID = "e44121d3b4a018c4"
SUMMARY = re.compile(
    r"^added (\d+), updated (\d+), unchanged (\d+), failed (\d+)(?:, pruned (\d+))?; "
    r"(\d+) sections, (\d+) sentences written in \d+\.\d s$"
)


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NEWSRAG, *args], env=env, cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def summary(proc: subprocess.CompletedProcess[str]) -> tuple[int, ...]:
    last = proc.stdout.strip().splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, f"no summary line in stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return tuple(int(g or 0) for g in m.groups())


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


@pytest.fixture
def cli(tmp_path: Path, cli_env: Callable[..., dict[str, str]]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, home=None, **env)`` runs newsrag with the hash embedder in a private home."""

    def call(*args: str, home: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return run(list(args), cli_env(home, **extra), tmp_path)

    return call


def expected_totals(folder: Path) -> tuple[int, int]:
    articles = [a for p in sorted(folder.glob("*.txt")) for a in parse_file(p).articles]
    return sum(len(a.sections) for a in articles), sum(len(a.sentences) for a in articles)


# -- ingest -----------------------------------------------------------------------------------------
def test_ingest_prints_each_file_and_the_summary(cli: Any, articles_dir: Path) -> None:
    proc = cli("ingest", str(articles_dir), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    sections, sentences = expected_totals(articles_dir)
    assert summary(proc) == (9, 0, 0, 0, 0, sections, sentences)
    added = [line for line in proc.stdout.splitlines() if line.startswith("added: ")]
    assert len(added) == 9
    assert f"added: {articles_dir / SEED.name} ({SEED_ID})" in added
    assert "failed" not in proc.stderr

    again = cli("ingest", str(articles_dir), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert summary(again) == (0, 0, 9, 0, 0, 0, 0)
    assert not [line for line in again.stdout.splitlines() if line.startswith(("added:", "updated:"))]


def test_ingest_json_report(cli: Any, articles_dir: Path) -> None:
    proc = cli("ingest", str(articles_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["added"], report["failed"]) == (9, 0)
    assert {r["status"] for r in report["results"]} == {"added"}
    assert SEED_ID in {r["article_id"] for r in report["results"]}


def test_ingest_with_a_bad_file_names_it_and_exits_non_zero(cli: Any, articles_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "incoming" / "latin1.txt"
    bad.parent.mkdir()
    data = " date 2025-02-12 https://ex.example/cafe\n\nCafé Opens\n\nThe café opened.\n".encode("latin-1")
    bad.write_bytes(data)
    proc = cli("ingest", str(articles_dir), str(bad), "--no-progress")
    assert proc.returncode != 0
    offset = data.index("é".encode("latin-1"))
    assert f"failed: {bad}: not UTF-8 text (byte 0xe9 at offset {offset})" in proc.stderr
    no_traceback(proc)
    assert summary(proc)[:4] == (9, 0, 0, 1), "the good files are still ingested"
    listed = json.loads(cli("articles", "--json").stdout)
    assert len(listed) == 9


def test_ingest_bad_jsonl_line_names_file_and_line(cli: Any, tmp_path: Path) -> None:
    lines = (FORMATS / "crawl_export.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join([lines[0], "{broken", lines[1]]) + "\n", encoding="utf-8")
    proc = cli("ingest", str(path), "--no-progress")
    assert proc.returncode == 1
    assert f"failed: {path}:2: not valid JSON" in proc.stderr
    assert summary(proc)[:4] == (2, 0, 0, 1)
    assert f"added: {path}:1 (" in proc.stdout and f"added: {path}:3 (" in proc.stdout


def test_ingest_missing_path_exits_non_zero(cli: Any, tmp_path: Path) -> None:
    proc = cli("ingest", str(tmp_path / "nope"), "--no-progress")
    assert proc.returncode == 1
    assert f"failed: {tmp_path / 'nope'}: no such file or folder" in proc.stderr
    no_traceback(proc)


def test_ingest_needs_a_path(cli: Any) -> None:
    proc = cli("ingest")
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_ingest_prune(cli: Any, articles_dir: Path) -> None:
    assert cli("ingest", str(articles_dir), "--no-progress").returncode == 0
    gone = articles_dir / "migraine_spray_trial.txt"
    gone_id = parse_file(gone).articles[0].id
    gone.unlink()
    proc = cli("ingest", str(articles_dir), "--prune", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)[:5] == (0, 0, 8, 0, 1)
    assert f"pruned: {gone.resolve()} ({gone_id})" in proc.stdout
    assert gone_id not in {a["id"] for a in json.loads(cli("articles", "--json").stdout)}


# -- articles / article / delete --------------------------------------------------------------------
@pytest.fixture
def ingested(cli: Any, articles_dir: Path) -> Path:
    proc = cli("ingest", str(articles_dir), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return articles_dir


def test_articles_lists_what_was_ingested(cli: Any, ingested: Path) -> None:
    proc = cli("articles", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    parsed = {a.id: a for p in sorted(ingested.glob("*.txt")) for a in parse_file(p).articles}
    assert {a["id"] for a in listed} == set(parsed)
    for item in listed:
        a = parsed[item["id"]]
        assert item["title"] == a.title and item["url"] == a.url
        assert item["date"] == a.date.isoformat()  # type: ignore[union-attr]
        assert (item["n_sections"], item["n_sentences"]) == (len(a.sections), len(a.sentences))
        assert "text" not in item
    assert [a["date"] for a in listed] == sorted((a["date"] for a in listed), reverse=True)
    text = cli("articles")
    assert text.returncode == 0 and text.stdout.strip().endswith("9 articles")
    assert f"{SEED_ID}  2025-02-12  sputnikglobe.com" in text.stdout


def test_article_json_has_full_text_and_spans(cli: Any, ingested: Path) -> None:
    proc = cli("article", SEED_ID, "--json")
    assert proc.returncode == 0, proc.stderr
    a = json.loads(proc.stdout)
    raw = SEED.read_text(encoding="utf-8")
    assert a["text"] == raw[raw.index(a["title"]) + len(a["title"]) :].strip()
    assert a["title"] == "Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"
    assert a["date"] == "2025-02-12" and a["source"] == "sputnikglobe.com"
    text, sections, sentences = a["text"], a["sections"], a["sentences"]
    assert [s["headline"] for s in sections] == [
        None,
        "Returning to Ukraine's Pre-2014 Borders Unrealistic Objective",
        "Security Guarantees for Ukraine Must Be Backed by European, Non-European Troops",
        "US Prioritizing Deterring War With China in Pacific",
        "US Won't Tolerate Imbalanced Relationship With Allies Based on Dependency",
    ]
    assert sections[0]["start"] == 0 and sections[-1]["end"] == len(text)
    for s, nxt in zip(sections, sections[1:], strict=False):
        assert s["end"] == nxt["start"]
        assert text[nxt["start"] : nxt["body_start"]] == nxt["headline"]
    assert len(sentences) == a["n_sentences"] == 10
    for s in sentences:
        piece = text[s["start"] : s["end"]]
        assert piece and piece == piece.strip()
        sec = sections[s["section"]]
        assert sec["body_start"] <= s["start"] < s["end"] <= sec["end"]
    said = [text[s["start"] : s["end"]] for s in sentences]
    assert any(x.endswith("cause more suffering, Hegseth said.") for x in said)
    assert any(x.startswith('"We want, like you') for x in said)


def test_article_plain_output_shows_headlines(cli: Any, ingested: Path) -> None:
    proc = cli("article", SEED_ID)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom\n")
    assert "## US Prioritizing Deterring War With China in Pacific\n" in proc.stdout


def test_unknown_article_exits_non_zero(cli: Any, ingested: Path) -> None:
    proc = cli("article", "0000000000000000")
    assert proc.returncode == 1
    assert "no article with id '0000000000000000'" in proc.stderr
    no_traceback(proc)


def test_delete(cli: Any, ingested: Path) -> None:
    proc = cli("delete", SEED_ID)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"deleted {SEED_ID}: Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"
    ids = {a["id"] for a in json.loads(cli("articles", "--json").stdout)}
    assert SEED_ID not in ids and len(ids) == 8
    assert cli("article", SEED_ID).returncode == 1
    # the file is still there: ingesting again adds it back
    again = cli("ingest", str(ingested), "--no-progress")
    assert summary(again)[:3] == (1, 0, 8)


def test_delete_unknown_id_deletes_nothing(cli: Any, ingested: Path) -> None:
    proc = cli("delete", SEED_ID, "ffffffffffffffff")
    assert proc.returncode == 1
    assert "ffffffffffffffff" in proc.stderr and "nothing deleted" in proc.stderr
    no_traceback(proc)
    assert len(json.loads(cli("articles", "--json").stdout)) == 9


def test_ids_survive_deleting_the_home(cli: Any, articles_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli("ingest", str(articles_dir), "--no-progress", home=home).returncode == 0
    first = {a["id"]: a for a in json.loads(cli("articles", "--json", home=home).stdout)}
    seed_first = json.loads(cli("article", SEED_ID, "--json", home=home).stdout)
    shutil.rmtree(home)
    assert cli("ingest", str(articles_dir), "--no-progress", home=home).returncode == 0
    second = {a["id"]: a for a in json.loads(cli("articles", "--json", home=home).stdout)}
    assert first == second
    assert json.loads(cli("article", SEED_ID, "--json", home=home).stdout) == seed_first


# -- settings and model errors ----------------------------------------------------------------------
def test_model_mismatch_message_says_how_to_fix_it(cli: Any, ingested: Path) -> None:
    for proc in (cli("articles", NEWSRAG_EMBEDDING_MODEL="hash-128"), cli("--model", "hash-128", "articles")):
        assert proc.returncode == 1
        no_traceback(proc)
        assert "holds vectors from 'hash-384'" in proc.stderr
        assert "NEWSRAG_EMBEDDING_MODEL='hash-384'" in proc.stderr


def test_reindex_named_in_the_mismatch_message_works(cli: Any, ingested: Path) -> None:
    before = json.loads(cli("article", SEED_ID, "--json").stdout)
    proc = cli("reindex", NEWSRAG_EMBEDDING_MODEL="hash-128")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "re-embedded 9 articles with hash-128" in proc.stdout
    listed = cli("articles", "--json", NEWSRAG_EMBEDDING_MODEL="hash-128")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 9
    assert json.loads(cli("article", SEED_ID, "--json", NEWSRAG_EMBEDDING_MODEL="hash-128").stdout) == before
    old = cli("articles")  # the store now holds hash-128 vectors
    assert old.returncode == 1 and "NEWSRAG_EMBEDDING_MODEL='hash-128'" in old.stderr


def test_bad_chroma_url_setting_is_a_clear_error(cli: Any) -> None:
    proc = cli("articles", NEWSRAG_CHROMA_URL="localhost:8000")
    assert proc.returncode == 1
    no_traceback(proc)
    assert "expected http://host:port" in proc.stderr


def test_unreachable_chroma_server_is_a_clear_error(cli: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli("articles", NEWSRAG_CHROMA_URL=f"http://127.0.0.1:{port}")
    assert proc.returncode == 1
    no_traceback(proc)
    assert f"cannot open the Chroma store at http://127.0.0.1:{port}" in proc.stderr
    assert "chroma run" in proc.stderr


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = shutil.which("newsrag")
    assert exe, "the `newsrag` console script is not on PATH"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, env=newsrag_env(tmp_path / "h"), timeout=120)
    assert proc.returncode == 0
    for command in ("ingest", "articles", "article", "delete", "ask", "serve"):
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.M), command


@pytest.mark.slow
def test_default_model_is_the_bundled_one_and_loads_offline(tmp_path: Path) -> None:
    env = newsrag_env(tmp_path / "home")  # no NEWSRAG_EMBEDDING_MODEL: the default
    proc = run(["ingest", str(SEED), "--no-progress"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)[:4] == (1, 0, 0, 0)
    listed = run(["articles", "--json"], env, tmp_path)
    assert listed.returncode == 0 and [a["id"] for a in json.loads(listed.stdout)] == [SEED_ID]
    hashed = run(["articles"], newsrag_env(tmp_path / "home", NEWSRAG_EMBEDDING_MODEL="hash-384"), tmp_path)
    assert hashed.returncode == 1 and "sentence-transformers/all-MiniLM-L6-v2" in hashed.stderr


def test_ask_in_an_app_s_own_process_hands_its_garbage_collector_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``newsrag ask`` pauses the garbage collector while it answers (a cold ask only makes objects that
    live until it ends); run through click inside another program, it leaves the collector as it found it."""
    import gc

    from click.testing import CliRunner

    from newsrag.ingest import ingest_paths
    from newsrag.rag import chain as chain_module
    from newsrag.rag.embed import HashEmbedder
    from newsrag.rag.settings import Settings
    from newsrag.ui.cli import cli

    home = tmp_path / "home"
    ingest_paths([SEED], Settings(home=home, embedding_model="hash-384", progress=False), embedder=HashEmbedder())
    collecting: list[bool] = []
    real = chain_module.build_chain

    def build_chain(*args: Any, **kwargs: Any) -> Any:
        collecting.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(chain_module, "build_chain", build_chain)
    env = {"NEWSRAG_HOME": str(home), "NEWSRAG_EMBEDDING_MODEL": "hash-384"}
    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["ask", "What did Hegseth say about borders?", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["citations"]
    assert collecting == [False] and gc.isenabled()


def test_ask_on_a_store_of_another_model_says_so_before_running_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's model is checked before the question is embedded: on a first run the model's ONNX
    export takes 10-30 s, and a user whose store holds another model's vectors hears so at once."""
    from click.testing import CliRunner

    from newsrag.ingest import ingest_paths
    from newsrag.rag.embed import HashEmbedder
    from newsrag.rag.settings import Settings
    from newsrag.ui.cli import cli

    home = tmp_path / "home"
    ingest_paths([SEED], Settings(home=home, embedding_model="hash-384", progress=False), embedder=HashEmbedder())
    encoded: list[list[str]] = []
    real = HashEmbedder.encode

    def encode(self: HashEmbedder, texts: list[str]) -> Any:
        encoded.append(texts)
        return real(self, texts)

    monkeypatch.setattr(HashEmbedder, "encode", encode)
    env = {"NEWSRAG_HOME": str(home), "NEWSRAG_EMBEDDING_MODEL": "hash-128"}
    result = CliRunner().invoke(cli, ["ask", "What did Hegseth say about borders?"], env=env)
    assert result.exit_code == 1
    assert "holds vectors from 'hash-384', but the configured embedder is 'hash-128'" in result.output
    assert encoded == []
