"""Scaling: build time, index size, memory and query latency on corpora 1x to 1,000x the article,
and what HNSW buys over exact search.

    .venv/bin/python bench/scaling.py [--sizes 1,10,100,1000] [--ann-threshold 500]

Each corpus is made at bench time in a temporary folder (never committed): the article's body
sentences (``qa.ingest.text.sentence_spans``) dealt from a deck reshuffled with a fixed seed, grouped
into paragraphs as long as the article's, one file per article's worth. Per size, two fresh
processes: one builds (warm model, ``build_index(full=True)`` by stage, size on disk, peak
RSS); one serves (index load, warm ``QA.ask`` by piece, peak RSS), then builds the HNSW index
qa uses above ``Settings.ann_threshold`` chunks (``qa.store.embedded.index._dense_index`` with
``--ann-threshold``) over the same vectors: its build time, size, search time, recall@10
against exact search, and ``QA.ask`` with each index in turn, question by question.

The build embeds each distinct text once, and these sentences repeat, so sentence embedding
costs almost nothing here; the "est." column adds what distinct sentences would cost, and
``--unique-sentences`` tags every copy instead. 1,000x takes 10-20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    ARTICLE,
    PY,
    child_env,
    child_json,
    dir_size,
    emit,
    footer,
    header,
    load,
    mib,
    ms,
    pct,
    run,
    table,
    tmpdir,
    vm_hwm,
)
from queries import ask_in_pieces, measure, retrieval


def make_corpus(folder: Path, factor: int, seed: int = 0, unique: bool = False) -> int:
    """Write ``factor`` files of recombined article sentences; returns the characters written."""
    from qa.ingest.chunking import paragraphs
    from qa.ingest.text import sentence_spans

    text = ARTICLE.read_text(encoding="utf-8")
    body = [p for p in paragraphs(text) if p.kind == "body"]
    sentences = [text[s:e] for p in body for s, e in sentence_spans(text, p.start, p.end)]
    lengths = [p.end - p.start for p in body]
    rng, deck, serial, total = random.Random(seed), [], 0, 0
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(factor):
        paras: list[str] = []
        while sum(map(len, paras)) < len(text):
            want, para = rng.choice(lengths), ""
            while len(para) < want:
                if not deck:
                    deck = sentences[:]
                    rng.shuffle(deck)
                serial += 1
                para += (f"[{serial}]" if unique else "") + deck.pop()
            paras.append(para)
        body_text = "\n\n".join(paras) + "\n"
        (folder / f"doc-{n:05d}.txt").write_text(body_text, encoding="utf-8")
        total += len(body_text)
    return total


def build_worker(corpus: Path, index_dir: Path) -> dict[str, Any]:
    """Fresh process: warm model, one full build by stage, index size, peak RSS."""
    from build import timed_build

    from qa.config import Settings
    from qa.models.embedding import Embedder
    from qa.store.embedded.generations import IndexStore

    logging.disable(logging.WARNING)
    settings = Settings.from_env().with_(corpus_dir=corpus, index_dir=index_dir)
    embedder = Embedder(settings)
    embedder.encode(["预热"])
    report, stages = timed_build(settings, embedder)
    gen = IndexStore(settings).current_path()
    index = IndexStore(settings).load()
    texts = [c.text[a - c.start : b - c.start] for c in index.chunks for a, b in c.sentences]
    return {"build": report.seconds, "stages": stages, "chunks": report.chunks,
            "sentences": len(texts), "unique_sentences": len(set(texts)),
            "sentence_chars": sum(map(len, texts)), "disk": dir_size(gen),
            "files": {p.name: p.stat().st_size for p in gen.iterdir()},
            "rss_build": vm_hwm(os.getpid())}


def serve_worker(corpus: Path, index_dir: Path, ann_threshold: int) -> dict[str, Any]:
    """Fresh process: load the index, warm QA.ask by piece, then the same with HNSW."""
    import faiss
    import psutil
    from common import QUESTIONS

    from qa.config import Settings
    from qa.eval.evaluate import load_questions
    from qa.service import QA
    from qa.store.embedded.index import _dense_index

    logging.disable(logging.WARNING)
    rows = load_questions(QUESTIONS)
    settings = Settings.from_env().with_(corpus_dir=corpus, index_dir=index_dir)
    engine = QA(settings)
    engine.embedder.encode(["预热"])
    s = time.perf_counter()
    engine.store.load()
    out: dict[str, Any] = {"load": time.perf_counter() - s}
    index = engine.refresh()
    gc.collect()
    out["rss_loaded"] = psutil.Process().memory_info().rss
    lat, pieces = measure(engine, rows, 2)
    out["exact"] = {"lat": lat, "pieces": pieces}
    if len(index) > ann_threshold:  # the dense index a build with that QA_ANN_THRESHOLD makes
        qvecs = np.vstack([engine.embedder.encode_query(r["question"]) for r in rows])
        flat = faiss.IndexFlatIP(index.vectors.shape[1])
        flat.add(index.vectors)
        s = time.perf_counter()
        hnsw = _dense_index(index.vectors, ann_threshold)
        out["hnsw_build"] = time.perf_counter() - s
        with tmpdir("hnsw") as work:
            faiss.write_index(hnsw, str(work / "hnsw.faiss"))
            out["hnsw_disk"] = (work / "hnsw.faiss").stat().st_size
        out.update(search_timings(flat, hnsw, qvecs))
        out["hit1_exact"] = hit_at_1(engine, rows)
        exact = (index.faiss_index, index.manifest["ann_threshold"])
        paired: dict[str, dict[str, list[float]]] = {"flat": {}, "hnsw": {}}
        for _ in range(2):  # each question with both indexes in turn, so load hits both alike
            for row in rows:
                for mode, (dense, threshold) in (("flat", exact), ("hnsw", (hnsw, ann_threshold))):
                    index.faiss_index, index.manifest["ann_threshold"] = dense, threshold
                    for name, v in ask_in_pieces(engine, row, 3).items():
                        paired[mode].setdefault(name, []).append(v)
        out["paired"] = paired
        out["hit1_hnsw"] = hit_at_1(engine, rows)
    out["rss_serve"] = vm_hwm(os.getpid())
    return out


def hit_at_1(engine: Any, rows: list[dict[str, Any]]) -> float:
    """Share of answerable questions whose top passage holds a gold answer string (the
    synthetic corpus repeats sentences, so positions tie; the text is what counts)."""
    ans = [r for r in rows if r.get("answers")]
    top = [engine.ask(r["question"], history=r.get("history") or None).passages[0].text
           for r in ans]
    return float(np.mean([any(g in t for g in r["answers"]) for r, t in
                          zip(ans, top, strict=True)]))


def search_timings(flat: Any, hnsw: Any, q: np.ndarray, k: int = 10) -> dict[str, float]:
    """Per-query search time of both indexes, and recall@k of HNSW against exact search
    (ties at the k-th exact score count as hits)."""
    def per_query(index: Any) -> tuple[float, np.ndarray, np.ndarray]:
        s = time.perf_counter()
        res = [index.search(v.reshape(1, -1), k) for v in q]
        spent = (time.perf_counter() - s) / len(q)
        return spent, np.vstack([r[0] for r in res]), np.vstack([r[1] for r in res])

    exact_s, exact_d, _ = per_query(flat)
    hnsw_s, _, hnsw_i = per_query(hnsw)
    kth = exact_d[:, -1]
    hits = 0
    for qi, ids in enumerate(hnsw_i):
        true = np.asarray(flat.reconstruct_batch(ids[ids >= 0])) @ q[qi] >= kth[qi] - 1e-6
        hits += int(true.sum())
    return {"flat_search": exact_s, "hnsw_search": hnsw_s, "recall10": hits / (k * len(q))}


def growth(rows: list[dict[str, Any]], key: str) -> list[str]:
    """Exponent of growth from the previous size: cost ~ size^e."""
    out = ["-"]
    for a, b in itertools.pairwise(rows):
        if a[key] > 0 and b[key] > 0:
            out.append(f"{math.log(b[key] / a[key]) / math.log(b['chars'] / a['chars']):.2f}")
        else:
            out.append("-")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,10,100,1000", help="multiples of the article")
    ap.add_argument("--ann-threshold", type=int, default=500,
                    help="HNSW above this many chunks for the HNSW rows (qa's default: 50000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unique-sentences", action="store_true",
                    help="tag each sentence copy so every sentence is embedded")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        what, corpus, index_dir = args.worker
        emit(build_worker(Path(corpus), Path(index_dir)) if what == "build" else
             serve_worker(Path(corpus), Path(index_dir), args.ann_threshold))
        return
    header("scaling")
    results = []
    for factor in [int(x) for x in args.sizes.split(",")]:
        with tmpdir(f"scale-{factor}x") as work:
            chars = make_corpus(work / "corpus", factor, args.seed, args.unique_sentences)
            print(f"{factor}x: {chars:,} characters in {factor} files; building...", flush=True)
            r: dict[str, Any] = {"factor": factor, "chars": chars}
            for what in ("build", "serve"):
                argv = [PY, sys.argv[0], "--ann-threshold", str(args.ann_threshold),
                        "--worker", what, str(work / "corpus"), str(work / "index")]
                wall, stdout, _ = run(argv, child_env())
                r.update(child_json(stdout))
                print(f"  {what}: worker {wall:.0f} s (load {load()})", flush=True)
            results.append(r)
    print()
    print_tables(results, args.ann_threshold)
    footer()


def print_tables(results: list[dict[str, Any]], threshold: int) -> None:
    first = results[0]
    share = first["unique_sentences"] / max(1, first["sentences"])
    rate = first["sentence_chars"] * share / max(1e-9, first["stages"]["embedding"])
    for r in results:
        r["p50"] = pct(r["exact"]["lat"], 50)
        r["retr"] = pct(retrieval(r["exact"]["pieces"]), 50)
        r["emb"] = r["stages"]["embedding"]
        unembedded = r["sentence_chars"] * (1 - r["unique_sentences"] / max(1, r["sentences"]))
        r["est"] = r["build"] + unembedded / rate
    print(table(["size", "chars", "chunks", "sentences (distinct)", "build s", "embed s",
                 "chars/s", "est. s, distinct sentences", "disk MiB", "build peak MiB"],
                [[f"{r['factor']}x", f"{r['chars']:,}", r["chunks"],
                  f"{r['sentences']} ({r['unique_sentences']})", f"{r['build']:.1f}",
                  f"{r['emb']:.1f}", f"{r['chars'] / r['build']:,.0f}", f"{r['est']:.0f}",
                  mib(r["disk"]), mib(r["rss_build"])] for r in results]))
    print(f"(full build with a warm model, one fresh process per size; est.: the build if every "
          f"sentence were distinct, embedding the repeats at the {first['factor']}x sentence "
          f"rate of {rate:,.0f} chars/s)\n")
    print(table(["size", "index load s", "RSS loaded MiB", "serving peak MiB", "QA.ask p50 ms",
                 "p95 ms", "p99 ms", "without embedding p50 ms", "p95 ms"],
                [[f"{r['factor']}x", f"{r['load']:.2f}", mib(r["rss_loaded"]),
                  mib(r["rss_serve"]), ms(r["p50"]), ms(pct(r["exact"]["lat"], 95)),
                  ms(pct(r["exact"]["lat"], 99)), ms(r["retr"]),
                  ms(pct(retrieval(r["exact"]["pieces"]), 95))] for r in results]))
    print("(fresh process: model + Index.load from disk, then warm QA.ask over the question set "
          "x2, exact search; without embedding: the pieces of QA.ask but the query embedding, "
          "which does not depend on size and is what the machine's load swings most; peak "
          "includes the HNSW rows below)\n")
    print("growth exponent from the previous size (cost ~ chars^e; 1 = linear):")
    print(table(["size", "build", "embedding", "disk", "index load", "query w/o embedding"],
                [[f"{r['factor']}x", *cols] for r, *cols in zip(
                    results, growth(results, "build"), growth(results, "emb"),
                    growth(results, "disk"), growth(results, "load"), growth(results, "retr"),
                    strict=True)]))
    print()
    stage_names = list(first["stages"])
    print("build stages, seconds:")
    print(table(["size", *stage_names], [[f"{r['factor']}x", *(f"{r['stages'][n]:.2f}"
                                                               for n in stage_names)]
                                         for r in results]))
    print()
    pieces = list(first["exact"]["pieces"])
    print("warm QA.ask by piece, p50 ms (exact search):")
    print(table(["size", *pieces], [[f"{r['factor']}x", *(ms(pct(r["exact"]["pieces"][n], 50))
                                                          for n in pieces)] for r in results]))
    print()
    hn = [r for r in results if "paired" in r]
    if not hn:
        return
    print(f"HNSW (M=32, efConstruction 80, efSearch 128) vs exact, ann_threshold={threshold}:")
    print(table(["size", "chunks", "HNSW build s", "flat MiB", "HNSW MiB", "flat search ms",
                 "HNSW search ms", "recall@10", "hit@1 exact/HNSW", "dense piece p50 ms exact/HNSW",
                 "w/o embedding p50 ms exact/HNSW"],
                [[f"{r['factor']}x", r["chunks"], f"{r['hnsw_build']:.2f}",
                  mib(r["files"]["dense.faiss"]), mib(r["hnsw_disk"]),
                  f"{1000 * r['flat_search']:.3f}", f"{1000 * r['hnsw_search']:.3f}",
                  f"{r['recall10']:.4f}", f"{r['hit1_exact']:.3f} / {r['hit1_hnsw']:.3f}",
                  f"{ms(pct(r['paired']['flat']['dense scoring'], 50))} / "
                  f"{ms(pct(r['paired']['hnsw']['dense scoring'], 50))}",
                  f"{ms(pct(retrieval(r['paired']['flat']), 50))} / "
                  f"{ms(pct(retrieval(r['paired']['hnsw']), 50))}"] for r in hn]))
    print("(search ms: one FAISS search, k=10, per question; recall@10 against IndexFlatIP, ties "
          "at the 10th score count; the QA.ask columns ask each question with both indexes "
          "in turn; its dense piece also scores every sentence vector, exactly, whatever the "
          "chunk index)\n")


if __name__ == "__main__":
    main()
