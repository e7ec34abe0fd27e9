"""qa beside the plain LangChain recipe: build time, warm query latency, peak memory.

    .venv/bin/python bench/langchain_side_by_side.py [--repeats 3]

Each system runs in its own fresh process (so peak RSS is its own), with the same m3e-small
model (qa's default adds multilingual-e5-small to it; this compares the plumbing):

- ours: ``qa.store.embedded.builder.build_index(full=True)`` into a temporary index, then ``QA.ask`` (hybrid
  retrieval + answer sentence, k=3), with qa's default backend (ONNX Runtime; the one-off
  export is made before the clock starts).
- theirs: ``TextLoader`` -> ``RecursiveCharacterTextSplitter`` (chunk_size 300, overlap 50, as
  qa.eval.baselines) -> ``langchain_community.vectorstores.FAISS.from_documents`` with a tiny
  ``Embeddings`` wrapper around the same SentenceTransformer, then ``similarity_search(k=3)``.

"Import + model load" times the imports the embedding needs plus the first encode. Builds are timed with the
model already loaded and warm (median of ``--repeats``); queries are every question of
tests/data/questions.jsonl, ``--repeats`` passes, after a warm-up.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from common import (
    PY,
    child_env,
    child_json,
    emit,
    footer,
    header,
    mib,
    ms,
    pct,
    questions,
    run,
    table,
    tmpdir,
    vm_hwm,
)


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        out.append(time.perf_counter() - s)
    return out


def latencies(ask: Callable[[str], Any], repeats: int) -> list[float]:
    rows = questions()
    for row in rows[:10]:
        ask(row["question"])
    return [t for _ in range(repeats) for row in rows
            for t in timed(lambda r=row: ask(r["question"]), 1)]


def worker_ours(repeats: int) -> dict[str, Any]:
    from qa.config import M3E_MODEL, Settings
    from qa.service import QA
    from qa.store.embedded.builder import build_index

    with tmpdir("lc-ours") as work:
        settings = Settings.from_env().with_(model=M3E_MODEL, lowercase=True,
                                             index_dir=work / "index")
        engine = QA(settings)
        s = time.perf_counter()
        engine.embedder.encode(["预热"])
        load_s = time.perf_counter() - s
        builds = timed(lambda: build_index(settings, engine.embedder, full=True), repeats)
        index = engine.refresh()
        lat = latencies(lambda q: engine.ask(q, k=3), repeats)
        return {"load": load_s, "builds": builds, "latencies": lat, "chunks": len(index),
                "vectors": len(index) + len(index.sentence_vectors),
                "rss": vm_hwm(os.getpid()), "backend": engine.embedder.backend}


def worker_theirs(repeats: int) -> dict[str, Any]:
    from langchain_community.document_loaders import TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from qa.config import M3E_MODEL, Settings, resolve_model
    from qa.eval.baselines import CHUNK_OVERLAP, CHUNK_SIZE

    class STEmbeddings(Embeddings):
        def __init__(self, model: Any) -> None:
            self.model = model

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.encode(list(texts), normalize_embeddings=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.model.encode([text], normalize_embeddings=True)[0].tolist()

    settings = Settings.from_env().with_(model=M3E_MODEL, lowercase=True)
    s = time.perf_counter()
    from sentence_transformers import SentenceTransformer

    embeddings = STEmbeddings(SentenceTransformer(resolve_model(settings.model), device="cpu"))
    embeddings.embed_query("预热")
    load_s = time.perf_counter() - s
    store: dict[str, Any] = {}

    def build() -> None:
        docs = [d for p in sorted(settings.corpus_dir.glob("*.txt"))
                for d in TextLoader(str(p), encoding="utf-8").load()]
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE,
                                                  chunk_overlap=CHUNK_OVERLAP)
        store["chunks"] = splitter.split_documents(docs)
        store["vs"] = FAISS.from_documents(store["chunks"], embeddings)

    builds = timed(build, repeats)
    lat = latencies(lambda q: store["vs"].similarity_search(q, k=3), repeats)
    return {"load": load_s, "builds": builds, "latencies": lat, "chunks": len(store["chunks"]),
            "vectors": len(store["chunks"]), "rss": vm_hwm(os.getpid())}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="builds and query passes")
    ap.add_argument("--worker", choices=["ours", "theirs"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        logging.disable(logging.WARNING)
        work = worker_ours if args.worker == "ours" else worker_theirs
        emit(work(args.repeats))
        return
    header("qa vs the plain LangChain recipe")
    from qa.config import M3E_MODEL, Settings
    from qa.models.embedding import Embedder

    # the one-off ONNX export, outside the clock
    _ = Embedder(Settings.from_env().with_(model=M3E_MODEL, lowercase=True)).model
    env = child_env()
    res = {}
    for who in ("ours", "theirs"):
        argv = [PY, sys.argv[0], "--worker", who, "--repeats", str(args.repeats)]
        res[who] = child_json(run(argv, env)[1])
    o, t = res["ours"], res["theirs"]
    rows: list[list[object]] = []

    def add(name: str, a: float, b: float, fmt: Callable[[float], str]) -> None:
        rows.append([name, fmt(a), fmt(b), ratio(a, b)])

    add("import + model load + warm-up, s", o["load"], t["load"], lambda x: f"{x:.2f}")
    add("build, warm model, s (median)", statistics.median(o["builds"]),
        statistics.median(t["builds"]), lambda x: f"{x:.2f}")
    add("chunks", o["chunks"], t["chunks"], lambda x: f"{x:.0f}")
    add("vectors embedded (chunks + sentences)", o["vectors"], t["vectors"],
        lambda x: f"{x:.0f}")
    add("warm query p50, ms", pct(o["latencies"], 50), pct(t["latencies"], 50), ms)
    add("warm query p95, ms", pct(o["latencies"], 95), pct(t["latencies"], 95), ms)
    add("peak RSS of the process, MiB", o["rss"], t["rss"], mib)
    n = len(o["latencies"])
    print(f"{n} queries each ({n // args.repeats} questions x {args.repeats}), "
          f"builds median of {args.repeats}, each system in its own process; "
          f"qa's embedding backend: {o['backend']}, theirs: sentence-transformers (torch)")
    print(table(["measure", "qa (ours)", "LangChain recipe", "ours/theirs"], rows))
    print()
    footer()


if __name__ == "__main__":
    main()
