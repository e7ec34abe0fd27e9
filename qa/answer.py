"""Turn retrieval hits into an ``Answer``: cited passages, the answering sentence, and whether
the corpus answers the question at all.

The answer sentence is the sentence of the top passages that best matches the question: its
cosine to the question (sentence vectors come from the index) plus its share of the question's
character bigrams, with a small preference for the better-ranked passage. ``found`` is
``confidence >= threshold``, where confidence blends the best sentence cosine and the lexical
coverage of the top passage; the threshold was calibrated on answerable and unanswerable
questions (see README, "Quality").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from . import text as textmod
from .index import Index
from .retrieve import RRF_K, Hit, Query, Weights

NO_ANSWER = "未找到可靠答案：语料中没有能回答这个问题的内容。以下是最接近的段落（仅供参考，匹配较弱）。"
#: cosine range over which m3e similarities are spread out (below: unrelated; above: same).
COS_LOW, COS_HIGH = 0.70, 0.90
#: answer-sentence scoring: share of the previous sentence's BM25 carried over, bonus for the
#: kind of answer asked for, penalty per passage rank (tuned on the dev split)
CARRY, TYPE_BONUS, RANK_PENALTY = 0.0, 0.2, 0.15
#: "first" questions take the earliest sentence scoring within this margin of the best
FIRST_MARGIN = 0.5
_FIRST = re.compile(r"第一次|首次|最早|最初|头一回|头一次|起初|\bfirst\b|\bearliest\b|\binitial")


@dataclass(frozen=True)
class Passage:
    """A cited passage: ``text == document_text[start:end]`` of ``source``."""

    text: str
    source: str
    start: int
    end: int
    score: float
    citation: str
    paragraph: int
    page: int | None = None
    heading: str = ""


@dataclass
class Answer:
    """The reply to one question. ``text`` is the answering sentence (or a no-answer note)."""

    question: str
    found: bool
    text: str
    passages: list[Passage] = field(default_factory=list)
    confidence: float = 0.0
    #: where ``text`` sits: (source, start, end), or None when nothing was found
    span: tuple[str, int, int] | None = None
    generation: str = ""

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        return d


def citation(n: int, source: str, paragraph: int, start: int, end: int,
             page: int | None = None) -> str:
    """Human label of a passage: ``[1] file.txt · 第3段 · 字符 53–227``."""
    where = f" · 第{page}页" if page else ""
    return f"[{n}] {source}{where} · 第{paragraph}段 · 字符 {start}–{end}"


def _cos01(cos: float) -> float:
    return float(np.clip((cos - COS_LOW) / (COS_HIGH - COS_LOW), 0.0, 1.0))


_SALIENT = re.compile(r"[a-z0-9][a-z0-9.+%-]*[a-z0-9%+]|[a-z0-9]{2,}")
_corpus_text: dict[str, str] = {}


def corpus_text(index: Index) -> str:
    """The normalised text of every chunk of ``index``, for "is this term in the corpus?"."""
    key = index.generation or str(id(index))
    if key not in _corpus_text:
        _corpus_text.clear()
        _corpus_text[key] = "\n".join(textmod.normalize(c.text) for c in index.chunks)
    return _corpus_text[key]


def unknown_terms(question: str, index: Index, context: str = "") -> float:
    """1.0 when a Chinese question is about something the corpus never mentions, else 0.0:
    it names a number or Latin term absent from the corpus ("2024", "gpt-4", "ceo"), or none
    of the content words of ``context`` (the searched text: the question, expanded, with the
    earlier question for a follow-up) occurs in it ("2022年世界杯冠军是哪个国家?"). Mostly
    English questions return 0: their words are not expected in a Chinese corpus."""
    q = textmod.normalize(question)
    if not textmod.is_chinese(q):
        return 0.0
    text = corpus_text(index)
    if any(t not in text for t in _SALIENT.findall(q)):
        return 1.0
    words = [w for w in textmod.words(context or question) if len(w) >= 2 and not w.isdigit()]
    return float(bool(words) and all(w not in text for w in words))


def features(hits: list[Hit], question: str, index: Index, top_score: float,
             sentence: str, context: str = "") -> list[float]:
    """What ``confidence`` weighs: best sentence cosine (scaled), bigram coverage of the top
    passage, its fused score (scaled), ``unknown_terms``, and whether the chosen answer
    ``sentence`` holds the kind of fact asked for (a date for 哪年, a number for 多少; always
    1 for other questions)."""
    top = hits[0]
    kind = expected_type(question)
    typed = kind in (None, "reason") or type_match(kind, sentence)
    return [_cos01(top.sentence), top.lexical, min(1.0, top.score / top_score),
            unknown_terms(question, index, context), float(typed)]


#: logistic weights of ``features`` (+ bias), fitted on the dev split by bench/calibrate.py
CONFIDENCE_WEIGHTS = (1.135, 0.32, 0.027, -1.709, 1.757, -2.059)


def confidence(hits: list[Hit], question: str, index: Index, top_score: float,
               sentence: str, context: str = "") -> float:
    """Probability-like score in [0, 1] that ``sentence`` of the top passages answers the
    question (see ``features``)."""
    x = features(hits, question, index, top_score, sentence, context)
    z = CONFIDENCE_WEIGHTS[-1] + sum(w * v for w, v in zip(CONFIDENCE_WEIGHTS, x, strict=False))
    return float(1.0 / (1.0 + np.exp(-z)))


#: What a question asks for, recognised from its wording, and what a sentence answering it holds.
ANSWER_TYPES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("time", re.compile(r"什么时候|何时|哪年|哪一年|几月|哪个月|哪天|日期|\bwhen\b|what year|which year"),
     re.compile(r"\d{4}年|\d{1,2}月|\d{4}-\d{2}|年底|年初|上半年|下半年")),
    ("share", re.compile(r"比例|百分之|多少%|几成|percent|percentage|\bshare of\b"),
     re.compile(r"\d+(?:\.\d+)?%|百分之|成")),
    ("amount", re.compile(r"多少钱|多少美元|多少元|多少资金|金额|估值|市值|成本|花费|开销|营收|收入|利润|"
                          r"how much|\bcost\b|\bworth\b|valuation|revenue"),
     re.compile(r"\d[\d.,]*\s*(?:万亿|亿|万|千)?(?:美元|元|人民币)|\d[\d.,]*\s*(?:万亿|亿)")),
    ("count", re.compile(r"多少|几[家个起次项种款位名条]|how many|number of"),
     re.compile(r"\d|[一二三四五六七八九十两几]+[家个起次项种款位名条]")),
    ("reason", re.compile(r"为什么|为何|为啥|原因|怎么会|\bwhy\b"),
     re.compile(r"因为|由于|为了|需要|亟需|旨在|从而|原因|因此|所以|导致|目的|是.{0,6}的结果")),
)


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for (time, share, amount, count, reason) or None."""
    q = question.lower()
    for name, asks, _ in ANSWER_TYPES:
        if asks.search(q):
            return name
    return None


def type_match(kind: str | None, sentence: str) -> bool:
    """Whether ``sentence`` holds the kind of answer ``kind`` asks for."""
    for name, _, holds in ANSWER_TYPES:
        if name == kind:
            return bool(holds.search(sentence))
    return False


def best_sentence(index: Index, query: Query, hits: list[Hit],
                  question: str = "") -> tuple[Hit, tuple[int, int]]:
    """The hit and absolute (start, end) of the sentence that best answers ``query``.

    A sentence scores by its cosine to the question, its bigram BM25 score (scaled to the best
    candidate; part of the previous sentence's score carries over, as "同年" leans on the year
    named there), whether it holds the kind of answer asked for (a number for 多少, a date for
    哪年), and the rank of its passage.
    """
    kind = expected_type(question or query.text)
    first = bool(_FIRST.search((question or query.text).lower()))
    top_bm25 = max((x for h in hits for x in h.sentence_bm25), default=0.0) or 1.0
    scored: list[tuple[float, int, Hit, tuple[int, int], bool]] = []
    for rank, hit in enumerate(hits):
        c = hit.chunk
        previous = 0.0
        for j, (s, e) in enumerate(c.sentences):
            typed = type_match(kind, c.text[s - c.start : e - c.start])
            lex = hit.sentence_bm25[j] / top_bm25
            score = (_cos01(hit.sentence_cos[j]) + lex + CARRY * previous
                     + (TYPE_BONUS if typed else 0.0) - RANK_PENALTY * rank)
            scored.append((score, rank, hit, (s, e), typed))
            previous = lex
    if not scored:
        raise ValueError("no sentences to choose from")
    if first:  # "第一次/首次/first": the earliest good sentence of the top passage
        best_score = max(x[0] for x in scored)
        early = [x for x in scored if x[1] == 0 and x[0] >= best_score - FIRST_MARGIN
                 and (x[4] or kind is None)]
        if early:
            pick = min(early, key=lambda x: x[3][0])
            return pick[2], pick[3]
    pick = max(scored, key=lambda x: x[0])
    return pick[2], pick[3]


def make_answer(question: str, index: Index, query: Query, hits: list[Hit],
                threshold: float, weights: Weights = Weights()) -> Answer:
    """Build the ``Answer`` for ``question`` from its ranked hits."""
    top_score = weights.total() / (RRF_K + 1)
    passages = [
        Passage(text=h.chunk.text, source=h.chunk.source, start=h.chunk.start, end=h.chunk.end,
                score=round(min(1.0, h.score / top_score), 4),
                citation=citation(n, h.chunk.source, h.chunk.paragraph, h.chunk.start,
                                  h.chunk.end, h.chunk.page),
                paragraph=h.chunk.paragraph, page=h.chunk.page, heading=h.chunk.heading)
        for n, h in enumerate(hits, 1)
    ]
    answer = Answer(question=question, found=False, text=NO_ANSWER, passages=passages,
                    generation=index.generation)
    if not hits:
        return answer
    hit, (s, e) = best_sentence(index, query, hits[:3], question)
    sentence = hit.chunk.text[s - hit.chunk.start : e - hit.chunk.start]
    answer.confidence = round(
        confidence(hits, question, index, top_score, sentence, query.text), 4)
    answer.found = answer.confidence >= threshold
    if answer.found:
        answer.text = sentence
        answer.span = (hit.chunk.source, s, e)
    return answer
