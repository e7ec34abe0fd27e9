"""The searchable index: chunks, their vectors in FAISS, and two BM25 indexes, saved as files.

One ``Index`` is one immutable generation: ``Index.create`` makes it from chunks and vectors,
``save`` writes it to a folder, ``load`` reads and verifies it. Nothing is pickled: chunk
records and tokens are JSON Lines, vectors a ``.npy`` read with ``allow_pickle=False``, the
dense index FAISS's own format. ``load`` checks the manifest against the current settings and
the files against each other, and raises ``IndexError_`` subclasses with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import Chunk
from .config import Settings

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
TOKENS = "tokens.jsonl"
VECTORS = "vectors.npy"
SENTENCE_VECTORS = "sentences.npy"
DENSE = "dense.faiss"
DATA_FILES = (CHUNKS, TOKENS, VECTORS, SENTENCE_VECTORS, DENSE)


class IndexProblem(Exception):
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


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
class Index:
    """One generation of the index, in memory."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    words: list[list[str]]
    bigrams: list[list[str]]
    sentence_vectors: np.ndarray  # one row per (chunk, sentence) in chunk order
    dense: Any = None
    bm25_words: Any = None
    bm25_bigrams: Any = None
    path: Path | None = None

    def __post_init__(self) -> None:
        ann = int(self.manifest.get("ann_threshold", 50_000))
        if self.dense is None:
            self.dense = _dense_index(self.vectors, ann)
        if self.bm25_words is None:
            self.bm25_words = _bm25(self.words)
            self.bm25_bigrams = _bm25(self.bigrams)
        #: row of each chunk's first sentence in ``sentence_vectors``
        self.sentence_row = np.cumsum([0] + [len(c.sentences) for c in self.chunks])
        self.not_body = np.array([c.kind != "body" for c in self.chunks], dtype=bool)

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def generation(self) -> str:
        return str(self.manifest.get("generation", ""))

    def files(self) -> dict[str, str]:
        """``{source: sha256}`` of every corpus file this index was built from (incl. skipped)."""
        return {s: f["sha256"] for s, f in self.manifest.get("files", {}).items()}

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k ``(chunk id, cosine)`` for one normalised query vector."""
        if not self.chunks:
            return []
        scores, ids = self.dense.search(query.reshape(1, -1).astype(np.float32),
                                        min(k, len(self.chunks)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_scores(self, which: str, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query tokens (``which``: words | bigrams)."""
        retriever = self.bm25_words if which == "words" else self.bm25_bigrams
        if not tokens or not self.chunks:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(retriever.get_scores(list(tokens)), dtype=np.float32)[: len(self.chunks)]

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
        faiss.write_index(self.dense, str(folder / DENSE))
        manifest = dict(self.manifest)
        manifest["checksums"] = {name: _sha256_file(folder / name) for name in DATA_FILES}
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
            if not path.is_file():
                raise IndexCorrupt(f"{path} is missing")
            if _sha256_file(path) != manifest.get("checksums", {}).get(name):
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
        n, dim = len(chunks), int(manifest["dimension"])
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
                   dense=dense, path=folder)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexMissing(f"no index at {folder} (run `qa build`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
        for key in ("format", "model", "dimension", "files", "checksums"):
            manifest[key]
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"{path} is broken ({exc})") from None
    return manifest


def check_compatible(manifest: dict[str, Any], settings: Settings) -> None:
    """Raise ``IndexMismatch`` when the index was built with other settings."""
    wanted = settings.index_params()
    for key, value in wanted.items():
        if manifest.get(key) != value:
            raise IndexMismatch(f"index built with {key}={manifest.get(key)!r}, "
                                f"settings say {value!r}: rebuild needed")


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
    return chunks, words, bigrams
