"""Question kinds the answer layer reads from the wording, with no model: yes/no questions and
their verdict, the names a question is about, the first or latest of several events, and the
search-style twins ``qa fit`` learns from; and the rule quality floors follow."""

from __future__ import annotations

import pytest
from floors import floor_of

from qa.answer.answerer import Answer
from qa.answer.asks import asks_yes_no, question_entities, verdict
from qa.answer.candidates import Candidate, mark_order
from qa.ingest.chunking import Chunk
from qa.search.retrieve import Hit
from qa.serve.render import short_offsets
from qa.train.cases import search_style


@pytest.mark.parametrize(("question", "yes_no"), [
    ("苹果公司投资了OpenAI吗?", True), ("张x6是否自愿与母亲一同生活？", True),
    ("押金能不能退", True), ("有没有夜间加班补贴?", True),
    ("微软投资了多少钱?", False), ("有什么优惠吗?", False), ("是租还是买吗", False),
    ("年假天数 工龄10年", False),
])
def test_yes_no_questions_are_told_apart(question: str, yes_no: bool) -> None:
    assert asks_yes_no(question) is yes_no


@pytest.mark.parametrize(("question", "evidence", "expected"), [
    ("被告是否按约支付了生活费？", "期间被告未依照约定按时向原告支付张x6的生活费", "否"),
    ("押金能退吗", "押金在合同期满后15日内无息退还乙方", "是"),
    ("乙方可以转租吗?", "未经甲方书面同意，乙方不得将房屋转租给第三方", "否"),
    ("是否禁止在室内吸烟?", "室内禁止吸烟", "是"),
])
def test_the_verdict_follows_negations_near_the_question_words(question, evidence,
                                                                expected) -> None:
    assert verdict(question, evidence) == expected


def test_a_verdict_is_not_highlighted_as_a_phrase_of_the_sentence() -> None:
    a = Answer("押金能退吗", True, "押金是可以退的。", short="是", span=("a.txt", 0, 8))
    assert a.is_verdict and short_offsets(a) is None
    b = Answer("谁?", True, "是他。", short="是", span=("a.txt", 0, 3), short_span=("a.txt", 0, 1))
    assert not b.is_verdict and short_offsets(b) == (0, 1)


@pytest.mark.parametrize(("question", "names"), [
    ("苹果公司投资了OpenAI吗?", {"苹果"}),
    ("曜石X5 Ultra耗电快吗", {"x5"}),
    ("微软投资了多少钱?", set()),
    ("保险公司赔了多少钱?", set()),  # a kind of company, not a name
    ("how much did microsoft invest?", set()),  # English questions have their own checks
])
def test_the_names_a_question_is_about(question: str, names: set[str]) -> None:
    assert names <= set(question_entities(question))
    if not names:
        assert not {n for n in question_entities(question) if n in ("保险", "微软投资")}


def _candidate(source: str, start: int, typed: bool, words: float) -> Candidate:
    chunk = Chunk(0, source, start, start + 10, "x" * 10, 1, "body", sentences=((start, start + 10),))
    hit = Hit(chunk, 1.0, 0.5, 0.5, 0.5, (0.5,), (1.0,))
    return Candidate(hit, 0, 0, (start, start + 10), "x" * 10, {"words": words}, typed)


def test_first_and_latest_follow_the_documents_order() -> None:
    cands = [_candidate("a.txt", 300, True, 0.5), _candidate("a.txt", 100, True, 0.5),
             _candidate("a.txt", 50, False, 0.5), _candidate("a.txt", 500, True, 0.0)]
    mark_order(cands, first_time=True, last_time=False)
    assert [c.features["earliest"] for c in cands] == [0.0, 1.0, 0.0, 0.0]
    mark_order(cands, first_time=False, last_time=True)
    assert [c.features["latest"] for c in cands] == [1.0, 0.0, 0.0, 0.0]
    mark_order(cands, first_time=False, last_time=False)
    assert not any(c.features["earliest"] or c.features["latest"] for c in cands)


@pytest.mark.parametrize(("question", "query"), [
    ("微软哪一年投资了OpenAI?", "微软 投资了OpenAI"),
    ("原告曹0与被告张x1因何离婚？", "原告曹0与被告张x1 离婚"),
    ("长江有多长?", "长江"),
])
def test_search_style_twins_drop_question_words(question: str, query: str) -> None:
    assert search_style(question) == query


def test_floors_keep_an_honest_margin() -> None:
    assert floor_of(0.95, 100) == 0.90  # two standard errors: 0.044
    assert floor_of(0.99, 1000) == 0.96  # never less than three points
    assert floor_of(0.5, 50) == 0.35
    assert floor_of(0.80, 10_000) == 0.77
    assert floor_of(1.0, 7) == 0.76  # a perfect share over a few questions keeps a margin
