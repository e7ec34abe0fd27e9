"""Turn retrieval hits into an ``Answer``: cited passages, the answering sentence, and whether
the corpus answers the question at all.

The answer sentence is the sentence of the top passages that best answers the question, by a
weighted sum of what ``candidates`` measures (cosine to the question, BM25, shares of the
question's words and bigrams, the kind of answer asked for, the year asked about, passage rank),
with weights fitted by bench/fit_sentences.py. ``found`` is ``confidence >= threshold``
(``qa.confidence``; README, "Quality").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from . import text as textmod
from .asks import expected_type, type_match
from .confidence import confidence, cos01
from .glossary import expand
from .index import Index
from .retrieve import Hit, Query, Weights

NO_ANSWER = "未找到可靠答案：语料中没有能回答这个问题的内容。以下是最接近的段落（仅供参考，匹配较弱）。"
#: "first" questions take the earliest sentence scoring within this margin of the best
FIRST_MARGIN = 2.0
#: a question asking for a date or an amount takes a sentence holding one if it scores
#: within this margin of the best
TYPED_MARGIN = 1.0
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
    #: the phrase inside ``text`` that answers (a date, amount, name, …), or None when unsure
    short: str | None = None
    #: where ``short`` sits: (source, start, end), the same offsets as ``span``
    short_span: tuple[str, int, int] | None = None

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        d["short_span"] = list(self.short_span) if self.short_span else None
        return d


def citation(n: int, source: str, paragraph: int, start: int, end: int,
             page: int | None = None) -> str:
    """Human label of a passage: ``[1] file.txt · 第3段 · 字符 53–227``."""
    where = f" · 第{page}页" if page else ""
    return f"[{n}] {source}{where} · 第{paragraph}段 · 字符 {start}–{end}"


#: a year a question counts from or to ("2019年以后", "继2019年之后", "自2019年起")
_FROM_YEAR = re.compile(r"(?:(?<=继)|(?<=自)|(?<=从))((?:19|20)\d\d)年|((?:19|20)\d\d)年(?=之?[后前]|以[后前来]|起)")
_YEAR = re.compile(r"(?<![\d.])(?:19|20)\d\d(?![\d.万亿元%个家起])")
#: a sentence naming no year is about the last year its passage named before it; one opening
#: like this also is, even when it names another ("同年7月,微软宣布…")
_SAME_TIME = re.compile(r"^\W*(?:同年|当年|同月|该年|同期|此后|随后)")

#: what ``sentence_features`` measures of each candidate sentence, in order
SENTENCE_FEATURES = ("cosine", "bm25", "words", "bigrams", "typed", "mistyped", "rank",
                     "passage_cosine", "year", "other_year")
_WORDS = SENTENCE_FEATURES.index("words")
#: conditional-logit weights of ``SENTENCE_FEATURES``, fitted on the dev split by
#: bench/fit_sentences.py before the last round's answer-type changes; refitting them since
#: (on dev, or on every fitting set) scores no better on dev or test, so these stay
SENTENCE_WEIGHTS = (1.27, 2.63, 1.31, 0.72, 0.14, -1.26, -1.12, 0.23, 0.48, -0.18)


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage that may answer the question."""

    hit: Hit
    rank: int  # rank of its passage, 0 = best
    span: tuple[int, int]  # absolute (start, end)
    text: str  # the sentence, ``hit.chunk.text`` at ``span``
    features: tuple[float, ...]  # SENTENCE_FEATURES
    typed: bool  # holds the kind of answer asked for

    @property
    def score(self) -> float:
        """The weighted sum of ``features`` by ``SENTENCE_WEIGHTS``."""
        return float(sum(w * x for w, x in zip(SENTENCE_WEIGHTS, self.features, strict=True)))


def _share(wanted: set[str], text: str) -> float:
    """The share of ``wanted`` strings that occur in ``text`` (0 when nothing is wanted)."""
    return sum(w in text for w in wanted) / len(wanted) if wanted else 0.0


def _of_another_year(kind: str | None, asked: set[str], when: set[str]) -> bool:
    """Whether a sentence about the years ``when`` gives a value of another year than the ones
    ``asked`` about (a month or day: of every one of them); a year is itself the answer to a
    time question."""
    if not asked or kind == "time":
        return False
    if kind in ("month", "day"):
        return not asked <= when
    return bool(when) and not asked & when


def candidates(query: Query, hits: list[Hit], question: str = "") -> list[Candidate]:
    """Every sentence of ``hits`` with its ``SENTENCE_FEATURES``: its cosine to the question and
    bigram BM25 (scaled to the best candidate), the share of the question's words and bigrams it
    holds, whether it holds the kind of answer asked for (a date for 哪年, an amount for
    多少钱) or clearly not, its passage's rank and cosine, and whether it is about the year the
    question names (a sentence naming no year, or opening with 同年/当年, is about the last year
    named before it in its passage)."""
    asked = question or query.text
    kind = expected_type(asked)
    q = textmod.normalize(expand(asked))
    q_words = {w for w in textmod.words(q) if len(w) >= 2}
    q_bigrams = set(textmod.bigrams(q))
    q_years = set(_YEAR.findall(q))
    # the years a value is asked of: not one the question counts from ("2019年以后…哪年")
    of_years = q_years - {y for pair in _FROM_YEAR.findall(q) for y in pair}
    top_bm25 = max((x for h in hits for x in h.sentence_bm25), default=0.0) or 1.0
    out = []
    for rank, hit in enumerate(hits):
        c = hit.chunk
        before: set[str] = set()
        for j, (s, e) in enumerate(c.sentences):
            sentence = c.text[s - c.start : e - c.start]
            norm = textmod.normalize(sentence)
            years = set(_YEAR.findall(norm))
            when = years | (before if _SAME_TIME.search(norm) or not years else set())
            typed = type_match(kind, norm, asked) and not _of_another_year(kind, of_years, when)
            x = (cos01(hit.sentence_cos[j], query.cos_range), hit.sentence_bm25[j] / top_bm25,
                 _share(q_words, norm), _share(q_bigrams, norm), float(typed),
                 float(kind not in (None, "reason") and not typed), float(rank),
                 cos01(hit.dense, query.cos_range), float(bool(q_years) and q_years <= when),
                 float(bool(q_years) and bool(years) and not q_years & when))
            out.append(Candidate(hit, rank, (s, e), sentence, x, typed))
            before = years or before
    return out


def best_sentence(query: Query, hits: list[Hit], question: str = "") -> Candidate:
    """The sentence that best answers ``query``: the highest-scoring of ``candidates``, except
    that a question asking for a date, amount, count or share takes the best sentence holding
    one if it scores within ``TYPED_MARGIN`` of the best, a question about the first time
    (第一次, 首次, first) the earliest good sentence of the top passage within
    ``FIRST_MARGIN``, and a why-question about one of two parties the opening sentence of a
    passage speaking for it ("从微软看,亟需…": its thesis)."""
    kind = expected_type(question or query.text)
    scored = candidates(query, hits, question)
    if not scored:
        raise ValueError("no sentences to choose from")
    best = max(scored, key=lambda c: c.score)
    if kind not in (None, "reason") and not best.typed:  # asked for a date, amount, count…
        typed = [c for c in scored if c.typed and c.score >= best.score - TYPED_MARGIN]
        if typed:
            best = max(typed, key=lambda c: c.score)
    thesis = [c for c in scored if c.hit.speaks_for_subject and c.span[0] == c.hit.chunk.start]
    if thesis:  # "微软为什么要和OpenAI合作?": the thesis of the passage opening "从微软看,"
        return thesis[0]
    if _FIRST.search((question or query.text).lower()):
        early = [c for c in scored if c.rank == 0 and c.score >= best.score - FIRST_MARGIN
                 and (c.typed or kind in (None, "reason"))
                 and c.features[_WORDS] >= best.features[_WORDS]]  # as many of its words
        if early:
            best = min(early, key=lambda c: c.span[0])
    return best


def make_passages(hits: list[Hit], weights: Weights = Weights(),
                  lexical: bool = False) -> list[Passage]:
    """The cited passages of ranked hits; ``score`` is the fused score over the best a passage
    could get (from the BM25 rankings alone, for a ``lexical`` search)."""
    top_score = weights.top_score(dense=not lexical)
    return [
        Passage(text=h.chunk.text, source=h.chunk.source, start=h.chunk.start, end=h.chunk.end,
                score=round(min(1.0, h.score / top_score), 4),
                citation=citation(n, h.chunk.source, h.chunk.paragraph, h.chunk.start,
                                  h.chunk.end, h.chunk.page),
                paragraph=h.chunk.paragraph, page=h.chunk.page, heading=h.chunk.heading)
        for n, h in enumerate(hits, 1)
    ]


def make_answer(question: str, index: Index, query: Query, hits: list[Hit],
                threshold: float, weights: Weights = Weights()) -> Answer:
    """Build the ``Answer`` for ``question`` from its ranked hits."""
    top_score = weights.top_score()
    passages = make_passages(hits, weights)
    answer = Answer(question=question, found=False, text=NO_ANSWER, passages=passages,
                    generation=index.generation)
    if not hits:
        return answer
    best = best_sentence(query, hits[:3], question)
    answer.confidence = round(
        confidence(hits, question, index, top_score, best.text, best.typed, query.text,
                   query.cos_range), 4)
    answer.found = answer.confidence >= threshold
    if answer.found:
        answer.text = best.text
        answer.span = (best.hit.chunk.source, *best.span)
    return answer
