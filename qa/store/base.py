"""The store seam: what retrieval and the answer layer need of an index, whatever holds it.

One small interface (in the spirit of txtai's ``ann/`` backends), chosen by ``QA_STORE``:

- ``embedded`` (default): ``qa.store.embedded.index.Index``, one generation of FAISS + bm25s files under
  ``index/`` (``qa.store.embedded.generations``: atomic publish, lock, checks);
- ``milvus://host:19530`` or ``milvus-lite:PATH``: ``qa.store.milvus.store.MilvusStore``, the same
  records in Milvus collections, dense search and BM25 functions run by the server.

Retrieval asks each ranking for its top ``n`` only (``dense``, ``lexical``), so an engine that
returns a top-k can stand behind it; then it fetches the few records it fuses (``fetch``, their
vectors and their sentences' vectors: ``chunk_vectors``, ``sentence_vectors_of``). A sentence
is named by its chunk's id and its place among the chunk's sentences.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qa.config import Settings
from qa.errors import Unavailable
from qa.ingest.chunking import Chunk


class IndexProblem(Unavailable):
    """The index on disk cannot be used as it is (the message says why); rebuild it."""


class IndexMissing(IndexProblem):
    pass


class IndexMismatch(IndexProblem):
    """Built with other settings (model, dimension, chunking, format)."""


class IndexCorrupt(IndexProblem):
    """Files missing, truncated, garbled, or inconsistent with each other."""


def index_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its section heading, then its text."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


class StoreUnavailable(Unavailable, ConnectionError):
    """The engine holding the index cannot be used now (down, unreachable, refusing the token,
    held by another process); the message names it. Nothing was changed."""


def check_compatible(manifest: dict[str, Any], settings: Settings) -> None:
    """Raise ``IndexMismatch`` when the index was built with other settings."""
    wanted = settings.index_params()
    for key, value in wanted.items():
        if manifest.get(key) != value:
            raise IndexMismatch(f"index built with {key}={manifest.get(key)!r}, "
                                f"settings say {value!r}: rebuild needed")


#: what ``lexical`` ranks: chunks by jieba words, chunks by character bigrams, sentences by
#: character bigrams
FIELDS = ("words", "bigrams", "sentences")


#: a sentence: (its chunk's id, its place among the chunk's sentences)
SentenceKey = tuple[int, int]


class Store(ABC):
    """One generation of the index as retrieval and the answer layer see it."""

    #: settings the index was built with, its generation, its files
    manifest: dict[str, Any]

    def __init__(self) -> None:
        self.derived: dict[str, Any] = {}

    @property
    def generation(self) -> str:
        return str(self.manifest.get("generation", ""))

    @property
    def dimension(self) -> int:
        return int(self.manifest.get("dimension", 0))

    def ready(self) -> Store:
        """Make whatever the first search would otherwise make (the embedded store's BM25
        indexes); a store whose engine keeps them (Milvus) has nothing to do."""
        return self

    @abstractmethod
    def __len__(self) -> int:
        """How many chunks it holds."""

    @abstractmethod
    def dense(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The ``n`` chunks closest to a normalised query vector, as (id, cosine), best
        first."""

    @abstractmethod
    def dense_sentences(self, vector: np.ndarray, n: int) -> list[tuple[SentenceKey, float]]:
        """The ``n`` sentences closest to a normalised query vector, best first."""

    @abstractmethod
    def lexical(self, field: str, tokens: Sequence[str], n: int) -> list[tuple[Any, float]]:
        """The ``n`` best chunks (for "sentences": sentences, as ``SentenceKey``) by BM25 over
        ``field``'s tokens (``FIELDS``), as (id, score > 0), best first."""

    @abstractmethod
    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        """The chunk records of ``ids``, in that order."""

    @abstractmethod
    def chunk_vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The vectors of the chunks ``ids``, one row each."""

    @abstractmethod
    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        """For each chunk of ``ids``, its sentences' vectors (one row per sentence)."""

    @abstractmethod
    def records(self) -> list[Chunk]:
        """Every chunk record (made once per generation; for corpus-wide views)."""

    def files(self) -> dict[str, str]:
        """``{source: sha256}`` of every corpus file this generation was built from (incl.
        skipped)."""
        return {s: f["sha256"] for s, f in self.manifest.get("files", {}).items()}

    def word_lists(self) -> list[list[str]]:
        """The jieba words of every chunk, in ``records`` order (document frequencies)."""
        from qa.ingest import text as textmod

        return self.derive("word_lists", lambda s: [textmod.words(index_text(c))
                                                     for c in s.records()])

    def derive(self, name: str, make: Callable[[Store], Any]) -> Any:
        """``derived[name]``, made by ``make(self)`` on first use and kept with this
        generation (two threads may both make it; the first stored is kept)."""
        value = self.derived.get(name)
        if value is None:
            value = self.derived.setdefault(name, make(self))
        return value


def top(scores: np.ndarray, n: int, positive: bool = False) -> list[tuple[int, float]]:
    """The ``n`` best (row, score) of a score array, best first (only scores > 0 when
    ``positive``)."""
    if not len(scores) or n <= 0:
        return []
    n = min(n, len(scores))
    rows = np.argpartition(-scores, n - 1)[:n]
    rows = rows[np.lexsort((rows, -scores[rows]))]  # ties: the lower row first
    return [(int(i), float(scores[i])) for i in rows if not positive or scores[i] > 0]
