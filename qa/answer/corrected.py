"""The answer a remembered correction gives (``qa.answer.corrections``): the corrected sentence
cited where it is, "the documents do not answer it", or an FAQ's own answer, marked
"已按反馈更正" with the correction's date; the passages are the question's own search hits,
the corrected sentence's passage first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.answer.answerer import NO_ANSWER, Answer, make_passages
from qa.answer.corrections import MARK, Correction, Match
from qa.search.retrieve import Hit, Weights
from qa.store.base import Store


@dataclass
class CorrectedAnswer(Answer):
    """An ``Answer`` given by a remembered correction: ``corrected`` says which (id, origin,
    date, the question corrected, similarity), ``note`` is the mark shown with it."""

    corrected: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def note_of(c: Correction) -> str:
    return f"{MARK}（{c.date}）" if c.date else MARK


def corrected_answer(question: str, match: Match, store: Store, hits: list[Hit],
                     weights: Weights = Weights()) -> CorrectedAnswer:
    """The answer ``match``'s correction gives to ``question``, over ``hits`` (its own search
    results, from ``store``)."""
    c = match.correction
    info = {"id": c.id, "origin": c.origin, "date": c.date, "question": c.question,
            "kind": c.kind, "similarity": round(match.score, 4)}
    if c.kind == "span" and c.span is not None:
        holder = next((x for x in store.records() if x.source == c.source
                       and x.start <= c.span[1] and c.span[2] <= x.end), None)
        if holder is not None:
            own = next((h for h in hits if h.chunk.id == holder.id), None) \
                or Hit(holder, score=0.0, dense=0.0, sentence=0.0, lexical=0.0)
            hits = [own, *(h for h in hits if h is not own)][: max(1, len(hits))]
        return CorrectedAnswer(question=question, found=True, text=c.text,
                               passages=make_passages(hits, weights), confidence=1.0,
                               span=c.span, generation=store.generation, corrected=info,
                               note=note_of(c))
    if c.kind == "text":
        return CorrectedAnswer(question=question, found=True, text=c.text,
                               passages=make_passages(hits, weights), confidence=1.0,
                               generation=store.generation, corrected=info, note=note_of(c))
    return CorrectedAnswer(question=question, found=False, text=NO_ANSWER,
                           passages=make_passages(hits, weights), confidence=0.0,
                           generation=store.generation, corrected=info, note=note_of(c))
