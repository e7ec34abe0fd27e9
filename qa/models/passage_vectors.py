"""Passage vectors made from sentence vectors, so that a build embeds the corpus only once.

Every sentence of every passage is embedded anyway (the answer sentence and the "retrieve
small" signal need them). With ``QA_PASSAGE_VECTORS=derived`` a passage's vector is not a
second pass of the model over the same text but the normalised mean of the unit vectors of its
heading and its sentences, each weighted by its length in characters (a long sentence carries
more of the passage, as it would in the model's mean pooling). ``embed`` makes the same vectors
from scratch for the index's load-time spot check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qa.errors import BadSetting
from qa.ingest.chunking import Chunk

#: the values of ``QA_PASSAGE_VECTORS``
MODES = ("derived", "embedded")


def check_mode(mode: str) -> bool:
    """Whether passage vectors are derived (``mode`` "derived") or embedded whole; a
    ``BadSetting`` naming the variable for any other value."""
    if mode not in MODES:
        raise BadSetting(f"QA_PASSAGE_VECTORS={mode!r}: expected one of {', '.join(MODES)}")
    return mode == "derived"


def sentence_texts(chunk: Chunk) -> list[str]:
    """The texts of ``chunk``'s sentences, in order."""
    return chunk.sentence_texts()


def parts(chunk: Chunk) -> list[str]:
    """What a derived passage vector is made of: the heading (if any), then the sentences."""
    return ([chunk.heading] if chunk.heading else []) + sentence_texts(chunk)


def mean_vector(texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """The unit vector along the length-weighted sum of ``vectors`` (one row per text)."""
    weights = np.array([max(1, len(t)) for t in texts], dtype=np.float32)
    total = weights @ vectors
    return (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)


def derive(chunks: Sequence[Chunk], sentence_vectors: np.ndarray,
           heading_vector: Callable[[str], np.ndarray]) -> np.ndarray:
    """One derived vector per chunk, from ``sentence_vectors`` (one row per sentence of
    ``chunks``, in order) and each heading's vector."""
    dim = sentence_vectors.shape[1]
    out = np.zeros((len(chunks), dim), dtype=np.float32)
    row = 0
    for i, c in enumerate(chunks):
        n = len(c.sentences)
        rows = sentence_vectors[row : row + n]
        row += n
        if c.heading:
            rows = np.vstack([heading_vector(c.heading)[None, :], rows])
        if len(rows):
            out[i] = mean_vector(parts(c), rows)
    return out


def embed(chunks: Sequence[Chunk], encode: Callable[[Sequence[str]], np.ndarray]
          ) -> np.ndarray:
    """Derived vectors of ``chunks`` made from scratch: their parts embedded now."""
    texts = [t for c in chunks for t in parts(c)]
    vectors = encode(texts)
    out, row = [], 0
    for c in chunks:
        n = len(parts(c))
        out.append(mean_vector(parts(c), vectors[row : row + n]))
        row += n
    return np.vstack(out)
