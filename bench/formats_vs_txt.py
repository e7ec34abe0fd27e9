"""The blind format sets (``tests/data/formats-blind``: Word, slides, spreadsheets, a scanned
PDF) asked twice: over the office files themselves and over the same documents as plain text
(``text/``, ``make_txt.py``), each set's documents one corpus. Prints the genre tables of
``qa eval --genres`` for both, then the answer-sentence gap per set, naming the CPU.

    python bench/formats_vs_txt.py [--folder tests/data/formats-blind] [--corpus genre|doc]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.eval.genres import evaluate, groups, load_genres, scores, table  # noqa: E402
from qa.train.reader_train import cpu_name  # noqa: E402


def as_text(folder: Path, work: Path) -> Path:
    """A copy of ``folder`` whose documents are the ``text/`` twins."""
    out = work / "as-text"
    shutil.copytree(folder / "text", out / "docs")
    (out / "questions").mkdir(parents=True)
    for f in (folder / "questions").glob("*.jsonl"):
        rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line]
        for r in rows:
            r["doc"] = Path(r["doc"]).stem + ".txt"
        (out / "questions" / f.name).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", default=str(ROOT / "tests" / "data" / "formats-blind"))
    ap.add_argument("--corpus", default="genre", choices=["genre", "doc"])
    args = ap.parse_args()
    folder = Path(args.folder)
    base = Settings.from_env()
    print(f"CPU: {cpu_name()}; model {base.model}; corpus per {args.corpus}\n")
    sent = {}
    with tempfile.TemporaryDirectory(prefix="qa-formats-") as temp:
        work = Path(temp)
        for label, where in (("office files", folder), ("as .txt", as_text(folder, work))):
            named = evaluate(where, load_genres(where), args.corpus, work / label, base)
            print(f"== {label}\n{table(named, 'genre')}\n\n{table(named, 'type')}\n", flush=True)
            results = next(iter(named.values()))
            sent[label] = {g: scores(rs)["sent"] for g, rs in groups(results, "genre").items()}
    print("| set | sentence, office files | sentence, .txt | gap |\n|---|---|---|---|")
    for g, v in sent["office files"].items():
        t = sent["as .txt"].get(g, float("nan"))
        print(f"| {g} | {v:.3f} | {t:.3f} | {v - t:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
