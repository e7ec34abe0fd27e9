"""Fit ``qa.answer.SENTENCE_WEIGHTS`` on the fitting splits: which sentence of the top
passages answers the question.

    .venv/bin/python bench/fit_sentences.py [--questions FILE ...] [--fit SPLITS] [--l2 0.03]

For every answerable question, the candidates are the sentences of the passages ``make_answer``
looks at (the top 3, searched the way ``QA.ask`` searches, follow-ups in context), each with
``qa.answer.candidates``' features; a gold sentence is one holding a gold answer string. A
conditional logit (softmax over a question's candidates, L2-regularised) is fitted on the
``--fit`` splits only (comma-separated; default ``qa.evaluate.FIT_SPLITS``), and the share of questions whose
best candidate is a gold sentence is printed for every split, beside the weights in use. Paste
the printed weights into ``SENTENCE_WEIGHTS``, then re-run bench/calibrate.py (confidence
depends on the sentence).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from qa.answer import SENTENCE_FEATURES, SENTENCE_WEIGHTS, candidates
from qa.evaluate import FIT_SPLITS, TUNING_FILES, load_question_files
from qa.followup import search_context
from qa.service import QA

Question = tuple[str, np.ndarray, np.ndarray]  # split, features (n x f), gold (n)


def collect(engine: QA, rows: list[dict]) -> list[Question]:  # type: ignore[type-arg]
    index = engine.refresh()
    out = []
    for r in rows:
        if not r["answers"]:
            continue
        text, history = r["question"], r.get("history") or []
        query, hits = engine.search(index, text, 3, search_context(text, history))
        cands = candidates(query, hits, text)
        gold = [any(g in c.text for g in r["answers"]) for c in cands]
        out.append((r["split"], np.array([c.features for c in cands]), np.array(gold, float)))
    return out


def fit(qs: list[Question], l2: float, steps: int = 4000, lr: float = 1.0) -> np.ndarray:
    """Gradient descent on the mean negative log-likelihood of the gold candidates."""
    w = np.zeros(len(SENTENCE_FEATURES))
    usable = [(x, y) for _, x, y in qs if y.sum()]
    for _ in range(steps):
        grad = np.zeros_like(w)
        for x, y in usable:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            g = p * y / (p * y).sum()
            grad += x.T @ (p - g)
        w -= lr * (grad / len(usable) + l2 * w)
    return w


def accuracy(qs: list[Question], w: np.ndarray) -> float:
    return float(np.mean([y[int(np.argmax(x @ w))] > 0 for _, x, y in qs])) if qs else 0.0


def main() -> None:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", nargs="+", default=[str(p) for p in TUNING_FILES])
    ap.add_argument("--fit", default=",".join(FIT_SPLITS))
    ap.add_argument("--l2", type=float, default=0.03)
    args = ap.parse_args()
    rows = load_question_files(args.questions)
    qs = collect(QA(), rows)
    fitting = args.fit.split(",")
    w = fit([q for q in qs if q[0] in fitting], args.l2)
    reachable = np.mean([y.sum() > 0 for _, _, y in qs])
    print(f"{len(qs)} answerable questions; a gold sentence is among the candidates for "
          f"{reachable:.3f} of them\n")
    splits = list(dict.fromkeys(q[0] for q in qs))
    print(f"{'weights':<10} " + " ".join(f"{s:>7}" for s in splits))
    for name, v in (("in use", np.array(SENTENCE_WEIGHTS)), ("fitted", w)):
        print(f"{name:<10} " + " ".join(f"{accuracy([q for q in qs if q[0] == s], v):>7.3f}"
                                       for s in splits))
    print("\n" + "\n".join(f"  {n:<16}{v:+.2f}" for n, v in zip(SENTENCE_FEATURES, w,
                                                                 strict=True)))
    print("\nSENTENCE_WEIGHTS =", tuple(round(float(v), 2) for v in w))


if __name__ == "__main__":
    main()
