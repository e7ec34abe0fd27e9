"""Warm query latency: ``QA.ask`` p50/p95/p99 over tests/data/questions.jsonl, and where the
time goes.

    .venv/bin/python bench/queries.py [--repeats 3]

One process builds a temporary index of corpus/ with a warm model, warms up, then asks every
question ``--repeats`` times through ``QA.ask`` (end to end). A second pass asks again with a
clock around each piece the real ``QA.ask`` calls (qa/service.py's ``refresh``, the
embedder's ``encode_query``, ``make_query``, ``search`` with the index's ``lexical`` lists inside it,
``Answerer.answer``); dense scoring is the numpy products ``search`` does, timed on their own, and
"fusion + hits" the rest of ``search``; "other" is question cleaning, glossary and follow-up
handling. A follow-up retried in context counts both tries.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from common import footer, header, ms, pct, questions, table, tmpdir

import qa.service as service
from qa.config import Settings
from qa.service import QA
from qa.store.embedded.builder import build_index
from qa.store.embedded.index import Index

PIECES = ["refresh (index current?)", "other (clean, glossary, follow-up)", "query embedding",
          "tokenise (jieba, bigrams)", "BM25 (3 scorers)", "dense scoring", "fusion + hits",
          "answer sentence, reader, found"]


def dense_scoring(index: Index, vector: np.ndarray) -> None:
    """What ``search`` does with vectors: chunk and sentence cosines, best sentence per chunk."""
    n = len(index)
    if n > int(index.manifest.get("ann_threshold", 50_000)):
        index.dense_search(vector, 200)
    else:
        _ = index.vectors @ vector
    sent = index.sentence_vectors @ vector
    rows = index.sentence_row
    has = np.diff(rows) > 0
    if has.any():
        np.maximum.reduceat(sent, rows[:-1][has])


@contextmanager
def clocked(engine: QA, t: dict[str, float]) -> Iterator[None]:
    """While active, the real ``QA.ask`` of ``engine`` adds the time of each piece to ``t``:
    qa.service's ``make_query`` and ``search``, the answer layer's ``Answerer.answer``, the
    embedder's ``encode_query``, ``refresh`` and the index's ``lexical`` top-N lists are wrapped
    (dense scoring is timed apart)."""
    from qa.answer.answerer import Answerer

    index = engine.refresh()
    originals = {n: getattr(service, n) for n in ("make_query", "search")}
    answer_method = Answerer.answer
    saved = (engine.refresh, engine.embedder.encode_query, index.lexical)

    def wrap(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            s = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                t[name] = t.get(name, 0.0) + time.perf_counter() - s
        return timed

    def search(index: Index, query: Any, *args: Any) -> Any:
        bm25 = t.get("BM25 (3 scorers)", 0.0)
        s = time.perf_counter()
        hits = originals["search"](index, query, *args)
        spent = time.perf_counter() - s
        s = time.perf_counter()
        dense_scoring(index, query.vector)
        dense = time.perf_counter() - s
        t["dense scoring"] = t.get("dense scoring", 0.0) + dense
        t["_replica"] = t.get("_replica", 0.0) + dense  # not part of the real ask
        t["fusion + hits"] = t.get("fusion + hits", 0.0) + max(
            0.0, spent - dense - (t.get("BM25 (3 scorers)", 0.0) - bm25))
        return hits

    engine.refresh = wrap(saved[0], "refresh (index current?)")  # type: ignore[method-assign]
    engine.embedder.encode_query = wrap(saved[1], "query embedding")  # type: ignore[method-assign]
    index.lexical = wrap(saved[2], "BM25 (3 scorers)")  # type: ignore[method-assign]
    service.make_query = wrap(originals["make_query"], "tokenise (jieba, bigrams)")
    Answerer.answer = wrap(answer_method, "answer sentence, reader, found")  # type: ignore[method-assign]
    service.search = search
    try:
        yield
    finally:
        for n, fn in originals.items():
            setattr(service, n, fn)
        Answerer.answer = answer_method  # type: ignore[method-assign]
        engine.refresh, engine.embedder.encode_query, index.lexical = saved  # type: ignore[method-assign]


def ask_in_pieces(engine: QA, row: dict[str, Any], k: int) -> dict[str, float]:
    """One real ``QA.ask`` with the time of each piece; "other" is the rest of it (cleaning,
    glossary, follow-up handling). Pieces a question did not use count 0."""
    t: dict[str, float] = dict.fromkeys(PIECES, 0.0)
    with clocked(engine, t):
        s = time.perf_counter()
        engine.ask(row["question"], k=k, history=row.get("history") or None)
        total = time.perf_counter() - s - t.pop("_replica", 0.0)
    t["other (clean, glossary, follow-up)"] = max(0.0, total - sum(t.values()))
    return t


def measure(engine: QA, rows: list[dict[str, Any]], repeats: int, k: int = 3
            ) -> tuple[list[float], dict[str, list[float]]]:
    """End-to-end ``QA.ask`` latencies, then per-piece times, each over ``repeats`` passes."""
    for row in rows[:10]:  # warm-up: first-use costs (jieba, caches) are cold_start's business
        engine.ask(row["question"], k=k, history=row.get("history") or None)
    latencies = []
    for _ in range(repeats):
        for row in rows:
            s = time.perf_counter()
            engine.ask(row["question"], k=k, history=row.get("history") or None)
            latencies.append(time.perf_counter() - s)
    pieces: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        for row in rows:
            for name, v in ask_in_pieces(engine, row, k).items():
                pieces[name].append(v)
    return latencies, pieces


def retrieval(pieces: dict[str, list[float]]) -> list[float]:
    """Per question: QA.ask without the query embedding (the part that depends on size)."""
    names = [n for n in pieces if n != "query embedding"]
    return [sum(v) for v in zip(*(pieces[n] for n in names), strict=True)]


def report(latencies: list[float], pieces: dict[str, list[float]], label: str) -> str:
    lat = table(["qa.ask end to end (" + label + ")", "n", "p50 ms", "p95 ms", "p99 ms",
                 "mean ms", "max ms"],
                [["warm", len(latencies), ms(pct(latencies, 50)), ms(pct(latencies, 95)),
                  ms(pct(latencies, 99)), ms(float(np.mean(latencies))), ms(max(latencies))]])
    total = sum(sum(v) for v in pieces.values())
    rows = [[name, ms(pct(pieces[name], 50)), ms(pct(pieces[name], 95)),
             f"{100 * sum(pieces[name]) / total:.1f}%"] for name in PIECES]
    rows.append(["sum of pieces", ms(pct([sum(x) for x in zip(*pieces.values(), strict=True)],
                                          50)), "", "100%"])
    return lat + "\n\n" + table(["piece of qa.ask", "p50 ms", "p95 ms", "share of time"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="passes over the question set")
    ap.add_argument("-k", type=int, default=3, help="passages per answer (the app uses 3)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    header("warm queries")
    rows = questions()
    with tmpdir("queries") as work:
        settings = Settings.from_env().with_(index_dir=Path(work) / "index")
        engine = QA(settings)
        engine.embedder.encode_query("预热")
        build_index(settings, engine.embedder, full=True)
        index = engine.refresh()
        print(f"index: {len(index)} chunks, {len(index.sentence_vectors)} sentences, "
              f"{len(rows)} questions x {args.repeats} passes, k={args.k}\n")
        latencies, pieces = measure(engine, rows, args.repeats, args.k)
    print(report(latencies, pieces, f"{len(rows)} questions x {args.repeats}"))
    print()
    footer()


if __name__ == "__main__":
    main()
