"""Build the index into Milvus: bring the set not being served up to date, then switch to it.

The set that is not served (``qa.store.milvus.backend``: sets a and b) still holds what it held when
it was last served, and its own manifest says what that is. A build:

1. reads and chunks the corpus (as ``qa.store.embedded.builder`` does) and checks every row fits Milvus;
2. forgets the other set's manifest (from here on, a build that dies leaves that set "unknown",
   and the next build refills it; the served set is never touched);
3. keeps that set when its settings, dimension and index kinds still hold, else drops and
   recreates its collections; deletes by source the files changed or removed since it was
   served, and inserts the chunks and sentences of files changed or added since then, with new
   ids;
4. embeds only texts whose vectors are in neither set (looked up by text hash: the served set
   holds every text of the last build);
5. flushes, checks the row counts, writes the set's manifest, and switches the aliases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.ingest import text as textmod
from qa.ingest.chunking import Chunk, chunk_documents
from qa.ingest.corpus import Skipped, file_hashes, read_corpus
from qa.models.embedding import Embedder, text_key
from qa.store.base import IndexCorrupt, IndexProblem, check_compatible, index_text
from qa.store.embedded.builder import (
    BuildReport,
    CorpusEmpty,
    Progress,
    _diff,
    _file_records,
    embed_chunks,
)
from qa.store.milvus.store import (
    BATCH,
    BM25_PARAMS,
    KEY_BYTES,
    SLOTS,
    SOURCE_BYTES,
    Collections,
    RecordTooLarge,
    check_fits,
    token_text,
)

if TYPE_CHECKING:
    from qa.store.milvus.backend import MilvusBackend

HNSW = {"M": 32, "efConstruction": 80}  # as the embedded index's FAISS HNSW


def _sentence_texts(c: Chunk) -> list[str]:
    return [c.text[s - c.start : e - c.start] for s, e in c.sentences]


def create_set(backend: MilvusBackend, which: str, dimension: int,
               kinds: dict[str, str]) -> None:
    """(Re)create the collections of set ``which``, empty, indexed and loaded."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    client, names = backend.client, backend.names(which)
    analyzed = {"enable_analyzer": True, "analyzer_params": {"tokenizer": "standard"}}
    for collection, bm25, kind in ((names.chunks, ("words", "bigrams"), kinds["chunks"]),
                                   (names.sentences, ("bigrams",), kinds["sentences"])):
        if backend.call(client.has_collection, collection):
            backend.call(client.drop_collection, collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        if collection == names.sentences:
            schema.add_field("chunk", DataType.INT64)
        schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_BYTES)
        schema.add_field("key", DataType.VARCHAR, max_length=KEY_BYTES)
        if collection == names.chunks:
            schema.add_field("record", DataType.VARCHAR, max_length=65_535)
        for field in bm25:
            schema.add_field(field, DataType.VARCHAR, max_length=65_535, **analyzed)
            schema.add_field(f"{field}_bm25", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name=f"{field}_fn", function_type=FunctionType.BM25,
                                         input_field_names=[field],
                                         output_field_names=[f"{field}_bm25"]))
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = client.prepare_index_params()
        index.add_index("vector", index_type=kind, metric_type="IP",
                        params=HNSW if kind == "HNSW" else {})
        for field in bm25:
            index.add_index(f"{field}_bm25", index_type="SPARSE_INVERTED_INDEX",
                            metric_type="BM25", params=dict(BM25_PARAMS))
        for field in ("source", "key", "chunk") if collection == names.sentences \
                else ("source", "key"):
            index.add_index(field, index_type="INVERTED")
        backend.call(client.create_collection, collection, schema=schema,
                     consistency_level="Strong")
        # an empty collection's indexes need no waiting (pymilvus polls twice a second)
        backend.call(client.create_index, collection, index, sync=False)
        backend.loaded.discard(collection)
        backend.ready(collection)


def _cached_vectors(backend: MilvusBackend, sets: Sequence[Collections],
                    keys: set[str]) -> dict[str, np.ndarray]:
    """Vectors of the texts ``keys`` already held by ``sets`` (chunks and sentences)."""
    found: dict[str, np.ndarray] = {}
    for names in sets:
        for collection in (names.chunks, names.sentences):
            wanted = sorted(keys - set(found))
            if not wanted or not backend.ready(collection):
                continue
            for at in range(0, len(wanted), BATCH):
                rows = backend.call(backend.client.query, collection,
                                    filter=f"key in {json.dumps(wanted[at : at + BATCH])}",
                                    output_fields=["key", "vector"])
                found.update((r["key"], np.asarray(r["vector"], dtype=np.float32))
                             for r in rows)
    return found


def _rows(chunks: list[Chunk], embedder: Embedder
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The chunk rows and sentence rows of ``chunks``, without their vectors yet, checked to
    fit Milvus's fields (``RecordTooLarge`` before any model time is spent)."""
    chunk_rows, sentence_rows = [], []
    for c in chunks:
        where = f"chunk {c.id} of {c.source} (paragraph {c.paragraph})"
        text = index_text(c)
        check_fits(f"the source name {c.source!r}", c.source, SOURCE_BYTES)
        chunk_rows.append({
            "id": c.id, "source": c.source, "key": text_key(embedder.prepare(text)),
            "record": check_fits(f"the record of {where}",
                                 json.dumps(c.to_json(), ensure_ascii=False)),
            "words": check_fits(f"the words of {where}", token_text(textmod.words(text))),
            "bigrams": check_fits(f"the bigrams of {where}", token_text(textmod.bigrams(text)))})
        if len(c.sentences) > SLOTS:
            raise RecordTooLarge(f"{where} has {len(c.sentences)} sentences; at most {SLOTS}")
        for place, sentence in enumerate(_sentence_texts(c)):
            sentence_rows.append({
                "id": c.id * SLOTS + place, "chunk": c.id, "source": c.source,
                "key": text_key(embedder.prepare(sentence)),
                "bigrams": check_fits(f"a sentence of {where}",
                                      token_text(textmod.bigrams(sentence)))})
    return chunk_rows, sentence_rows


def _with_vectors(rows: list[dict[str, Any]], vectors: np.ndarray) -> list[dict[str, Any]]:
    for row, vector in zip(rows, vectors, strict=True):
        row["vector"] = vector.tolist()
    return rows


def _insert(backend: MilvusBackend, collection: str, rows: list[dict[str, Any]],
            say: Progress, done: int, total: int) -> int:
    for at in range(0, len(rows), BATCH):
        backend.call(backend.client.insert, collection, rows[at : at + BATCH])
        say("writing to Milvus", done + min(at + BATCH, len(rows)), total)
    return done + len(rows)


def _delete_sources(backend: MilvusBackend, names: Collections, sources: list[str]) -> None:
    for collection in (names.chunks, names.sentences):
        for at in range(0, len(sources), 100):
            backend.call(backend.client.delete, collection,
                         filter=f"source in {json.dumps(sources[at : at + 100])}")


def _up_to_date(serving: dict[str, Any], started: float) -> BuildReport:
    old = dict(serving["files"])
    report = BuildReport(generation=serving["generation"], chunks=serving["chunks"],
                         reused=serving["chunks"], up_to_date=True)
    _diff(report, old, {s: f["sha256"] for s, f in old.items() if "skipped" not in f})
    report.skipped = [Skipped(s, str(f["skipped"])) for s, f in sorted(old.items())
                      if "skipped" in f]
    report.seconds = time.perf_counter() - started
    return report


def _usable(manifest: dict[str, Any] | None, backend: MilvusBackend) -> str:
    """Why ``manifest``'s set cannot serve as it is ("" when it can)."""
    if manifest is None:
        return "no index yet"
    try:
        check_compatible(manifest, backend.settings)
    except IndexProblem as exc:
        return str(exc)
    return ""


def build_milvus(backend: MilvusBackend, embedder: Embedder, progress: Progress | None = None,
                 wait: bool = True, full: bool = False) -> BuildReport:
    """Bring the set not being served up to date with the corpus and switch to it; raises
    ``CorpusEmpty`` (nothing switched) when no file can be indexed, ``BuildBusy`` when ``wait``
    is False and another build holds the lock, ``StoreUnavailable`` when Milvus fails."""
    started = time.perf_counter()
    settings = backend.settings
    say = progress or (lambda stage, done, total: None)
    with backend.lock(wait=wait, on_wait=lambda: say("waiting for another build", 0, 1)):
        backend.ensure_meta()
        active = backend.active_set()
        if active:  # a build cut short between the two alias switches: both back to active
            backend.switch_to(active)
        serving = backend.read_manifest(active) if active else None
        why = "asked for" if full else _usable(serving, backend)
        say("reading corpus", 0, 1)
        if not why and file_hashes(settings.corpus_dir, settings.max_file_bytes) \
                == {s: f["sha256"] for s, f in serving["files"].items()}:  # type: ignore[index]
            say("done", 1, 1)
            return _up_to_date(serving, started)  # type: ignore[arg-type]
        corpus = read_corpus(settings.corpus_dir, settings.max_file_bytes,
                             progress=lambda d, t: say("reading corpus", d, t),
                             page_progress=lambda s, d, t: say(f"OCR {s}", d, t))
        if not corpus.documents:
            names = ", ".join(str(s) for s in corpus.skipped) or "no .txt/.md/.html/.pdf files"
            raise CorpusEmpty(f"nothing to index in {settings.corpus_dir}: {names}; "
                              "the index in Milvus stays as it is")
        hashes = file_hashes(settings.corpus_dir, settings.max_file_bytes)
        hashes.update(corpus.hashes())
        report = BuildReport(generation="", skipped=corpus.skipped, full=why)
        _diff(report, dict(serving["files"]) if serving else {}, corpus.hashes())
        say("chunking", 0, 1)
        chunks = chunk_documents(corpus.documents, settings.chunk_size, settings.chunk_overlap)
        target = "b" if active == "a" else "a"
        manifest = _fill(backend, target, chunks, corpus.hashes(), embedder, report,
                         serving if not why else None, full, say)
        manifest["files"] = _file_records(corpus, hashes)
        say("switching", 0, 1)
        backend.write_manifest(target, manifest)
        backend.switch_to(target)
        report.generation = manifest["generation"]
        report.chunks = len(chunks)
        report.seconds = time.perf_counter() - started
        say("done", 1, 1)
        return report


@dataclasses.dataclass
class Plan:
    """What a build does to set ``target``: keep it (delete ``stale`` sources) or recreate it,
    and insert ``fresh`` chunks (with their ids in the set)."""

    target: str
    keep: bool
    stale: list[str]
    fresh: list[Chunk]
    next_id: int
    kinds: dict[str, str]


def _plan(backend: MilvusBackend, target: str, chunks: list[Chunk], files: dict[str, str],
          embedder: Embedder, full: bool) -> Plan:
    """Whether set ``target`` can be brought up to date (same settings, dimension, index kinds,
    collections there) and what to delete and insert; ``files``: {source: sha256}."""
    settings = backend.settings
    names = backend.names(target)
    sentences = sum(len(c.sentences) for c in chunks)
    kinds = {"chunks": "HNSW" if len(chunks) > settings.ann_threshold else "FLAT",
             "sentences": "HNSW" if sentences > settings.ann_threshold else "FLAT"}
    old = None if full else backend.read_manifest(target)
    if old is None or _usable(old, backend) or old.get("dimension") != embedder.dimension \
            or old.get("dense_index") != kinds \
            or not all(backend.ready(c) for c in (names.chunks, names.sentences)):
        return Plan(target, False, [], chunks, len(chunks), kinds)
    held = {s: f["sha256"] for s, f in old["files"].items() if "skipped" not in f}
    stale = sorted(s for s, sha in held.items() if files.get(s) != sha)
    fresh = [c for c in chunks if held.get(c.source) != files[c.source]]
    first = int(old["next_id"])
    fresh = [dataclasses.replace(c, id=first + i) for i, c in enumerate(fresh)]
    return Plan(target, True, stale, fresh, first + len(fresh), kinds)


def _embed(backend: MilvusBackend, plan: Plan, embedder: Embedder, serving: str | None,
           full: bool, say: Progress) -> tuple[np.ndarray, np.ndarray, int]:
    """Vectors of the fresh chunks and of their sentences, and how many chunks were embedded
    (the others' vectors come from the served set ``serving`` or the target, by text hash)."""
    texts = [index_text(c) for c in plan.fresh]
    sentence_texts = [s for c in plan.fresh for s in _sentence_texts(c)]
    cache: dict[str, np.ndarray] = {}
    if not full:
        sets = [backend.names(s) for s in ([serving] if serving else [])
                + ([plan.target] if plan.keep else [])]
        keys = {embedder.key(t) for t in texts + sentence_texts}
        cache = _cached_vectors(backend, sets, keys)
    return embed_chunks(backend.settings, embedder, plan.fresh, cache,
                        lambda d, t: say("embedding", d, t))


def _write(backend: MilvusBackend, plan: Plan, chunk_rows: list[dict[str, Any]],
           sentence_rows: list[dict[str, Any]], expected: tuple[int, int], dimension: int,
           say: Progress) -> None:
    """Apply ``plan`` to its set, flush, and check it holds ``expected`` chunks and
    sentences."""
    names = backend.names(plan.target)
    if not plan.keep:
        create_set(backend, plan.target, dimension, plan.kinds)
    _delete_sources(backend, names, plan.stale)
    total = len(chunk_rows) + len(sentence_rows)
    done = _insert(backend, names.chunks, chunk_rows, say, 0, total)
    _insert(backend, names.sentences, sentence_rows, say, done, total)
    for collection, rows in zip((names.chunks, names.sentences), expected, strict=True):
        backend.call(backend.client.flush, collection)
        if backend.count(collection) != rows:
            raise IndexCorrupt(f"Milvus at {backend.target.where}: {collection} holds "
                               f"{backend.count(collection)} rows after the build, not "
                               f"{rows}: not switched to it")


def _fill(backend: MilvusBackend, target: str, chunks: list[Chunk], files: dict[str, str],
          embedder: Embedder, report: BuildReport, serving: dict[str, Any] | None,
          full: bool, say: Progress) -> dict[str, Any]:
    """Bring set ``target`` to hold exactly ``chunks`` (of ``files``, {source: sha256}),
    reusing the vectors of the served set (``serving``'s manifest, when usable) and of the
    target itself. Returns the set's manifest, without files."""
    plan = _plan(backend, target, chunks, files, embedder, full)
    say("tokenizing", 0, 1)
    chunk_rows, sentence_rows = _rows(plan.fresh, embedder)
    backend.clear_manifest(target)  # from here on the set's content is unknown
    vectors, sentence_vectors, report.embedded = _embed(
        backend, plan, embedder, serving["set"] if serving else None, full, say)
    report.reused = len(chunks) - report.embedded
    sentences = sum(len(c.sentences) for c in chunks)
    _write(backend, plan, _with_vectors(chunk_rows, vectors),
           _with_vectors(sentence_rows, sentence_vectors), (len(chunks), sentences),
           embedder.dimension, say)
    now = time.time_ns()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now // 10**9))
    return {**backend.settings.index_params(), "dimension": embedder.dimension,
            "ann_threshold": backend.settings.ann_threshold,
            "generation": f"gen-{stamp}-{now % 10**9:09d}-{target}",
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "chunks": len(chunks), "sentences": sentences, "set": target,
            "next_id": plan.next_id, "dense_index": plan.kinds}
