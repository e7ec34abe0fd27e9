"""``qa eval --squad FILE``: how ``qa`` answers on a corpus it has never seen.

Every article of a SQuAD-format file becomes one corpus file in a work folder (a temporary one
unless ``--workdir`` names one to keep, so a second run reuses its index); the real engine
builds the index and answers the questions of the chosen articles. Scores per question: the
rank of the first passage of the article's file holding a gold answer (hit@1, hit@3, MRR), the
answer sentence holding a gold answer, the short answer's exact match and F1 (the CMRC 2018
metrics; None scores 0), and whether the engine found an answer at all. Questions the article
does not answer (SQuAD 2.0 ``is_impossible``) and yes/no questions (CAIL2019) are scored in
columns of their own: refused, and answered 是/否 as their gold says. ``--half`` indexes every
other article only and also reports how many questions of the others are refused;
``--per-doc`` makes every asked article a corpus of its own and pools the scores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.answer.answerer import Answer
from qa.config import Settings
from qa.errors import BadInput
from qa.eval.metrics import first_hit, latency, render, sentence_holds, share, yes_no_right
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
    yes_no_ok: bool = False  # a yes/no question answered 是/否 as its gold says

    @property
    def kind(self) -> str:
        """"out" for a question whose article is not indexed, else the question's kind
        ("span", "impossible", "yes/no")."""
        return self.question.kind if self.indexed else "out"

    @property
    def right(self) -> bool:
        """Answered as it should be: refused when nothing indexed answers it, 是/否 as its gold
        for a yes/no question, else the right first passage, sentence and short answer."""
        if self.kind in ("out", "impossible"):
            return not self.found
        if self.kind == "yes/no":
            return self.yes_no_ok
        return self.rank == 1 and self.sentence_ok and self.em == 1.0


def judge(question: Question, answer: Answer, indexed: bool, seconds: float) -> Outcome:
    """Score ``answer`` against the gold answers of ``question``."""
    gold = question.answers
    short = answer.short if answer.found else None
    return Outcome(question, indexed, first_hit(answer, question.source, gold),
                   sentence_holds(answer, question.source, gold), cmrc_em(short, gold),
                   cmrc_f1(short, gold), answer.found, answer.confidence, seconds, answer,
                   yes_no_right(answer, question.yes_no))


def run(ask: Asker, questions: list[tuple[Question, bool]]) -> list[Outcome]:
    out = []
    for q, indexed in questions:
        started = time.perf_counter()
        answer = ask(q.text, DEPTH, [])
        out.append(judge(q, answer, indexed, time.perf_counter() - started))
    return out


SPAN_COLUMNS = ("n", "hit@1", "hit@3", "MRR", "sent", "sent chars", "EM", "F1", "found")
IMPOSSIBLE_COLUMNS = ("n imp", "refused (impossible)")
YES_NO_COLUMNS = ("n y/n", "yes/no")
OUT_COLUMNS = ("n out", "refused")
TIME_COLUMNS = ("p50 ms", "p95 ms")
COLUMNS = (*SPAN_COLUMNS, *IMPOSSIBLE_COLUMNS, *YES_NO_COLUMNS, *OUT_COLUMNS, *TIME_COLUMNS)


def _median(values: list[int]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def scores(outcomes: list[Outcome]) -> dict[str, float]:
    """The columns of ``COLUMNS`` over ``outcomes``, each kind over its own questions: span
    questions of indexed articles (n … found; sent chars: the median length of their answer
    sentences, for sets whose text lacks 。 and whose "sentences" run long, as half of
    CAIL2019's do), impossible ones (refused when not found),
    yes/no ones (是/否 right), and with ``--half`` those of articles left out (refused). A
    share over no questions is NaN."""
    by = {k: [o for o in outcomes if o.kind == k] for k in ("span", "impossible", "yes/no",
                                                            "out")}
    span = by["span"]
    return {
        "n": len(span),
        "hit@1": share([o.rank == 1 for o in span]),
        "hit@3": share([o.rank is not None and o.rank <= 3 for o in span]),
        "MRR": share([1 / o.rank if o.rank else 0.0 for o in span]),
        "sent": share([o.sentence_ok for o in span]),
        "sent chars": _median([len(o.answer.text) for o in span if o.found]),
        "EM": share([o.em for o in span]),
        "F1": share([o.f1 for o in span]),
        "found": share([o.found for o in span]),
        "n imp": len(by["impossible"]),
        "refused (impossible)": share([not o.found for o in by["impossible"]]),
        "n y/n": len(by["yes/no"]),
        "yes/no": share([o.yes_no_ok for o in by["yes/no"]]),
        "n out": len(by["out"]),
        "refused": share([not o.found for o in by["out"]]),
        **latency([o.seconds for o in outcomes]),
    }


def table(named: dict[str, list[Outcome]]) -> str:
    """One row per system; the columns of a kind no question has are left out."""
    rows = [((name,), scores(outcomes)) for name, outcomes in named.items()]
    have = {c for _, s in rows for c in ("n imp", "n y/n", "n out") if s[c]}
    columns = [*SPAN_COLUMNS,
               *(IMPOSSIBLE_COLUMNS if "n imp" in have else ()),
               *(YES_NO_COLUMNS if "n y/n" in have else ()),
               *(OUT_COLUMNS if "n out" in have else ()), *TIME_COLUMNS]
    return render([("system", 26)], columns, rows)


def details(outcomes: list[Outcome]) -> str:
    """Every miss: a wrong first passage, sentence or short answer, a wrong 是/否, or an answer
    where a refusal was due."""
    lines = []
    for o in outcomes:
        if o.right:
            continue
        a = o.answer
        gold = o.question.yes_no or " | ".join(o.question.answers) or "(none: refuse)"
        lines.append(f"{o.question.id:<18} {o.kind} rank={o.rank} "
                     f"sent={o.sentence_ok} found={o.found} conf={a.confidence:.2f} "
                     f"F1={o.f1:.2f}\n    Q: {o.question.text}\n    gold: {gold}\n"
                     f"    short: {a.short!r}\n    sentence: {a.text[:120]}")
    return "\n".join(lines)


def corpus_plan(articles: list[Article], asked: list[Article], half: bool
                ) -> tuple[list[Article], list[tuple[Question, bool]]]:
    """The articles to index and the questions to ask with whether their article is indexed:
    all articles, or with ``half`` every other one (by position in the file)."""
    indexed = [a for a in articles if not half or a.number % 2 == 0]
    in_corpus = {a.source for a in indexed}
    questions = [(q, a.source in in_corpus) for a in asked for q in a.questions]
    return indexed, questions


def _settings(base: Settings, corpus: Path, index: Path, name: str) -> Settings:
    """``base`` over ``corpus`` and ``index`` (in Milvus, collections of its own named after
    ``name``)."""
    return base.with_(corpus_dir=corpus, index_dir=index,
                      milvus_prefix=f"{base.milvus_prefix}_{name}")


def _one_corpus(args: argparse.Namespace, articles: list[Article], asked: list[Article],
                work: Path, base: Settings) -> tuple[dict[str, list[Outcome]], str]:
    """The chosen articles (or, with ``--half``, every other one) as one corpus."""
    from qa.eval.evaluate import systems

    indexed, questions = corpus_plan(articles, asked, args.half)
    half = "-half" if args.half else ""
    settings = _settings(base, work / f"corpus{half}", work / f"index{half}",
                         f"squad{half.replace('-', '_')}")
    write_corpus(indexed, settings.corpus_dir)
    started = time.perf_counter()
    named_askers = systems(settings, args.compare, build=True)
    built = time.perf_counter() - started
    chars = sum(len(a.text()) for a in indexed)
    head = (f"{len(indexed)} articles indexed ({chars:,} characters), {len(questions)} "
            f"questions of {len(asked)} articles (split {args.split}"
            f"{', half' if args.half else ''}); ready in {built:.1f} s")
    return {name: run(ask, questions) for name, ask in named_askers.items()}, head


def _per_doc(args: argparse.Namespace, asked: list[Article], work: Path, base: Settings
             ) -> tuple[dict[str, list[Outcome]], str]:
    """Every asked article as a corpus of its own ("ask this contract"), built and asked in
    turn by engines sharing one embedding model and reader; outcomes pooled."""
    from qa.eval.evaluate import engine, systems

    named: dict[str, list[Outcome]] = {}
    share = None
    started = time.perf_counter()
    for i, article in enumerate(asked, 1):
        folder = work / "per-doc" / Path(article.source).stem
        settings = _settings(base, folder / "corpus", folder / "index",
                             f"squad_doc{article.number}")
        write_corpus([article], settings.corpus_dir)
        ours = engine(settings, share)
        share = share or ours
        questions = [(q, True) for q in article.questions]
        for name, ask in systems(settings, args.compare, build=True, ours=ours).items():
            named.setdefault(name, []).extend(run(ask, questions))
        if sys.stderr.isatty():
            print(f"\r  per article: {i}/{len(asked)}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    n = sum(len(a.questions) for a in asked)
    head = (f"{len(asked)} articles, each its own corpus, {n} questions (split {args.split}); "
            f"built and asked in {time.perf_counter() - started:.1f} s")
    return named, head


def main(args: argparse.Namespace) -> int:
    per_doc = getattr(args, "per_doc", False)
    if per_doc and args.half:
        raise BadInput("--per-doc and --half exclude each other (each article is its "
                         "own corpus)")
    articles = load_squad(Path(args.squad))
    asked = choose(articles, args.split, args.articles)
    if args.articles:  # a subsample is its own corpus
        articles = asked
    base = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="qa-squad-") as temp:
        work = Path(args.workdir) if args.workdir else Path(temp)
        named, head = _per_doc(args, asked, work, base) if per_doc \
            else _one_corpus(args, articles, asked, work, base)
    print(f"{args.squad}: {head}; model {base.model}\n")
    print(table(named))
    if args.details:
        print("\nmisses (first system):\n" + details(next(iter(named.values()))))
    return 0
