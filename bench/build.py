"""Build cost: ``qa build --full`` of the article with a warm model, by stage, with throughput,
and the peak memory of a build, a ``qa ask`` and the app.

    .venv/bin/python bench/build.py [--repeats 3]

In one process: load the model, warm it up, then ``build_index(full=True)`` into a temporary
index ``--repeats`` times (the working index/ is never touched), timing each stage from the
build's progress callback. Then, each in a fresh process: ``python -m qa build --full`` and
``python -m qa ask`` (peak RSS from ``wait4``), and ``python app.py`` after one question
(peak RSS from /proc/PID/status VmHWM).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from common import (
    PY,
    app_process,
    ask_app,
    build_rss_child,
    child_env,
    footer,
    header,
    mib,
    run,
    table,
    tmpdir,
    vm_hwm,
    wait_for_page,
)

from qa.config import Settings
from qa.ingest.corpus import read_corpus
from qa.models.embedding import Embedder
from qa.store.base import index_text
from qa.store.embedded.builder import BuildReport, build_index
from qa.store.embedded.generations import IndexStore

STAGES = ["reading corpus", "chunking", "embedding", "tokenizing", "saving"]
STAGE_NOTE = {"embedding": "embedding (one pass: sentences, headings)",
              "saving": "saving (write, verify, publish)"}


def timed_build(settings: Settings, embedder: Embedder) -> tuple[BuildReport, dict[str, float]]:
    """One ``build_index(full=True)`` and the seconds of each stage.

    Stage boundaries come from the progress callback (a stage's first report) and from a
    clock around ``embedder.encode`` (one call embeds every new text of the build), since the
    embedding stage reports only after its first batch is done.
    """
    marks: dict[str, float] = {}
    encodes: list[tuple[float, float]] = []
    original = embedder.encode

    def encode(texts, progress=None):  # type: ignore[no-untyped-def]
        s = time.perf_counter()
        try:
            return original(texts, progress)
        finally:
            encodes.append((s, time.perf_counter()))

    def progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(stage, time.perf_counter())

    embedder.encode = encode  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        report = build_index(settings, embedder, progress, full=True)
        ended = time.perf_counter()
    finally:
        embedder.encode = original  # type: ignore[method-assign]
    chunks_enc = (encodes[0][0], encodes[-1][1]) if encodes else (marks["tokenizing"],) * 2
    out = {
        "(lock, previous index)": marks["reading corpus"] - started,
        "reading corpus": marks["chunking"] - marks["reading corpus"],
        "chunking": chunks_enc[0] - marks["chunking"],
        "embedding": chunks_enc[1] - chunks_enc[0],
        "tokenizing": marks["saving"] - marks["tokenizing"],
        "saving": ended - marks["saving"],
    }
    out["(between stages)"] = report.seconds - sum(out.values())
    return report, out


def warm_builds(settings: Settings, embedder: Embedder, repeats: int
                ) -> tuple[list[BuildReport], list[dict[str, float]]]:
    reports, stages = [], []
    for _ in range(repeats):
        report, stage = timed_build(settings, embedder)
        reports.append(report)
        stages.append(stage)
    return reports, stages


def sizes(settings: Settings) -> dict[str, int]:
    index = IndexStore(settings).load()
    corpus = read_corpus(settings.corpus_dir, settings.max_file_bytes)
    return {"files": len(corpus.documents), "chars": sum(len(d.text) for d in corpus.documents),
            "chunks": len(index), "chunk_chars": sum(len(index_text(c)) for c in index.chunks),
            "sentences": len(index.sentence_vectors),
            "sentence_chars": sum(e - s for c in index.chunks for s, e in c.sentences)}


def memory(index_dir: Path, work: Path) -> list[list[object]]:
    """Peak RSS of a fresh ``qa build --full``, a fresh ``qa ask`` and the app."""
    build_rss = build_rss_child(index_dir)
    _, _, ask_rss = run([PY, "-m", "qa", "ask", "微软2019年向OpenAI投资了多少钱?"],
                        child_env(index_dir), rss=True)
    log = work / "app.log"
    with app_process(index_dir, log) as (proc, url):
        wait_for_page(proc, url, log)
        ask_app(url, "微软2019年向OpenAI投资了多少钱?")
        app_rss = vm_hwm(proc.pid)
    return [["python -m qa build --full", mib(build_rss)],
            ["python -m qa ask QUESTION", mib(ask_rss)],
            ["python app.py (after one question)", mib(app_rss)]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="warm full builds to time")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    header("build")
    with tmpdir("build") as work:
        settings = Settings.from_env().with_(index_dir=work / "index")
        embedder = Embedder(settings)
        started = time.perf_counter()
        embedder.encode(["预热"])
        load_s = time.perf_counter() - started
        reports, stages = warm_builds(settings, embedder, args.repeats)
        n = sizes(settings)
        mem = memory(work / "index-child", work)
    total = statistics.median(r.seconds for r in reports)
    print(f"corpus: {n['files']} file(s), {n['chars']:,} characters -> {n['chunks']} chunks "
          f"({n['chunk_chars']:,} chars embedded) + {n['sentences']} sentences "
          f"({n['sentence_chars']:,} chars embedded); model load + warm-up {load_s:.2f} s "
          "(not counted below)\n")
    rows: list[list[object]] = []
    for name in ["(lock, previous index)", *STAGES, "(between stages)"]:
        values = [s.get(name, 0.0) for s in stages]
        med = statistics.median(values)
        rows.append([STAGE_NOTE.get(name, name), f"{med:.3f}", f"{min(values):.3f}",
                     f"{100 * med / total:.0f}%"])
    rows.append(["total (BuildReport.seconds)", f"{total:.3f}",
                 f"{min(r.seconds for r in reports):.3f}", "100%"])
    print(f"qa build --full, warm model, median of {args.repeats}:")
    print(table(["stage", "median s", "min s", "share"], rows))
    print()
    emb = statistics.median(s.get("embedding", 0.0) for s in stages)
    print(table(["throughput", "per second"], [
        ["chunks / s (whole build)", f"{n['chunks'] / total:.1f}"],
        ["corpus characters / s (whole build)", f"{n['chars'] / total:,.0f}"],
        ["sentences / s (embedding only)", f"{n['sentences'] / emb:.1f}" if emb else "-"],
        ["sentence characters / s (embedding only)",
         f"{n['sentence_chars'] / emb:,.0f}" if emb else "-"],
    ]))
    print()
    print(table(["peak RSS, fresh process", "MiB"], mem))
    print()
    footer()


def stage_summary(stages: list[dict[str, float]]) -> dict[str, Any]:
    """Median seconds of each stage (used by scaling.py)."""
    return {name: statistics.median(s.get(name, 0.0) for s in stages) for name in STAGES}


if __name__ == "__main__":
    main()
