"""Hybrid retrieval: dense (FAISS over m3e vectors) + BM25 over jieba words + BM25 over
character bigrams, fused by weighted reciprocal-rank fusion.

Each retriever ranks the chunks; a chunk's fused score is ``sum(w / (K + rank))`` over the
retrievers that ranked it (K = 60). Sentence vectors add a "retrieve small" signal: a chunk is
also ranked by its best-matching sentence. Title-block (``meta``) chunks are demoted so page
furniture never crowds out the article.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import text as textmod
from .chunking import Chunk
from .config import COS_RANGES
from .index import Index, IndexMismatch

RRF_K = 60


@dataclass(frozen=True)
class Weights:
    """Fusion weights of each ranking, and the demotion of title-block chunks."""

    dense: float = 1.0
    sentence: float = 1.0
    words: float = 1.0
    bigrams: float = 1.0
    sentence_bigrams: float = 1.0
    meta: float = 0.5

    def total(self, dense: bool = True) -> float:
        """The sum of the weights (of the BM25 rankings alone, without ``dense``)."""
        lexical = self.words + self.bigrams + self.sentence_bigrams
        return lexical + (self.dense + self.sentence if dense else 0.0)

    def top_score(self, dense: bool = True) -> float:
        """The fused score of a chunk ranked first by every retriever (every BM25 one, without
        ``dense``): what scores are shown as a share of."""
        return self.total(dense) / (RRF_K + 1)


@dataclass(frozen=True)
class Query:
    """A question prepared once for every retriever: its vector (None for a BM25-only search)
    and both token lists."""

    text: str
    vector: np.ndarray | None
    words: list[str]
    bigrams: list[str]
    focus: str = ""  # the newest question, when ``text`` also holds the one before it
    cos_range: tuple[float, float] = COS_RANGES["m3e"]  # the model's (``qa.config.cos_range``)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the raw signals behind it."""

    chunk: Chunk
    score: float
    dense: float  # cosine of the chunk
    sentence: float  # best sentence cosine in the chunk
    lexical: float  # share of the query's bigrams found in the chunk (0..1)
    sentence_cos: tuple[float, ...] = ()  # cosine of each of the chunk's sentences
    sentence_bm25: tuple[float, ...] = ()  # bigram BM25 of each of the chunk's sentences


def make_query(text: str, vector: np.ndarray | None, focus: str | None = None,
               cos_range: tuple[float, float] = COS_RANGES["m3e"]) -> Query:
    """Prepare ``text`` for search; the tokens of ``focus`` (the newest question of a
    follow-up, when ``text`` also holds the earlier one) count twice for BM25; ``cos_range``:
    the model's, to scale its cosines by."""
    words, bigrams = textmod.words(text), textmod.bigrams(text)
    if focus:
        words += textmod.words(focus)
        bigrams += textmod.bigrams(focus)
    return Query(text, vector, words, bigrams, focus or "", cos_range)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank (0 = best) of every entry; entries scoring <= 0 get no rank (inf)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.full(len(scores), np.inf)
    ranks[order] = np.arange(len(scores))
    ranks[scores <= 0] = np.inf
    return ranks


def lexical_coverage(query_bigrams: list[str], chunk_bigrams: list[str]) -> float:
    """Share of the query's distinct bigrams that occur in the chunk."""
    wanted = set(query_bigrams)
    if not wanted:
        return 0.0
    return len(wanted & set(chunk_bigrams)) / len(wanted)


def _dense_scores(index: Index, query: Query) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every chunk (-1 where approximate search did not reach it) and of every
    sentence; -1 throughout for a query without a vector, which ``_ranks`` leaves unranked."""
    n = len(index)
    dense = np.full(n, -1.0, dtype=np.float32)
    if query.vector is None:
        return dense, np.full(len(index.sentence_vectors), -1.0, dtype=np.float32)
    if query.vector.shape[-1] != index.vectors.shape[1]:
        raise IndexMismatch(f"query vectors have dimension {query.vector.shape[-1]}, the index "
                            f"{index.vectors.shape[1]}: rebuild needed")
    if n > int(index.manifest.get("ann_threshold", 50_000)):
        for i, s in index.dense_search(query.vector, 200):
            dense[i] = s
    else:
        dense = index.vectors @ query.vector
    return dense, index.sentence_vectors @ query.vector


def search(index: Index, query: Query, k: int, weights: Weights = Weights()) -> list[Hit]:
    """The ``k`` best chunks for ``query``, best first (by BM25 alone for a query without a
    vector)."""
    n = len(index)
    if n == 0:
        return []
    dense, sent_scores = _dense_scores(index, query)
    sentence = np.full(n, -1.0, dtype=np.float32)
    rows = index.sentence_row
    has = np.diff(rows) > 0
    if has.any():
        sentence[has] = np.maximum.reduceat(sent_scores, rows[:-1][has])
    sent_lex = index.bm25_scores("sentences", query.bigrams)
    sentence_bigrams = np.zeros(n, dtype=np.float32)
    if has.any():
        sentence_bigrams[has] = np.maximum.reduceat(sent_lex, rows[:-1][has])
    words = index.bm25_scores("words", query.words)
    bigrams = index.bm25_scores("bigrams", query.bigrams)

    fused = np.zeros(n, dtype=np.float64)
    for w, scores in ((weights.dense, dense + 1.0), (weights.sentence, sentence + 1.0),
                      (weights.words, words), (weights.bigrams, bigrams),
                      (weights.sentence_bigrams, sentence_bigrams)):
        if w:
            fused += w / (RRF_K + 1 + _ranks(scores))
    fused[index.not_body] *= weights.meta
    top = np.argsort(-fused, kind="stable")[:k]
    return [
        Hit(chunk=index.chunks[i], score=float(fused[i]), dense=float(dense[i]),
            sentence=float(sentence[i]),
            lexical=lexical_coverage(query.bigrams, index.bigrams[i]),
            sentence_cos=tuple(float(x) for x in sent_scores[rows[i] : rows[i + 1]]),
            sentence_bm25=tuple(float(x) for x in sent_lex[rows[i] : rows[i + 1]]))
        for i in top
    ]
