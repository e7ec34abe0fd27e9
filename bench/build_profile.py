"""Where a ``qa build --full`` of a large corpus spends its time, stage by stage.

    .venv/bin/python bench/build_profile.py CORPUS [--add FILE] [--json]

Runs ``QA.build(full=True)`` (the build, publishing included, and the load of the new index
for serving) over CORPUS into a temporary index with a warm model, and times the functions the
build calls by wrapping them: each stage's own time, without the stages it calls (so BM25
indexing inside the verification load counts as BM25 indexing). With ``--add FILE`` it then
copies FILE into CORPUS, times the incremental ``QA.build()`` the same way, and removes FILE.
Works on any version of ``qa`` on the path, which is how the before/after table is made: run
it twice, with ``PYTHONPATH`` at each tree.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import footer, header, table

#: (module, attribute, stage): the functions timed; missing ones are skipped, so the same
#: list serves every version of the code
TIMED = [
    ("qa.store.embedded.builder", "file_hashes", "hashing corpus files"),
    ("qa.store.embedded.builder", "read_corpus", "reading corpus"),
    ("qa.store.embedded.builder", "chunk_documents", "chunking"),
    ("qa.store.embedded.builder", "_caches", "embedding cache of the previous index"),
    ("qa.models.embedding.Embedder", "encode_cached", "embedding"),
    ("qa.ingest.text", "words", "jieba words"),
    ("qa.ingest.text", "bigrams", "bigrams"),
    ("qa.tokens", "tokenize_all", "tokenizing (all, incl. worker wait)"),
    ("qa.store.embedded.index", "_bm25", "BM25 indexing"),
    ("qa.store.embedded.index", "_dense_index", "FAISS"),
    ("qa.store.embedded.index.Index", "save", "saving"),
    ("qa.store.embedded.index.Index", "load", "verifying / loading back"),
    ("qa.store.base.IndexStore", "publish", "publishing"),
]


class StageClock:
    """Exclusive wall and CPU seconds of each wrapped function (time spent in wrapped callees
    is charged to them, not to the caller)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[list[float]] = []  # per active call: [child wall, child cpu]

    def wrap(self, fn: Callable[..., Any], stage: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stack.append([0.0, 0.0])
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                child_wall, child_cpu = self.stack.pop()
                self.wall[stage] = self.wall.get(stage, 0.0) + wall - child_wall
                self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - child_cpu
                self.calls[stage] = self.calls.get(stage, 0) + 1
                if self.stack:
                    self.stack[-1][0] += wall
                    self.stack[-1][1] += cpu
        return timed

    def install(self) -> list[tuple[Any, str, Any]]:
        """Wrap every function of ``TIMED`` there is; returns what to put back."""
        originals = []
        for module, attr, stage in TIMED:
            owner = _resolve(module)
            if owner is None or attr not in vars(owner):
                continue
            raw = vars(owner)[attr]
            originals.append((owner, attr, raw))
            if isinstance(raw, classmethod):
                setattr(owner, attr, classmethod(self.wrap(raw.__func__, stage)))
            else:
                setattr(owner, attr, self.wrap(raw, stage))
        return originals


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
        return obj
    return None


def profile(corpus: Path, add: Path | None = None) -> list[dict[str, Any]]:
    """The stage times of a full build of ``corpus`` and, with ``add``, of an incremental build
    after copying ``add`` into it."""
    from qa.config import Settings
    from qa.models.embedding import Embedder
    from qa.service import QA

    results = []
    with tempfile.TemporaryDirectory(prefix="qa-bench-profile-") as tmp:
        settings = Settings.from_env().with_(corpus_dir=corpus, index_dir=Path(tmp) / "index",
                                             reader="none")
        embedder = Embedder(settings)
        embedder.encode(["预热"])
        engine = QA(settings, embedder=embedder)
        results.append(timed_build(engine, full=True))
        if add is not None:
            target = corpus / add.name
            shutil.copy2(add, target)
            try:
                results.append(timed_build(engine, full=False))
            finally:
                target.unlink()
    return results


def timed_build(engine: Any, full: bool) -> dict[str, Any]:
    clock = StageClock()
    originals = clock.install()
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        report = engine.build(full=full)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        for owner, attr, raw in originals:
            setattr(owner, attr, raw)
    return {"wall": clock.wall, "cpu": clock.cpu, "calls": clock.calls, "total_wall": wall,
            "total_cpu": cpu, "summary": report.summary(), "model": engine.settings.model,
            "what": "QA.build(full=True)" if full else "QA.build() after adding one file"}


def print_table(result: dict[str, Any]) -> None:
    total = result["total_wall"]
    rows = [[stage, f"{w:.2f}", f"{result['cpu'][stage]:.2f}", f"{100 * w / total:.1f}%"]
            for stage, w in sorted(result["wall"].items(), key=lambda kv: -kv[1])]
    other = total - sum(result["wall"].values())
    rows.append(["(everything else)", f"{other:.2f}",
                 f"{result['total_cpu'] - sum(result['cpu'].values()):.2f}",
                 f"{100 * other / total:.1f}%"])
    rows.append([f"total: {result['what']}", f"{total:.2f}", f"{result['total_cpu']:.2f}",
                 "100%"])
    print(f"model {result['model']}\n{result['summary']}\n")
    print(table(["stage", "wall s", "cpu s", "share"], rows))
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--add", type=Path, help="a file to add for an incremental build")
    ap.add_argument("--json", action="store_true", help="print one JSON line too")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    header(f"build profile of {args.corpus}")
    results = profile(args.corpus, args.add)
    for result in results:
        print_table(result)
    if args.json:
        print("BENCH_JSON " + json.dumps(results))
    footer()


if __name__ == "__main__":
    main()
