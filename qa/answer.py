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

from dataclasses import asdict, dataclass, field

import numpy as np

from . import text as textmod
from .index import Index
from .retrieve import RRF_K, Hit, Query, Weights, lexical_coverage

NO_ANSWER = "未找到可靠答案：语料中没有能回答这个问题的内容。以下是最接近的段落（仅供参考，匹配较弱）。"
#: cosine range over which m3e similarities are spread out (below: unrelated; above: same).
COS_LOW, COS_HIGH = 0.70, 0.90


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


def confidence(hit: Hit) -> float:
    """How sure we are that the top hit answers the question, in [0, 1]."""
    return 0.5 * _cos01(hit.sentence) + 0.5 * hit.lexical


def best_sentence(index: Index, query: Query, hits: list[Hit]) -> tuple[Hit, tuple[int, int]]:
    """The hit and absolute (start, end) of the sentence that best answers ``query``."""
    best: tuple[float, Hit, tuple[int, int]] | None = None
    for rank, hit in enumerate(hits):
        c = hit.chunk
        row = int(index.sentence_row[c.id])
        for j, (s, e) in enumerate(c.sentences):
            sent = c.text[s - c.start : e - c.start]
            cos = float(index.sentence_vectors[row + j] @ query.vector)
            lex = lexical_coverage(query.bigrams, textmod.bigrams(sent))
            score = _cos01(cos) + lex - 0.1 * rank
            if best is None or score > best[0]:
                best = (score, hit, (s, e))
    assert best is not None
    return best[1], best[2]


def make_answer(question: str, index: Index, query: Query, hits: list[Hit],
                threshold: float, weights: Weights = Weights()) -> Answer:
    """Build the ``Answer`` for ``question`` from its ranked hits."""
    top_score = (weights.dense + weights.sentence + weights.words + weights.bigrams) / (RRF_K + 1)
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
    answer.confidence = round(confidence(hits[0]), 4)
    answer.found = answer.confidence >= threshold
    if answer.found:
        hit, (s, e) = best_sentence(index, query, hits[:3])
        answer.text = hit.chunk.text[s - hit.chunk.start : e - hit.chunk.start]
        answer.span = (hit.chunk.source, s, e)
    return answer
