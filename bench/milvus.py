"""Embedded index vs Milvus Lite behind the store seam, on the same corpora and questions.

    python bench/milvus.py [--articles 100] [--model m3e-small]

For the seed article (its question set, tests/data/questions.jsonl) and ``--articles`` articles
of the CMRC 2018 trial set (shared/datasets, written as corpus files by ``qa.eval.squad``), each
store gets a fresh folder and one warm model: a full build (timed), every question asked of
both stores in turn (p50 / p95 latency of ``QA.ask``, hit@1 and the answer sentence; who goes
first alternates, so both see the same load), one incremental build after editing one file
(timed), and how many answers differ between the two stores.
Targets (not asserted): Milvus Lite builds within 1.5x of embedded, asks within 3x at p50, the
same hit@1 and sentence within 1 point.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, footer, header, pct, table, tmpdir

from qa.config import Settings
from qa.eval.evaluate import Result, load_questions, run_one, score
from qa.eval.squad import choose, load_squad, write_corpus
from qa.eval.squad_eval import Outcome, run, scores
from qa.ingest.corpus import read_corpus
from qa.models.embedding import Embedder
from qa.service import QA

CMRC = ROOT.parent / "shared" / "datasets" / "cmrc2018_trial.json"
STORES = ("embedded", "milvus-lite")


def _engine(base: Settings, work: Path, store: str, embedder: Embedder) -> QA:
    value = "embedded" if store == "embedded" else f"milvus-lite:{work / 'milvus.db'}"
    settings = base.with_(index_dir=work / "index", store=value)
    return QA(settings, embedder=embedder)


def _edit_one(corpus: Path) -> None:
    """Add a paragraph after the title of the first corpus file (an incremental build's
    work: that file's chunks are rewritten, one new text embedded)."""
    first = sorted(corpus.glob("*.txt"))[0]
    title, rest = first.read_text(encoding="utf-8").split("\n", 1)
    first.write_text(f"{title}\n\n这是基准测试添加的一个新段落，用来测量增量构建。\n{rest}",
                     encoding="utf-8")


#: one question asked of one engine: (its Result or Outcome, the answer's text)
AskOne = Callable[[QA, Any], tuple[Any, str]]


def _measure(engines: dict[str, QA], items: list[Any], ask_one: AskOne
             ) -> dict[str, dict[str, Any]]:
    """Full build of each engine, then every question asked of both in turn (who goes first
    alternates, so both see the same load of a shared machine), then one incremental build."""
    out: dict[str, dict[str, Any]] = {store: {"answers": [], "texts": []} for store in engines}
    for store, engine in engines.items():
        started = time.perf_counter()
        out[store]["chunks"] = engine.build(full=True).chunks
        out[store]["build"] = time.perf_counter() - started
        engine.refresh()
        engine.ask("预热")  # loads records and the corpus view once, as a serving process has
    for n, item in enumerate(items):
        for store in list(engines)[:: 1 if n % 2 == 0 else -1]:
            result, text = ask_one(engines[store], item)
            out[store]["answers"].append(result)
            out[store]["texts"].append(text)
    for store, engine in engines.items():
        _edit_one(engine.settings.corpus_dir)
        started = time.perf_counter()
        out[store]["embedded"] = engine.build().embedded
        out[store]["incremental"] = time.perf_counter() - started
    return out


def _engines(base: Settings, embedder: Embedder, root: Path, name: str,
             fill: Callable[[Path], None]) -> dict[str, QA]:
    """One engine per store, each over its own copy of the corpus ``fill`` writes."""
    engines = {}
    for store in STORES:
        work = root / f"{name}-{store}"
        fill(work / "corpus")
        engines[store] = _engine(base.with_(corpus_dir=work / "corpus"), work, store, embedder)
    return engines


def _copy_seed(corpus: Path) -> None:
    corpus.mkdir(parents=True)
    for f in (ROOT / "corpus").iterdir():
        if f.is_file():
            (corpus / f.name).write_bytes(f.read_bytes())


def _seed(base: Settings, embedder: Embedder, root: Path) -> dict[str, dict[str, Any]]:
    rows = load_questions(ROOT / "tests" / "data" / "questions.jsonl")
    engines = _engines(base, embedder, root, "seed", _copy_seed)
    texts = {d.source: d.text for d in read_corpus(ROOT / "corpus").documents}

    def ask_one(engine: QA, row: dict[str, Any]) -> tuple[Result, str]:
        said: list[str] = []

        def ask(q: str, k: int, h: list[str]) -> Any:
            answer = engine.ask(q, k=k, history=h)
            said.append(answer.text)
            return answer

        return run_one(ask, row, texts), said[0]

    return _measure(engines, rows, ask_one)


def _cmrc(base: Settings, embedder: Embedder, root: Path, articles: int
          ) -> dict[str, dict[str, Any]]:
    chosen = choose(load_squad(CMRC), "all", articles)
    engines = _engines(base, embedder, root, "cmrc", lambda c: write_corpus(chosen, c))

    def ask_one(engine: QA, question: Any) -> tuple[Outcome, str]:
        outcome = run(lambda q, k, h: engine.ask(q, k=k, history=h), [(question, True)])[0]
        return outcome, outcome.answer.text

    return _measure(engines, [q for a in chosen for q in a.questions], ask_one)


def _quality(m: dict[str, Any]) -> tuple[float, float, list[float], list[str]]:
    """hit@1, sentence, latencies and answer texts of a store's Results or Outcomes."""
    answers = m["answers"]
    if answers and isinstance(answers[0], Outcome):
        s = scores(answers)
        return s["hit@1"], s["sent"], [o.seconds for o in answers], m["texts"]
    results: list[Result] = answers
    t = score(results)
    return t.hit1, t.sentence, [r.seconds for r in results], m["texts"]


def report(name: str, measured: dict[str, dict[str, Any]]) -> list[list[object]]:
    rows = []
    texts: dict[str, list[str]] = {}
    for store in STORES:
        m = measured[store]
        hit1, sentence, seconds, texts[store] = _quality(m)
        rows.append([f"{name} · {store}", m["chunks"], f"{m['build']:.1f}",
                     f"{m['incremental']:.1f}", m["embedded"], len(seconds),
                     f"{1000 * pct(seconds, 50):.0f}", f"{1000 * pct(seconds, 95):.0f}",
                     f"{hit1:.3f}", f"{sentence:.3f}"])
    a, b = texts["embedded"], texts["milvus-lite"]
    differ = sum(x != y for x, y in zip(a, b, strict=True))
    rows.append([f"{name} · milvus-lite / embedded",
                 "", f"{measured['milvus-lite']['build'] / measured['embedded']['build']:.2f}x",
                 "", "", f"{differ} differ", _ratio(rows, 6), _ratio(rows, 7),
                 "", ""])
    return rows


def _ratio(rows: list[list[object]], col: int) -> str:
    return f"{float(str(rows[1][col])) / max(1e-9, float(str(rows[0][col]))):.2f}x"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--articles", type=int, default=100)
    p.add_argument("--model", default=os.environ.get("QA_EMBED_MODEL") or "m3e-small")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    header(f"embedded vs milvus-lite (model {args.model})")
    base = Settings.from_env().with_(model=args.model, reader="none")
    embedder = Embedder(base)
    embedder.encode(["预热"])
    rows: list[list[object]] = []
    with tmpdir("milvus") as root:
        rows += report("seed article", _seed(base, embedder, root))
        if CMRC.is_file():
            rows += report(f"cmrc2018 {args.articles} articles",
                           _cmrc(base, embedder, root, args.articles))
    print(table(["corpus · store", "chunks", "build s", "incr s", "re-embedded", "questions",
                 "p50 ms", "p95 ms", "hit@1", "sentence"], rows))
    print("\nbuild: full build with a warm model; incr: after one paragraph added to one file "
          "(re-embedded: its chunks); p50/p95: QA.ask, warm; reader off (QA_READER=none)")
    footer()


if __name__ == "__main__":
    main()
