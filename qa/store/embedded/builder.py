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

import numpy as np

from qa.config import Settings
from qa.ingest import text as textmod
from qa.ingest.chunking import Chunk, chunk_documents
from qa.ingest.corpus import Corpus, file_hashes
from qa.models.embedding import Embedder
from qa.store.base import (  # noqa: F401  (BuildReport, CorpusEmpty, Progress: names of before)
    BuildReport,
    CorpusEmpty,
    IndexProblem,
    Progress,
    begin_report,
    embed_chunks,
    file_records,
    index_text,
    read_for_build,
    up_to_date,
)
from qa.store.embedded.generations import IndexStore
from qa.store.embedded.index import Index, read_manifest


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
                vectors[embedder.key(c.span_text(s, e))] = next(rows)
    return vectors, tokens


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
        if previous is not None and file_hashes(settings.corpus_dir, settings.max_file_bytes) \
                == previous.files():
            say("done", 1, 1)
            return up_to_date(previous.generation, len(previous), old_files, started, previous)
        corpus, hashes = read_for_build(settings, say,
                                        "the previous index (if any) stays in place")
        report = begin_report(corpus, old_files, why)

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
            "files": file_records(corpus, hashes),
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
