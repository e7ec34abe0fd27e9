"""Whether the corpus answers a question at all: named features for the fitted ``found`` model
(``qa.answer.rankers``), measured of the question, the corpus, the top passages and the chosen answer.

The strongest is the reader's margin (how much more its best span in the chosen sentence scores
than "no answer here"); beside it: how close the top passage is, how much of the question the
answer's passage holds (its words weighted by how rare they are in the corpus), the rarest
question word it lacks, and signs that the question is about something the corpus never
mentions (a number or Latin term it lacks, a company it never names, a person, place,
organisation or model it never names, the measure an amount question asks for, a rare name the
answer sentence lacks).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qa.answer.asks import (
    asked_about,
    expected_type,
    measures,
    organisation_names,
    question_entities,
    type_match,
    typed_focus,
)
from qa.answer.candidates import Candidate, cos01
from qa.ingest import text as textmod
from qa.search.glossary import Glossary
from qa.search.retrieve import Hit
from qa.store.base import Store

#: at most this many remembered answers per table of a corpus view
MAX_REMEMBERED = 10_000

FEATURES = ("margin", "choice", "top_cosine", "top_lexical", "top_score", "coverage",
            "missing_idf", "absent", "typed", "unknown_terms", "missing_focus", "rare_name",
            "never_typed", "absent_entity")


@dataclass
class _CorpusView:
    """The normalised text of one index, all of it and each sentence, its words' document
    frequencies, and what was learnt of it so far (each table bounded)."""

    text: str
    sentences: list[str]
    df: Counter[str]
    chunks: int
    counts: dict[str, int] = field(default_factory=dict)  # sentences holding a name
    untyped: dict[str, bool] = field(default_factory=dict)  # see ``focus_never_typed``
    latin: dict[str, bool] = field(default_factory=dict)  # Latin word in the corpus as a word?

    def recall(self, table: dict[str, Any], key: str, work: Callable[[], Any]) -> Any:
        if key not in table:
            if len(table) >= MAX_REMEMBERED:
                table.clear()
            table[key] = work()
        return table[key]

    def idf(self, word: str) -> float:
        """The rarity of ``word`` in [0, 1] (1: in no passage)."""
        return math.log((self.chunks + 1) / (self.df.get(word, 0) + 0.5)) \
            / math.log((self.chunks + 1) / 0.5)


def _make_view(index: Store) -> _CorpusView:
    chunks = index.records()
    headings = dict.fromkeys(c.heading for c in chunks if c.heading)
    text = "\n".join(textmod.normalize(t) for t in [*headings, *(c.text for c in chunks)])
    sentences = [textmod.normalize(c.text[s - c.start : e - c.start])
                 for c in chunks for s, e in c.sentences]
    df: Counter[str] = Counter(w for words in index.word_lists() for w in set(words))
    return _CorpusView(text, sentences, df, len(chunks))


def view(index: Store) -> _CorpusView:
    """The ``_CorpusView`` of ``index``, made on first use and kept with the index."""
    return index.derive("corpus_view", _make_view)


_SALIENT = re.compile(r"[a-z0-9][a-z0-9.+%-]*[a-z0-9%+]|[a-z0-9]{2,}")
_CLAUSE = re.compile(r"[,，、;；:：]")
_LATIN_NAME = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9.-]{2,}")
#: a name is rare when at most this share of the corpus's sentences holds it
RARE_NAME = 0.1


def _known(term: str, text: str, glossary: Glossary) -> bool:
    return term.lower() in text or any(x in text for x in glossary.synonyms(term))


#: names in an English question that a Chinese text would also write in Latin letters:
#: acronyms (CEO, IPO) and terms holding a digit (GPT-4, 2024, Q3)
_ENGLISH_TERM = re.compile(r"(?<![\w-])(?:[A-Z]{2,}s?(?![\w-])|[A-Za-z]+-?\d(?:[\w.-]*\w)?(?![\w-])"
                           r"|\d+(?:\.\d+)?)")
#: capitalised words of an English question, not its first (names: "Sam Altman", "Azure")
_PROPER = re.compile(r"(?<=[a-z,;:'’] )[A-Z][A-Za-z0-9]+(?:[ -][A-Z][A-Za-z0-9]+)*(?![\w-])")
_CALENDAR = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|"
                       r"sat|sun)", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[a-z][a-z0-9'-]+")


def _unknown_english(question: str, text: str, glossary: Glossary) -> bool:
    """Whether an English question names an acronym, a term with a digit or a name the corpus
    holds in no form ("Sam Altman", "GPT-5"), or none of its words reaches the corpus."""
    q = textmod.normalize(question)
    plain = re.sub(r"(?<=\d),(?=\d{3})", "", question)  # 1,000 -> 1000
    if any(not _known(t, text, glossary) for t in _ENGLISH_TERM.findall(plain)):
        return True
    if any(not _CALENDAR.match(n) and not _known(n, text, glossary)
           and not any(x in text for x in glossary.expansions(n))
           for n in _PROPER.findall(question)):
        return True
    latin = [w for w in _LATIN_WORD.findall(q) if w not in textmod.STOP_WORDS]
    return not (glossary.expansions(q) or any(w in text for w in latin))


def unknown_terms(question: str, index: Store, glossary: Glossary) -> float:
    """1.0 when a question names a number or Latin term, or a company, that the corpus holds in
    no glossary form ("2024", "gpt-4", 特斯拉; in English, also a name or acronym), else 0.0."""
    q = textmod.normalize(question)
    text = view(index).text
    if not textmod.is_chinese(q):
        return float(_unknown_english(question, text, glossary))
    if any(not _known(t, text, glossary) for t in _SALIENT.findall(q)):
        return 1.0
    return float(any(not any(t in text for t in g) for g in glossary.named(q)))


def absent_entity(question: str, index: Store, glossary: Glossary) -> float:
    """1.0 when a name the question is about (``asks.question_entities``: a person, place,
    organisation or model number) occurs nowhere in the corpus in any glossary form, else 0.0
    ("苹果公司投资了OpenAI吗?" of a corpus that never names 苹果)."""
    text = view(index).text
    return float(any(not _known(e, text, glossary) for e in question_entities(question)))


def unknown_organisation(question: str, index: Store, glossary: Glossary) -> bool:
    """Whether the question names an organisation by its suffix ("苹果公司", "华西医院"), or a
    glossary name by one of its formal forms ("苹果为什么…"), that the corpus names nowhere in
    those forms: then it is refused whatever the fitted model says (on the public sets this
    fired on 1 answerable question of 8,400: 胡充华为什么 holds 华为)."""
    text = view(index).text
    if any(not any(f in text for f in (n, *formal_names(glossary.synonyms(n))))
           for n in organisation_names(question)):
        return True
    q = textmod.normalize(question)  # a glossary name asked by one of its formal forms
    return textmod.is_chinese(q) and any(
        any(f in q for f in formal) and not any(f in text for f in formal)
        for formal in map(formal_names, glossary.named(q)))


def formal_names(forms: tuple[str, ...]) -> tuple[str, ...]:
    """The forms of a glossary group that name its entity itself: the Chinese forms up to the
    first English one and that one (苹果公司, 苹果, apple), not the products and nicknames after
    it (iphone, 水果公司), which a corpus may mention without naming the company."""
    out = []
    for f in forms:
        out.append(f)
        if f.isascii():
            break
    return tuple(out)


def missing_focus(question: str, index: Store, glossary: Glossary) -> float:
    """1.0 when what a Chinese question asks about ("…的创始人是谁?") or the measure it asks the
    value of ("…怎么收费?") never occurs in the corpus in any glossary form, else 0.0."""
    q = textmod.normalize(question)
    if not textmod.is_chinese(q):
        return 0.0
    text = view(index).text
    wanted = asked_about(q) + measures(q, expected_type(q))
    return float(any(not _known(w, text, glossary) for w in wanted))


def focus_never_typed(question: str, index: Store, glossary: Glossary) -> float:
    """1.0 when the corpus mentions what a question asking for a value measures, but never in a
    sentence holding a value of that kind, else 0.0."""
    kind = expected_type(question)
    v = view(index)
    out = 0.0
    for w in typed_focus(question, kind, glossary):
        never = v.recall(v.untyped, f"{kind}:{w}",
                         lambda w=w: _never_typed(v, kind, w, glossary))
        out = max(out, float(never))
    return out


def _never_typed(v: _CorpusView, kind: str | None, word: str, glossary: Glossary) -> bool:
    forms = {word.lower(), *glossary.synonyms(word), *glossary.expansions(word)}
    with_focus = [s for s in v.sentences if any(f in s for f in forms)]
    if kind == "name":  # named beside it: in its clause
        with_focus = [c for s in with_focus for c in _CLAUSE.split(s) if any(f in c for f in forms)]
    return bool(with_focus) and not any(type_match(kind, s, glossary) for s in with_focus)


def _question_names(question: str, index: Store, glossary: Glossary) -> set[str]:
    """Glossary names in ``question`` as the corpus writes them, and Latin words of three
    letters or more that the corpus holds as words."""
    q = textmod.normalize(question)
    v = view(index)
    out = {t for t in _LATIN_NAME.findall(q) if t not in textmod.STOP_WORDS and v.recall(
        v.latin, t, lambda t=t: re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", v.text)
        is not None)}
    for group in glossary.named(q):
        out |= {next((t for t in group if t in v.text), "")} - {""}
    return out


def rare_name_missing(question: str, sentence: str, index: Store, glossary: Glossary) -> float:
    """1.0 when ``question`` names something the corpus mentions rarely that the answer
    ``sentence`` does not name, else 0.0."""
    s = textmod.normalize(sentence)
    v = view(index)

    def share(name: str) -> float:
        n = v.recall(v.counts, name, lambda: sum(name in x for x in v.sentences))
        return n / max(1, len(v.sentences))

    return float(any(n not in s and share(n) <= RARE_NAME
                     for n in _question_names(question, index, glossary)))


def coverage(question: str, passage: str, index: Store) -> tuple[float, float, float]:
    """How much of the question ``passage`` holds: the rarity-weighted share of the question's
    words in it, the rarity of the rarest word it lacks, and the share of the question's words
    the whole corpus lacks."""
    v = view(index)
    words = [w for w in dict.fromkeys(textmod.words(question)) if len(w) >= 2 or not w.isascii()]
    if not words:
        return 1.0, 0.0, 0.0
    p = textmod.normalize(passage)
    idf = {w: v.idf(w) for w in words}
    held = sum(idf[w] for w in words if w in p)
    missing = max((idf[w] for w in words if w not in p), default=0.0)
    absent = sum(w not in v.text for w in words) / len(words)
    return held / (sum(idf.values()) or 1.0), missing, absent


def features(question: str, index: Store, glossary: Glossary, hits: list[Hit],
             chosen: Candidate, top_score: float, cos_range: tuple[float, float]
             ) -> dict[str, float]:
    """The ``FEATURES`` of the answer ``chosen`` for ``question`` (``top_score``: the best
    fused score a passage can get)."""
    top = hits[0]
    c = chosen.hit.chunk
    held, missing, absent = coverage(question, f"{c.heading}\n{c.text}", index)
    kind = expected_type(question)
    return {
        "margin": max(-1.0, min(1.0, chosen.scores.get("margin", 0.0) / 10)),
        "choice": chosen.scores.get("choice", 1.0),
        "top_cosine": cos01(top.sentence, cos_range),
        "top_lexical": top.lexical,
        "top_score": min(1.0, top.score / top_score),
        "coverage": held,
        "missing_idf": missing,
        "absent": absent,
        "typed": float(kind in (None, "reason") or chosen.typed),
        "unknown_terms": unknown_terms(question, index, glossary),
        "missing_focus": missing_focus(question, index, glossary),
        "rare_name": rare_name_missing(question, chosen.text, index, glossary),
        "never_typed": focus_never_typed(question, index, glossary),
        "absent_entity": absent_entity(question, index, glossary),
    }
