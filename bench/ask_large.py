"""Build time and warm ``QA.ask`` latency on a large corpus: int8 and fp32, with the reader and
without it, on the CPU this runs on (its int8 kernels named).

    .venv/bin/python bench/ask_large.py CORPUS [--questions 300] [--quantize int8,none]

CORPUS is a folder such as ``bench/corpus_squad.py`` writes (the two shared sets' articles, one
file each). For each quantization (``QA_EMBED_QUANTIZE`` and ``QA_READER_QUANTIZE`` together)
one process builds the index of CORPUS from nothing (timed, the model warm), warms up, then asks
``--questions`` questions of the shared sets' "report" articles one at a time, first with the
short-answer reader, then without it (``QA_READER=none``: same index), and prints p50 / p95 /
p99 / mean of each. Nothing is asserted.
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
    from qa.models.quantization import cpu_isa, cpu_name
    from qa.service import QA

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--quantize", default="int8,none", help="int8, none or both")
    args = ap.parse_args()
    header(f"build and warm QA.ask on a large corpus ({cpu_name()}; int8 kernels: {cpu_isa()})")
    files = [p for p in args.corpus.rglob("*") if p.is_file()]
    chars = sum(len(p.read_text(encoding="utf-8")) for p in files)
    print(f"corpus: {len(files)} files, {chars:,} characters")
    asked = questions(args.questions)
    rows = []
    for quantize in args.quantize.split(","):
        base = Settings.from_env().with_(
            corpus_dir=args.corpus, index_dir=Path(tempfile.mkdtemp(prefix="qa-ask-large-")),
            embed_quantize=quantize, reader_quantize=quantize)
        reader_on = QA(base)
        reader_on.embedder.encode(["预热"])  # the model loaded before the clock starts
        started = time.perf_counter()
        reader_on.build()
        built = time.perf_counter() - started
        reader_off = QA(base.with_(reader="none"), embedder=reader_on.embedder)
        for name, engine in (("reader", reader_on), ("no reader", reader_off)):
            timed(engine, asked[:20])  # warm-up: loads, caches
            ms = timed(engine, asked)
            rows.append((f"{quantize} · {name}", built, np.percentile(ms, 50),
                         np.percentile(ms, 95), np.percentile(ms, 99), statistics.fmean(ms)))
    print(f"\n{len(asked)} questions, one at a time, warm; model {Settings.from_env().model}\n")
    print(f"{'quantize · engine':<24}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'mean ms':>9}")
    for name, *cells in rows:
        print(f"{name:<24}" + "".join(f"{c:>9.1f}" for c in cells))
    footer()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
