"""The build benchmark's corpus: every article of the two shared SQuAD-format sets, one .txt each.

    .venv/bin/python bench/corpus_squad.py OUT [--hold-out N]

Writes ``OUT/cmrc/*.txt`` (CMRC 2018 trial, 256 articles) and ``OUT/drcd/*.txt`` (DRCD dev in
Simplified Chinese, 383 articles) with ``qa.eval.squad.write_corpus``: a title line, a blank line,
the paragraphs separated by blank lines. Every article is distinct, so no text is served from
the embedding cache. ``--hold-out N`` writes the last N DRCD articles to ``OUT-held/`` instead,
for timing the incremental addition of one article. Prints the files and characters written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa.eval.squad import Article, load_squad, write_corpus

DATASETS = Path("/work/shared/datasets")
SETS = {"cmrc": DATASETS / "cmrc2018_trial.json", "drcd": DATASETS / "drcd_dev_zhs.json"}


def write_benchmark_corpus(out: Path, hold_out: int = 0) -> tuple[list[Article], list[Article]]:
    """Write the corpus into ``out`` (and the held-out articles into ``out``-held/drcd);
    returns the articles written and the ones held out."""
    written: list[Article] = []
    held: list[Article] = []
    for name, path in SETS.items():
        articles = load_squad(path)
        if name == "drcd" and hold_out:
            articles, kept_back = articles[:-hold_out], articles[-hold_out:]
            write_corpus(kept_back, out.with_name(out.name + "-held") / name)
            held += kept_back
        write_corpus(articles, out / name)
        written += articles
    return written, held


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the corpus folder to write")
    ap.add_argument("--hold-out", type=int, default=0, metavar="N",
                    help="keep the last N DRCD articles out, in OUT-held/")
    args = ap.parse_args()
    written, held = write_benchmark_corpus(args.out, args.hold_out)
    chars = sum(len(a.text()) for a in written)
    print(f"{args.out}: {len(written)} articles, {chars:,} characters"
          + (f"; {len(held)} held out in {args.out.name}-held/" if held else ""))


if __name__ == "__main__":
    main()
