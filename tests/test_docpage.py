"""The chat's citation links and the document page they open, and the chat's feedback lines,
without a model: every character of a hostile document stays text, the cited span is marked
with the anchor the link jumps to, the page runs no script, names are quoted in links, and a
👎 with a better sentence writes the same line as ``POST /v1/feedback``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_settings

import qa
from qa.serve.render import answer_head, sources_markdown, view_url

HOSTILE = ("标题\n\n攻击者写入<script>alert(1)</script>脚本。"
           "还有<img src=x onerror=alert(2)>图片。\n\n第二段。\n")


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api
    from qa.service import QA

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "x (1).txt").write_text(HOSTILE, encoding="utf-8")
    (tmp_path / "kbs" / "other" / "corpus").mkdir(parents=True)
    (tmp_path / "kbs" / "other" / "corpus" / "o.txt").write_text("别的。\n", encoding="utf-8")
    return TestClient(create_api(QA(make_settings(tmp_path))))  # the model is never loaded


def test_the_page_marks_the_span_and_escapes_everything(client) -> None:  # type: ignore[no-untyped-def]
    start = HOSTILE.index("攻击者")
    end = HOSTILE.index("还有")
    r = client.get(view_url("default", "x (1).txt", start, end).split("#")[0])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none'
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script" not in page and "<img" not in page
    assert ('<mark id="cited">攻击者写入&lt;script&gt;alert(1)&lt;/script&gt;脚本。</mark>'
            in page)
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "第2段" in page


@pytest.mark.parametrize(("path", "status"), [
    ("/v1/kbs/other/view/x%20%281%29.txt", 404),  # a document of another base
    ("/v1/kbs/default/view/..%2Fkbs%2Fother%2Fcorpus%2Fo.txt", 400),
    ("/v1/view/x%20%281%29.txt?start=9&end=2", 400),
    ("/v1/kbs/nope/view/o.txt", 404),
])
def test_the_page_refuses_what_it_must(client, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    assert client.get(path).status_code == status


def test_citation_links_are_quoted_and_name_the_base() -> None:
    p = qa.Passage(text="一句(话)。", source="a (b).txt", start=3, end=9, score=0.5,
                   citation="[1] a (b).txt · 第1段 · 字符 3–9", paragraph=1, kb="legal")
    a = qa.Answer(question="问?", found=True, text="一句(话)。", passages=[p], confidence=0.8,
                  span=("a (b).txt", 3, 9), kb="legal")
    url = "/v1/kbs/legal/view/a%20%28b%29.txt?start=3&end=9#cited"
    assert answer_head(a, links=True).endswith(
        f"[legal/a \\(b\\)\\.txt · 第1段 · 字符 3–9]({url})")
    assert f"]({url})** · 分数" in sources_markdown(a, links=True)
    assert "](" not in answer_head(a) + sources_markdown(a)  # no links unless asked


def test_a_thumbs_down_with_a_better_sentence_is_a_feedback_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.bases import Bases
    from qa.serve import app

    (tmp_path / "corpus").mkdir()
    text = "第一句。第二句说了答案。\n"
    p = qa.Passage(text=text.strip(), source="d.txt", start=0, end=len(text) - 1, score=0.5,
                   citation="[1] d.txt · 第1段", paragraph=1, kb="default")
    a = qa.Answer(question="答案?", found=True, text="第一句。", passages=[p], span=("d.txt", 0, 4),
                  generation="gen-1")
    record = app.answer_record(a, "default")
    assert [label for label, _ in record["choices"]] == ["[1] 第一句。", "[1] 第二句说了答案。"]
    bases = Bases(make_settings(tmp_path))
    assert "附更好的句子" in app.write_feedback(bases, record, "down", "1")
    assert "文档中没有答案" in app.write_feedback(bases, record, "down", app.NOT_IN_DOCUMENTS)
    assert "答案正确" in app.write_feedback(bases, record, "up")
    lines = [json.loads(x) for x in (tmp_path / "corpus" / ".qa" / "feedback.jsonl")
             .read_text(encoding="utf-8").splitlines()]
    assert [x["verdict"] for x in lines] == ["down", "down", "up"]
    assert lines[0]["better_span"] == ["d.txt", 4, 12] and text[4:12] == "第二句说了答案。"
    assert lines[1]["not_in_documents"] and lines[1]["better_span"] is None
    assert lines[2]["answer_span"] == ["d.txt", 0, 4] and lines[2]["generation"] == "gen-1"
