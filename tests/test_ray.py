"""``qa build --ray``: the embedding runs on Ray actors (a local Ray of 2 CPUs here) and the
index it writes is the one a local build writes. Real model, real Ray, real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import PROJECT_ROOT, Settings
from qa.models.embedding import Embedder
from qa.store.embedded.builder import build_index
from qa.store.embedded.generations import IndexStore

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="qa build --ray needs Ray: pip install 'qa[ray]'")
pytest.importorskip("ray.data", reason="qa build --ray needs Ray Data: pip install 'qa[ray]'")


@pytest.fixture
def local_ray():  # type: ignore[no-untyped-def]
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning",
             log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_build_writes_the_index_a_local_build_writes(tmp_path: Path, local_ray) -> None:
    from qa.models.ray_embed import RayEmbedder
    from qa.service import QA

    shutil.copytree(PROJECT_ROOT / "corpus", tmp_path / "corpus")
    # fp32: int8 vectors move a little with their batch, and Ray's batches are not ours
    settings = Settings.from_env().with_(model="m3e-small", corpus_dir=tmp_path / "corpus",
                                         index_dir=tmp_path / "ray-index", reader="none",
                                         embed_quantize="none")
    local_settings = settings.with_(index_dir=tmp_path / "local-index")
    progress: list[tuple[str, int, int]] = []

    report = build_index(settings, RayEmbedder(settings, actors=2),
                         progress=lambda *p: progress.append(p))
    build_index(local_settings, Embedder(local_settings))

    assert report.chunks > 5 and report.embedded == report.chunks
    embedding = [(d, t) for s, d, t in progress if s == "embedding"]
    assert embedding and embedding[-1][0] == embedding[-1][1] > 0  # characters, all done
    remote, local = IndexStore(settings).load(), IndexStore(local_settings).load()
    assert [c.text for c in remote.chunks] == [c.text for c in local.chunks]
    for a, b in ((remote.vectors, local.vectors),
                 (remote.sentence_vectors, local.sentence_vectors)):
        assert a.shape == b.shape
        assert np.sum(a * b, axis=1).min() > 0.9999  # the same model, row for row
    answer = QA(settings).ask("微软2019年向OpenAI投资了多少钱?")
    assert answer.passages and "10亿美元" in answer.passages[0].text
