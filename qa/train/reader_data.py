"""The reader's training examples: paragraphs of SQuAD-format sets cut into the windows the
reader sees at run time, labelled with the answer's tokens or "no answer" (``ExampleMaker``),
cloze questions made from the paragraphs themselves, and length-bucketed batches."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.eval.squad import Article, Question
from qa.ingest import text as textmod
from qa.models.reader import MAX_LENGTH, MAX_QUESTION


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a fit article, cut into sentences, with the questions asked of it."""

    article: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Example:
    ids: list[int]
    types: list[int]
    start: int  # token of the answer's start, 0 for "no answer"
    end: int


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


def grow(sentences: tuple[tuple[int, int], ...], first: int, last: int, chars: int,
         rng: random.Random, allowed: range | None = None) -> tuple[int, int]:
    """Sentence indices [first, last] widened at random, one neighbour at a time, while the
    window stays within ``chars`` characters (and within ``allowed``)."""
    allowed = allowed or range(len(sentences))
    while True:
        options = []
        if first - 1 in allowed and sentences[last][1] - sentences[first - 1][0] <= chars:
            options.append((first - 1, last))
        if last + 1 in allowed and sentences[last + 1][1] - sentences[first][0] <= chars:
            options.append((first, last + 1))
        if not options:
            return first, last
        first, last = rng.choice(options)


class ExampleMaker:
    """Samples training windows (see the module docstring) and tokenizes them."""

    def __init__(self, tokenizer: Any, paragraphs: list[Paragraph], seed: int,
                 cloze: int = 0) -> None:
        import bm25s

        self.cloze = cloze
        self.tokenizer = tokenizer
        self.paragraphs = paragraphs
        self.rng = random.Random(seed)
        self.bm25 = bm25s.BM25()
        self.bm25.index([textmod.bigrams(p.text) or [""] for p in paragraphs],
                        show_progress=False)

    def window_chars(self) -> int:
        return self.rng.choice([0, 0, 80, 160, 240, 320, 480])

    def other_article(self, q: Question, article: int, k: int = 8) -> Paragraph | None:
        tokens = textmod.bigrams(q.text)
        if not tokens:
            return None
        scores = self.bm25.get_scores(tokens)
        for i in np.argsort(-scores)[:k]:
            p = self.paragraphs[int(i)]
            if p.article != article and not any(g in p.text for g in q.answers):
                return p
        return None

    def encode(self, question: str, context: str, span: tuple[int, int] | None
               ) -> Example | None:
        q = self.tokenizer.encode(question, add_special_tokens=False)
        q_text = question[: q.offsets[min(len(q.ids), MAX_QUESTION) - 1][1]] if q.ids else question
        enc = self.tokenizer.encode(q_text, context)
        if len(enc.ids) > MAX_LENGTH:
            return None
        start = end = 0
        if span is not None:
            toks = [i for i, (s, o) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True))
                    if s == 1 and o[0] < span[1] and o[1] > span[0]]
            if not toks:
                return None
            start, end = toks[0], toks[-1]
        return Example(enc.ids, enc.type_ids, start, end)

    def positive(self, p: Paragraph, q: Question, span: tuple[int, int]) -> Example | None:
        hold = [i for i, (s, e) in enumerate(p.sentences) if s < span[1] and e > span[0]]
        if not hold:
            return None
        for chars in (self.window_chars(), 0):
            first, last = grow(p.sentences, hold[0], hold[-1], chars, self.rng)
            s0 = p.sentences[first][0]
            ex = self.encode(q.text, p.text[s0 : p.sentences[last][1]],
                             (span[0] - s0, span[1] - s0))
            if ex is not None:
                return ex
        return None

    def negative(self, p: Paragraph, q: Question, avoid: set[int]) -> Example | None:
        """A window of ``p`` outside the sentences ``avoid``, around the sentence sharing most
        bigrams with the question half the time; None when the gold answer is in it anyway."""
        free = [i for i in range(len(p.sentences)) if i not in avoid]
        if not free:
            return None
        if self.rng.random() < 0.5:
            want = set(textmod.bigrams(q.text))
            seed = max(free, key=lambda i: len(want & set(textmod.bigrams(
                p.text[p.sentences[i][0] : p.sentences[i][1]]))))
        else:
            seed = self.rng.choice(free)
        run = range(seed, seed + 1)
        while run.start - 1 in free and run.start - 1 >= 0:
            run = range(run.start - 1, run.stop)
        while run.stop in free:
            run = range(run.start, run.stop + 1)
        first, last = grow(p.sentences, seed, seed, self.window_chars(), self.rng, run)
        context = p.text[p.sentences[first][0] : p.sentences[last][1]]
        if any(g in context for g in q.answers):
            return None
        return self.encode(q.text, context, None)

    def epoch(self) -> list[Example]:
        out: list[Example | None] = []
        for p in self.paragraphs:
            for q in p.questions:
                span = answer_span(p, q)
                if span is None:
                    continue
                out.append(self.positive(p, q, span))
                hold = {i for i, (s, e) in enumerate(p.sentences) if s < span[1] and e > span[0]}
                out.append(self.negative(p, q, hold))
                if self.rng.random() < 0.5 and (other := self.other_article(q, p.article)):
                    out.append(self.negative(other, q, set()))
            for q in cloze_questions(p, self.cloze, self.rng):
                out.append(self.positive(p, q, (q.answer_start, q.answer_start + len(q.answers[0]))))
        examples = [e for e in out if e is not None]
        self.rng.shuffle(examples)
        return examples


#: spans a cloze question asks for, with the question word that replaces them
_CLOZE = (
    (re.compile(r"(?:1[0-9]|20)\d\d年(?:\d{1,2}月(?:\d{1,2}日)?)?"), "什么时候"),
    (re.compile(r"\d[\d,.]*\s*(?:万亿|亿|万|千|百)?\s*(?:美元|元|人|个|年|公里|米|次|名|位|种|座)"),
     "多少"),
    (re.compile(r"《[^》]{1,20}》"), "哪部作品"),
    (re.compile(r"[A-Za-z][A-Za-z .&-]{2,30}[A-Za-z]"), "什么"),
)


def cloze_questions(p: Paragraph, n: int, rng: random.Random) -> list[Question]:
    """Up to ``n`` made-up questions about ``p``: a sentence of it with a date, number, title,
    Latin name or rarer word replaced by a question word ("1988年" -> "什么时候"), answered
    by what was replaced (self-supervision in the style of cloze translation)."""
    out: list[Question] = []
    spans = [(s, e) for s, e in p.sentences if 12 <= e - s <= 150]
    for s, e in rng.sample(spans, min(n, len(spans))):
        sentence = p.text[s:e]
        found = [(m.start(), m.end(), word) for pattern, word in _CLOZE
                 for m in pattern.finditer(sentence)]
        if not found:
            words = [w for w in textmod.jieba_words(sentence) if len(w) >= 2
                     and w not in textmod.STOP_WORDS and textmod.is_chinese(w)]
            if not words:
                continue
            w = rng.choice(words)
            found = [(sentence.index(w), sentence.index(w) + len(w), "什么")]
        a, b, word = rng.choice(found)
        question = (sentence[:a] + word + sentence[b:]).rstrip("。！？；!?;，, ") + "？"
        out.append(Question(f"cloze-{p.article}-{s}", question, (sentence[a:b],), "", 0, s + a))
    return out


#: batch widths are padded to a multiple of this: few distinct shapes, so oneDNN's bfloat16
#: kernels (compiled per shape) are reused instead of made anew at nearly every step
WIDTH_STEP = 64


def batches(examples: list[Example], size: int) -> list[dict[str, Any]]:
    """Padded torch batches of similar lengths (widths rounded up to ``WIDTH_STEP``)."""
    import torch

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].ids))
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    random.Random(len(examples)).shuffle(groups)
    out = []
    for g in groups:
        width = -(-max(len(examples[i].ids) for i in g) // WIDTH_STEP) * WIDTH_STEP
        ids = torch.zeros((len(g), width), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(g):
            n = len(examples[i].ids)
            ids[row, :n] = torch.tensor(examples[i].ids)
            types[row, :n] = torch.tensor(examples[i].types)
            mask[row, :n] = 1
        out.append({"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
                    "start_positions": torch.tensor([examples[i].start for i in g]),
                    "end_positions": torch.tensor([examples[i].end for i in g])})
    return out
