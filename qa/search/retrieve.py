"""Hybrid retrieval: the model's vectors of chunks and of sentences, BM25 over jieba words,
over character bigrams and over the bigrams of single sentences, fused by weighted
reciprocal-rank fusion (a strategy over (id, score) lists of any retriever, as llama_index's
QueryFusionRetriever does).

Each retriever offers its top ``TOP_N`` (asked of the store, ``qa.store.base``); a chunk's fused
score is ``sum(w / (K + 1 + rank))`` over the rankings that list it (K = 60). Sentence rankings
("retrieve small") rank a chunk by its best sentence. Title-block (``meta``) chunks are
demoted so page furniture never crowds out the article.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.config import COS_RANGES
from qa.ingest import text as textmod
from qa.ingest.chunking import Chunk
from qa.store.base import SentenceKey, Store, index_text

RRF_K = 60
#: how many chunks each ranking offers to fusion, and how many sentences a sentence ranking
TOP_N = 100
SENTENCE_N = 300


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


def lexical_coverage(query_bigrams: list[str], chunk_bigrams: list[str]) -> float:
    """Share of the query's distinct bigrams that occur in the chunk."""
    wanted = set(query_bigrams)
    if not wanted:
        return 0.0
    return len(wanted & set(chunk_bigrams)) / len(wanted)


def _rrf(ranking: list[int], weight: float, fused: dict[int, float]) -> None:
    """Add ``weight / (K + 1 + rank)`` of each id of a ranking (best first) to ``fused``."""
    for rank, i in enumerate(ranking):
        fused[i] = fused.get(i, 0.0) + weight / (RRF_K + 1 + rank)


def _by_chunk(sentences: list[tuple[SentenceKey, float]]
              ) -> tuple[list[int], dict[SentenceKey, float]]:
    """Chunks ranked by their best sentence in a sentence ranking, and each listed sentence's
    score."""
    chunks = list(dict.fromkeys(key[0] for key, _ in sentences))
    return chunks, dict(sentences)


def rankings(store: Store, query: Query, weights: Weights, n: int = TOP_N
             ) -> tuple[dict[str, list[int]], dict[SentenceKey, float],
                        dict[SentenceKey, float]]:
    """Each retriever's top ``n`` chunk ids (sentence rankings: ``SENTENCE_N`` sentences, their
    chunks ranked by their best), and the cosine and BM25 of the sentences listed."""
    lists: dict[str, list[int]] = {}
    sent_cos: dict[SentenceKey, float] = {}
    if query.vector is not None:
        if weights.dense:
            lists["dense"] = [i for i, _ in store.dense(query.vector, n)]
        if weights.sentence:
            lists["sentence"], sent_cos = _by_chunk(
                store.dense_sentences(query.vector, SENTENCE_N))
    if weights.words:
        lists["words"] = [i for i, _ in store.lexical("words", query.words, n)]
    if weights.bigrams:
        lists["bigrams"] = [i for i, _ in store.lexical("bigrams", query.bigrams, n)]
    sent_bm25: dict[SentenceKey, float] = {}
    if weights.sentence_bigrams:
        lists["sentence_bigrams"], sent_bm25 = _by_chunk(
            store.lexical("sentences", query.bigrams, SENTENCE_N))
    return lists, sent_cos, sent_bm25


def search(store: Store, query: Query, k: int, weights: Weights = Weights()) -> list[Hit]:
    """The ``k`` best chunks for ``query``, best first (by BM25 alone for a query without a
    vector): each retriever's top ``TOP_N`` fused by weighted reciprocal ranks (a chunk past a
    retriever's top N counts as absent from it), title-block chunks demoted."""
    if not len(store):
        return []
    lists, _, sent_bm25 = rankings(store, query, weights)
    fused: dict[int, float] = {}
    for name, ranking in lists.items():
        _rrf(ranking, getattr(weights, name), fused)
    ids = list(fused)
    for chunk in store.fetch(ids):
        if chunk.kind != "body":
            fused[chunk.id] *= weights.meta
    best = sorted(ids, key=lambda i: (-fused[i], i))[:k]
    chunks = store.fetch(best)
    if query.vector is not None:
        cosines = store.chunk_vectors(best) @ query.vector
        sentences = [m @ query.vector for m in store.sentence_vectors_of(best)]
    else:
        cosines = np.full(len(best), -1.0)
        sentences = [np.full(len(c.sentences), -1.0) for c in chunks]
    hits = []
    for c, cos, sent in zip(chunks, cosines, sentences, strict=True):
        bm25 = tuple(sent_bm25.get((c.id, j), 0.0) for j in range(len(c.sentences)))
        hits.append(Hit(chunk=c, score=fused[c.id], dense=float(cos),
                        sentence=float(sent.max()) if len(sent) else -1.0,
                        lexical=lexical_coverage(query.bigrams, textmod.bigrams(index_text(c))),
                        sentence_cos=tuple(float(x) for x in sent), sentence_bm25=bm25))
    return hits
