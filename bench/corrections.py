"""Remembered corrections (``qa.answer.corrections``): fit the paraphrase threshold and measure
(a) how often a paraphrase of a corrected question gets the corrected answer and (b) whether
agreement on the other questions drops.

    python bench/corrections.py [--target-drop 0.005] [--check]

Paraphrases without helpers: the ~1,100 blind questions about the seed article in
``tests/data/questions*.jsonl`` were written by ten helper sessions independently, long before
corrections existed. Two single-turn questions whose gold answers overlap (the character spans
in the article, intersection over union >= 0.5) ask for the same thing in different words: they
form a group. Groups are split by a hash of their first question (30 % "report", held back).

In each group of two or more, one question is corrected (a 👎 with the gold answer's sentence as
the better sentence): the first whose uncorrected answer disagrees with its gold, else the first.
Its other questions are the paraphrases. Every other question (singletons, the unanswerable
ones) is "other": its agreement with its gold (found and overlapping the gold span, or refused
when unanswerable) must not drop. A question's answer with corrections is the correction's
when its best similarity (cosine + w x bigram Jaccard) to a corrected question reaches the
threshold, else its uncorrected answer, so one pass of the engine serves every threshold; with
``--check`` the report split is asked again through the engine with the corrections written to
``feedback.jsonl``, to confirm the computed figures.

The threshold is the lowest that keeps the drop on the fit split's other questions within
``--target-drop``; the figures are reported on the report split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from common import footer, header, table  # noqa: E402

from qa.answer.corrections import LEXICAL_WEIGHT, _bigrams  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.ingest.text import sentence_spans  # noqa: E402

ARTICLE = ROOT / "corpus" / "microsoft-openai.txt"
KINDS = ("fact", "paraphrase", "number", "why")
WEIGHTS = (0.0, 0.25, 0.5, 1.0)


@dataclass
class Question:
    id: str
    text: str
    gold: tuple[int, int] | None  # None: unanswerable
    group: int = -1
    split: str = "fit"


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def load_questions(article: str) -> list[Question]:
    out = []
    for path in sorted((ROOT / "tests" / "data").glob("questions*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["history"] or row["type"] not in (*KINDS, "unanswerable"):
                continue
            if row["type"] == "unanswerable":
                out.append(Question(row["id"], row["question"], None))
                continue
            at = article.find(row["answers"][0]) if row["answers"] else -1
            if at >= 0:
                out.append(Question(row["id"], row["question"],
                                    (at, at + len(row["answers"][0]))))
    return out


def split_of(ident: str) -> str:
    h = int(hashlib.sha1(ident.encode()).hexdigest()[:8], 16) / 2**32
    return "report" if h < 0.3 else "fit"


def choose(questions: list[Question], wrong: set[str]) -> list[tuple[Question, list[Question]]]:
    """The corrected questions, each with its paraphrases (gold IoU >= 0.5 with it): questions
    answered wrongly first, then any, in file order, never two whose golds overlap; each
    corrected question and its paraphrases get the split of the corrected question's id."""
    answerable = [q for q in questions if q.gold]
    chosen: list[tuple[Question, list[Question]]] = []
    for first_wrong in (True, False):
        for q in answerable:
            if first_wrong != (q.id in wrong) or any(q is c or iou(q.gold, c.gold) > 0
                                                   for c, _ in chosen):
                continue
            mates = [p for p in answerable if p is not q and iou(q.gold, p.gold) >= 0.5]
            if mates:
                chosen.append((q, mates))
    for n, (c, mates) in enumerate(chosen):
        for q in (c, *mates):
            q.group, q.split = n, split_of(c.id)
    return chosen


def sentence_of(article: str, span: tuple[int, int]) -> tuple[int, int]:
    """The sentence of the article holding the start of ``span``."""
    return next(((s, e) for s, e in sentence_spans(article) if s <= span[0] < e), span)


def agrees(answer: tuple[bool, tuple[int, int] | None], q: Question) -> bool:
    found, span = answer
    if q.gold is None:
        return not found
    return found and span is not None and span[0] < q.gold[1] and q.gold[0] < span[1]


def plain_answers(engine, questions: list[Question], cache: Path | None
                  ) -> dict[str, tuple[bool, tuple[int, int] | None]]:
    """Each question's answer without corrections: (found, (start, end) of the sentence)."""
    if cache and cache.is_file():
        return {k: (v[0], tuple(v[1]) if v[1] else None)
                for k, v in json.loads(cache.read_text()).items()}
    out = {}
    for q in questions:
        a = engine.ask(q.text)
        out[q.id] = (a.found, (a.span[1], a.span[2]) if a.span else None)
    if cache:
        cache.write_text(json.dumps(out))
    return out


@dataclass
class Matrix:
    """Each question's best corrected question and their similarity (at a lexical weight)."""

    best: np.ndarray
    score: np.ndarray


def matrix(cos: np.ndarray, jac: np.ndarray, weight: float) -> Matrix:
    total = cos + weight * jac
    best = total.argmax(axis=1)
    return Matrix(best, total[np.arange(len(best)), best])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target-drop", type=float, default=0.005)
    ap.add_argument("--check", action="store_true", help="ask the report split again")
    ap.add_argument("--cache", type=Path, help="keep the uncorrected answers in this file")
    args = ap.parse_args()
    header("remembered corrections: paraphrases of corrected questions, and the others")
    from qa.service import QA

    article = ARTICLE.read_text(encoding="utf-8")
    questions = load_questions(article)
    work = Path(tempfile.mkdtemp(prefix="qa-corrections-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    settings = Settings.from_env().with_(corpus_dir=work / "corpus", index_dir=work / "index",
                                         kb_root=work / "kbs")
    engine = QA(settings)
    engine.build()
    plain = plain_answers(engine, questions, args.cache)
    wrong = {q.id for q in questions if q.gold and not agrees(plain[q.id], q)}
    chosen = choose(questions, wrong)
    corrected = [c for c, _ in chosen]
    fixed = [sentence_of(article, c.gold) for c in corrected]
    others = [q for q in questions if q.group < 0 and (q.gold is None or all(
        iou(q.gold, c.gold) == 0 for c in corrected))]
    for q in others:
        q.split = split_of(q.id)
    vectors = engine.embedder.encode_queries([q.text for q in questions])
    index_of = {q.id: i for i, q in enumerate(questions)}
    rows = [index_of[c.id] for c in corrected]
    cos = vectors @ vectors[rows].T
    grams = [_bigrams(q.text) for q in questions]
    jac = np.array([[len(grams[i] & grams[r]) / max(1, len(grams[i] | grams[r])) for r in rows]
                    for i in range(len(questions))])
    print(f"{len(questions)} questions; {len(corrected)} corrected ({len(wrong & set(c.id for c in corrected))} "
          f"answered wrongly before), {sum(len(m) for _, m in chosen)} paraphrases of them, "
          f"{len(others)} other questions (unanswerable ones included)")

    def figures(m: Matrix, t: float, split: str, same_answer: float | None = None
                ) -> dict[str, float]:
        by_correction, given, given0, ok, ok0, fixes, fixes0 = [], [], [], [], [], [], []
        for i, q in enumerate(questions):
            if q.split != split or q.id in corrected_ids or (q.group < 0
                                                             and q.id not in other_ids):
                continue
            j = int(m.best[i])
            matched = m.score[i] >= t or (same_answer is not None and m.score[i] >= same_answer
                                          and plain[q.id][0] and plain[q.id] == plain[corrected[j].id])
            answer = (True, fixed[j]) if matched else plain[q.id]
            if q.group >= 0:
                mine = Question(q.id, q.text, fixed[q.group])
                by_correction.append(matched and j == q.group)
                given.append(agrees(answer, mine))
                given0.append(agrees(plain[q.id], mine))
                if corrected[q.group].id in wrong:  # a 👎 on a wrong answer: its paraphrases
                    fixes.append(given[-1])
                    fixes0.append(given0[-1])
            else:
                ok.append(agrees(answer, q))
                ok0.append(agrees(plain[q.id], q))
        return {"paraphrases": len(given), "by_correction": float(np.mean(by_correction)),
                "given": float(np.mean(given)), "given0": float(np.mean(given0)),
                "fixes": len(fixes), "fixed": float(np.mean(fixes)),
                "fixed0": float(np.mean(fixes0)),
                "others": len(ok), "agree": float(np.mean(ok)), "agree0": float(np.mean(ok0)),
                "drop": float(np.mean(ok0) - np.mean(ok))}

    corrected_ids, other_ids = {c.id for c in corrected}, {q.id for q in others}
    sweep = []
    for w in WEIGHTS:  # for information: the module's weight is LEXICAL_WEIGHT
        m = matrix(cos, jac, w)
        t = next(float(t) for t in np.arange(0.70, 2.01, 0.01)
                 if figures(m, float(t), "fit")["drop"] <= args.target_drop)
        f = figures(m, t, "fit")
        sweep.append((w, round(t, 2), f"{f['by_correction']:.3f}", f"{f['given']:.3f}"))
    print(table(["lexical weight", "lowest threshold within the drop (fit)",
                 "fit: by the correction", "fit: corrected answer given"], sweep))
    m = matrix(cos, jac, LEXICAL_WEIGHT)
    grid = []  # (given, threshold, same answer from) within the drop on the fit split
    for t in np.arange(0.90, 1.61, 0.02):
        for low in [*np.arange(0.60, t, 0.05), np.inf]:
            f = figures(m, float(t), "fit", same_answer=float(low))
            if f["drop"] <= args.target_drop:
                grid.append((f["given"], round(float(t), 2), round(float(low), 2)))
    _, best, low = max(grid, key=lambda g: (g[0], g[1], -g[2]))
    out = []
    for split in ("fit", "report"):
        for name, same in (("similar", np.inf), ("+ same answer", low)):
            f = figures(m, best, split, same_answer=float(same))
            out.append((split, name, f["paraphrases"], f"{f['by_correction']:.3f}",
                        f"{f['given0']:.3f} -> {f['given']:.3f}",
                        f"{f['fixed0']:.3f} -> {f['fixed']:.3f} ({f['fixes']})", f["others"],
                        f"{f['agree0']:.3f} -> {f['agree']:.3f}"))
    print(f"\nchosen on the fit split: lexical weight {LEXICAL_WEIGHT} (qa.answer.corrections), "
          f"threshold {best} (QA_CORRECTION_THRESHOLD), the same answer from {low} "
          "(QA_CORRECTION_SAME_ANSWER)")
    print(table(["split", "matched when", "paraphrases", "by the correction",
                 "corrected answer given", "… where it was wrong", "other questions",
                 "their agreement"], out))
    if args.check:
        check(engine, chosen, fixed, plain, (best, float(low)), others)
    footer()
    return 0


def check(engine, chosen, fixed, plain, thresholds, others) -> None:  # type: ignore[no-untyped-def]
    """Ask the report split through the engine with the corrections as feedback lines."""
    from qa.answer.corrections import Corrections

    path = engine.settings.corpus_dir / ".qa" / "feedback.jsonl"
    path.parent.mkdir(exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for (c, _), (s, e) in zip(chosen, fixed, strict=True):
            was = plain[c.id][1]
            f.write(json.dumps({"time": "2026-12-06T00:00:00+00:00", "question": c.text,
                                "verdict": "down", "better_span": [ARTICLE.name, s, e],
                                "answer_span": [ARTICLE.name, *was] if was else None,
                                "not_in_documents": False}, ensure_ascii=False) + "\n")
    engine.corrections = Corrections(engine.settings.corpus_dir, *thresholds)
    by, given, agree, agree0 = [], [], [], []
    for (c, mates), sentence in zip(chosen, fixed, strict=True):
        for q in mates if c.split == "report" else []:
            a = engine.ask(q.text)
            by.append(getattr(a, "corrected", {}).get("question") == c.text)
            given.append(agrees((a.found, (a.span[1], a.span[2]) if a.span else None),
                                Question(q.id, q.text, sentence)))
    for q in others:
        if q.split == "report":
            a = engine.ask(q.text)
            agree.append(agrees((a.found, (a.span[1], a.span[2]) if a.span else None), q))
            agree0.append(agrees(plain[q.id], q))
    print(f"\ncheck through the engine (report split): of {len(given)} paraphrases, "
          f"{np.mean(by):.3f} answered by the correction, the corrected answer given to "
          f"{np.mean(given):.3f}; other questions' agreement "
          f"{np.mean(agree0):.3f} -> {np.mean(agree):.3f} ({len(agree)})")


if __name__ == "__main__":
    sys.exit(main())
