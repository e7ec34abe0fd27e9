"""``qa build --ray``: embed a corpus too large for one machine on a Ray cluster.

Only the embedding moves: ``RayEmbedder`` is an ``Embedder`` whose ``encode`` (what a build
calls for the texts its cache lacks) runs as a Ray Data ``map_batches`` over a pool of actors,
each of which loads the model once and embeds its share; the rest of the build (reading,
chunking, tokens, the index files, verification and publishing) runs where ``qa build`` runs
and writes the same index as ever. Texts go out longest first, so each actor's batches hold
texts of like length, and come back in their order.

Ray is an optional extra (``pip install 'qa[ray]'``). ``qa build --ray`` joins the cluster
named by ``RAY_ADDRESS`` or starts a local one; every node needs qa and the model installed
(each actor exports the model to ONNX once if its ``QA_MODEL_CACHE`` lacks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.config import Settings
from qa.models.embedding import Embedder
from qa.models.onnx_model import Progress

#: texts sent to an actor at a time
RAY_BATCH = 256


def ray_available() -> bool:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


class EmbedActor:
    """A Ray actor's callable: the model, loaded once, embedding one batch of texts at a
    time (one thread per actor: an actor has one CPU)."""

    def __init__(self, settings: Settings) -> None:
        self.embedder = Embedder(settings.with_(threads=1))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


class RayEmbedder(Embedder):
    """An ``Embedder`` whose passage ``encode`` runs on Ray actors (``actors`` of them; 0: one
    per CPU of the cluster). Questions and ``dimension`` still use the local model."""

    def __init__(self, settings: Settings, actors: int = 0) -> None:
        super().__init__(settings)
        self.actors = actors

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        import ray
        import ray.data

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if not ray.is_initialized():
            ray.init(logging_level="warning", log_to_driver=False)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        actors = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        items = [{"row": i, "text": texts[i]} for i in order]
        vectors: list[Any] = [None] * len(texts)
        done, total = 0, sum(len(t) for t in texts)
        embedded = ray.data.from_items(items).map_batches(
            EmbedActor, fn_constructor_args=(self.settings,), batch_size=RAY_BATCH,
            batch_format="numpy", concurrency=actors, num_cpus=1)
        for batch in embedded.iter_batches(batch_format="numpy", batch_size=None):
            for row, vector in zip(batch["row"], batch["vector"], strict=True):
                vectors[int(row)] = vector
                done += len(texts[int(row)])
            if progress:
                progress(done, total)
        return np.ascontiguousarray(np.vstack(vectors), dtype=np.float32)
