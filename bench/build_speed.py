"""Build time of a large corpus, ``qa build`` against the plain LangChain recipe in the same run,
and the time to add one article.

    .venv/bin/python bench/build_speed.py CORPUS [--held DIR] [--base TREE] [--rounds 1]

Each measurement is a fresh process (imports and model load included), one after the other:
``python -m qa build --full`` into a temporary index; the plain recipe (``qa.eval.baselines.
PlainRecipe``: RecursiveCharacterTextSplitter 300/50, the same model in fp32, FAISS) building
its index over the same corpus; with ``--base TREE`` the same ``qa build --full`` with another
checkout of qa (the code before a change); with ``--held DIR`` (``corpus_squad.py
--hold-out``) one article of DIR copied into the corpus and ``python -m qa build``
(incremental), then removed and built again. Wall seconds and the child's CPU seconds (user +
system: less sensitive to other work on the machine than wall time) for each.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import PY, ROOT, child_env, footer, header, table, tmpdir

RECIPE = """
import sys, time
from pathlib import Path
from qa.eval.baselines import PlainRecipe
from qa.config import Settings
settings = Settings.from_env().with_(corpus_dir=Path(sys.argv[1]), embed_quantize=sys.argv[2])
started = time.perf_counter()
recipe = PlainRecipe(settings)
print(f"{len(recipe.chunks)} chunks in {time.perf_counter() - started:.2f} s")
"""


def timed(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """Run a child to completion: wall seconds, its CPU seconds, its last line of output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[-3:]} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [x for x in proc.stdout.splitlines() if x.strip()]
    return wall, cpu, lines[-1] if lines else ""


def qa_build(tree: Path, corpus: Path, index: Path, *args: str) -> tuple[float, float, str]:
    env = child_env(index, QA_CORPUS_DIR=str(corpus), PYTHONPATH=str(tree))
    return timed([PY, "-m", "qa", "build", *args], env, cwd=tree)


def recipe(corpus: Path, quantize: str) -> tuple[float, float, str]:
    env = child_env(None, PYTHONPATH=str(ROOT))
    return timed([PY, "-c", RECIPE, str(corpus), quantize], env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--held", type=Path, help="a folder of held-out articles (one is added)")
    ap.add_argument("--base", type=Path, help="another checkout of qa to time beside this one")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    header(f"build speed of {args.corpus}")
    model = os.environ.get("QA_EMBED_MODEL", "(default)")
    quantize = os.environ.get("QA_EMBED_QUANTIZE", "(default)")
    rows: list[list[object]] = []
    with tmpdir("build-speed") as work:
        for n in range(args.rounds):
            wall, cpu, said = qa_build(ROOT, args.corpus, work / f"index-{n}", "--full")
            rows.append(["qa build --full (this tree)", wall, cpu, said])
            if args.base:
                wall, cpu, said = qa_build(args.base, args.corpus, work / f"base-{n}", "--full")
                rows.append([f"qa build --full ({args.base})", wall, cpu, said])
            wall, cpu, said = recipe(args.corpus, "none")
            rows.append(["LangChain plain recipe, fp32", wall, cpu, said])
            if args.held:
                rows += add_one(args.corpus, args.held, work / f"index-{n}")
        print(f"model {model}, QA_EMBED_QUANTIZE {quantize}, "
              f"QA_PASSAGE_VECTORS {os.environ.get('QA_PASSAGE_VECTORS', '(default)')}\n")
        print(table(["fresh process", "wall s", "cpu s", "what it said"],
                    [[r[0], f"{r[1]:.2f}", f"{r[2]:.2f}", r[3]] for r in rows]))
    ours = [r[1] for r in rows if r[0].endswith("(this tree)")]
    theirs = [r[1] for r in rows if r[0].startswith("LangChain")]
    print(f"\nqa build --full / LangChain recipe, wall: "
          f"{sum(ours) / max(sum(theirs), 1e-9):.2f}x")
    footer()


def add_one(corpus: Path, held: Path, index: Path) -> list[list[object]]:
    """Copy one held-out article in, build, take it out again, build."""
    article = sorted(held.rglob("*.txt"))[0]
    target = corpus / article.relative_to(held)
    shutil.copy2(article, target)
    try:
        wall, cpu, said = qa_build(ROOT, corpus, index)
        rows = [[f"add one article ({len(article.read_text('utf-8')):,} chars): qa build",
                 wall, cpu, said]]
    finally:
        target.unlink()
    wall, cpu, said = qa_build(ROOT, corpus, index)
    return [*rows, ["remove it again: qa build", wall, cpu, said]]


if __name__ == "__main__":
    sys.exit(main())
