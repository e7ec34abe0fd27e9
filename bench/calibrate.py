"""Fit the weights of ``qa.answer.confidence`` on the dev split and print the trade-off curve.

    python bench/calibrate.py [--questions tests/data/questions.jsonl]

A class-balanced logistic regression over ``qa.answer.features`` (answerable = 1), fitted on
the dev questions only; the curve of found-rate (answerable) against abstention (unanswerable)
is printed for dev and test so the threshold can be chosen from it. Paste the printed weights
into ``CONFIDENCE_WEIGHTS`` and the threshold into ``Settings.found_threshold``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from qa.answer import best_sentence, features
from qa.evaluate import DEFAULT_QUESTIONS, load_questions
from qa.followup import search_context
from qa.service import QA


def fit(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 20000) -> np.ndarray:
    """Class-balanced L2 logistic regression by gradient descent; returns weights + bias."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    cw = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        w -= 0.5 * (xb.T @ ((p - y) * cw) / len(y) + l2 * np.r_[w[:-1], 0])
    return w


def main() -> None:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    args = ap.parse_args()
    engine = QA()
    index = engine.refresh()
    rows = load_questions(Path(args.questions))
    xs, ys, splits = [], [], []
    for r in rows:
        text, history = r["question"], r.get("history") or []
        query, hits = engine.search(index, text, 3, search_context(text, history))
        sentence = best_sentence(query, hits, text).text
        xs.append(features(hits, text, index, engine.weights.top_score(), sentence,
                           query.text))
        ys.append(1.0 if r["answers"] else 0.0)
        splits.append(r["split"])
    x, y, split = np.array(xs), np.array(ys), np.array(splits)
    w = fit(x[split == "dev"], y[split == "dev"])
    print("CONFIDENCE_WEIGHTS =", tuple(round(float(v), 3) for v in w))
    xb = np.hstack([x, np.ones((len(x), 1))])
    p = 1 / (1 + np.exp(-xb @ w))
    print(f"\n{'threshold':>9} | {'dev found':>9} {'abstain':>8} | {'test found':>10} {'abstain':>8}")
    for t in np.arange(0.20, 0.71, 0.025):
        cells = []
        for s in ("dev", "test"):
            m = split == s
            cells.append(f"{np.mean(p[m & (y == 1)] >= t):>9.3f} {np.mean(p[m & (y == 0)] < t):>8.3f}")
        print(f"{t:>9.3f} | {cells[0]} | {cells[1]:>19}")


if __name__ == "__main__":
    main()
