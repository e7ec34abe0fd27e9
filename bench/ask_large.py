"""Warm ``QA.ask`` latency on a large corpus, with the reader and without it.

    .venv/bin/python bench/ask_large.py CORPUS [--index DIR] [--questions 300]

CORPUS is a folder such as ``bench/corpus_squad.py`` writes (the two shared sets' articles, one
file each). One process builds (or reuses) the index of CORPUS with the default settings, warms
up, then asks ``--questions`` questions of the shared sets' "report" articles one at a time,
first with the short-answer reader, then without it (``QA_READER=none``: same index), and
prints p50 / p95 / p99 / mean of each. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import footer, header

from qa.config import Settings
from qa.eval.squad import load_squad, split_of

SETS = [Path("/work/shared/datasets/cmrc2018_trial.json"),
        Path("/work/shared/datasets/drcd_dev_zhs.json")]


def questions(n: int, seed: int = 7) -> list[str]:
    pool = [q.text for path in SETS if path.is_file() for a in load_squad(path)
            if split_of(a.title) == "report" for q in a.questions]
    random.Random(seed).shuffle(pool)
    return pool[:n]


def timed(engine, asked: list[str]) -> list[float]:
    out = []
    for q in asked:
        started = time.perf_counter()
        engine.ask(q, k=3)
        out.append(1000 * (time.perf_counter() - started))
    return out


def main() -> int:
    from qa.service import QA

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--index", type=Path, help="index folder (default: a temporary one)")
    ap.add_argument("--questions", type=int, default=300)
    args = ap.parse_args()
    index = args.index or Path(tempfile.mkdtemp(prefix="qa-ask-large-"))
    base = Settings.from_env().with_(corpus_dir=args.corpus, index_dir=index)
    header("warm QA.ask on a large corpus")
    files = [p for p in args.corpus.rglob("*") if p.is_file()]
    chars = sum(len(p.read_text(encoding="utf-8")) for p in files)
    print(f"corpus: {len(files)} files, {chars:,} characters; model {base.model}")
    started = time.perf_counter()
    reader_on = QA(base)
    reader_on.build()
    print(f"index ready in {time.perf_counter() - started:.1f} s")
    asked = questions(args.questions)
    reader_off = QA(base.with_(reader="none"), embedder=reader_on.embedder)
    rows = []
    for name, engine in (("with the reader (default)", reader_on),
                         ("QA_READER=none", reader_off)):
        timed(engine, asked[:20])  # warm-up: loads, caches
        ms = timed(engine, asked)
        rows.append((name, np.percentile(ms, 50), np.percentile(ms, 95), np.percentile(ms, 99),
                     statistics.fmean(ms)))
    print(f"\n{len(asked)} questions, one at a time, warm\n")
    print(f"{'engine':<28}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, *cells in rows:
        print(f"{name:<28}" + "".join(f"{c:>9.1f}" for c in cells))
    footer()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
