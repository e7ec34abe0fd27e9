"""Hostile and odd input: every question yields an ``Answer`` or a ``ValueError`` with a
message, never anything else; rendered answers stay inert; the chunker keeps its promises for
any text (hypothesis)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa.ingest.chunking import chunk_document, paragraphs
from qa.ingest.corpus import Document
from qa.serve.render import answer_markdown, escape, unescape

HEADLINE = "微软2019年向OpenAI投资了多少钱?"

ODD_QUESTIONS = [
    "",
    "   ",
    "\n\t\u3000 ",
    "x" * 100_000,
    "微软\x00投资\x07了多少\x1b[31m钱\x7f?",
    "\x00\x01\x02",
    "\ud800abc",
    "微软\udfff投资了多少钱?",
    "🤖💰 微软投资OpenAI多少💵?",
    "Microsoft 微软 マイクロソフト Микрософт مايكروسوفت 投资了多少?",
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>微软投资",
    "[x](javascript:alert(1))",
    "'; DROP TABLE passages; -- 微软投资 OR 1=1",
    "../../etc/passwd",
    "{{7*7}} ${jndi:ldap://x} %s%s%n",
    "\u202e\u200b\ufeff微软\u200d投资",
    "？？？。。。！！！",
    "a",
    "的",
]


def check_answer_or_value_error(engine, question, **kw) -> qa.Answer | None:
    """Ask; return the Answer, or None after checking the ValueError has a message."""
    try:
        answer = engine.ask(question, **kw)
    except ValueError as exc:
        assert str(exc).strip(), "ValueError without a message"
        return None
    assert isinstance(answer, qa.Answer)
    assert isinstance(answer.found, bool) and isinstance(answer.text, str) and answer.text
    assert answer.passages, "a non-empty corpus always offers its closest passages"
    # the whole answer can be sent as UTF-8 JSON (no lone surrogates leak through)
    json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("question", ODD_QUESTIONS, ids=lambda q: repr(q[:20]))
def test_odd_questions(shared_qa, question: str) -> None:
    check_answer_or_value_error(shared_qa, question)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["", "   ", "\x00\x01\x02", "\t\n"])
def test_empty_questions_raise(shared_qa, question: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        shared_qa.ask(question)


@pytest.mark.slow
def test_over_long_question_names_the_limit(shared_qa) -> None:
    limit = shared_qa.settings.max_question_chars
    with pytest.raises(ValueError) as err:
        shared_qa.ask("问" * 100_000)
    message = str(err.value).replace(",", "")
    assert "limit" in message and str(limit) in message and "100000" in message
    # exactly at the limit is fine
    assert isinstance(shared_qa.ask("问" * limit), qa.Answer)


@pytest.mark.slow
def test_questions_are_cleaned_not_refused(shared_qa) -> None:
    a = shared_qa.ask("\ud800微软第一次向\x00OpenAI投资了多少钱?\x07")
    assert a.found and any("10亿美元" in p.text for p in a.passages)
    assert "\ud800" not in a.question and "\x00" not in a.question


@pytest.mark.slow
@pytest.mark.parametrize("question", [None, 42, 3.5, b"bytes", ["list"], {"q": 1}],
                         ids=repr)
def test_non_string_questions_raise_value_error(shared_qa, question) -> None:
    with pytest.raises(ValueError, match="string"):
        shared_qa.ask(question)


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, -1, 1000, "3", 2.0, None, True])
def test_bad_k_raises_value_error(shared_qa, k) -> None:
    with pytest.raises(ValueError, match="k"):
        shared_qa.ask(HEADLINE, k=k)


@pytest.mark.slow
def test_bad_history_is_not_a_crash(shared_qa) -> None:
    for history in (["", None, 42, "   "], ["\ud800" * 3], ["x" * 100_000]):
        check_answer_or_value_error(shared_qa, "那2021年呢?", history=history)


XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<IMG SRC=x>",
       "<svg/onload=alert(1)>", "[x](javascript:alert(1))", "![p](http://evil/x.png)"]


def rendered_tags(markdown: str) -> list[str]:
    """HTML tags left in the output other than the <strong> and <mark> the renderer adds."""
    return [t for t in re.findall(r"<\s*/?\s*[a-zA-Z!][^>]*>?", markdown)
            if t not in ("<strong>", "</strong>", "<mark>", "</mark>")]


@pytest.mark.parametrize("found", [True, False])
def test_render_escapes_html_and_markdown(found: bool) -> None:
    body = "投资10亿美元。" + "".join(XSS) + "结束。"
    p = qa.Passage(text=body, source="<img src=x>.txt", start=0, end=len(body), score=1.0,
                   citation="[1] <img src=x>.txt · 第1段 · 字符 0–99", paragraph=1)
    a = qa.Answer(question=XSS[0], found=found, text="<script>alert(2)</script>答案",
                  passages=[p], span=("<img src=x>.txt", 0, 30) if found else None)
    out = answer_markdown(a)
    assert "<script" not in out.lower() and "<img" not in out.lower() and "<svg" not in out
    assert rendered_tags(out) == []
    assert "](javascript:" not in out and "![p](" not in out
    assert "&lt;script" in out and "&lt;img" in out
    if found:
        assert out.count("<strong>") == out.count("</strong>") == 1  # the answer sentence
        assert out.count("<mark>") == out.count("</mark>") == 1  # ... inside its passage


def visible(markdown: str) -> str:
    """The text a reader sees once the Markdown is rendered (CommonMark, like the chat)."""
    from bs4 import BeautifulSoup
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(markdown)
    return BeautifulSoup(html, "html.parser").get_text()


@pytest.mark.parametrize("text", [
    "微软投资10亿美元(2019年)。",
    "<b & [x](javascript:alert(1)) *a* _b_ `c` #d !e |f| ~g~ \\ &amp; \"q\" 'q'",
    "<script>alert(1)</script>",
    "收入 > 成本, a>b",
    "<img src=x onerror=alert(1)>",
])
def test_escaped_text_reads_as_written(text: str) -> None:
    """Escaping makes text inert but must not change what the reader sees."""
    out = visible(escape(text))
    assert out.strip() == text


@pytest.mark.slow
def test_render_of_real_answers_to_hostile_questions(shared_qa) -> None:
    for question in XSS:
        out = answer_markdown(shared_qa.ask(question + " 微软投资"))
        assert rendered_tags(out) == [], question


# -- properties ------------------------------------------------------------------------------

CJK_TEXT = st.lists(
    st.one_of(st.sampled_from("微软投资亿美元合作人工智能云计算模型"),
              st.sampled_from(list("。！？；,，、 \u3000\t")), st.just("\n"), st.just("\n\n"),
              st.sampled_from(["THE END", "免责声明", "\ufeff", "\r\n", "OpenAI", "2019年"])),
    max_size=400).map("".join)


def check_chunks(text: str, chunk_size: int, overlap: int) -> None:
    """Exact offsets, bounded size, order, and every visible character of the text covered."""
    doc = Document(source="x.txt", text=text, sha256="0", encoding="utf-8")
    chunks = chunk_document(doc, chunk_size, overlap, first_id=7)
    covered = set()
    previous = (-1, -1)
    for i, c in enumerate(chunks):
        assert c.id == 7 + i
        assert text[c.start:c.end] == c.text
        assert 0 < len(c.text) <= chunk_size, (len(c.text), chunk_size)
        assert (c.start, c.end) > previous, "chunks out of order"
        previous = (c.start, c.end)
        assert c.kind in ("body", "meta")
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end
        covered.update(range(c.start, c.end))
    for para in paragraphs(text):
        if para.kind in ("body", "meta"):
            missing = [i for i in range(para.start, para.end)
                       if not text[i].isspace() and i not in covered]
            assert not missing, (para, [text[i] for i in missing[:10]])
        block = text[para.start:para.end]
        assert block and block == block.strip(), para  # paragraphs are trimmed


# derandomize: the same examples every run, so a rare hit of the bug pinned below cannot make
# the suite flaky; that bug has its own deterministic test.
@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=600), CJK_TEXT),
       chunk_size=st.integers(8, 220), overlap=st.integers(0, 60))
def test_chunker_properties(text: str, chunk_size: int, overlap: int) -> None:
    check_chunks(text, chunk_size, overlap)


@pytest.mark.parametrize(("text", "chunk_size", "overlap"), [
    ("正文开始" + "哈" * 600, 500, 50),  # the default settings
    ("数据：" + "ABCD" * 200, 500, 50),
    ("微软投资了十亿美元" * 5, 40, 0),
    ("000?0", 4, 0),
], ids=["default-size-han", "default-size-latin", "repeated-phrase", "tiny"])
def test_chunker_long_repetitive_paragraph(text: str, chunk_size: int, overlap: int) -> None:
    check_chunks(text, chunk_size, overlap)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_escape_round_trips(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert unescape(escaped) == text


@pytest.mark.slow
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(question=st.text(max_size=300))
def test_any_question_gives_an_answer_or_value_error(shared_qa, question: str) -> None:
    answer = check_answer_or_value_error(shared_qa, question)
    if answer is not None:
        assert 1 <= len(answer.passages) <= 3
        assert rendered_tags(answer_markdown(answer)) == []
