"""Bad inputs at the edges (issue 11, item 6, the parts outside the chain): each is a one-line message
that names the value and the remedy, and nothing stored changes.

* bytes that are not UTF-8 (or a lone surrogate) in a command-line argument or a file name;
* ``newsrag delete ID ID`` (was a DuplicateIDError traceback that left the store marked dirty);
* an impossible header date names its line, not just the file;
* a pathologically fine-split file (50 KB of ``Go now. ``) is no more sentences than a normal one.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, NEWSRAG, make_settings, newsrag_env
from test_sigkill import dump, sentence

from newsrag.ingest import ingest_paths
from newsrag.ingest.parse import MIN_SENTENCE_CHARS, parse_text

CUP_ID = "cd3519ab7e6384d8"


def run(home: Path, args: list[str | bytes], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSRAG, *args],
        env=newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384"),
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="backslashreplace",
        timeout=300,
    )


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    home = tmp_path / "home"
    assert run(home, ["ingest", str(CORPUS), "--no-progress"], tmp_path).returncode == 0
    return home, dump(home, tmp_path)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ask", b"caf\xe9 borders"], "Error: QUESTION 'caf\\xe9 borders' is not valid UTF-8 text (byte 0xe9 at character 3)"),
        (["ask", "What about borders?", "--history", b"\xff\xfe"], "Error: --history '\\xff\\xfe' is not valid UTF-8"),
        (["ask", "What about borders?", "--source", b"ex\x9c.com"], "Error: --source 'ex\\x9c.com' is not valid UTF-8"),
        (["ask", "x\ud800y".encode("utf-8", "surrogatepass")], "Error: QUESTION"),
        (["article", b"a\xe9"], "Error: ID 'a\\xe9' is not valid UTF-8 text"),
        (["delete", CUP_ID, b"\x9c"], "Error: ID '\\x9c' is not valid UTF-8 text"),
    ],
)
def test_non_utf8_arguments_are_one_line_errors(
    stored: tuple[Path, dict[str, Any]], tmp_path: Path, args: list[str | bytes], expected: str
) -> None:
    home, before = stored
    line = one_line_error(run(home, args, tmp_path))
    assert line.startswith(expected) and line.endswith("retype it, or set the terminal to UTF-8"), line
    assert dump(home, tmp_path) == before


@pytest.mark.slow
def test_a_file_name_that_is_not_utf8_fails_alone(stored: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    home, _ = stored
    folder = tmp_path / "names"
    folder.mkdir()
    body = " date 2025-02-12 https://ex.example/{}\n\nTitle {}\n\nA body sentence here. Another one.\n"
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "w", encoding="utf-8") as f:
        f.write(body.format("a", "A"))
    (folder / "fine.txt").write_text(body.format("b", "B"), encoding="utf-8")
    proc = run(home, ["ingest", os.fsencode(folder), "--no-progress"], tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert (
        proc.stderr.strip()
        == f"failed: {folder}/caf\\xe9.txt: the file name is not valid UTF-8; rename the file (e.g. `convmv -f latin1 -t utf8`)"
    )
    assert proc.stdout.strip().splitlines()[-1].startswith("added 1, updated 0, unchanged 0, failed 1;")
    missing = run(home, ["ingest", b"gone\xe9.txt"], tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "failed: gone\\xe9.txt: no such file or folder"


@pytest.mark.slow
def test_delete_the_same_id_twice_deletes_it_once(stored: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    home, before = stored
    proc = run(home, ["delete", CUP_ID, CUP_ID], tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip().splitlines() == [
        f"deleted {CUP_ID}: Late Salcott Header Hands Port Calder Gulls First Coastal Cup Since 2009"
    ]
    after = dump(home, tmp_path)
    assert not after["dirty"], "the store was left marked dirty"
    assert set(after["articles"]) == set(before["articles"]) - {CUP_ID}
    assert not [i for kind in ("sections", "sentences") for i in after[kind] if i.startswith(CUP_ID)]


def test_an_impossible_header_date_names_its_line(tmp_path: Path, write_bytes: Callable[..., Path]) -> None:
    text = "\n\n date 2025-02-30 https://ex.example/bad-date\n\nA Title Here\n\nThe body text. More of it.\n"
    path = write_bytes("bad_date.txt", text.encode())
    report = ingest_paths([path], make_settings(tmp_path / "home", embedding_model="hash-384"))
    [failed] = report.results
    assert failed.status == "failed" and failed.where == f"{path}:3", failed
    assert "2025-02-30" in (failed.reason or "") and failed.reason and failed.reason.endswith("fix it or remove it")
    assert report.errors == [f"{path}:3: {failed.reason}"]


def test_a_pathologically_fine_file_costs_no_more_sentences_than_a_normal_one() -> None:
    rng = random.Random(7)
    body = ""
    while len(body) < 50_000:
        body += sentence(rng) + " "
    normal = parse_text("Normal\n\n" + body, "normal.txt")
    silly = parse_text("Pathological\n\n" + "Go now. " * 6250, "silly.txt")
    assert len(silly.text) <= len(normal.text)
    # it was 6,250 sentences, each embedded (33 s with the bundled model); now it is split by length
    assert len(silly.sentences) <= len(silly.text) // MIN_SENTENCE_CHARS + len(silly.sections)
    assert len(silly.sentences) < 2 * len(normal.sentences)
    for s in silly.sentences:
        quote = silly.text[s.start : s.end]
        assert quote == quote.strip() and quote.startswith("Go now.") and quote.endswith("Go now.")
    # an ordinary article keeps its own sentences
    plain = parse_text("Short\n\nNothing much happened today. The mayor went fishing.", "short.txt")
    assert [plain.text[s.start : s.end] for s in plain.sentences] == ["Nothing much happened today.", "The mayor went fishing."]


@pytest.mark.slow
def test_question_limits_come_from_settings(stored: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """NEWSRAG_MAX_QUESTION_CHARS / _HISTORY_ITEMS / _HISTORY_ITEM_CHARS bound what one question may send."""
    home, _ = stored
    long = "Who won the Coastal Cup final " + "and why " * 300
    line = one_line_error(run(home, ["ask", long], tmp_path))
    assert f"the question is {len(long):,} characters; the limit is 2,000 (NEWSRAG_MAX_QUESTION_CHARS)" in line
    raised = subprocess.run(
        [*NEWSRAG, "ask", long],
        env=newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384", NEWSRAG_MAX_QUESTION_CHARS="5000"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert raised.returncode == 0, raised.stderr
    history = ["Who won?"] * 3
    args: list[str | bytes] = ["ask", "And then?", *(x for h in history for x in ("--history", h))]
    limited = subprocess.run(
        [*NEWSRAG, *args],
        env=newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384", NEWSRAG_MAX_HISTORY_ITEMS="2"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one_line_error(limited).endswith("the limit is 2 (NEWSRAG_MAX_HISTORY_ITEMS); send only the latest turns")
