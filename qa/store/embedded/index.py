"""The searchable index: chunks, their vectors in FAISS, and two BM25 indexes, saved as files.

One ``Index`` is one immutable generation: ``Index.create`` makes it from chunks and vectors,
``save`` writes it to a folder, ``load`` reads and verifies it. Nothing is pickled: chunk
records and tokens are JSON Lines, vectors a ``.npy`` read with ``allow_pickle=False``, the
dense index FAISS's own format. ``load`` checks the manifest against the current settings and
the files against each other, and raises ``IndexProblem`` subclasses with a clear message;
``spot_check`` re-embeds a few chunks to catch vectors that do not belong to their records.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import INDEX_FORMAT, Settings
from qa.ingest import text as textmod
from qa.ingest.chunking import Chunk
from qa.ingest.corpus import sha256_file
from qa.store.base import (  # noqa: F401  (spot_check: its name of before)
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    SentenceKey,
    Store,
    check_compatible,
    index_text,
    spot_check,
    top,
)

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
TOKENS = "tokens.jsonl"
VECTORS = "vectors.npy"
SENTENCE_VECTORS = "sentences.npy"
DENSE = "dense.faiss"
DATA_FILES = (CHUNKS, TOKENS, VECTORS, SENTENCE_VECTORS, DENSE)


def _dense_index(vectors: np.ndarray, ann_threshold: int):  # type: ignore[no-untyped-def]
    import faiss

    n, dim = vectors.shape
    if n > ann_threshold:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


def _bm25(docs: list[list[str]]):  # type: ignore[no-untyped-def]
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    retriever = bm25s.BM25()
    retriever.index([d or [""] for d in docs] or [[""]], show_progress=False)
    return retriever


@dataclass
class Index(Store):
    """One generation of the index, in memory: the embedded store."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    words: list[list[str]]
    bigrams: list[list[str]]
    sentence_vectors: np.ndarray  # one row per (chunk, sentence) in chunk order
    faiss_index: Any = None
    bm25_words: Any = None
    bm25_bigrams: Any = None
    path: Path | None = None
    #: data derived from this index by the layers above it (qa.answer.confidence), dropped with it
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        ann = int(self.manifest.get("ann_threshold", 50_000))
        if self.faiss_index is None:
            self.faiss_index = _dense_index(self.vectors, ann)
        #: row of each chunk's first sentence in ``sentence_vectors``
        self.sentence_row = np.cumsum([0] + [len(c.sentences) for c in self.chunks])
        self.not_body = np.array([c.kind != "body" for c in self.chunks], dtype=bool)
        self.bm25_sentences: Any = None
        self._lexical_lock = threading.Lock()

    def ready(self) -> Index:
        """Make the three BM25 indexes now (else the first search makes them: a build that
        only saves and verifies an index never needs them); returns the index."""
        with self._lexical_lock:
            if self.bm25_words is None:
                self.bm25_words = _bm25(self.words)
                self.bm25_bigrams = _bm25(self.bigrams)
            if self.bm25_sentences is None:
                #: BM25 over single sentences (bigrams): the "retrieve small" lexical signal
                self.bm25_sentences = _bm25([textmod.bigrams(c.span_text(s, e))
                                             for c in self.chunks for s, e in c.sentences])
        return self

    def __len__(self) -> int:
        return len(self.chunks)

    # -- the store seam (qa.store.base) ---------------------------------------------------------

    def _check(self, vector: np.ndarray) -> None:
        if vector.shape[-1] != self.vectors.shape[1]:
            raise IndexMismatch(f"query vectors have dimension {vector.shape[-1]}, the index "
                                f"{self.vectors.shape[1]}: rebuild needed")

    def dense_sentences(self, vector: np.ndarray, n: int) -> list[tuple[SentenceKey, float]]:
        self._check(vector)
        return [(self._sentence_key(row), s) for row, s in top(self.sentence_vectors @ vector, n)]

    def dense(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        self._check(vector)
        if len(self.chunks) > int(self.manifest.get("ann_threshold", 50_000)):
            return self.dense_search(vector, n)
        return top(self.vectors @ vector, n)

    def lexical(self, field: str, tokens: Sequence[str], n: int) -> list[tuple[Any, float]]:
        found = top(self.bm25_scores(field, list(tokens)), n, positive=True)
        if field == "sentences":
            return [(self._sentence_key(row), s) for row, s in found]
        return found  # type: ignore[return-value]

    def _sentence_key(self, row: int) -> SentenceKey:
        chunk = int(np.searchsorted(self.sentence_row, row, side="right")) - 1
        return chunk, row - int(self.sentence_row[chunk])

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        return [self.chunks[i] for i in ids]

    def chunk_vectors(self, ids: Sequence[int]) -> np.ndarray:
        return self.vectors[list(ids)]

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        rows = self.sentence_row
        return [self.sentence_vectors[rows[i] : rows[i + 1]] for i in ids]

    def records(self) -> list[Chunk]:
        return self.chunks

    def word_lists(self) -> list[list[str]]:
        return self.words

    def files(self) -> dict[str, str]:
        """``{source: sha256}`` of every corpus file this index was built from (incl. skipped)."""
        return {s: f["sha256"] for s, f in self.manifest.get("files", {}).items()}

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k ``(chunk id, cosine)`` for one normalised query vector."""
        if not self.chunks:
            return []
        scores, ids = self.faiss_index.search(query.reshape(1, -1).astype(np.float32),
                                        min(k, len(self.chunks)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_scores(self, which: str, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (``which``: words | bigrams) or of every sentence
        (``which``: sentences, bigram tokens) for the query tokens."""
        size = len(self.sentence_vectors) if which == "sentences" else len(self.chunks)
        if not tokens or not size:
            return np.zeros(size, dtype=np.float32)
        if self.bm25_sentences is None:
            self.ready()
        retriever = {"words": self.bm25_words, "bigrams": self.bm25_bigrams,
                     "sentences": self.bm25_sentences}[which]
        return np.asarray(retriever.get_scores(list(tokens)), dtype=np.float32)[:size]

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write every file, then the manifest (with the files' checksums) last."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        with (folder / CHUNKS).open("w", encoding="utf-8") as f:
            for c in self.chunks:
                f.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
        with (folder / TOKENS).open("w", encoding="utf-8") as f:
            for w, b in zip(self.words, self.bigrams, strict=True):
                f.write(json.dumps({"w": w, "b": b}, ensure_ascii=False) + "\n")
        np.save(folder / VECTORS, self.vectors, allow_pickle=False)
        np.save(folder / SENTENCE_VECTORS, self.sentence_vectors, allow_pickle=False)
        faiss.write_index(self.faiss_index, str(folder / DENSE))
        manifest = dict(self.manifest)
        manifest["checksums"] = {name: sha256_file(folder / name) for name in DATA_FILES}
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        for name in (*DATA_FILES, MANIFEST + ".tmp"):
            with (folder / name).open("rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, folder / MANIFEST)
        self.manifest, self.path = manifest, folder

    @classmethod
    def load(cls, folder: Path, settings: Settings) -> Index:
        """Read and verify one generation; raise ``IndexProblem`` saying what is wrong."""
        manifest = read_manifest(folder)
        check_compatible(manifest, settings)
        for name in DATA_FILES:
            path = folder / name
            try:
                digest = sha256_file(path)
            except FileNotFoundError:
                raise IndexCorrupt(f"{path} is missing") from None
            except OSError as exc:
                raise IndexCorrupt(f"{path} cannot be read ({exc.strerror or exc})") from None
            if digest != manifest["checksums"].get(name):
                raise IndexCorrupt(f"{path} does not match its checksum in the manifest "
                                   "(truncated or modified)")
        try:
            chunks, words, bigrams = _read_records(folder)
            vectors = np.load(folder / VECTORS, allow_pickle=False)
            sentence_vectors = np.load(folder / SENTENCE_VECTORS, allow_pickle=False)
            import faiss

            dense = faiss.read_index(str(folder / DENSE))
        except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
            raise IndexCorrupt(f"{folder}: unreadable index files ({exc})") from None
        n, dim = len(chunks), manifest["dimension"]
        if manifest.get("chunks", n) != n:
            raise IndexCorrupt(f"{folder}: {n} chunk records, the manifest says "
                               f"{manifest.get('chunks')}")
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != n \
                or (n and vectors.shape[1] != dim):
            raise IndexCorrupt(f"{folder}: {vectors.shape} vectors for {n} chunks of dim {dim}")
        if dense.ntotal != n or (n and dense.d != dim) or len(words) != n:
            raise IndexCorrupt(f"{folder}: FAISS holds {dense.ntotal} vectors, "
                               f"tokens {len(words)}, for {n} chunks")
        n_sent = sum(len(c.sentences) for c in chunks)
        if sentence_vectors.shape != (n_sent, dim) and not (n_sent == 0 and n == 0):
            raise IndexCorrupt(f"{folder}: {sentence_vectors.shape} sentence vectors for "
                               f"{n_sent} sentences")
        return cls(manifest, chunks, vectors, words, bigrams, sentence_vectors.astype(np.float32),
                   faiss_index=dense, path=folder)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of one generation, checked for shape (``IndexCorrupt`` if it is broken)."""
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexMissing(f"no index at {folder} (run `qa build`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
        if manifest.get("format") != INDEX_FORMAT:
            raise IndexMismatch(f"{path}: index format {manifest.get('format')!r}, this qa "
                                f"reads format {INDEX_FORMAT}: rebuild needed")
        for key, kind in (("format", int), ("model", str), ("dimension", int), ("files", dict),
                          ("checksums", dict)):
            if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool):
                raise ValueError(f"{key!r} is not a {kind.__name__}")
        if manifest["dimension"] <= 0:
            raise ValueError("'dimension' is not positive")
        if not all(isinstance(f, dict) and isinstance(f.get("sha256"), str)
                   for f in manifest["files"].values()):
            raise ValueError("a 'files' record has no sha256")
    except KeyError as exc:
        raise IndexCorrupt(f"{path} is broken (no {exc} in it)") from None
    except (ValueError, OSError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise IndexCorrupt(f"{path} is broken ({exc})") from None
    return manifest


def _read_records(folder: Path) -> tuple[list[Chunk], list[list[str]], list[list[str]]]:
    with (folder / CHUNKS).open(encoding="utf-8") as f:
        chunks = [Chunk.from_json(json.loads(line)) for line in f if line.strip()]
    words, bigrams = [], []
    with (folder / TOKENS).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                words.append(rec["w"])
                bigrams.append(rec["b"])
    if len(bigrams) != len(chunks) or any(c.id != i for i, c in enumerate(chunks)):
        raise IndexCorrupt(f"{folder}: chunk records and tokens do not line up")
    for c in chunks:
        if not (0 <= c.start <= c.end and c.end - c.start == len(c.text)) or any(
                not c.start <= s <= e <= c.end for s, e in c.sentences):
            raise IndexCorrupt(f"{folder}: chunk {c.id} of {c.source} has offsets that do not "
                               "fit its text")
    return chunks, words, bigrams
