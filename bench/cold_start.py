"""Cold start: how long a fresh process takes to answer its first question.

    .venv/bin/python bench/cold_start.py [--repeats 3]

Measures, each in fresh processes over a temporary index built first (the working index/ is
never touched): ``python -m qa --help``; ``import`` of qa and of each heavy library alone
(torch and sentence-transformers for reference: with the default ONNX backend qa no longer
imports them once the model is exported); ``python -X importtime`` of everything the app
imports, by top-level package; the stages of a ``qa ask`` (imports, model load, index load,
spot check, jieba, first and second query); the wall time of ``python -m qa ask``; and
``python app.py`` until the page loads and until it answers a question through gradio_client,
with the app's peak RSS.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

from common import (
    PY,
    ROOT,
    app_process,
    ask_app,
    build_index_child,
    build_rss_child,
    child_env,
    child_json,
    footer,
    header,
    mib,
    run,
    table,
    tmpdir,
    vm_hwm,
    wait_for_page,
)

QUESTION = "微软2019年向OpenAI投资了多少钱?"
IMPORTS = ["qa", "qa.service", "numpy", "onnxruntime", "tokenizers", "faiss", "bm25s", "jieba",
           "gradio", "torch", "sentence_transformers"]

#: a fresh process timing each stage of a first ``qa.ask`` the way QA.ask / QA.refresh run it
STAGES = r"""
import sys, time
sys.path.insert(0, "bench")
from common import emit
t = {}
s = time.perf_counter(); import qa, qa.service; t["import qa, qa.service"] = time.perf_counter() - s
s = time.perf_counter(); import onnxruntime, tokenizers; t["import onnxruntime, tokenizers"] = time.perf_counter() - s
s = time.perf_counter(); import faiss, bm25s; t["import faiss, bm25s"] = time.perf_counter() - s
engine = qa.default()
s = time.perf_counter(); engine.embedder.model; t[f"model load ({type(engine.embedder.model).__name__})"] = time.perf_counter() - s
from qa.store.embedded.index import spot_check
s = time.perf_counter(); index = engine.store.load(); t["index load (verify, BM25)"] = time.perf_counter() - s
s = time.perf_counter(); spot_check(index, engine.embedder.encode); t["spot check (first forward pass)"] = time.perf_counter() - s
engine._index = index
from qa.ingest.text import _jieba
s = time.perf_counter(); _jieba(); t["jieba dictionary"] = time.perf_counter() - s
s = time.perf_counter(); a = qa.ask(sys.argv[1]); t["first query"] = time.perf_counter() - s
s = time.perf_counter(); qa.ask(sys.argv[1]); t["second query"] = time.perf_counter() - s
assert a.passages
emit(t)
"""


def median_run(argv: list[str], env: dict[str, str], repeats: int) -> tuple[float, float]:
    """(median, min) wall seconds of a command over ``repeats`` fresh processes."""
    walls = [run(argv, env)[0] for _ in range(repeats)]
    return statistics.median(walls), min(walls)


def import_times(env: dict[str, str], repeats: int) -> list[list[object]]:
    rows = []
    base, _ = median_run([PY, "-c", "pass"], env, repeats)
    rows.append(["python -c pass (interpreter)", f"{base:.3f}", "-"])
    for mod in IMPORTS:
        code = ("import time; s = time.perf_counter(); import " + mod +
                "; print(time.perf_counter() - s)")
        inner = [float(run([PY, "-c", code], env)[1].strip()) for _ in range(repeats)]
        rows.append([f"import {mod}", "-", f"{statistics.median(inner):.3f}"])
    return rows


def importtime_top(env: dict[str, str], limit: int = 12) -> list[list[object]]:
    """Import time by distribution root (``torch``, ``transformers``, ``sklearn``...): the sum of
    the self time of every module under it, in one ``import`` of all the app needs."""
    code = "import qa.service, onnxruntime, tokenizers, faiss, bm25s, jieba, gradio"
    err = subprocess.run([PY, "-X", "importtime", "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stderr
    totals: dict[str, int] = {}
    for line in err.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        try:
            own = int(parts[0].removeprefix("import time:"))
        except ValueError:
            continue
        root = parts[2].strip().split(".")[0].lstrip("_") or "?"
        totals[root] = totals.get(root, 0) + own
    grand = sum(totals.values())
    best = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    rows: list[list[object]] = [[k, f"{v / 1e6:.3f}", f"{100 * v / grand:.0f}%"] for k, v in best]
    rows.append(["(everything imported)", f"{grand / 1e6:.3f}", "100%"])
    return rows


def app_start(index_dir: Path, work: Path) -> list[list[object]]:
    log = work / "app.log"
    started = time.perf_counter()
    with app_process(index_dir, log) as (proc, url):
        page = wait_for_page(proc, url, log) - started
        reply, first = ask_app(url, QUESTION)
        answered = time.perf_counter() - started
        _, second = ask_app(url, QUESTION)
        rss = vm_hwm(proc.pid)
    if "投资" not in reply:
        print(f"warning: unexpected reply from the app: {reply[:200]!r}")
    return [["python app.py -> page answers HTTP 200", f"{page:.2f}"],
            ["  first question via gradio_client (connect + /ask)", f"{first:.2f}"],
            ["python app.py -> first answer (total)", f"{answered:.2f}"],
            ["second question via gradio_client (connect + /ask)", f"{second:.2f}"],
            ["app peak RSS (VmHWM), MiB", mib(rss)]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per timing")
    args = ap.parse_args()
    header("cold start")
    with tmpdir("cold") as work:
        index_dir = work / "index"
        build_s = build_index_child(index_dir)
        build_rss = build_rss_child(work / "index-rss")
        env = child_env(index_dir)

        help_med, help_min = median_run([PY, "-m", "qa", "--help"], env, max(5, args.repeats))
        ask_med, ask_min = median_run([PY, "-m", "qa", "ask", QUESTION], env, args.repeats)
        lex_med, lex_min = median_run([PY, "-m", "qa", "search", "--lexical", QUESTION], env,
                                      max(5, args.repeats))
        print(table(["command (fresh process, wall)", "median s", "min s"], [
            ["python -m qa --help", f"{help_med:.3f}", f"{help_min:.3f}"],
            ["python -m qa ask QUESTION", f"{ask_med:.2f}", f"{ask_min:.2f}"],
            ["python -m qa search --lexical QUESTION (BM25)", f"{lex_med:.2f}", f"{lex_min:.2f}"],
            ["python -m qa build --full (article, cold)", f"{build_s:.2f}", "-"],
        ]))
        print(f"(qa build --full peak RSS: {mib(build_rss)} MiB)\n")

        print(table(["import, each in a fresh process", "wall s", "import s (median)"],
                    import_times(env, args.repeats)))
        print()
        print("python -X importtime of qa.service, onnxruntime, tokenizers, faiss, bm25s, jieba, "
              "gradio\n(self time of every module, summed by top-level package):")
        print(table(["package", "self s", "share"], importtime_top(env)))
        print()

        stage_runs = [child_json(run([PY, "-c", STAGES, QUESTION], env)[1])
                      for _ in range(args.repeats)]
        rows: list[list[object]] = []
        for name in stage_runs[0]:
            values = [r[name] for r in stage_runs]
            rows.append([name, f"{statistics.median(values):.3f}", f"{min(values):.3f}"])
        total = sum(statistics.median([r[n] for r in stage_runs]) for n in stage_runs[0]
                    if n != "second query")
        rows.append(["total to first answer (without interpreter start)", f"{total:.3f}", ""])
        print(f"stages of a first qa.ask in a fresh process (median of {args.repeats}):")
        print(table(["stage", "median s", "min s"], rows))
        print()
        print("the Gradio app, cold (python app.py over the same index, one run):")
        print(table(["event (seconds after launch)", "s"], app_start(index_dir, work)))
        print()
    footer()


if __name__ == "__main__":
    main()
