"""Turn retrieval hits into an ``Answer``: cited passages, the sentence that answers, the short
phrase inside it, and whether the corpus answers the question at all.

``Answerer.answer`` ranks every sentence of the top passages with the fitted sentence model
(``qa.answer.candidates`` measures, ``qa.answer.rankers`` weighs), lets the reader (``qa.models.reader``) read the
best few in their context, picks the sentence by the fitted final model (its sentence score
and the reader's margin), takes the reader's span in it as the short answer when the margin is
high enough, and decides ``found`` with the fitted found model (``qa.answer.confidence``). Nothing is
written: every word shown is in the corpus, at the offsets given.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from qa.answer.asks import asks_yes_no, expected_type, typed_span, verdict
from qa.answer.candidates import Candidate, candidates, window
from qa.answer.confidence import features as found_features
from qa.answer.confidence import unknown_organisation
from qa.answer.rankers import Rankers
from qa.ingest import metadata
from qa.models.reader import Reader
from qa.search.glossary import Glossary
from qa.search.retrieve import Hit, Query, Weights
from qa.store.base import Store

NO_ANSWER = "未找到可靠答案：语料中没有能回答这个问题的内容。以下是最接近的段落（仅供参考，匹配较弱）。"
#: sentences of this many top passages are candidates
PASSAGES = 3
#: the reader reads a candidate with its neighbours, within this many characters (80 against
#: 160: sentence +1.7 / +1.3 points, F1 +2.2 / +3.5 on the CMRC / DRCD report articles, half
#: the reader's time; docs/performance.md)
WINDOW = 80


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
    #: the knowledge base of ``source`` ("default" unless the engine serves another)
    kb: str = ""
    #: where it is in a converted file: "表1 第2行", "工作表「报价」第5行", "第4张幻灯片" …
    place: str = ""

#: the short answers of a yes/no question
VERDICTS = ("是", "否")


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
    #: the phrase inside ``text`` that answers (a date, amount, name, …), or None when unsure;
    #: for a yes/no question, "是" or "否" (then ``text`` is the evidence, ``short_span`` None)
    short: str | None = None
    #: where ``short`` sits: (source, start, end), the same offsets as ``span``
    short_span: tuple[str, int, int] | None = None
    #: the knowledge base ``span`` is in (asked across every base: the one that answered)
    kb: str = ""

    @property
    def is_verdict(self) -> bool:
        """Whether ``short`` is a yes/no verdict rather than a phrase of ``text``."""
        return self.short in VERDICTS and self.short_span is None

    def span_in(self, passage: Passage) -> tuple[int, int] | None:
        """Where the answer sentence sits in ``passage.text`` (offsets into it), or None when
        it is not inside that passage."""
        if not self.span:
            return None
        source, start, end = self.span
        if source != passage.source or not passage.start <= start <= end <= passage.end:
            return None
        return start - passage.start, end - passage.start

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        d["short_span"] = list(self.short_span) if self.short_span else None
        return d


def citation(n: int, source: str, paragraph: int, start: int, end: int,
             page: int | None = None, place: str = "") -> str:
    """Human label of a passage: ``[1] file.txt · 第3段 · 字符 53–227``; a converted file's
    passage names its place too (``[1] 报价.xlsx · 工作表「报价」第5行 · 第4段 · …``)."""
    where = f" · 第{page}页" if page else ""
    place = place.removeprefix(f"第{page}页").strip() if page else place
    where += f" · {place}" if place else ""
    return f"[{n}] {source}{where} · 第{paragraph}段 · 字符 {start}–{end}"


def make_passages(hits: list[Hit], weights: Weights = Weights(),
                  lexical: bool = False) -> list[Passage]:
    """The cited passages of ranked hits; ``score`` is the fused score over the best a passage
    could get (from the BM25 rankings alone, for a ``lexical`` search)."""
    top_score = weights.top_score(dense=not lexical)
    return [
        Passage(text=h.chunk.text, source=h.chunk.source, start=h.chunk.start, end=h.chunk.end,
                score=round(min(1.0, h.score / top_score), 4),
                citation=citation(n, h.chunk.source, h.chunk.paragraph, h.chunk.start,
                                  h.chunk.end, h.chunk.page, h.chunk.place),
                paragraph=h.chunk.paragraph, page=h.chunk.page, heading=h.chunk.heading,
                place=h.chunk.place)
        for n, h in enumerate(hits, 1)
    ]


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    return [e / sum(exp) for e in exp]


@dataclass
class Answerer:
    """The answer layer of one engine: its glossary, fitted rankers and reader (None: no
    short answers, sentences by the sentence model alone)."""

    glossary: Glossary
    rankers: Rankers
    reader: Reader | None = None
    #: overrides ``rankers.threshold`` when set (``QA_FOUND_THRESHOLD``)
    threshold: float | None = None

    def choose(self, query: Query, hits: list[Hit], question: str) -> Candidate | None:
        """The sentence of ``hits`` that best answers ``question``, with its reading."""
        cands = candidates(query, hits[:PASSAGES], question, self.glossary)
        if not cands:
            return None
        for c in cands:
            c.scores["sentence"] = self.rankers.sentence.score(c.features)
        ranked = sorted(cands, key=lambda c: -c.scores["sentence"])[: max(1, self.rankers.read)]
        if self.reader is not None:
            windows = [window(c, WINDOW) for c in ranked]
            readings = self.reader.read(question, [w[0] for w in windows],
                                        [w[2] for w in windows])
            for c, (_, w0, _), r in zip(ranked, windows, readings, strict=True):
                c.scores["margin"] = r.margin if math.isfinite(r.margin) else -20.0
                c.scores["short_start"], c.scores["short_end"] = w0 + r.start, w0 + r.end
                if r.kinds is not None:  # a reader with a yes/no head (format 2)
                    c.scores["p_yes"], c.scores["p_no"] = r.kinds[1], r.kinds[2]
        for c in ranked:
            c.scores["final"] = self.rankers.final.score(
                {"sentence": c.scores["sentence"], "margin": c.scores.get("margin", 0.0)})
        for c, p in zip(ranked, _softmax([c.scores["final"] for c in ranked]), strict=True):
            c.scores["choice"] = p
        return max(ranked, key=lambda c: c.scores["final"])

    def answer(self, question: str, index: Store, query: Query, hits: list[Hit],
               weights: Weights = Weights()) -> Answer:
        """The ``Answer`` to ``question`` from its ranked ``hits`` (or, for a question about
        the article itself, from its title block)."""
        about = metadata_answer(question, index, hits, weights)
        if about is not None:
            return about
        best = self.choose(query, hits, question) if hits else None
        if best is not None:  # the answer's own passage first
            hits = [best.hit, *(h for h in hits if h is not best.hit)]
        answer = Answer(question=question, found=False, text=NO_ANSWER,
                        passages=make_passages(hits, weights), generation=index.generation)
        if best is None:
            return answer
        x = found_features(question, index, self.glossary, hits, best,
                           weights.top_score(), query.cos_range)
        answer.confidence = round(self.rankers.found.probability(x), 4)
        threshold = self.rankers.threshold if self.threshold is None else self.threshold
        if unknown_organisation(question, index, self.glossary):  # "苹果公司…" never named
            answer.confidence = min(answer.confidence, round(threshold / 2, 4))
        answer.found = answer.confidence >= threshold
        if not answer.found and table_crossing(question, best.text):
            # a question naming a table row and one of its columns is answered by their
            # crossing (format sets: tests/data/formats-blind, bench/formats_vs_txt.py)
            answer.found, answer.confidence = True, max(answer.confidence, threshold)
        if answer.found:
            source = best.hit.chunk.source
            answer.text, answer.span = best.text, (source, *best.span)
            short = self.short(question, best, self.rankers.short_margin)
            if asks_yes_no(question):  # the sentence is the evidence, the answer 是 or 否
                answer.short = self.verdict(question, best)
            elif short is not None:
                c = best.hit.chunk
                answer.short = c.text[short[0] - c.start : short[1] - c.start]
                answer.short_span = (source, *short)
        return answer

    @staticmethod
    def verdict(question: str, best: Candidate) -> str:
        """是 or 否 for a yes/no question answered by ``best``: by the reader's yes/no head
        when it has one, else by negation words near the question's words."""
        if "p_yes" in best.scores:
            return VERDICTS[0] if best.scores["p_yes"] >= best.scores["p_no"] else VERDICTS[1]
        return verdict(question, best.text)

    def short(self, question: str, best: Candidate, floor: float) -> tuple[int, int] | None:
        """The short answer's absolute (start, end) in ``best``: the reader's span when its
        margin reaches ``floor``; without a reader, the first phrase of the kind the question
        asks for (a date, amount, count, name), if any. A table row's sentence gives the cell
        of the column the question names (``qa.ingest.tables.asked_cell``) first."""
        from qa.ingest.tables import asked_cell

        cell = asked_cell(question, best.text)
        if cell is not None:
            return best.span[0] + cell[0], best.span[0] + cell[1]
        if self.reader is None:
            span = typed_span(expected_type(question), best.text)
            return (best.span[0] + span[0], best.span[0] + span[1]) if span else None
        if best.scores.get("margin", -math.inf) < floor:
            return None
        s, e = int(best.scores["short_start"]), int(best.scores["short_end"])
        return (s, e) if e > s else None


def table_crossing(question: str, sentence: str) -> bool:
    """Whether ``sentence`` is a table row the question names, with a column it asks for."""
    from qa.ingest.tables import asked_cell, names_row

    return names_row(question, sentence) and asked_cell(question, sentence) is not None


def metadata_answer(question: str, index: Store, hits: list[Hit],
                    weights: Weights = Weights()) -> Answer | None:
    """The answer to a question about the article itself ("这篇文章是哪天发布的?"): the lines
    of its title block that hold what is asked, the value of the first as the short answer;
    None for any other question, or when the article's title block does not say."""
    wanted = metadata.asks(question)
    if not wanted or not hits:
        return None
    known = index.derive("metadata", lambda ix: metadata.by_source(ix.records()))
    sources = [h.chunk.source for h in hits] + sorted(known)
    source = next((s for s in sources if s in known), None)
    fields = [known[source][w] for w in wanted if source and w in known[source]]
    if not fields or source is None:
        return None
    chunk = next(c for c in index.records() if c.source == source and c.kind == "meta"
                 and c.start <= fields[0].start < c.end)
    own = next((h for h in hits if h.chunk.id == chunk.id), None) \
        or Hit(chunk, score=0.0, dense=0.0, sentence=0.0, lexical=0.0)  # not retrieved
    ordered = [own, *(h for h in hits if h is not own)]
    start, end = min(f.line[0] for f in fields), max(f.line[1] for f in fields)
    first = fields[0]
    return Answer(question=question, found=True, text=chunk.text[start - chunk.start:
                                                                 end - chunk.start],
                  passages=make_passages(ordered, weights), confidence=1.0,
                  span=(source, start, end), generation=index.generation,
                  short=first.value, short_span=(source, first.start, first.end))
