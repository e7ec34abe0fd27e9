"""Passage vectors derived from sentence vectors (``QA_PASSAGE_VECTORS=derived``): what the index
holds, the load-time spot check, incremental reuse, and retrieval with them. Real model
(m3e-small), real builds and files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import M3E_MODEL, PROJECT_ROOT, Settings
from qa.models.embedding import Embedder
from qa.models.passage_vectors import embed, parts
from qa.service import QA
from qa.store.base import IndexCorrupt, index_text
from qa.store.embedded.builder import build_index
from qa.store.embedded.generations import IndexStore
from qa.store.embedded.index import spot_check

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def m3e() -> Embedder:
    return Embedder(Settings.from_env().with_(model=M3E_MODEL, embed_quantize="none"))


@pytest.fixture
def derived(tmp_path: Path, m3e: Embedder) -> Settings:
    shutil.copytree(PROJECT_ROOT / "corpus", tmp_path / "corpus")
    return m3e.settings.with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                              passage_vectors="derived", reader="none")


def test_a_passage_vector_is_the_weighted_mean_of_its_parts(derived: Settings,
                                                            m3e: Embedder) -> None:
    report = build_index(derived, m3e)
    index = report.index
    assert index is not None and index.manifest["passage_vectors"] == "derived"
    headed = [i for i, c in enumerate(index.chunks) if c.heading]
    assert headed, "the article has headings: they must count"
    for i, c in enumerate(index.chunks):
        rows = index.sentence_vectors[index.sentence_row[i] : index.sentence_row[i + 1]]
        if c.heading:
            rows = np.vstack([m3e.encode([c.heading]), rows])
        weights = np.array([len(t) for t in parts(c)], dtype=np.float32)
        want = weights @ rows
        assert float(index.vectors[i] @ want / np.linalg.norm(want)) > 0.99999
    # close to, but not, the passage embedded whole
    whole = m3e.encode([index_text(c) for c in index.chunks])
    cosines = np.sum(whole * index.vectors, axis=1)
    assert cosines.min() > 0.8 and cosines.max() < 0.9999
    spot_check(index, m3e.encode)  # derived again from scratch: it passes


def test_the_spot_check_catches_a_derived_vector_that_is_not_its_passage(
        derived: Settings, m3e: Embedder) -> None:
    index = build_index(derived, m3e).index
    assert index is not None
    n = len(index.chunks)
    index.vectors[[0, n - 1]] = index.vectors[[n - 1, 0]]  # two passages' vectors swapped
    with pytest.raises(IndexCorrupt, match="do not match"):
        spot_check(index, m3e.encode)


def test_incremental_build_reuses_derived_vectors_bit_for_bit(derived: Settings,
                                                              m3e: Embedder) -> None:
    first = build_index(derived, m3e)
    (derived.corpus_dir / "extra.txt").write_text(
        "新增的文章\n\n这是新增的一段文字。它有两句话。", encoding="utf-8")
    second = build_index(derived, m3e)
    assert second.added == ["extra.txt"] and second.embedded == 1
    assert second.reused == first.chunks
    old, new = first.index, second.index
    assert old is not None and new is not None
    kept = [i for i, c in enumerate(new.chunks) if c.source != "extra.txt"]
    assert np.array_equal(new.vectors[kept], old.vectors)
    added = next(i for i, c in enumerate(new.chunks) if c.source == "extra.txt")
    fresh = embed([new.chunks[added]], m3e.encode)[0]
    assert float(fresh @ new.vectors[added]) > 0.99999


def test_questions_find_their_passages_with_derived_vectors(derived: Settings,
                                                            m3e: Embedder) -> None:
    engine = QA(derived, embedder=m3e)
    answer = engine.ask("微软2019年向OpenAI投资了多少钱?")
    assert "10亿美元" in answer.passages[0].text
    assert IndexStore(derived).load().manifest["passage_vectors"] == "derived"
