"""``qa fit``: fit the answer layer's models on question sets and write ``rankers.json``.

The sets are SQuAD-format files (each a corpus of its own, every article one file; only the
questions of "fit" articles are fitted on, ``qa.eval.squad.split_of``) and, optionally, JSON Lines
question files about the corpus in ``corpus/`` (only their ``--fit-splits``). Each corpus is
built once in a work folder with the real engine; every question is searched as ``qa.ask``
searches it, and every candidate sentence of its top passages is measured
(``qa.answer.candidates``). Then, in order:

1. ``sentence``: a conditional logit over each question's candidates (the gold sentence holds a
   gold answer);
2. ``final``: the same over the ``read`` best candidates by (1), with the reader's margin;
3. ``found``: a class-balanced logistic regression of "the corpus answers it" over
   ``qa.answer.confidence.FEATURES`` of the chosen sentence; the negatives are the unanswerable
   questions of the question files and, for SQuAD sets, the questions of the articles left out
   of a corpus holding every other article (``--half``);
4. ``threshold`` and ``short_margin`` from the fitted scores.

The file records its provenance: sets, splits and counts, commit, model, and the scores of the
"report" articles (never fitted on) under the new weights, with a learning curve.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.answerer import WINDOW
from qa.answer.candidates import FEATURES as SENTENCE_FEATURES
from qa.answer.candidates import Candidate, window
from qa.answer.confidence import FEATURES as FOUND_FEATURES
from qa.answer.confidence import features as found_features
from qa.answer.rankers import Linear, Rankers, parse
from qa.config import PROJECT_ROOT, Settings
from qa.eval.squad import cmrc_f1
from qa.train.cases import (
    FIT_GENRES,
    Case,
    feedback_cases,
    genre_cases,
    question_file_cases,
    squad_cases,
)
from qa.train.common import commit

FINAL_FEATURES = ("sentence", "margin")


# -- the models --------------------------------------------------------------------------------

def set_weights(cases: list[Case]) -> np.ndarray:
    """A weight per case so that every question set (``set_of``: search-style twins within
    their set, the blind genre sets together one set) counts as much as any other, however many
    questions it has (the seed article's few hundred beside thousands of Wikipedia questions),
    averaging 1."""
    sets = [set_of(k.group) for k in cases]
    counts = Counter(sets)
    w = np.array([len(cases) / (len(counts) * counts[s]) for s in sets])
    return w


def conditional_logit(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.01,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Weights ``w`` maximising, over groups (candidates x features, which ones are right),
    the (weighted) log of the softmax mass of the right candidates, with an L2 penalty."""
    from scipy.optimize import minimize

    dim = groups[0][0].shape[1]
    each = weights if weights is not None else np.ones(len(groups))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(dim)
        for (x, right), g in zip(groups, each, strict=True):
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            mass = float(p[right].sum())
            total -= g * math.log(max(mass, 1e-12))
            q = np.where(right, p, 0.0) / max(mass, 1e-12)
            grad = grad - g * ((q - p) @ x)
        n = len(groups)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    return minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B").x


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01,
             weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Class-balanced (and ``weights``-weighted) logistic regression: (weights, bias)."""
    from scipy.optimize import minimize

    each = weights if weights is not None else np.ones(len(y))
    balance = each * np.where(y == 1, 0.5 / max(1e-9, (each * y).sum()),
                              0.5 / max(1e-9, (each * (1 - y)).sum()))

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:-1], wb[-1]
        z = np.clip(x @ w + b, -50, 50)
        p = 1 / (1 + np.exp(-z))
        total = -float(np.sum(balance * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))))
        g = balance * (p - y)
        return total + l2 * float(w @ w), np.append(x.T @ g + 2 * l2 * w, g.sum())

    wb = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return wb[:-1], float(wb[-1])


def _matrix(rows: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[r[n] for n in names] for r in rows], dtype=np.float64).reshape(-1, len(names))


class Fitter:
    """Runs the three fits over measured cases; the reader's readings are remembered, so that
    refitting on subsets (the learning curve) reads each candidate once."""

    def __init__(self, read: int) -> None:
        self.read = read
        self.readings: dict[tuple[int, int], tuple[float, int, int]] = {}

    def sentence(self, cases: list[Case]) -> Linear:
        kept = [k for k in cases if k.cands and any(k.holds(c) for c in k.cands)
                and not all(k.holds(c) for c in k.cands)]
        groups = [(_matrix([c.features for c in k.cands], SENTENCE_FEATURES),
                   np.array([k.holds(c) for c in k.cands])) for k in kept]
        w = conditional_logit(groups, weights=set_weights(kept))
        return Linear(dict(zip(SENTENCE_FEATURES, map(float, np.round(w, 4)), strict=True)))

    def top(self, case: Case, model: Linear) -> list[Candidate]:
        """The ``read`` best candidates by ``model``, with the reader's margin and span."""
        for c in case.cands:
            c.scores["sentence"] = model.score(c.features)
        ranked = sorted(case.cands, key=lambda c: -c.scores["sentence"])[: self.read]
        engine = case.context[0]
        todo = [c for c in ranked if (id(case), id(c)) not in self.readings]
        if todo and engine.reader is not None:
            windows = [window(c, WINDOW) for c in todo]
            for c, (_, w0, _), r in zip(todo, windows, engine.reader.read(
                    case.text, [w[0] for w in windows], [w[2] for w in windows]), strict=True):
                margin = r.margin if math.isfinite(r.margin) else -20.0
                self.readings[(id(case), id(c))] = (margin, w0 + r.start, w0 + r.end)
        for c in ranked:
            margin, s, e = self.readings.get((id(case), id(c)), (0.0, 0, 0))
            c.scores.update(margin=margin, short_start=s, short_end=e)
        return ranked

    def final(self, cases: list[Case], sentence: Linear) -> Linear:
        groups, kept = [], []
        for k in cases:
            ranked = self.top(k, sentence) if k.cands else []
            right = np.array([k.holds(c) for c in ranked])
            if right.any() and not right.all():
                groups.append((_matrix([c.scores for c in ranked], FINAL_FEATURES), right))
                kept.append(k)
        w = conditional_logit(groups, weights=set_weights(kept))
        return Linear(dict(zip(FINAL_FEATURES, map(float, np.round(w, 4)), strict=True)))

    def choose(self, case: Case, sentence: Linear, final: Linear) -> Candidate | None:
        """The chosen candidate, with its found features, as ``qa.answer.answerer`` chooses it."""
        if not case.cands:
            return None
        ranked = self.top(case, sentence)
        for c in ranked:
            c.scores["final"] = final.score(c.scores)
        top = max(c.scores["final"] for c in ranked)
        total = sum(math.exp(c.scores["final"] - top) for c in ranked)
        for c in ranked:
            c.scores["choice"] = math.exp(c.scores["final"] - top) / total
        best = max(ranked, key=lambda c: c.scores["final"])
        engine, index, query, hits = case.context
        hits = [best.hit, *(h for h in hits if h is not best.hit)]
        case.found_x = found_features(case.text, index, engine.glossary, hits, best,
                                      engine.weights.top_score(), query.cos_range)
        return best

    def found(self, cases: list[Case], sentence: Linear, final: Linear) -> Linear:
        kept = [k for k in cases if self.choose(k, sentence, final) is not None]
        y = np.array([bool(k.gold) for k in kept], dtype=np.float64)
        w, b = logistic(_matrix([k.found_x for k in kept], FOUND_FEATURES), y,
                        weights=set_weights(kept))
        return Linear(dict(zip(FOUND_FEATURES, map(float, np.round(w, 4)), strict=True)),
                      round(b, 4))


# -- choosing thresholds, scoring --------------------------------------------------------------

#: a short answer is worth giving when its expected F1 exceeds this
SHORT_WORTH = 0.25
#: (found, refused) targets of each kind of question set, as the issues set them: Wikipedia
#: (found >= 0.95 and >= 0.90 of questions about missing articles refused), court judgments
#: (0.85 and 0.60 of the questions a judgment does not answer), the other genres' blind sets
#: (0.90 and 0.60), the seed article's questions (0.95 and 0.85)
TARGETS = {"cmrc2018_trial": (0.95, 0.90), "drcd_dev_zhs": (0.95, 0.90),
           "cail2019_dev": (0.85, 0.60), "genres": (0.90, 0.60), "corpus": (0.95, 0.85)}
TARGET_FOUND, TARGET_REFUSED = 0.95, 0.85  # of any other set


def set_of(group: str) -> str:
    """The question set a case group belongs to for targets and weights: its name before ":",
    search-style twins with their set, the genre sets as one."""
    name = group.split(":")[0].removesuffix("-search")
    return "genres" if name.startswith("genres-") else name


def pick_threshold(cases: list[tuple[str, bool, float]]) -> float:
    """The confidence threshold that clears every set's (found, refused) targets (``TARGETS``)
    by the widest margin, that is, whose worst shortfall over the sets is least, from (set,
    answerable, confidence) triples."""
    if not any(a for _, a, _ in cases) or all(a for _, a, _ in cases):
        return 0.5
    by_set: dict[str, tuple[list[float], list[float]]] = {}
    for name, answerable, p in cases:
        by_set.setdefault(name, ([], []))[0 if answerable else 1].append(p)
    grid = [t / 100 for t in range(5, 96)]

    def slack(t: float) -> float:
        worst = 1.0
        for name, (yes, no) in by_set.items():
            found_target, refused_target = TARGETS.get(name, (TARGET_FOUND, TARGET_REFUSED))
            if yes:
                worst = min(worst, sum(p >= t for p in yes) / len(yes) - found_target)
            if no:
                worst = min(worst, sum(p < t for p in no) / len(no) - refused_target)
        return worst
    return max(grid, key=lambda t: (round(slack(t), 6), -abs(t - 0.5)))


def _short(case: Case, c: Candidate, floor: float = -math.inf) -> tuple[float, str | None]:
    """The reader's margin in ``c`` and the short answer ``qa.answer.answerer`` would give (at
    ``floor``; without a reader: by answer type)."""
    span = case.context[0].answerer.short(case.text, c, floor)
    chunk = c.hit.chunk
    phrase = chunk.text[span[0] - chunk.start : span[1] - chunk.start] if span else None
    return c.scores.get("margin", 0.0), phrase


def pick_short_margin(pairs: list[tuple[float, float]]) -> float:
    """The reader margin from which a short answer is given: the one maximising the sum of
    (F1 - ``SHORT_WORTH``) over the answers given, from (margin, F1) pairs."""
    grid = [m / 2 for m in range(-10, 21)]
    return max(grid, key=lambda m: sum(f - SHORT_WORTH for x, f in pairs if x >= m))


def score(cases: list[Case], r: Rankers, fitter: Fitter) -> dict[str, float]:
    """sentence, EM, F1 and found over the answerable ``cases``, refused over the others."""
    from qa.eval.squad import cmrc_em

    n = sum(bool(k.gold) for k in cases) or 1
    m = sum(not k.gold for k in cases) or 1
    out = dict.fromkeys(("sentence", "em", "f1", "found", "refused"), 0.0)
    for k in cases:
        best = fitter.choose(k, r.sentence, r.final)
        found = best is not None and r.found.probability(k.found_x) >= r.threshold
        if not k.gold:
            out["refused"] += (not found) / m
            continue
        out["found"] += found / n
        if found and best is not None:
            out["sentence"] += k.holds(best) / n
            _, phrase = _short(k, best, r.short_margin)
            out["em"] += cmrc_em(phrase, k.gold) / n
            out["f1"] += cmrc_f1(phrase, k.gold) / n
    return {key: round(v, 4) for key, v in out.items()}


def fit_all(cases: list[Case], fitter: Fitter) -> Rankers:
    sentence = fitter.sentence(cases)
    final = fitter.final(cases, sentence)
    found = fitter.found(cases, sentence, final)
    threshold = pick_threshold([(set_of(k.group), bool(k.gold), found.probability(k.found_x))
                                for k in cases if k.cands])
    pairs = []
    for k in cases:
        best = fitter.choose(k, sentence, final) if k.gold and k.source else None
        if best is not None:
            margin, phrase = _short(k, best)
            pairs.append((margin, cmrc_f1(phrase, k.gold) if k.holds(best) else 0.0))
    return Rankers(sentence, final, found, threshold, pick_short_margin(pairs), fitter.read)


def learning_curve(fit: list[Case], report: list[Case], fitter: Fitter, seed: int = 7
                   ) -> list[dict[str, Any]]:
    """Scores on ``report`` when fitted on growing shares of the fit articles."""
    articles = sorted({k.article for k in fit if k.article})
    random.Random(seed).shuffle(articles)
    rows = []
    for share in (0.1, 0.25, 0.5, 1.0):
        keep = set(articles[: max(1, int(share * len(articles)))])
        subset = [k for k in fit if not k.article or k.article in keep]
        rows.append({"share": share, "articles": len(keep), "questions": len(subset),
                     **score(report, fit_all(subset, fitter), fitter)})
    return rows


def main(args: argparse.Namespace) -> int:
    from qa.eval.evaluate import TUNING_FILES

    settings = Settings.from_env().for_kb(getattr(args, "kb", None) or "default")
    feedback = getattr(args, "feedback", None)
    if feedback is not None and not args.corpus_only:
        raise SystemExit("qa fit: --feedback goes with --corpus-only (a base's own rankers)")
    if args.out is None:
        from qa.answer.rankers import corpus_file, general_file
        args.out = str(corpus_file(settings.corpus_dir, settings.reader != "none")
                       if feedback is not None else general_file(settings.reader != "none"))
    work = Path(args.workdir)
    squads = [Path(s) for s in args.squad] if args.squad is not None else [] \
        if args.corpus_only else [PROJECT_ROOT.parent / "shared" / "datasets" / n
                                  for n in ("cmrc2018_trial.json", "drcd_dev_zhs.json",
                                            "cail2019_dev.json")]
    files = list(dict.fromkeys(  # each file once, in the fit and in the provenance
        [Path(q) for q in args.questions] if args.questions is not None else [] if
        feedback is not None else [
            *TUNING_FILES, *sorted((PROJECT_ROOT / "tests" / "data").glob(
                "questions_blind*.jsonl"))]))
    splits = set(args.fit_splits.split(","))
    cases: list[Case] = []
    for path in squads:
        for half in (False, True):
            cases += squad_cases(path, settings, work, half)
            print(f"measured {path.name}{' (half)' if half else ''}: {len(cases)} cases",
                  flush=True)
    if files:
        cases += question_file_cases(files, settings, splits)
    judged: dict[str, Any] | None = None
    if feedback is not None:
        path = Path(feedback) if feedback else settings.corpus_dir / ".qa" / "feedback.jsonl"
        more, counts = feedback_cases(path, settings)
        cases += more
        judged = {"file": str(path), "counts": counts, "kb": settings.kb}
        print(f"measured the feedback of {path}: {counts}", flush=True)
    genres = None if args.corpus_only or args.no_genres else PROJECT_ROOT / "tests" / "data" / "genres"
    if genres is not None and genres.is_dir():
        cases += genre_cases(genres, settings, work)
        print(f"measured the genre sets: {len(cases)} cases", flush=True)
    fit = [k for k in cases if k.group.endswith(":fit")]
    report = [k for k in cases if not k.group.endswith(":fit")]
    fitter = Fitter(args.read)
    rankers = fit_all(fit, fitter)
    groups = sorted({k.group for k in report})
    scores = {g: score([k for k in report if k.group == g], rankers, fitter) for g in groups}
    counts = {g: len([k for k in cases if k.group == g]) for g in sorted({k.group for k in cases})}
    provenance: dict[str, Any] = {
        "command": "qa fit " + " ".join(f"--squad {p}" for p in squads),
        "commit": commit(), "model": settings.model,
        "reader": settings.reader, "sets": [str(p) for p in squads + files]
        + ([f"{genres} (fit: {', '.join(FIT_GENRES)})"] if genres is not None else []),
        "fit_splits": sorted(splits), "cases": counts, "report_scores": scores,
    }
    if judged is not None:
        provenance["command"] = f"qa fit --corpus-only --feedback {judged['file']}"
        provenance["feedback"] = judged
    if args.curve:
        provenance["learning_curve"] = learning_curve(
            fit, [k for k in report if not k.group.startswith("corpus:")], fitter)
    out = parse({**rankers.to_json(), "provenance": provenance}, str(args.out)).to_json()
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n",
                              encoding="utf-8")
    print(json.dumps({k: out[k] for k in ("threshold", "short_margin")}, ensure_ascii=False))
    for g, s in scores.items():
        print(f"{g:<28} " + "  ".join(f"{k} {v:.3f}" for k, v in s.items()))
    for row in provenance.get("learning_curve", []):
        print("curve", row)
    print(f"written to {args.out}")
    return 0
