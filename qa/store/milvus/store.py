"""The index in Milvus: one generation's collections as a ``qa.store.base.Store``.

A generation is two collections (``qa.store.milvus.backend`` keeps two sets of them, blue and green):

- ``{prefix}_chunks_{set}``: one row per chunk: ``id`` (the chunk id), ``source``, ``key`` (hash
  of the text as embedded, to reuse its vector), ``record`` (``Chunk.to_json``), ``words`` and
  ``bigrams`` (its BM25 tokens, see below), the BM25 functions' sparse outputs ``words_bm25`` and
  ``bigrams_bm25``, and ``vector`` (normalised float32; FLAT, or HNSW above
  ``QA_ANN_THRESHOLD`` rows, inner product);
- ``{prefix}_sentences_{set}``: one row per sentence: ``id`` = chunk id × ``SLOTS`` + its place in
  the chunk, ``chunk``, ``source``, ``key``, ``bigrams``, ``bigrams_bm25`` and ``vector``.

BM25 runs on the server, over tokens made here exactly as the embedded index makes them
(``qa.ingest.text.words`` / ``bigrams``), each written as ``safe_token``: "t" and 12 hex digits of its
hash. Milvus's ``standard`` analyzer splits on punctuation and lowercases ("gpt-3" would become
two tokens, "75%" would lose its "%", and on Standalone a CJK word splits into characters); a
hashed token is one lowercase word to any analyzer, so the same schema ranks the same on Milvus
Lite, Standalone and Distributed. BM25 uses bm25s's parameters (k1 1.5, b 0.75) and scale.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from qa.errors import BadInput
from qa.ingest.chunking import Chunk
from qa.store.base import IndexCorrupt, IndexMismatch, SentenceKey, Store, StoreUnavailable

#: a sentence row's id is its chunk's id × SLOTS + its place in the chunk
SLOTS = 1 << 16
#: Milvus's VARCHAR limit, in bytes of UTF-8 (a Chinese character takes 3)
VARCHAR_BYTES = 65_535
SOURCE_BYTES = 1_024
KEY_BYTES = 64
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, as the embedded index
#: Milvus's BM25 keeps the (k1 + 1) factor of the term weight that bm25s (Lucene's variant)
#: drops: scores are divided by it, so features built on them read the same in both stores
BM25_SCALE = 1 + BM25_PARAMS["bm25_k1"]
#: rows per get / query / insert request
BATCH = 500
#: chunks whose vectors (and their sentences') a store keeps after fetching them once
VECTOR_CACHE = 4_096

T = TypeVar("T")


class RecordTooLarge(BadInput):
    """A chunk would not fit a Milvus VARCHAR field (the message names it and the setting)."""


@lru_cache(maxsize=500_000)
def safe_token(token: str) -> str:
    """A token as one lowercase alphanumeric word that any analyzer keeps whole."""
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=6).hexdigest()


def token_text(tokens: Iterable[str]) -> str:
    """The text of a BM25 field: the tokens' ``safe_token``s joined by spaces."""
    return " ".join(safe_token(t) for t in tokens)


def check_fits(what: str, text: str, limit: int = VARCHAR_BYTES) -> str:
    """``text``, or ``RecordTooLarge`` when its UTF-8 is over ``limit`` bytes."""
    size = len(text.encode("utf-8"))
    if size > limit:
        raise RecordTooLarge(f"{what} takes {size:,} bytes; a Milvus VARCHAR holds {limit:,}: "
                             "lower QA_CHUNK_SIZE (or use QA_STORE=embedded)")
    return text


@dataclass(frozen=True)
class Collections:
    """The physical collections of one set."""

    chunks: str
    sentences: str


def call(where: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, a pymilvus request; a failure of the request itself (server
    down, token refused, timed out, an error status) as ``StoreUnavailable`` naming ``where``
    with the server's words."""
    from pymilvus.exceptions import MilvusException

    try:
        return fn(*args, **kwargs)
    except MilvusException as exc:
        raise StoreUnavailable(f"Milvus at {where}: {exc.message} (code {exc.code})") from None
    except Exception as exc:  # grpc errors and the like: the request did not go through
        if type(exc).__module__.startswith(("grpc", "pymilvus")):
            raise StoreUnavailable(f"Milvus at {where}: {type(exc).__name__}: {exc}") from None
        raise


def quiet_pymilvus() -> None:
    """pymilvus warns on every query iterator against Milvus Lite (no server timestamp) and
    logs every failed request with a traceback: qa says what failed itself."""
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    logging.getLogger("pymilvus.decorators").setLevel(logging.CRITICAL)


class MilvusStore(Store):
    """One generation, read from its set of Milvus collections (``qa.store.base``'s seam)."""

    def __init__(self, client: Any, names: Collections, manifest: dict[str, Any],
                 where: str) -> None:
        super().__init__()
        self.client = client
        self.where = where  # the URI, for messages
        self.names = names
        self.manifest = manifest
        self._chunks: dict[int, Chunk] = {}
        #: vectors fetched from this generation (immutable: safe to keep), by chunk id
        self._vectors: dict[int, np.ndarray] = {}
        self._sentence_vectors: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.manifest.get("chunks", 0))

    # -- searches --------------------------------------------------------------------------

    def _dense_params(self, which: str, n: int) -> dict[str, Any]:
        kind = self.manifest.get("dense_index", {}).get(which, "FLAT")
        return {"metric_type": "IP", "params": {"ef": max(128, n)} if kind == "HNSW" else {}}

    def _search(self, collection: str, data: Any, field: str, n: int,
                params: dict[str, Any]) -> list[tuple[int, float]]:
        if n <= 0:
            return []
        found = call(self.where, self.client.search, collection, data=[data], anns_field=field,
                     limit=n, search_params=params, output_fields=["id"])
        hits = [(int(h["id"]), float(h["distance"])) for h in found[0]]
        return sorted(hits, key=lambda h: (-h[1], h[0]))  # ties: the lower id first

    def _query_vector(self, vector: np.ndarray) -> list[float]:
        if vector.shape[-1] != self.dimension:
            raise IndexMismatch(f"query vectors have dimension {vector.shape[-1]}, the index "
                                f"{self.dimension}: rebuild needed")
        return np.asarray(vector, dtype=np.float32).ravel().tolist()

    def dense(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        return self._search(self.names.chunks, self._query_vector(vector), "vector",
                            min(n, len(self)), self._dense_params("chunks", n))

    def dense_sentences(self, vector: np.ndarray, n: int) -> list[tuple[SentenceKey, float]]:
        hits = self._search(self.names.sentences, self._query_vector(vector), "vector",
                            min(n, int(self.manifest.get("sentences", 0))),
                            self._dense_params("sentences", n))
        return [(divmod(i, SLOTS), s) for i, s in hits]

    def lexical(self, field: str, tokens: Sequence[str], n: int) -> list[tuple[Any, float]]:
        if not tokens:
            return []
        collection = self.names.sentences if field == "sentences" else self.names.chunks
        anns = "bigrams_bm25" if field == "sentences" else f"{field}_bm25"
        hits = self._search(collection, token_text(tokens), anns, n, {"metric_type": "BM25"})
        # Milvus Lite reports BM25 as a distance (-score), Milvus as the score itself
        scored = sorted(((i, abs(s) / BM25_SCALE) for i, s in hits if s),
                        key=lambda h: (-h[1], h[0]))
        if field == "sentences":
            return [(divmod(i, SLOTS), s) for i, s in scored]
        return scored  # type: ignore[return-value]

    # -- records and vectors ----------------------------------------------------------------

    def _get(self, ids: Sequence[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        rows: dict[int, dict[str, Any]] = {}
        unique = list(dict.fromkeys(int(i) for i in ids))
        for at in range(0, len(unique), BATCH):
            for row in call(self.where, self.client.get, self.names.chunks,
                            ids=unique[at : at + BATCH], output_fields=["id", *fields]):
                rows[int(row["id"])] = row
        missing = [i for i in unique if i not in rows]
        if missing:
            raise IndexCorrupt(f"Milvus collection {self.names.chunks} has no chunk "
                               f"{missing[0]} (of {len(missing)} asked for)")
        return rows

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        wanted = [i for i in ids if i not in self._chunks]
        if wanted:
            for i, row in self._get(wanted, ["record"]).items():
                self._chunks[i] = Chunk.from_json(json.loads(row["record"]))
        return [self._chunks[i] for i in ids]

    def _keep(self, cache: dict[int, np.ndarray], found: dict[int, np.ndarray]) -> None:
        if len(cache) + len(found) > VECTOR_CACHE:
            cache.clear()
        cache.update(found)

    def chunk_vectors(self, ids: Sequence[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        wanted = [i for i in ids if i not in self._vectors]
        found = {i: np.asarray(row["vector"], dtype=np.float32)
                 for i, row in self._get(wanted, ["vector"]).items()} if wanted else {}
        out = np.asarray([found[i] if i in found else self._vectors[i] for i in ids],
                         dtype=np.float32)
        self._keep(self._vectors, found)
        return out

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        wanted = list(dict.fromkeys(int(i) for i in ids if i not in self._sentence_vectors))
        by_chunk: dict[int, list[tuple[int, list[float]]]] = {i: [] for i in wanted}
        for at in range(0, len(wanted), BATCH):
            part = wanted[at : at + BATCH]
            for row in call(self.where, self.client.query, self.names.sentences,
                            filter=f"chunk in {part}", output_fields=["id", "vector"]):
                chunk, place = divmod(int(row["id"]), SLOTS)
                by_chunk[chunk].append((place, row["vector"]))
        found = {i: np.asarray([v for _, v in sorted(rows, key=lambda r: r[0])],
                               dtype=np.float32).reshape(len(rows), self.dimension)
                 for i, rows in by_chunk.items()}
        out = [found[i] if i in found else self._sentence_vectors[i] for i in map(int, ids)]
        self._keep(self._sentence_vectors, found)
        return out

    def records(self) -> list[Chunk]:
        return self.derive("records", lambda s: s._read_all())  # type: ignore[attr-defined]

    def _read_all(self) -> list[Chunk]:
        """Every chunk record, by a query iterator over the chunk collection, in id order."""
        iterator = call(self.where, self.client.query_iterator, self.names.chunks,
                        batch_size=1000, filter="", output_fields=["id", "record"])
        chunks: list[Chunk] = []
        try:
            while batch := call(self.where, iterator.next):
                chunks += [Chunk.from_json(json.loads(row["record"])) for row in batch]
        finally:
            iterator.close()
        chunks.sort(key=lambda c: c.id)
        if len(chunks) != len(self):
            raise IndexCorrupt(f"Milvus collection {self.names.chunks} holds {len(chunks)} "
                               f"chunks, its manifest {len(self)}")
        self._chunks.update((c.id, c) for c in chunks)
        return chunks
