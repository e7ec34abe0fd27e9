"""Fit the weights of ``qa.confidence.confidence`` on the fitting splits and print the trade-off
curve.

    python bench/calibrate.py [--questions FILE ...] [--fit dev,fresh,blind2,blind3,blind4]
                              [--in-use]

A class-balanced logistic regression over ``qa.confidence.features`` (answerable = 1), fitted on
the questions of the ``--fit`` splits only (default ``qa.evaluate.FIT_SPLITS``) that are not
``vetoed`` (those are refused whatever the weights); the curve of
found-rate (answerable) against abstention (unanswerable) is printed for the fitting questions
together and for every reported split, and the threshold rule's choice is marked: the
threshold at which the fitting questions clear both targets (found >= 0.95, abstention >= 0.80)
by the widest margin (ties: the widest sum of both margins; still tied: the middle one). Paste the printed weights into
``CONFIDENCE_WEIGHTS`` and the threshold into ``Settings.found_threshold``.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from qa.answer import best_sentence
from qa.confidence import CONFIDENCE_WEIGHTS, VETOED, features, vetoed
from qa.evaluate import FIT_SPLITS, TUNING_FILES, load_question_files
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


#: the answer-quality issue's targets: found-rate on answerable, abstention on unanswerable
FOUND_TARGET, ABSTAIN_TARGET = 0.95, 0.80


def main() -> None:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", nargs="+", default=[str(p) for p in TUNING_FILES])
    ap.add_argument("--fit", default=",".join(FIT_SPLITS))
    ap.add_argument("--in-use", action="store_true",
                    help="print the curve of the weights in use instead of fitting new ones")
    args = ap.parse_args()
    engine = QA()
    index = engine.refresh()
    rows = load_question_files(args.questions)
    xs, ys, splits, vetoes = [], [], [], []
    for r in rows:
        text, history = r["question"], r.get("history") or []
        query, hits = engine.search(index, text, 3, search_context(text, history))
        best = best_sentence(query, hits, text)
        sentence = best.text
        xs.append(features(hits, text, index, engine.weights.top_score(), best.typed,
                           query.cos_range))
        vetoes.append(vetoed(text, index, sentence, query.text))
        ys.append(1.0 if r["answers"] else 0.0)
        splits.append(r["split"])
    x, y, split, veto = np.array(xs), np.array(ys), np.array(splits), np.array(vetoes)
    fitting = np.isin(split, args.fit.split(","))
    w = np.array(CONFIDENCE_WEIGHTS) if args.in_use else fit(x[fitting & ~veto],
                                                              y[fitting & ~veto])
    print("CONFIDENCE_WEIGHTS =", tuple(round(float(v), 3) for v in w),
          "(in use)" if args.in_use else "(fitted)")
    print(f"vetoed: {veto[fitting & (y == 0)].sum()} of {(fitting & (y == 0)).sum()} fitting "
          f"unanswerable, {veto[y == 1].sum()} of {(y == 1).sum()} answerable questions")
    p = 1 / (1 + np.exp(-np.hstack([x, np.ones((len(x), 1))]) @ w))
    p = np.where(veto, np.minimum(p, VETOED), p)
    columns = [("fitting", fitting)] + [(s, split == s) for s in dict.fromkeys(splits)]
    thresholds = np.arange(0.05, 0.76, 0.05)
    def margins(t: float) -> tuple[float, float]:
        """How far the fitting questions clear both targets: the smaller margin, and the sum."""
        found = np.mean(p[fitting & (y == 1)] >= t) - FOUND_TARGET
        abstain = np.mean(p[fitting & (y == 0)] < t) - ABSTAIN_TARGET
        return round(min(found, abstain), 9), round(found + abstain, 9)

    best = max(margins(t) for t in thresholds)
    tied = [t for t in thresholds if margins(t) == best]
    chosen = tied[len(tied) // 2]  # the middle of a flat stretch: far from both its edges
    print(f"\n{'threshold':>9} | " + " | ".join(f"{n[:7]:>7} found abstain" for n, _ in columns))
    for t in thresholds:
        cells = [f"{np.mean(p[m & (y == 1)] >= t):>13.3f} {np.mean(p[m & (y == 0)] < t):>7.3f}"
                 for _, m in columns]
        mark = " <- rule" if abs(t - chosen) < 1e-9 else ""
        print(f"{t:>9.3f} | " + " | ".join(cells) + mark)


if __name__ == "__main__":
    main()
