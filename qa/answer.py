"""Turn retrieval hits into an ``Answer``: cited passages, the answering sentence, and whether
the corpus answers the question at all.

The answer sentence is the sentence of the top passages that best answers the question, by a
weighted sum of what ``candidates`` measures (cosine to the question, BM25, shares of the
question's words and bigrams, the kind of answer asked for, the year asked about, passage rank),
with weights fitted on the dev split (bench/fit_sentences.py). ``found`` is
``confidence >= threshold``, where confidence is a logistic blend of ``features`` (the top
passage's best sentence cosine and lexical coverage, terms the corpus never mentions, whether
the chosen sentence holds the kind of answer asked for), fitted and thresholded on the dev
split's answerable and unanswerable questions (bench/calibrate.py; README, "Quality").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from . import text as textmod
from .glossary import expand, expansions, named
from .index import Index
from .retrieve import Hit, Query, Weights

NO_ANSWER = "未找到可靠答案：语料中没有能回答这个问题的内容。以下是最接近的段落（仅供参考，匹配较弱）。"
#: cosine range over which m3e similarities are spread out (below: unrelated; above: same).
COS_LOW, COS_HIGH = 0.70, 0.90
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
#: names in an English question that a Chinese text would also write in Latin letters:
#: acronyms (CEO, IPO) and terms holding a digit (GPT-4, 2024, Q3)
_NAMED = re.compile(r"(?<![\w-])(?:[A-Z]{2,}s?|(?:[A-Za-z]+-?)?\d(?:[\w.-]*\w)?)(?![\w-])")
_corpus_text: dict[str, str] = {}


def corpus_text(index: Index) -> str:
    """The normalised text of every chunk of ``index`` and of the headings above them, for "is
    this term in the corpus?"."""
    key = f"{index.generation}:{id(index)}"
    text = _corpus_text.get(key)
    if text is None:  # built locally: another thread may clear the cache meanwhile
        headings = dict.fromkeys(c.heading for c in index.chunks if c.heading)
        text = "\n".join(textmod.normalize(t) for t in [*headings, *(c.text for c in
                                                                      index.chunks)])
        _corpus_text.clear()
        _corpus_text[key] = text
    return text


def unknown_terms(question: str, index: Index, context: str = "") -> float:
    """1.0 when a Chinese question is about something the corpus never mentions, else 0.0:
    it names a number or Latin term absent from the corpus ("2024", "gpt-4", "ceo"), or none
    of the content words of ``context`` (the searched text: the question, expanded, with the
    earlier question for a follow-up) occurs in it ("2022年世界杯冠军是哪个国家?"). An English
    question counts only its acronyms and terms with a digit ("Who is the CEO?", "GPT-4"):
    its other words are not expected in a Chinese corpus."""
    q = textmod.normalize(question)
    text = corpus_text(index)
    if not textmod.is_chinese(q):
        return float(any(t.lower() not in text for t in _NAMED.findall(question)))
    if any(t not in text for t in _SALIENT.findall(q)):
        return 1.0
    words = [w for w in textmod.words(context or question) if len(w) >= 2 and not w.isdigit()]
    return float(bool(words) and all(w not in text for w in words))


_ASKS = re.compile(r"^(?:是谁|是哪位|有多少|是多少|有几|在哪|在什么地方|是什么|是哪)")
#: words after which a question names what it asks about ("哪家公司", "什么产品", "咋收费");
#: a measure word between them is skipped ("哪几位创始人")
_WHICH = frozenset(["多少", "哪", "哪个", "哪家", "哪些", "哪位", "什么", "几个", "哪种", "怎么",
                    "怎样", "如何", "咋", "怎么样"])
_MEASURE = re.compile(r"^[几一]?[个家位名些种款项条类样]$")
_VAGUE = frozenset(["时候", "东西", "地方", "情况", "问题", "方面", "内容", "意思", "样子", "具体"])


def missing_focus(question: str, index: Index) -> float:
    """1.0 when what a Chinese question asks about, the word just before 是谁/有多少/在哪 or
    the first word of two characters or more just after 多少/哪家/什么 ("OpenAI的创始人是谁?",
    "有多少月活跃用户"), never occurs in the corpus, else 0.0."""
    q = textmod.normalize(question)
    if not textmod.is_chinese(q):
        return 0.0
    words = textmod.jieba_words(q)
    focus = [w for i, w in enumerate(words) if _ASKS.match("".join(words[i + 1 :]))]
    focus += [next((x for x in words[i + 1 : i + 3] if len(x) >= 2 and not _MEASURE.match(x)),
                   "") for i, w in enumerate(words) if w in _WHICH]
    focus = [w for w in focus if len(w) >= 2 and w not in textmod.STOP_WORDS
             and w not in _VAGUE and not w.isascii()]
    text = corpus_text(index)
    return float(any(w not in text and not any(x in text for x in expansions(w))
                     for w in focus))


_ASKING = re.compile(r"多少|几|哪|什么|何|时候|how|when|what|which")


def typed_focus(question: str, kind: str | None) -> list[str]:
    """What a question asking for a ``kind`` of value measures: its words that name the kind
    (净利润 for an amount) and the first word after its question word (多少起融资 -> 融资,
    哪一年收购 -> 收购), without stop words."""
    if kind in (None, "reason"):
        return []
    asks = next(a for name, a, _ in ANSWER_TYPES if name == kind)
    words = textmod.jieba_words(textmod.normalize(question))
    focus = [w for w in words if asks.search(w) and not _ASKING.search(w)]
    focus += [next((x for x in words[i + 1 : i + 3] if len(x) >= 2 and not _MEASURE.match(x)
                    and not _ASKING.search(x)), "")
              for i, w in enumerate(words) if _ASKING.search(w)]
    return [w for w in dict.fromkeys(focus) if len(w) >= 2 and w not in textmod.STOP_WORDS
            and w not in _VAGUE and not _UNIT.match(w)]


_UNIT = re.compile(r"^(?:万亿|亿|万|千|百)?(?:美元|元|人民币|美金|块)?$")


def focus_never_typed(question: str, index: Index) -> float:
    """1.0 when the corpus mentions what a question asking for a value measures, but never in
    a sentence holding a value of that kind ("净利润具体是多少?" where 净利润 only "创下历史新高";
    "谷歌是哪一年收购DeepMind的?" where no sentence on 收购 names a year), else 0.0."""
    kind = expected_type(question)
    out = 0.0
    for w in typed_focus(question, kind):
        with_focus = [s for s in _sentences(index) if w in s]
        if with_focus and not any(type_match(kind, s) for s in with_focus):
            out = 1.0
    return out


def _sentences(index: Index) -> list[str]:
    key = f"{index.generation}:{id(index)}"
    if _sentence_texts.get("key") != key:
        _sentence_texts.clear()
        _sentence_texts["key"] = key
        _sentence_texts["all"] = [textmod.normalize(c.text[s - c.start : e - c.start])
                                  for c in index.chunks for s, e in c.sentences]
    return _sentence_texts["all"]  # type: ignore[return-value]


_sentence_texts: dict[str, object] = {}


#: a name is rare when at most this share of the corpus's sentences holds it
RARE_NAME = 0.1
_LATIN_NAME = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9.-]{2,}")
_sentence_counts: dict[str, dict[str, int]] = {}


def _sentence_share(name: str, index: Index) -> float:
    """The share of ``index``'s sentences holding ``name`` (cached per index)."""
    key = f"{index.generation}:{id(index)}"
    counts = _sentence_counts.get(key)
    if counts is None:
        _sentence_counts.clear()
        counts = _sentence_counts[key] = {}
    if name not in counts:
        sentences = (c.text[s - c.start : e - c.start] for c in index.chunks for s, e in c.sentences)
        counts[name] = sum(name in textmod.normalize(x) for x in sentences)
    return counts[name] / max(1, len(index.sentence_vectors))


def names(question: str, index: Index) -> set[str]:
    """The companies and products ``question`` names (glossary names, as the corpus writes
    them, and Latin words of three letters or more that the corpus also holds as words)."""
    q = textmod.normalize(question)
    text = corpus_text(index)
    out = {t for t in _LATIN_NAME.findall(q) if t not in textmod.STOP_WORDS
           and re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", text)}
    for group in named(q):
        out |= {next((t for t in group if t in text), "")} - {""}
    return out


def rare_name_missing(question: str, sentence: str, index: Index) -> float:
    """1.0 when ``question`` names something the corpus mentions rarely (in at most
    ``RARE_NAME`` of its sentences) that the answer ``sentence`` does not name: "亚马逊投资了哪家
    公司?" answered by a sentence about 微软 only shares the question's other words."""
    s = textmod.normalize(sentence)
    return float(any(n not in s and _sentence_share(n, index) <= RARE_NAME
                     for n in names(question, index)))


def features(hits: list[Hit], question: str, index: Index, top_score: float,
             sentence: str, context: str = "") -> list[float]:
    """What ``confidence`` weighs: best sentence cosine (scaled), bigram coverage of the top
    passage, its fused score (scaled), ``unknown_terms``, and whether the chosen answer
    ``sentence`` holds the kind of fact asked for (a date for 哪年, a number for 多少; always
    1 for other questions)."""
    top = hits[0]
    kind = expected_type(question)
    typed = kind in (None, "reason") or type_match(kind, textmod.normalize(sentence))
    return [_cos01(top.sentence), top.lexical, min(1.0, top.score / top_score),
            unknown_terms(question, index, context), float(typed),
            missing_focus(question, index), rare_name_missing(question, sentence, index),
            focus_never_typed(question, index)]


#: logistic weights of ``features`` (+ bias), fitted on the fitting splits by bench/calibrate.py
CONFIDENCE_WEIGHTS = (0.555, 0.689, 0.39, -2.446, 2.652, -1.32, -1.672, -1.187, -2.387)


def confidence(hits: list[Hit], question: str, index: Index, top_score: float,
               sentence: str, context: str = "") -> float:
    """Probability-like score in [0, 1] that ``sentence`` of the top passages answers the
    question (see ``features``)."""
    x = features(hits, question, index, top_score, sentence, context)
    z = CONFIDENCE_WEIGHTS[-1] + sum(w * v for w, v in zip(CONFIDENCE_WEIGHTS[:-1], x,
                                                            strict=True))
    return float(1.0 / (1.0 + np.exp(-z)))


#: What a question asks for, recognised from its wording, and what a sentence answering it holds.
ANSWER_TYPES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    # first: "为什么/靠什么…收入" asks for a reason or a means, not for the amount it names
    ("reason", textmod.ASKS_REASON,
     re.compile(r"因为|由于|为了|需要|亟需|旨在|从而|原因|因此|所以|导致|目的|是.{0,6}的结果")),
    ("time", re.compile(r"什么时候|啥时候?|几时|何时|哪年|哪一年|几月|哪个月|哪天|日期|\bwhen\b|what year|which year"),
     re.compile(r"\d{4}年|\d{1,2}月|\d{4}-\d{2}|年底|年初|上半年|下半年")),
    ("share", re.compile(r"比例|百分之|多少%|几成|percent|percentage|\bshare of\b"),
     re.compile(r"\d+(?:\.\d+)?%|百分之|[\d一二三四五六七八九十两几]成(?![为功本立长熟])")),
    ("amount", re.compile(r"多少钱|多少(?:万亿|亿|万|千)?(?:美元|元|人民币)|多少资金|金额|估值|市值|成本|"
                          r"花费|开销|营收|收入|利润|销售额|"
                          r"how much|\bcost\b|\bworth\b|valuation|revenue"),
     re.compile(r"\d[\d.,]*\s*(?:万亿|亿|万|千)?(?:美元|元|人民币)|\d[\d.,]*\s*(?:万亿|亿)")),
    # a count of people is not answered by a sum of money or a share ("多少用户")
    ("people", re.compile(r"多少(?:名|位|个)?(?:用户|人|员工|客户|会员|开发者|访客)|(?:用户|员工|人)(?:数|数量|规模)|"
                          r"几(?:个|名|位)?人|月活|日活|how many (?:users|people|employees|customers)"),
     re.compile(r"[\d一二三四五六七八九十两几]+(?:\.\d+)?\s*(?:万|亿)?\s*(?:名|位|个)?"
                r"(?:人|用户|员工|客户|会员|开发者|访客)")),
    ("count", re.compile(r"多少|几[家个起次项种款位名条]|how many|number of"),
     # a number that is not a year or a date ("42起", "1750亿参数", "近1%", "360美元")
     re.compile(r"(?<![\d.a-z])\d+(?:\.\d+)?(?![\d.]|\s*(?:年|月|日))"
                r"|[一二三四五六七八九十两几]+[家个起次项种款位名条]")),
)


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for (time, share, amount, count, reason) or None."""
    q = question.lower()
    for name, asks, _ in ANSWER_TYPES:
        if name in ("amount", "share") and _THING.search(q) and not _HOW_MUCH.search(q):
            continue  # "营收上涨的推动因素是什么?" names revenue but asks for a thing
        if asks.search(q):
            return name
    return None


_THING = re.compile(r"什么|哪些|哪个|哪家|哪方面|\bwhat\b|\bwhich\b")
_HOW_MUCH = re.compile(r"多少|几|多高|多大|多贵|how much|how many|what share|percent")


def type_match(kind: str | None, sentence: str) -> bool:
    """Whether ``sentence`` holds the kind of answer ``kind`` asks for."""
    for name, _, holds in ANSWER_TYPES:
        if name == kind:
            return bool(holds.search(sentence))
    return False


_YEAR = re.compile(r"(?<![\d.])(?:19|20)\d\d(?![\d.万亿元%个家起])")
#: a sentence naming no year is about the last year its passage named before it; one opening
#: like this also is, even when it names another ("同年7月,微软宣布…")
_SAME_TIME = re.compile(r"^\W*(?:同年|当年|同月|该年|同期|此后|随后)")

#: what ``sentence_features`` measures of each candidate sentence, in order
SENTENCE_FEATURES = ("cosine", "bm25", "words", "bigrams", "typed", "mistyped", "rank",
                     "passage_cosine", "year", "other_year")
#: conditional-logit weights of ``SENTENCE_FEATURES``, fitted on the dev split by
#: bench/fit_sentences.py (the candidate with the highest weighted sum is the answer)
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
        return float(sum(w * x for w, x in zip(SENTENCE_WEIGHTS, self.features, strict=True)))


def _share(wanted: set[str], text: str) -> float:
    return sum(w in text for w in wanted) / len(wanted) if wanted else 0.0


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
    top_bm25 = max((x for h in hits for x in h.sentence_bm25), default=0.0) or 1.0
    out = []
    for rank, hit in enumerate(hits):
        c = hit.chunk
        before: set[str] = set()
        for j, (s, e) in enumerate(c.sentences):
            sentence = c.text[s - c.start : e - c.start]
            norm = textmod.normalize(sentence)
            typed = type_match(kind, norm)
            years = set(_YEAR.findall(norm))
            when = years | (before if _SAME_TIME.search(norm) or not years else set())
            x = (_cos01(hit.sentence_cos[j]), hit.sentence_bm25[j] / top_bm25,
                 _share(q_words, norm), _share(q_bigrams, norm), float(typed),
                 float(kind not in (None, "reason") and not typed), float(rank),
                 _cos01(hit.dense), float(bool(q_years) and q_years <= when),
                 float(bool(q_years) and bool(years) and not q_years & when))
            out.append(Candidate(hit, rank, (s, e), sentence, x, typed))
            before = years or before
    return out


def best_sentence(query: Query, hits: list[Hit], question: str = "") -> Candidate:
    """The sentence that best answers ``query``: the highest-scoring of ``candidates``, except
    that a question asking for a date, amount, count or share takes the best sentence holding one if it scores within ``TYPED_MARGIN`` of the
    best, a question about the first time (第一次, 首次, first) the earliest good sentence
    of the top passage within ``FIRST_MARGIN``, and a why-question about one of two parties
    the opening sentence of a passage speaking for it ("从微软看,亟需…": its thesis)."""
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
                 and (c.typed or kind in (None, "reason"))]
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
        confidence(hits, question, index, top_score, best.text, query.text), 4)
    answer.found = answer.confidence >= threshold
    if answer.found:
        answer.text = best.text
        answer.span = (best.hit.chunk.source, *best.span)
    return answer
