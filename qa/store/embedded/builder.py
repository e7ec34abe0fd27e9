"""Build the index from the corpus: read, chunk, embed (reusing unchanged work), save, publish.

``build_index`` is incremental: vectors and tokens of chunks whose text is unchanged are taken
from the current generation (keyed by a hash of the text as embedded), so only changed files
cost model time. A change of model or chunking settings, or an unusable previous index, makes
it a full rebuild. The new generation is verified by loading it back before ``CURRENT`` moves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from qa.config import Settings
from qa.ingest import text as textmod
from qa.ingest.chunking import Chunk, chunk_documents
from qa.ingest.corpus import Corpus, Skipped, file_hashes, read_corpus
from qa.models import passage_vectors
from qa.models.embedding import Embedder
from qa.store.base import IndexProblem, index_text
from qa.store.embedded.generations import IndexStore
from qa.store.embedded.index import Index, read_manifest

Progress = Callable[[str, int, int], None]


class CorpusEmpty(RuntimeError):
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
    index: Index | None = field(default=None, repr=False, compare=False)

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


def _previous(store: IndexStore) -> tuple[Index | None, str]:
    try:
        return store.load(), ""
    except IndexProblem as exc:
        return None, str(exc)


def _previous_files(store: IndexStore, previous: Index | None) -> dict[str, dict[str, object]]:
    """The manifest's file records of the current generation, even one that cannot be loaded
    (built with other settings, say), so a full build still reports what changed."""
    if previous is not None:
        return dict(previous.manifest["files"])
    try:
        return dict(read_manifest(store.current_path())["files"])
    except IndexProblem:
        return {}


def _diff(report: BuildReport, old: dict[str, dict[str, object]], new: dict[str, str]) -> None:
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


def _caches(previous: Index | None, embedder: Embedder
            ) -> tuple[dict[str, np.ndarray], dict[str, tuple[list[str], list[str]]]]:
    vectors: dict[str, np.ndarray] = {}
    tokens: dict[str, tuple[list[str], list[str]]] = {}
    if previous is not None:
        for c, v, w, b in zip(previous.chunks, previous.vectors, previous.words,
                              previous.bigrams, strict=True):
            key = embedder.key(index_text(c))
            vectors[key] = v
            tokens[key] = (w, b)
        rows = iter(previous.sentence_vectors)
        for c in previous.chunks:
            for s, e in c.sentences:
                vectors[embedder.key(c.text[s - c.start : e - c.start])] = next(rows)
    return vectors, tokens


def embed_chunks(settings: Settings, embedder: Embedder, chunks: list[Chunk],
                 cache: dict[str, np.ndarray], progress: Callable[[int, int], None]
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """Passage and sentence vectors of ``chunks`` and how many passages needed the model:
    texts found in ``cache`` (by ``text_key``) are reused, the rest embedded in one pass
    (batched by length over all of them; ``progress`` in characters). With
    ``passage_vectors=derived`` a passage's vector comes from its sentences' and heading's
    (``qa.models.passage_vectors``) instead of a second pass of the model over its text."""
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


def build_index(settings: Settings, embedder: Embedder | None = None,
                progress: Progress | None = None, wait: bool = True,
                full: bool = False) -> BuildReport:
    """Rebuild ``settings.index_dir`` from ``settings.corpus_dir`` and publish it; raises
    ``CorpusEmpty`` (leaving the previous index serving) when no file can be indexed, and
    ``BuildBusy`` when ``wait`` is False and another build is running."""
    started = time.perf_counter()
    embedder = embedder or Embedder(settings)
    store = IndexStore(settings)
    say = progress or (lambda stage, done, total: None)
    with store.lock(wait=wait, on_wait=lambda: say("waiting for another build", 0, 1)):
        previous, why = _previous(store)
        old_files = _previous_files(store, previous)
        if full:
            previous, why = None, "asked for"
        say("reading corpus", 0, 1)
        hashes = file_hashes(settings.corpus_dir, settings.max_file_bytes)
        if previous is not None and hashes == previous.files():
            say("done", 1, 1)
            report = BuildReport(generation=previous.generation, chunks=len(previous),
                                 reused=len(previous), up_to_date=True, index=previous)
            _diff(report, old_files, {s: f["sha256"] for s, f in old_files.items()
                                      if "skipped" not in f})
            report.skipped = [Skipped(s, str(f["skipped"])) for s, f in sorted(old_files.items())
                              if "skipped" in f]
            report.seconds = time.perf_counter() - started
            return report
        corpus = read_corpus(settings.corpus_dir, settings.max_file_bytes,
                             progress=lambda d, t: say("reading corpus", d, t),
                             page_progress=lambda s, d, t: say(f"OCR {s}", d, t))
        if not corpus.documents:
            names = ", ".join(str(s) for s in corpus.skipped) or "no .txt/.md/.html/.pdf files"
            raise CorpusEmpty(f"nothing to index in {settings.corpus_dir}: {names}; "
                              "the previous index (if any) stays in place")
        hashes.update(corpus.hashes())
        report = BuildReport(generation="", skipped=corpus.skipped, full=why)
        _diff(report, old_files, corpus.hashes())

        say("chunking", 0, 1)
        chunks = _chunk(settings, corpus, previous)
        texts = [index_text(c) for c in chunks]
        vector_cache, token_cache = _caches(previous, embedder)
        vectors, sentence_vectors, report.embedded = embed_chunks(
            settings, embedder, chunks, vector_cache, lambda d, t: say("embedding", d, t))
        report.reused = len(chunks) - report.embedded
        say("tokenizing", 0, len(chunks))
        # (jieba in a thread beside the model was no faster on 2 busy cores: 9.1 s vs 8.9 s)
        words, bigrams = _tokens(embedder, texts, token_cache)

        say("saving", 0, 1)
        folder = store.new_folder()
        manifest = {
            **settings.index_params(),
            "dimension": int(vectors.shape[1]),
            "ann_threshold": settings.ann_threshold,
            "generation": folder.name.removesuffix(".tmp"),
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "chunks": len(chunks),
            "files": _file_records(corpus, hashes),
        }
        Index(manifest, chunks, vectors, words, bigrams, sentence_vectors).save(folder)
        # verify what was written before anyone can see it; the caller may serve this copy
        report.index = Index.load(folder, settings)
        report.generation = store.publish(folder)
        report.index.path = store.root / report.generation
        report.chunks = len(chunks)
        report.seconds = time.perf_counter() - started
        say("done", 1, 1)
        return report


def _chunk(settings: Settings, corpus: Corpus, previous: Index | None) -> list[Chunk]:
    """The chunks of every document, numbered in corpus order: an unchanged file's (same
    content hash) taken from ``previous``, built with the same chunking settings, the others
    chunked now."""
    kept: dict[str, list[Chunk]] = {}
    old_hashes = previous.files() if previous is not None else {}
    for c in previous.chunks if previous is not None else []:
        kept.setdefault(c.source, []).append(c)
    chunks: list[Chunk] = []
    for doc in corpus.documents:
        if doc.source in kept and old_hashes.get(doc.source) == doc.sha256:
            chunks += [dataclasses.replace(c, id=len(chunks) + i)
                       for i, c in enumerate(kept[doc.source])]
        else:
            chunks += chunk_documents([doc], settings.chunk_size, settings.chunk_overlap,
                                      first_id=len(chunks))
    return chunks


def _tokens(embedder: Embedder, texts: list[str],
            cache: dict[str, tuple[list[str], list[str]]]) -> tuple[list[list[str]], list[list[str]]]:
    """The jieba words and the bigrams of each text, from ``cache`` when the text is unchanged."""
    words, bigrams = [], []
    for t in texts:
        w, b = cache.get(embedder.key(t)) or (textmod.words(t), textmod.bigrams(t))
        words.append(w)
        bigrams.append(b)
    return words, bigrams


def _file_records(corpus: Corpus, hashes: dict[str, str]) -> dict[str, dict[str, object]]:
    """Manifest entry of every corpus file: hash, and encoding and size or why it was skipped."""
    info: dict[str, dict[str, object]] = {
        d.source: {"encoding": d.encoding, "chars": len(d.text)} for d in corpus.documents}
    info.update({s.source: {"skipped": s.reason} for s in corpus.skipped})
    return {s: {"sha256": sha, **info.get(s, {"skipped": "unreadable"})}
            for s, sha in sorted(hashes.items())}
