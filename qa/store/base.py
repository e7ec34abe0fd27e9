"""The store seam: what retrieval and the answer layer need of an index, whatever holds it.

One small interface (in the spirit of txtai's ``ann/`` backends), chosen by ``QA_STORE``:

- ``embedded`` (default): ``embedded.index.Index``, one generation of FAISS + bm25s files under
  ``index/`` (``embedded.generations``: atomic publish, lock, checks);
- ``milvus://host:19530`` or ``milvus-lite:PATH``: ``qa.store.milvus.store.MilvusStore``, the same
  records in Milvus collections, dense search and BM25 functions run by the server.

Retrieval asks each ranking for its top ``n`` only (``dense``, ``lexical``), so an engine that
returns a top-k can stand behind it; then it fetches the few records it fuses (``fetch``, their
vectors and their sentences' vectors: ``chunk_vectors``, ``sentence_vectors_of``). A sentence
is named by its chunk's id and its place among the chunk's sentences.

Every store's build shares what is here too: ``BuildReport``, ``Progress``, ``CorpusEmpty``,
``BuildBusy`` and the build lock (``hold_lock``), reading the corpus for a build
(``read_for_build``) and sorting its files by change (``begin_report``, ``up_to_date``); and
``spot_check``, which re-embeds a few records of any store to catch vectors that are not theirs.
"""

from __future__ import annotations

import fcntl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import Settings
from qa.errors import Busy, Conflict, Unavailable
from qa.ingest.chunking import Chunk
from qa.ingest.corpus import Corpus, Skipped, file_hashes, read_corpus

if TYPE_CHECKING:
    from qa.models.embedding import Embedder


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


# -- what every store's build shares ---------------------------------------------------------

#: a build's progress: (stage, done, total)
Progress = Callable[[str, int, int], None]


class CorpusEmpty(Conflict, RuntimeError):
    """Nothing in the corpus folder could be indexed; the previous index stays in place."""


@dataclass
class BuildReport:
    """What a build did: file counts by change, chunk counts, skipped files, timing."""

    generation: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    full: str = ""  # why the build was a full one ("" when incremental)
    up_to_date: bool = False  # nothing changed: the current generation was kept
    seconds: float = 0.0
    #: the generation built (or kept), as loaded back to verify it
    index: Store | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON values (the loaded index left out)."""
        return {f.name: [asdict(s) for s in self.skipped] if f.name == "skipped"
                else getattr(self, f.name) for f in fields(self) if f.name != "index"}

    def summary(self) -> str:
        kind = f"full build ({self.full})" if self.full else "incremental build"
        if self.up_to_date:
            kind = "index up to date"
        lines = [
            f"{kind}: {self.generation}",
            f"files: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.removed)} removed, {len(self.kept)} kept, {len(self.skipped)} skipped",
            f"chunks: {self.chunks} ({self.embedded} embedded, {self.reused} reused) "
            f"in {self.seconds:.2f} s",
        ]
        lines += [f"skipped {s}" for s in self.skipped]
        return "\n".join(lines)


class BuildBusy(Busy, RuntimeError):
    """Another build holds the lock and the caller chose not to wait."""


@contextmanager
def hold_lock(path: Path, wait: bool = True,
              on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an ``flock`` on ``path`` (created with its folder); wait for it, or raise
    ``BuildBusy`` when ``wait`` is False and another process or thread holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise BuildBusy(f"another build holds {path}") from None
            if on_wait:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def diff_files(report: BuildReport, old: dict[str, dict[str, object]], new: dict[str, str]) -> None:
    """Sort the indexed files into added / changed / kept / removed against the previous index
    (files it skipped count as not indexed)."""
    indexed = {s: f["sha256"] for s, f in old.items() if "skipped" not in f}
    for source, sha in sorted(new.items()):
        if source not in indexed:
            report.added.append(source)
        elif indexed[source] != sha:
            report.changed.append(source)
        else:
            report.kept.append(source)
    report.removed = sorted(set(indexed) - set(new))


def up_to_date(generation: str, chunks: int, old_files: dict[str, dict[str, object]],
               started: float, index: Store | None = None) -> BuildReport:
    """The report of a build that found nothing changed: the served generation is kept."""
    report = BuildReport(generation=generation, chunks=chunks, reused=chunks, up_to_date=True,
                         index=index)
    diff_files(report, old_files, {s: str(f["sha256"]) for s, f in old_files.items()
                                   if "skipped" not in f})
    report.skipped = [Skipped(s, str(f["skipped"])) for s, f in sorted(old_files.items())
                      if "skipped" in f]
    report.seconds = time.perf_counter() - started
    return report


def read_for_build(settings: Settings, say: Progress, kept: str) -> tuple[Corpus, dict[str, str]]:
    """The corpus as a build reads it, and the hash of every file in its folder (skipped ones
    too); ``CorpusEmpty`` naming the folder (and ``kept``: what stays in place) when no file
    can be indexed."""
    corpus = read_corpus(settings.corpus_dir, settings.max_file_bytes,
                         progress=lambda d, t: say("reading corpus", d, t),
                         page_progress=lambda s, d, t: say(f"OCR {s}", d, t))
    if not corpus.documents:
        names = ", ".join(str(s) for s in corpus.skipped) or "no .txt/.md/.html/.pdf files"
        raise CorpusEmpty(f"nothing to index in {settings.corpus_dir}: {names}; {kept}")
    hashes = file_hashes(settings.corpus_dir, settings.max_file_bytes)
    hashes.update(corpus.hashes())
    return corpus, hashes


def begin_report(corpus: Corpus, old_files: dict[str, dict[str, object]],
                 why_full: str) -> BuildReport:
    """The report of a build under way: files sorted by change against ``old_files``."""
    report = BuildReport(generation="", skipped=corpus.skipped, full=why_full)
    diff_files(report, old_files, corpus.hashes())
    return report


def embed_chunks(settings: Settings, embedder: Embedder, chunks: list[Chunk],
                 cache: dict[str, np.ndarray], progress: Callable[[int, int], None]
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """Passage and sentence vectors of ``chunks`` and how many passages needed the model:
    texts found in ``cache`` (by ``text_key``) are reused, the rest embedded in one pass
    (batched by length over all of them; ``progress`` in characters). With
    ``passage_vectors=derived`` a passage's vector comes from its sentences' and heading's
    (``qa.models.passage_vectors``) instead of a second pass of the model over its text."""
    from qa.models import passage_vectors

    derived = passage_vectors.check_mode(settings.passage_vectors)
    keys = [embedder.key(index_text(c)) for c in chunks]
    new = [i for i, k in enumerate(keys) if k not in cache]
    sentences = [t for c in chunks for t in passage_vectors.sentence_texts(c)]
    extra = ([chunks[i].heading for i in new if chunks[i].heading] if derived
             else [index_text(chunks[i]) for i in new])
    found, _ = embedder.encode_cached(sentences + extra, cache, progress)
    dim = found.shape[1] if found.size else embedder.dimension
    sentence_vectors = found[: len(sentences)] if found.size else np.zeros((0, dim), np.float32)
    if derived and new:
        rows = np.cumsum([0] + [len(c.sentences) for c in chunks])
        heading = lambda h: cache[embedder.key(h)]  # noqa: E731
        for i in new:
            cache[keys[i]] = passage_vectors.derive(
                [chunks[i]], sentence_vectors[rows[i] : rows[i + 1]], heading)[0]
    vectors = np.vstack([cache[k] for k in keys]).astype(np.float32) if keys \
        else np.zeros((0, dim), dtype=np.float32)
    return vectors, np.ascontiguousarray(sentence_vectors, dtype=np.float32), len(new)


def file_records(corpus: Corpus, hashes: dict[str, str]) -> dict[str, dict[str, object]]:
    """Manifest entry of every corpus file: hash, and encoding and size or why it was skipped."""
    info: dict[str, dict[str, object]] = {
        d.source: {"encoding": d.encoding, "chars": len(d.text)} for d in corpus.documents}
    info.update({s.source: {"skipped": s.reason} for s in corpus.skipped})
    return {s: {"sha256": sha, **info.get(s, {"skipped": "unreadable"})}
            for s, sha in sorted(hashes.items())}


def spot_check(index: Store, encode: Callable[[Sequence[str]], np.ndarray],
               samples: int = 4, min_cosine: float = 0.98) -> None:
    """Re-embed a few chunks and sentences and compare them with the stored vectors, catching
    what no checksum can see (vectors that do not belong to their chunk records, or that
    another model made under the same name): ``IndexMismatch`` for a dimension change,
    ``IndexCorrupt`` when a vector is off. Works on any store, through the seam; passage
    vectors derived from sentences (``qa.models.passage_vectors``) are derived again from their parts
    embedded now."""
    from qa.models import passage_vectors

    records = index.records()
    n = len(records)
    if not n:
        return
    chosen = [records[i] for i in sorted({round(i * (n - 1) / max(1, samples - 1))
                                          for i in range(samples)})]
    derived = index.manifest.get("passage_vectors") == "derived"
    texts = [] if derived else [index_text(c) for c in chosen]
    stored = list(index.chunk_vectors([c.id for c in chosen]))
    spoken = [c for c in chosen[:2] if c.sentences]
    for c, vectors in zip(spoken, index.sentence_vectors_of([c.id for c in spoken]),
                          strict=True):
        texts.append(c.sentence_text(-1))
        stored.append(vectors[len(c.sentences) - 1])
    fresh = encode(texts)
    if derived:
        picked = passage_vectors.embed(chosen, encode)
        fresh = np.vstack([picked, fresh]) if len(fresh) else picked
    held = np.asarray(stored)
    if fresh.shape[1] != held.shape[1]:
        raise IndexMismatch(f"the model makes {fresh.shape[1]}-dimensional vectors, the index "
                            f"holds {held.shape[1]}: rebuild needed")
    cosines = np.sum(fresh * held, axis=1)
    if float(cosines.min()) < min_cosine:
        where = getattr(index, "path", None) or "the index"
        raise IndexCorrupt(f"{where}: stored vectors do not match their chunks as the model "
                           f"embeds them now (cosine {float(cosines.min()):.3f}): built by "
                           "another model, or records and vectors mixed up")
