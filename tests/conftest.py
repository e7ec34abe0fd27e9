"""Shared fixtures: the real model (loaded once per session) and temp copies of the project.

Tests never touch the project's own ``index/``: each gets a copy of ``corpus/`` and an index
folder under pytest's tmp_path. A test that uses the model (any fixture of ``MODEL_FIXTURES``)
is marked ``slow`` here, so ``make test-fast`` (``-m "not slow and not browser"``) runs only
tests that need no model, no index and no server.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.config import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
ARTICLE = "microsoft-openai.txt"


#: fixtures that load the model or build an index: their tests are slow
MODEL_FIXTURES = frozenset({"embedder", "shared_qa", "fresh_qa", "prebuilt", "sample_qa",
                            "e5_settings"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def make_settings(root: Path, **changes: object) -> Settings:
    """Settings for a project laid out under ``root`` (``root/corpus``, ``root/index``, other
    knowledge bases in ``root/kbs``)."""
    return Settings.from_env().with_(**{"corpus_dir": root / "corpus",
                                        "index_dir": root / "index", "kb_root": root / "kbs",
                                        **changes})


@pytest.fixture(scope="session")
def embedder():
    """The real default model (m3e-small), loaded once for the whole session."""
    from qa.models.embedding import Embedder

    e = Embedder(Settings.from_env())
    e.encode(["预热"])
    return e


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the project's corpus under tmp_path; the index folder is empty."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path


@pytest.fixture
def settings(project: Path) -> Settings:
    return make_settings(project)


@pytest.fixture
def fresh_qa(settings: Settings, embedder):
    """A QA over a private copy of the corpus (its index is built on first use)."""
    from qa.service import QA

    return QA(settings, embedder=embedder)


@pytest.fixture(scope="session")
def shared_qa(tmp_path_factory, embedder):
    """One QA over a read-only copy of the corpus, built once: for tests that only ask."""
    from qa.service import QA

    root = tmp_path_factory.mktemp("shared")
    shutil.copytree(CORPUS, root / "corpus")
    engine = QA(make_settings(root), embedder=embedder)
    engine.build()
    return engine


@pytest.fixture
def prebuilt(tmp_path: Path, shared_qa) -> Path:
    """A copy of the shared corpus *and* its built index under tmp_path (no rebuild needed)."""
    src = shared_qa.settings
    shutil.copytree(src.corpus_dir, tmp_path / "corpus")
    shutil.copytree(src.index_dir, tmp_path / "index",
                    ignore=shutil.ignore_patterns(".lock", "*.tmp"))
    return tmp_path


def qa_env(root: Path) -> dict[str, str]:
    """The environment for a subprocess (or the app) serving the project under ``root``."""
    import os

    env = dict(os.environ)
    env.update(QA_CORPUS_DIR=str(root / "corpus"), QA_INDEX_DIR=str(root / "index"),
               QA_KB_ROOT=str(root / "kbs"), PYTHONIOENCODING="utf-8", TOKENIZERS_PARALLELISM="false")
    return env
