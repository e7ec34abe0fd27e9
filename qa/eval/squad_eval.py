"""``qa eval --squad FILE``: how ``qa`` answers on a corpus it has never seen.

Every article of a SQuAD-format file becomes one corpus file in a work folder (a temporary one
unless ``--workdir`` names one to keep, so a second run reuses its index); the real engine
builds the index and answers the questions of the chosen articles. Scores per question: the
rank of the first passage of the article's file holding a gold answer (hit@1, hit@3, MRR), the
answer sentence holding a gold answer, the short answer's exact match and F1 (the CMRC 2018
metrics; None scores 0), and whether the engine found an answer at all. ``--half`` indexes
every other article only and also reports how many questions of the others are refused.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qa.answer.answerer import Answer
from qa.config import Settings

from qa.eval.squad import Article, Question, choose, cmrc_em, cmrc_f1, load_squad, write_corpus

DEPTH = 10
Asker = Callable[[str, int, list[str]], Answer]


@dataclass
class Outcome:
    """One question's result."""

    question: Question
    indexed: bool  # its article is in the corpus
    rank: int | None  # 1-based rank of the first passage holding a gold answer, or None
    sentence_ok: bool
    em: float
    f1: float
    found: bool
    confidence: float
    seconds: float
    answer: Answer


def judge(question: Question, answer: Answer, indexed: bool, seconds: float) -> Outcome:
    """Score ``answer`` against the gold answers of ``question``."""
    gold = question.answers
    rank = next((i for i, p in enumerate(answer.passages, 1)
                 if p.source == question.source and any(g in p.text for g in gold)), None)
    sentence_ok = answer.found and answer.span is not None \
        and answer.span[0] == question.source and any(g in answer.text for g in gold)
    short = answer.short if answer.found else None
    return Outcome(question, indexed, rank, sentence_ok, cmrc_em(short, gold),
                   cmrc_f1(short, gold), answer.found, answer.confidence, seconds, answer)


def run(ask: Asker, questions: list[tuple[Question, bool]]) -> list[Outcome]:
    out = []
    for q, indexed in questions:
        started = time.perf_counter()
        answer = ask(q.text, DEPTH, [])
        out.append(judge(q, answer, indexed, time.perf_counter() - started))
    return out


COLUMNS = ("n", "hit@1", "hit@3", "MRR", "sent", "EM", "F1", "found", "refused", "p50 ms",
           "p95 ms")


def scores(outcomes: list[Outcome]) -> dict[str, float]:
    """The columns of ``COLUMNS`` over ``outcomes`` (refused: among questions whose article is
    not indexed; the others over questions whose article is)."""
    ans = [o for o in outcomes if o.indexed]
    out_of = [o for o in outcomes if not o.indexed]
    n = max(1, len(ans))
    return {
        "n": len(ans),
        "hit@1": sum(o.rank == 1 for o in ans) / n,
        "hit@3": sum(o.rank is not None and o.rank <= 3 for o in ans) / n,
        "MRR": sum(1 / o.rank for o in ans if o.rank) / n,
        "sent": sum(o.sentence_ok for o in ans) / n,
        "EM": sum(o.em for o in ans) / n,
        "F1": sum(o.f1 for o in ans) / n,
        "found": sum(o.found for o in ans) / n,
        "refused": (sum(not o.found for o in out_of) / len(out_of)) if out_of else float("nan"),
        "p50 ms": 1000 * statistics.median(o.seconds for o in outcomes) if outcomes else 0.0,
        "p95 ms": 1000 * float(np.percentile([o.seconds for o in outcomes], 95))
        if outcomes else 0.0,
    }


def table(named: dict[str, list[Outcome]]) -> str:
    head = f"{'system':<26}" + "".join(f"{c:>8}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for name, outcomes in named.items():
        s = scores(outcomes)
        cells = "".join(f"{s[c]:>8d}" if c == "n" else f"{s[c]:>8.1f}" if c.endswith(" ms")
                        else f"{s[c]:>8.3f}" for c in COLUMNS)
        lines.append(f"{name:<26}{cells}")
    return "\n".join(lines)


def details(outcomes: list[Outcome]) -> str:
    """Every miss: a wrong first passage or sentence, a wrong short answer, or a wrong refusal."""
    lines = []
    for o in outcomes:
        ok = (o.rank == 1 and o.sentence_ok and o.em == 1.0) if o.indexed else not o.found
        if ok:
            continue
        a = o.answer
        lines.append(f"{o.question.id:<18} indexed={o.indexed} rank={o.rank} "
                     f"sent={o.sentence_ok} found={o.found} conf={a.confidence:.2f} "
                     f"F1={o.f1:.2f}\n    Q: {o.question.text}\n    gold: "
                     f"{' | '.join(o.question.answers)}\n    short: {a.short!r}\n    "
                     f"sentence: {a.text[:120]}")
    return "\n".join(lines)


def corpus_plan(articles: list[Article], asked: list[Article], half: bool
                ) -> tuple[list[Article], list[tuple[Question, bool]]]:
    """The articles to index and the questions to ask with whether their article is indexed:
    all articles, or with ``half`` every other one (by position in the file)."""
    indexed = [a for a in articles if not half or a.number % 2 == 0]
    in_corpus = {a.source for a in indexed}
    questions = [(q, a.source in in_corpus) for a in asked for q in a.questions]
    return indexed, questions


def main(args: argparse.Namespace) -> int:
    from qa.eval.evaluate import systems

    articles = load_squad(Path(args.squad))
    asked = choose(articles, args.split, args.articles)
    if args.articles:  # a subsample is its own corpus
        articles = asked
    indexed, questions = corpus_plan(articles, asked, args.half)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="qa-squad-"))
    corpus = work / ("corpus-half" if args.half else "corpus")
    write_corpus(indexed, corpus)
    settings = Settings.from_env()
    settings = settings.with_(corpus_dir=corpus, index_dir=work / (
        "index-half" if args.half else "index"),  # in Milvus, collections of its own:
        milvus_prefix=f"{settings.milvus_prefix}_squad{'_half' if args.half else ''}")
    started = time.perf_counter()
    named_askers = systems(settings, args.compare, build=True)
    built = time.perf_counter() - started
    chars = sum(len(a.text()) for a in indexed)
    print(f"{args.squad}: {len(indexed)} articles indexed ({chars:,} characters), "
          f"{len(questions)} questions of {len(asked)} articles (split {args.split}"
          f"{', half' if args.half else ''}); model {settings.model}; ready in {built:.1f} s\n")
    named = {name: run(ask, questions) for name, ask in named_askers.items()}
    print(table(named))
    if args.details:
        print("\nmisses (first system):\n" + details(next(iter(named.values()))))
    return 0
