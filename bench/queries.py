"""Warm query latency: ``QA.ask`` p50/p95/p99 over tests/data/questions.jsonl, and where the
time goes.

    .venv/bin/python bench/queries.py [--repeats 3]

One process builds a temporary index of corpus/ with a warm model, warms up, then asks every
question ``--repeats`` times through ``QA.ask`` (end to end). A second pass runs the same steps
as ``QA.ask`` one by one (qa/service.py) with a clock around each: refresh, question
preparation (follow-up context, glossary), query embedding, tokenising (jieba + bigrams),
BM25 (the three bm25s scorers, timed inside ``search``), dense scoring (the same numpy
products ``search`` does, timed on their own), fusion and hit assembly (the rest of ``search``)
and answer-sentence picking (``make_answer``).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import footer, header, ms, pct, questions, table, tmpdir

from qa.answer import make_answer
from qa.builder import build_index
from qa.config import Settings
from qa.followup import contextualize
from qa.glossary import expand
from qa.index import Index
from qa.retrieve import make_query, search
from qa.service import QA, clean_question

PIECES = ["refresh (index current?)", "prepare question", "query embedding",
          "tokenise (jieba, bigrams)", "BM25 (3 scorers)", "dense scoring",
          "fusion + hits", "answer sentence"]


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


def timed_bm25(index: Index, spent: list[float]) -> Callable[[], None]:
    """Wrap ``index.bm25_scores`` so the time inside it adds up in ``spent``; returns undo."""
    original = index.bm25_scores

    def wrapped(which: str, tokens: list[str]) -> np.ndarray:
        s = time.perf_counter()
        try:
            return original(which, tokens)
        finally:
            spent.append(time.perf_counter() - s)

    index.bm25_scores = wrapped  # type: ignore[method-assign]
    return lambda: setattr(index, "bm25_scores", original)


def ask_in_pieces(engine: QA, row: dict[str, Any], k: int) -> dict[str, float]:
    """``QA.ask`` step by step (same calls, same order), with the time of each step."""
    t: dict[str, float] = {}
    s = time.perf_counter()
    text = clean_question(row["question"], engine.settings.max_question_chars)
    earlier = [clean_question(h, engine.settings.max_question_chars)
               for h in row.get("history") or [] if isinstance(h, str) and h.strip()]
    index = engine.refresh()
    t["refresh (index current?)"] = time.perf_counter() - s
    s = time.perf_counter()
    query_text = expand(contextualize(text, earlier))
    focus = expand(text) if len(query_text) > len(expand(text)) else None
    t["prepare question"] = time.perf_counter() - s
    s = time.perf_counter()
    vector = engine.embedder.encode([query_text])[0]
    t["query embedding"] = time.perf_counter() - s
    s = time.perf_counter()
    query = make_query(query_text, vector, focus)
    t["tokenise (jieba, bigrams)"] = time.perf_counter() - s
    spent: list[float] = []
    undo = timed_bm25(index, spent)
    try:
        s = time.perf_counter()
        hits = search(index, query, k, engine.weights)
        in_search = time.perf_counter() - s
    finally:
        undo()
    s = time.perf_counter()
    dense_scoring(index, query.vector)
    t["dense scoring"] = time.perf_counter() - s
    t["BM25 (3 scorers)"] = sum(spent)
    t["fusion + hits"] = max(0.0, in_search - sum(spent) - t["dense scoring"])
    s = time.perf_counter()
    make_answer(text, index, query, hits, engine.settings.found_threshold, engine.weights)
    t["answer sentence"] = time.perf_counter() - s
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
        engine.embedder.encode(["预热"])
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
