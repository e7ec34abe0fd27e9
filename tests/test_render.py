"""The chat reply without a model: the answer first (bold, the short answer marked), the
sources under their own title with the answer sentence marked in its passage, the refusal
plain, and nothing from the corpus or the question turned into live HTML."""

from __future__ import annotations

import re

import qa
from qa.serve.render import (
    answer_head,
    answer_markdown,
    answer_sentence_html,
    short_offsets,
    sources_markdown,
    sources_title,
)

DOC = "前言。\n\n同年7月,微软宣布将向OpenAI投资10亿美元。2021年再投20亿美元。\n"
SENTENCE = "同年7月,微软宣布将向OpenAI投资10亿美元。"


def answer(short: str | None = None, short_span: tuple[str, int, int] | None = None,
           found: bool = True, text: str = SENTENCE) -> qa.Answer:
    start = DOC.index("同年")
    end = len(DOC) - 1
    p = qa.Passage(text=DOC[start:end], source="a.txt", start=start, end=end, score=0.9,
                   citation=f"[1] a.txt · 第2段 · 字符 {start}–{end}", paragraph=2)
    s = DOC.index(text) if text in DOC else 0
    return qa.Answer(question="多少钱?", found=found, text=text if found else "未找到可靠答案。",
                     passages=[p], confidence=0.71, span=("a.txt", s, s + len(text))
                     if found else None, short=short, short_span=short_span)


def test_short_answer_is_marked_by_its_span() -> None:
    at = DOC.index("10亿美元")
    a = answer("10亿美元", ("a.txt", at, at + len("10亿美元")))
    assert short_offsets(a) == (SENTENCE.index("10亿"), SENTENCE.index("10亿") + 5)
    assert answer_sentence_html(a) == ("<strong>同年7月,微软宣布将向OpenAI投资<mark>10亿美元</mark>"
                                       "。</strong>")


def test_short_answer_without_a_usable_span_is_found_in_the_sentence() -> None:
    for span in (None, ("b.txt", 0, 6), ("a.txt", 0, 6)):  # none, another file, wrong place
        a = answer("10亿美元", span)
        assert "<mark>10亿美元</mark>" in answer_sentence_html(a)


def test_no_short_answer_or_one_not_in_the_sentence_marks_nothing() -> None:
    assert "<mark>" not in answer_sentence_html(answer())
    assert "<mark>" not in answer_sentence_html(answer("20亿美元"))


def test_head_says_where_the_sentence_is() -> None:
    head = answer_head(answer())
    s = DOC.index(SENTENCE)
    assert head.startswith("<strong>")
    assert f"置信度 0.71 · a\\.txt · 第2段 · 字符 {s}–{s + len(SENTENCE)}" in head


def test_sources_mark_the_answer_sentence_in_its_passage() -> None:
    a = answer("10亿美元")
    body = sources_markdown(a)
    assert sources_title(a) == "出处 · 1 段"
    assert "**\\[1\\] a\\.txt · 第2段" in body and "分数 0.900" in body
    assert re.findall(r"<mark>(.*?)</mark>", body) == ["同年7月,微软宣布将向OpenAI投资10亿美元。"]
    assert "2021年再投20亿美元。" in body  # the rest of the passage is there, unmarked


def test_refusal_is_plain() -> None:
    a = answer(found=False)
    assert answer_head(a) == "未找到可靠答案。"
    assert "最接近" in sources_title(a)
    assert "<mark>" not in sources_markdown(a) and "<strong>" not in answer_markdown(a)


def test_hostile_short_answer_stays_text() -> None:
    text = "攻击者写入<script>alert(1)</script>脚本。"
    a = answer("<script>alert(1)</script>", text=text)
    html = answer_sentence_html(a)
    assert "<script>" not in html and "<mark>&lt;script&gt;alert\\(1\\)&lt;/script&gt;</mark>" in html
