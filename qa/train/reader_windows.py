"""The reader's windows: a question and a stretch of a whole passage, as the published readers
cut them (``max_length`` tokens, windows ``stride`` tokens apart), each labelled with the
answer's tokens and its kind: a span, YES, NO, or nothing here (SQuAD 2.0's null answer, as in
CAIL2019's baselines).

``Layout`` says how a base joins question and context (BERT: ``[CLS] q [SEP] c [SEP]`` with
token types 0/1; XLM-R, the e5: ``<s> q </s></s> c </s>`` with types 0), so training builds
exactly the ids the runtime tokenizer's pair template builds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa.eval.squad import Question
from qa.models.reader import MAX_QUESTION
from qa.train.reader_data import Paragraph, answer_span

#: what a window answers: a span of it, yes, no, or nothing
KINDS = ("span", "yes", "no", "null")
SPAN, YES, NO, NULL = range(4)


@dataclass(frozen=True)
class Layout:
    """Special tokens around the question and the context, and the context's token type."""

    head: tuple[int, ...]
    middle: tuple[int, ...]
    tail: tuple[int, ...]
    context_type: int

    @classmethod
    def bert(cls, tokenizer: Any) -> Layout:
        cls_id, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        return cls((cls_id,), (sep,), (sep,), 1)

    @classmethod
    def xlmr(cls, bos: int, eos: int) -> Layout:
        return cls((bos,), (eos, eos), (eos,), 0)


@dataclass(frozen=True)
class Window:
    """One model input: ids, token types, each token's character span in the context
    ((-1, -1) outside it), the answer's first and last token (0, 0: none) and its kind."""

    ids: list[int]
    types: list[int]
    offsets: list[tuple[int, int]]
    start: int = 0
    end: int = 0
    kind: int = NULL


def question_ids(tokenizer: Any, question: str) -> list[int]:
    return tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION]


def windows(tokenizer: Any, layout: Layout, question: str, context: str, max_length: int,
            stride: int) -> list[Window]:
    """Every window of ``context`` for ``question`` (unlabelled): ``max_length`` tokens at most,
    each starting ``stride`` context tokens after the last, the last reaching the end."""
    q = question_ids(tokenizer, question)
    c = tokenizer.encode(context, add_special_tokens=False)
    room = max_length - len(q) - len(layout.head) - len(layout.middle) - len(layout.tail)
    room = max(16, room)
    head = [*layout.head, *q, *layout.middle]
    out: list[Window] = []
    first = 0
    while True:
        last = min(len(c.ids), first + room)
        ids = [*head, *c.ids[first:last], *layout.tail]
        types = [0] * len(head) + [layout.context_type] * (last - first + len(layout.tail))
        offsets = ([(-1, -1)] * len(head) + list(c.offsets[first:last])
                   + [(-1, -1)] * len(layout.tail))
        out.append(Window(ids, types, offsets))
        if last >= len(c.ids):
            return out
        first += stride


def labelled(w: Window, span: tuple[int, int] | None, kind: int) -> Window:
    """``w`` labelled: a span kind with the tokens covering ``span`` when they all lie in the
    window, else null; yes/no/null as given."""
    if kind != SPAN:
        return Window(w.ids, w.types, w.offsets, 0, 0, kind)
    assert span is not None
    toks = [i for i, (s, e) in enumerate(w.offsets) if s >= 0 and s < span[1] and e > span[0]]
    inside = [i for i, (s, e) in enumerate(w.offsets) if s >= 0]
    if not toks or not inside or w.offsets[inside[0]][0] > span[0] \
            or w.offsets[inside[-1]][1] < span[1]:
        return Window(w.ids, w.types, w.offsets, 0, 0, NULL)
    return Window(w.ids, w.types, w.offsets, toks[0], toks[-1], SPAN)


def question_kind(q: Question) -> int:
    if q.yes_no == "YES":
        return YES
    if q.yes_no == "NO":
        return NO
    return NULL if q.impossible or not q.answers else SPAN


class WindowMaker:
    """An epoch's labelled training windows: every window of each question's paragraph (a share
    ``keep_null`` of those without the answer), and for a share ``others`` of span questions
    one window of another article's paragraph that BM25 ranks high, labelled null."""

    def __init__(self, tokenizer: Any, layout: Layout, paragraphs: list[Paragraph],
                 max_length: int, stride: int, keep_null: float = 0.3, others: float = 0.2
                 ) -> None:
        import bm25s

        from qa.ingest import text as textmod

        self.tokenizer, self.layout = tokenizer, layout
        self.paragraphs, self.max_length, self.stride = paragraphs, max_length, stride
        self.keep_null, self.others = keep_null, others
        self._bigrams = textmod.bigrams
        self.bm25 = bm25s.BM25()
        self.bm25.index([textmod.bigrams(p.text) or [""] for p in paragraphs],
                        show_progress=False)

    def other_paragraph(self, q: Question, article: int, k: int = 8) -> Paragraph | None:
        import numpy as np

        tokens = self._bigrams(q.text)
        if not tokens:
            return None
        scores = self.bm25.get_scores(tokens)
        for i in np.argsort(-scores)[:k]:
            p = self.paragraphs[int(i)]
            if p.article != article and not any(g in p.text for g in q.answers):
                return p
        return None

    def for_question(self, p: Paragraph, q: Question, rng: random.Random) -> Iterator[Window]:
        kind = question_kind(q)
        span = answer_span(p, q) if kind == SPAN else None
        if kind == SPAN and span is None:
            return
        for w in windows(self.tokenizer, self.layout, q.text, p.text, self.max_length,
                         self.stride):
            lab = labelled(w, span, kind)
            if lab.kind == NULL and kind == SPAN and rng.random() > self.keep_null:
                continue
            yield lab
        if kind == SPAN and rng.random() < self.others \
                and (other := self.other_paragraph(q, p.article)) is not None:
            ws = windows(self.tokenizer, self.layout, q.text, other.text, self.max_length,
                         self.stride)
            yield labelled(rng.choice(ws), None, NULL)

    def epoch(self, seed: int) -> list[Window]:
        """The windows of one epoch, shuffled; the same ``seed`` gives the same list."""
        rng = random.Random(seed)
        out = [w for p in self.paragraphs for q in p.questions
               for w in self.for_question(p, q, rng)]
        rng.shuffle(out)
        return out


def batches(items: list[Window], size: int) -> list[list[Window]]:
    """Batches of similar lengths, in an order fixed by the list (so a resumed run replays
    it): sorted by length within runs of 50 batches, then the batches shuffled."""
    out: list[list[Window]] = []
    block = size * 50
    for b in range(0, len(items), block):
        chunk = sorted(items[b : b + block], key=lambda w: len(w.ids))
        out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    random.Random(len(items)).shuffle(out)
    return out


def tensors(batch: list[Window], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(w.ids) for w in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, w in enumerate(batch):
        n = len(w.ids)
        ids[row, :n] = torch.tensor(w.ids)
        types[row, :n] = torch.tensor(w.types)
        mask[row, :n] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
            "start": torch.tensor([w.start for w in batch]),
            "end": torch.tensor([w.end for w in batch]),
            "kind": torch.tensor([w.kind for w in batch])}
