"""The built wheel, as a user gets it: one top-level ``newsrag`` package with the bundled article inside,
installed alone into a fresh virtual environment (its dependencies come from this interpreter's
site-packages through ``--system-site-packages``; the wheel itself is installed with ``--no-deps``).

* an app folder with its own ``ui/`` and ``eval/`` packages imports newsrag and answers a question;
* ``newsrag serve`` from the wheel ingests the bundled article on a first start and answers over HTTP.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsrag.eval.servers import running_server

pytestmark = [pytest.mark.slow, pytest.mark.server]

REPO = Path(__file__).resolve().parent.parent
SEED_NAME = "000_9d2fae29a5c0d528.txt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy, so that setuptools' build/ folder never lands in the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".*_cache"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (found,) = out.glob("newsrag-*.whl")
    return found


@pytest.fixture(scope="module")
def venv_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    yield python


def test_the_wheel_holds_one_top_level_package_with_the_bundled_article(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"newsrag"}, top
    assert f"newsrag/data/articles/{SEED_NAME}" in names
    assert "newsrag/py.typed" in names
    assert "newsrag/rag/data/scorer.json" in names, "the learned quote scorer is package data"
    for sub in ("rag", "ingest", "ui", "eval"):
        assert f"newsrag/{sub}/__init__.py" in names
    assert not [n for n in names if "/tests/" in n or n.startswith("newsrag/.ci")], "tests or CI files in the wheel"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "newsrag = newsrag.ui.cli:main" in text and "eval = newsrag.eval.cli:eval_command" in text


APP = """
import json, sys
import ui, eval as app_eval  # the app's own packages
from newsrag import Settings, build_chain, ingest_paths
import newsrag

settings = Settings(home=sys.argv[1], progress=False)
report = ingest_paths([settings.default_corpus], settings)
answer = build_chain(settings).invoke({"question": "What did Hegseth say about borders?"})
print(json.dumps({"newsrag": newsrag.__file__, "ui": ui.WHO, "eval": app_eval.WHO, "added": report.added,
                  "corpus": str(settings.default_corpus), "abstained": answer.abstained,
                  "quotes": [c.quote for c in answer.citations]}))
"""


def test_an_app_with_its_own_ui_and_eval_packages_uses_newsrag(venv_python: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    for name in ("ui", "eval"):
        (app / name).mkdir(parents=True)
        (app / name / "__init__.py").write_text(f"WHO = 'the app {name}'\n")
    (app / "main.py").write_text(APP)
    out = subprocess.run(
        [str(venv_python), "main.py", str(tmp_path / "home")],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=600,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    site = venv_python.parent.parent
    assert Path(got["newsrag"]).is_relative_to(site), f"newsrag came from {got['newsrag']}, not the wheel"
    assert Path(got["corpus"]).is_relative_to(site) and got["added"] == 1
    assert (got["ui"], got["eval"]) == ("the app ui", "the app eval")
    assert not got["abstained"] and any("pre-2014 borders" in q for q in got["quotes"])


def test_newsrag_serve_from_the_wheel_serves_the_bundled_article(venv_python: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_server(home, newsrag=[str(venv_python.parent / "newsrag")]) as server:
        log = server.log()
        assert "ingesting the bundled articles from" in log and "site-packages/newsrag/data/articles" in log, log
        assert "serving 1 articles" in log, log
        from gradio_client import Client

        answer = Client(server.url, verbose=False).predict("What did Hegseth say about borders?", api_name="/ask")
    assert not answer["abstained"] and any("pre-2014 borders" in c["quote"] for c in answer["citations"])
