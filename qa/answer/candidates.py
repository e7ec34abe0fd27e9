"""The sentences of the top passages that may answer a question, each with named features.

``candidates`` measures, for every sentence of the passages it is given, what the fitted
sentence model (``qa.answer.rankers``) weighs: how close it is to the question (model cosine, bigram
BM25, the shares of the question's words and bigrams it holds, and of its words in the
sentence with its neighbours), whether it holds the kind of answer asked for (a date for 哪年,
an amount for 多少钱) or clearly not, where it stands (its passage's rank, cosine and score,
first sentence or not, its length), and whether it is about the year the question names (a
sentence naming no year, or opening with 同年/当年, is about the last year named before it),
and whether a question about the first time meets a sentence about a later one (再次, 追加).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from qa.answer.asks import expected_type, type_match
from qa.config import COS_RANGES
from qa.ingest import text as textmod
from qa.search.glossary import Glossary
from qa.search.retrieve import Hit, Query

#: a year a question counts from or to ("2019年以后", "继2019年之后", "自2019年起")
_FROM_YEAR = re.compile(r"(?:(?<=继)|(?<=自)|(?<=从))((?:19|20)\d\d)年"
                        r"|((?:19|20)\d\d)年(?=之?[后前]|以[后前来]|起)")
_YEAR = re.compile(r"(?<![\d.])(?:19|20)\d\d(?![\d.万亿元%个家起])")
#: a sentence naming no year is about the last year its passage named before it; one opening
#: like this also is, even when it names another ("同年7月,…")
_SAME_TIME = re.compile(r"^\W*(?:同年|当年|同月|该年|同期|此后|随后)")

#: a question about the first time something happened, and a sentence about a later time
_FIRST_TIME = re.compile(r"第一次|首次|首度|头一回|最早|最初|\bfirst\b", re.I)
_LATER_TIME = re.compile(r"再次|再度|又一次|又向|追加|第[二三四五六七八九十]次|进一步|\bagain\b", re.I)
#: a question about the latest of several events or versions ("最近一次", "最新的", "目前")
_LAST_TIME = re.compile(r"最近|最新|最后一次|最终|目前|现在|现行|当前|\b(?:latest|last|most recent|"
                        r"current)\b", re.I)

FEATURES = ("cosine", "bm25", "words", "bigrams", "context", "typed", "mistyped", "rank",
            "passage_cosine", "passage_score", "first", "length", "year", "other_year",
            "later_time", "earliest", "latest")


def cos01(cos: float, cos_range: tuple[float, float] = COS_RANGES["m3e"]) -> float:
    """A cosine rescaled from ``cos_range`` (the model's, ``qa.config.cos_range``) to [0, 1]."""
    low, high = cos_range
    return float(np.clip((cos - low) / (high - low), 0.0, 1.0))


@dataclass
class Candidate:
    """A sentence of a retrieved passage that may answer the question."""

    hit: Hit
    rank: int  # rank of its passage, 0 = best
    number: int  # its place among the passage's sentences
    span: tuple[int, int]  # absolute (start, end) in the file
    text: str
    features: dict[str, float]
    typed: bool  # holds the kind of answer asked for
    scores: dict[str, float] = field(default_factory=dict)  # by the fitted models


@dataclass(frozen=True)
class Asked:
    """What is measured of the question once for all its candidates."""

    kind: str | None
    words: frozenset[str]
    bigrams: frozenset[str]
    years: frozenset[str]  # years it names
    of_years: frozenset[str]  # the years a value is asked of (not one it counts from)


def asked(question: str, glossary: Glossary) -> Asked:
    q = textmod.normalize(glossary.expand(question))
    years = frozenset(_YEAR.findall(q))
    counted_from = {y for pair in _FROM_YEAR.findall(q) for y in pair}
    return Asked(expected_type(question), frozenset(w for w in textmod.words(q) if len(w) >= 2),
                 frozenset(textmod.bigrams(q)), years, years - counted_from)


def _share(wanted: frozenset[str], text: str) -> float:
    return sum(w in text for w in wanted) / len(wanted) if wanted else 0.0


def _of_another_year(kind: str | None, asked_years: frozenset[str], when: set[str]) -> bool:
    """Whether a sentence about the years ``when`` gives a value of another year than the ones
    asked about (a month or day: of every one of them); a year is itself the answer to a time
    question."""
    if not asked_years or kind == "time":
        return False
    if kind in ("month", "day"):
        return not asked_years <= when
    return bool(when) and not asked_years & when


def candidates(query: Query, hits: list[Hit], question: str, glossary: Glossary
               ) -> list[Candidate]:
    """Every sentence of ``hits`` with its ``FEATURES`` (see the module docstring)."""
    a = asked(question, glossary)
    first_time = bool(_FIRST_TIME.search(question))
    top_bm25 = max((x for h in hits for x in h.sentence_bm25), default=0.0) or 1.0
    top_score = max((h.score for h in hits), default=0.0) or 1.0
    out = []
    for rank, hit in enumerate(hits):
        c = hit.chunk
        norms = [textmod.normalize(c.text[s - c.start : e - c.start]) for s, e in c.sentences]
        before: set[str] = set()
        for j, (s, e) in enumerate(c.sentences):
            norm = norms[j]
            years = set(_YEAR.findall(norm))
            when = years | (before if _SAME_TIME.search(norm) or not years else set())
            typed = type_match(a.kind, norm, glossary, question) \
                and not _of_another_year(a.kind, a.of_years, when)
            around = " ".join(norms[max(0, j - 1) : j + 2])
            x = {
                "cosine": cos01(hit.sentence_cos[j], query.cos_range),
                "bm25": hit.sentence_bm25[j] / top_bm25,
                "words": _share(a.words, norm),
                "bigrams": _share(a.bigrams, norm),
                "context": _share(a.words, around),
                "typed": float(typed),
                "mistyped": float(a.kind not in (None, "reason") and not typed),
                "rank": float(rank),
                "passage_cosine": cos01(hit.dense, query.cos_range),
                "passage_score": hit.score / top_score,
                "first": float(j == 0),
                "length": min(1.0, len(norm) / 80),
                "year": float(bool(a.years) and a.years <= when),
                "other_year": float(bool(a.years) and bool(years) and not a.years & when),
                "later_time": float(first_time and bool(_LATER_TIME.search(norm))),
            }
            out.append(Candidate(hit, rank, j, (s, e), c.text[s - c.start : e - c.start], x,
                                 typed))
            before = years or before
    mark_order(out, first_time, bool(_LAST_TIME.search(question)))
    return out


def mark_order(cands: list[Candidate], first_time: bool, last_time: bool) -> None:
    """Set ``earliest`` / ``latest``: for a question about the first (第一次, 首次, 最早) or the
    latest (最近, 最新, 目前) of several events, whether a candidate is the first or the last,
    in its document's order, of the candidates of that document that hold the kind of answer
    asked for and name the question's words (all of them where none holds the kind)."""
    for c in cands:
        c.features["earliest"] = c.features["latest"] = 0.0
    if not (first_time or last_time) or not cands:
        return
    by_source: dict[str, list[Candidate]] = {}
    for c in cands:
        by_source.setdefault(c.hit.chunk.source, []).append(c)
    for group in by_source.values():
        pool = [c for c in group if c.typed and c.features["words"] > 0] or \
            [c for c in group if c.features["words"] > 0] or group
        pool.sort(key=lambda c: c.span[0])
        if first_time:
            pool[0].features["earliest"] = 1.0
        if last_time:
            pool[-1].features["latest"] = 1.0


def window(candidate: Candidate, chars: int) -> tuple[str, int, tuple[int, int]]:
    """The text the reader reads for ``candidate``: its sentence, with the sentences before
    and after it in its passage while the whole stays within ``chars`` characters. Returns the
    text, its absolute start, and the sentence's (start, end) within it."""
    c = candidate.hit.chunk
    first = last = candidate.number
    s, e = candidate.span
    while True:
        grown = False
        if first > 0 and e - c.sentences[first - 1][0] <= chars:
            first -= 1
            grown = True
        if last + 1 < len(c.sentences) and c.sentences[last + 1][1] - c.sentences[first][0] <= chars:
            last += 1
            grown = True
        if not grown:
            break
    w0, w1 = c.sentences[first][0], c.sentences[last][1]
    return c.text[w0 - c.start : w1 - c.start], w0, (s - w0, e - w0)
