"""Whether the corpus answers a question at all. A question about something the corpus never
mentions, or naming a rare name its answer sentence lacks, is ``vetoed``; any other gets a
logistic blend of ``features`` of the top passages and the answer sentence (how close they are,
whether the sentence holds the kind of answer asked for, whether what is measured ever appears
beside such a value), with weights and threshold fitted by bench/calibrate.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import text as textmod
from .asks import asked_about, expected_type, measures, type_match, typed_focus
from .config import COS_RANGES
from .glossary import expansions, named, synonyms
from .index import Index
from .retrieve import Hit


def cos01(cos: float, cos_range: tuple[float, float] = COS_RANGES["m3e"]) -> float:
    """A cosine rescaled from ``cos_range`` (the model's, ``qa.config.cos_range``) to
    [0, 1]."""
    low, high = cos_range
    return float(np.clip((cos - low) / (high - low), 0.0, 1.0))


#: at most this many (kind, word) answers of ``focus_never_typed`` are kept per index
MAX_REMEMBERED = 10_000


@dataclass
class _CorpusView:
    """The normalised text of one index, all of it and each sentence, and what was learnt of
    it so far (each bounded by ``MAX_REMEMBERED``)."""

    text: str
    sentences: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # sentences holding a name
    untyped: dict[str, bool] = field(default_factory=dict)  # see ``focus_never_typed``
    words: dict[str, bool] = field(default_factory=dict)  # Latin word in the corpus as a word?

    def recall(self, table: dict[str, Any], key: str, work: Callable[[], Any]) -> Any:
        """``table[key]``, worked out by ``work()`` the first time (``table`` is emptied when
        it holds ``MAX_REMEMBERED`` entries)."""
        if key not in table:
            if len(table) >= MAX_REMEMBERED:
                table.clear()
            table[key] = work()
        return table[key]


def _make_view(index: Index) -> _CorpusView:
    headings = dict.fromkeys(c.heading for c in index.chunks if c.heading)
    text = "\n".join(textmod.normalize(t) for t in [*headings, *(c.text for c in index.chunks)])
    sentences = [textmod.normalize(c.text[s - c.start : e - c.start])
                 for c in index.chunks for s, e in c.sentences]
    return _CorpusView(text, sentences)


def _view(index: Index) -> _CorpusView:
    """The ``_CorpusView`` of ``index``, made on first use and kept with the index."""
    return index.derive("corpus_view", _make_view)


def corpus_text(index: Index) -> str:
    """The normalised text of every chunk of ``index`` and of the headings above them, for "is
    this term in the corpus?"."""
    return _view(index).text


_SALIENT = re.compile(r"[a-z0-9][a-z0-9.+%-]*[a-z0-9%+]|[a-z0-9]{2,}")
#: names in an English question that a Chinese text would also write in Latin letters:
#: acronyms (CEO, IPO) and terms holding a digit (GPT-4, 2024, Q3)
_ENGLISH_TERM = re.compile(r"(?<![\w-])(?:[A-Z]{2,}s?(?![\w-])|[A-Za-z]+-?\d(?:[\w.-]*\w)?(?![\w-])"
                           r"|\d+(?:\.\d+)?)")
#: capitalised words of an English question, not its first (names: "Sam Altman", "Azure")
_PROPER = re.compile(r"(?<=[a-z,;:'’] )[A-Z][A-Za-z0-9]+(?:[ -][A-Z][A-Za-z0-9]+)*(?![\w-])")
_CALENDAR = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|"
                       r"sat|sun)", re.IGNORECASE)


_LATIN_WORD = re.compile(r"[a-z][a-z0-9'-]+")


def _known(term: str, text: str) -> bool:
    """Whether the corpus ``text`` holds ``term`` or any glossary form of it (Microsoft ->
    微软)."""
    return term.lower() in text or any(x in text for x in synonyms(term))


def _unknown_name(name: str, text: str) -> bool:
    """Whether a name from an English question is absent from the corpus ``text`` in its own
    letters and in every glossary form ("Sam Altman": yes; "Microsoft" -> 微软: no)."""
    if _CALENDAR.match(name):
        return False
    return not _known(name, text) and not any(x in text for x in expansions(name))


def unknown_terms(question: str, index: Index, context: str = "") -> float:
    """1.0 when a Chinese question is about something the corpus never mentions, else 0.0:
    it names a number or Latin term absent from the corpus ("2024", "gpt-4", "ceo"), or none
    of the content words of ``context`` (the searched text: the question, expanded, with the
    earlier question for a follow-up) occurs in it ("2022年世界杯冠军是哪个国家?"), or it names a
    company the corpus never does (特斯拉). An English question counts its acronyms, terms with
    a digit ("Who is the CEO?", "GPT-4") and names the corpus holds in no form ("Sam Altman"),
    and is unknown when none of its words reaches the corpus ("hello", "The weather is nice"):
    its other words are not expected in a Chinese corpus. Terms count as known through any
    glossary form (Microsoft -> 微软)."""
    q = textmod.normalize(question)
    text = corpus_text(index)
    if not textmod.is_chinese(q):
        latin = [w for w in _LATIN_WORD.findall(q) if w not in textmod.STOP_WORDS]
        plain = re.sub(r"(?<=\d),(?=\d{3})", "", question)  # 1,000 -> 1000
        return float(any(not _known(t, text) for t in _ENGLISH_TERM.findall(plain))
                     or any(_unknown_name(n, text) for n in _PROPER.findall(question))
                     or not (expansions(q) or any(w in text for w in latin)))
    if any(not _known(t, text) for t in _SALIENT.findall(q)):
        return 1.0
    if any(not any(t in text for t in g) for g in named(q)):  # 特斯拉, 苹果: never mentioned
        return 1.0
    words = [w for w in textmod.words(context or question) if len(w) >= 2 and not w.isdigit()]
    return float(bool(words) and all(w not in text for w in words))


def missing_focus(question: str, index: Index) -> float:
    """1.0 when what a Chinese question asks about (``asked_about``: "OpenAI的创始人是谁?",
    "OpenAI的总部在哪里?"), or the measure it asks the value of (``measures``: 收费 in
    "企业版服务怎么收费?"), never occurs in the corpus, nor any glossary form of it, else 0.0."""
    q = textmod.normalize(question)
    if not textmod.is_chinese(q):
        return 0.0
    text = corpus_text(index)
    asked = asked_about(q) + measures(q, expected_type(q))
    return float(any(not _known(w, text) for w in asked))


def focus_never_typed(question: str, index: Index) -> float:
    """1.0 when the corpus mentions what a question asking for a value measures, but never in
    a sentence holding a value of that kind ("净利润具体是多少?" where 净利润 only "创下历史新高";
    "谷歌是哪一年收购DeepMind的?" where no sentence on 收购 names a year), else 0.0."""
    kind = expected_type(question)
    view = _view(index)
    out = 0.0
    for w in typed_focus(question, kind):
        never = view.recall(view.untyped, f"{kind}:{w}", lambda w=w: _never_typed(view, kind, w))
        out = max(out, float(never))
    return out


def _never_typed(view: _CorpusView, kind: str | None, word: str) -> bool:
    """Whether ``word`` (or a glossary form of it) is in some sentence of the corpus, and no
    such sentence holds a value of ``kind``."""
    forms = {word.lower(), *synonyms(word), *expansions(word)}
    with_focus = [s for s in view.sentences if any(f in s for f in forms)]
    if kind == "name":  # named beside it: in its clause ("设立新人工智能实验室," names none)
        with_focus = [c for s in with_focus for c in _CLAUSE.split(s) if any(f in c for f in forms)]
    return bool(with_focus) and not any(type_match(kind, s) for s in with_focus)


_CLAUSE = re.compile(r"[,，、;；:：]")


#: a name is rare when at most this share of the corpus's sentences holds it
RARE_NAME = 0.1
_LATIN_NAME = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9.-]{2,}")


def _sentence_share(name: str, index: Index) -> float:
    """The share of ``index``'s sentences holding ``name``."""
    view = _view(index)
    holding = view.recall(view.counts, name, lambda: sum(name in s for s in view.sentences))
    return holding / max(1, len(view.sentences))


def _corpus_word(word: str, view: _CorpusView) -> bool:
    """Whether the corpus holds the Latin ``word`` as a whole word (remembered per index)."""
    pattern = rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])"
    return view.recall(view.words, word, lambda: re.search(pattern, view.text) is not None)


def question_names(question: str, index: Index) -> set[str]:
    """The companies and products ``question`` names (glossary names, as the corpus writes
    them, and Latin words of three letters or more that the corpus also holds as words)."""
    q = textmod.normalize(question)
    view = _view(index)
    text = view.text
    out = {t for t in _LATIN_NAME.findall(q) if t not in textmod.STOP_WORDS
           and _corpus_word(t, view)}
    for group in named(q):
        out |= {next((t for t in group if t in text), "")} - {""}
    return out


def rare_name_missing(question: str, sentence: str, index: Index) -> float:
    """1.0 when ``question`` names something the corpus mentions rarely (in at most
    ``RARE_NAME`` of its sentences) that the answer ``sentence`` does not name: "亚马逊投资了哪家
    公司?" answered by a sentence about 微软 only shares the question's other words."""
    s = textmod.normalize(sentence)
    return float(any(n not in s and _sentence_share(n, index) <= RARE_NAME
                     for n in question_names(question, index)))


def vetoed(question: str, index: Index, sentence: str, context: str = "") -> bool:
    """Whether the question is about something the corpus never mentions (``unknown_terms``,
    ``missing_focus``), or names something it rarely does that the answer ``sentence`` does
    not (``rare_name_missing``): then no passage answers it, however close it looks (a few
    answerable questions are vetoed too: bench/calibrate.py counts them)."""
    return bool(unknown_terms(question, index, context) or missing_focus(question, index)
                or rare_name_missing(question, sentence, index))


def features(hits: list[Hit], question: str, index: Index, top_score: float, typed: bool,
             cos_range: tuple[float, float] = COS_RANGES["m3e"]) -> list[float]:
    """What ``confidence`` weighs, in order: the top passage's best sentence cosine (scaled),
    bigram coverage and fused score (scaled); whether the chosen answer sentence holds the
    kind of fact asked for (``typed``, as ``qa.answer.candidates`` found it: a date for 哪年,
    a number for 多少; always 1 for other questions); ``focus_never_typed``."""
    top = hits[0]
    typed = expected_type(question) in (None, "reason") or typed
    return [cos01(top.sentence, cos_range), top.lexical, min(1.0, top.score / top_score),
            float(typed), focus_never_typed(question, index)]


#: logistic weights of ``features`` (+ bias), fitted by bench/calibrate.py on the fitting
#: questions that are not ``vetoed``
CONFIDENCE_WEIGHTS = (0.408, -0.054, -0.03, 2.005, -1.559, -1.562)
#: the most confidence a ``vetoed`` question gets
VETOED = 0.1


def logistic(x: list[float]) -> float:
    """``CONFIDENCE_WEIGHTS`` applied to ``features``."""
    z = CONFIDENCE_WEIGHTS[-1] + sum(w * v for w, v in zip(CONFIDENCE_WEIGHTS[:-1], x,
                                                            strict=True))
    return float(1.0 / (1.0 + np.exp(-z)))


def confidence(hits: list[Hit], question: str, index: Index, top_score: float,
               sentence: str, typed: bool, context: str = "",
               cos_range: tuple[float, float] = COS_RANGES["m3e"]) -> float:
    """Probability-like score in [0, 1] that ``sentence`` of the top passages (``typed``: it
    holds the kind of answer asked for) answers the question: the ``logistic`` of its
    ``features``, at most ``VETOED`` when ``vetoed`` (``context``: the searched text)."""
    p = logistic(features(hits, question, index, top_score, typed, cos_range))
    return min(p, VETOED) if vetoed(question, index, sentence, context) else p
