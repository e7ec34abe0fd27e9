"""The paragraphs the reader trains and is scored on: the paragraphs of SQuAD-format
articles cut into sentences with their questions, and where a question's answer sits in its
paragraph (windows and labels: ``qa.train.reader_windows``)."""

from __future__ import annotations

from dataclasses import dataclass

from qa.eval.squad import Article, Question
from qa.ingest import text as textmod


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a fit article, cut into sentences, with the questions asked of it."""

    article: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    questions: tuple[Question, ...]


def paragraphs_of(articles: list[Article]) -> list[Paragraph]:
    out = []
    for a in articles:
        for p, text in enumerate(a.paragraphs):
            qs = tuple(q for q in a.questions if q.paragraph == p)
            out.append(Paragraph(a.number, text, tuple(textmod.sentence_spans(text)), qs))
    return out


def answer_span(p: Paragraph, q: Question) -> tuple[int, int] | None:
    """Where the first gold answer sits in the paragraph (at its given offset if it matches)."""
    if not q.answers:
        return None
    gold = q.answers[0]
    if q.answer_start >= 0 and p.text[q.answer_start : q.answer_start + len(gold)] == gold:
        return q.answer_start, q.answer_start + len(gold)
    at = p.text.find(gold)
    return (at, at + len(gold)) if at >= 0 else None
