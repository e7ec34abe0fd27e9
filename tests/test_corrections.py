"""Corrections remembered per knowledge base (``qa.answer.corrections``): a 👎 with a better
sentence or "not in the documents", and FAQ pairs, answer the same question and close
paraphrases, marked; a changed cited text drops them; REST lists and deletes them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from qa.answer.corrections import MARK, from_feedback, similarity
from qa.answer.faq import read_faq
from tests.conftest import make_settings
from tests.test_api import HEADLINE, copy_project

ARTICLE = "microsoft-openai.txt"
BETTER = "2021年,微软再次向OpenAI投资20亿美元,Azure OpenAI集成GPT-3模型,用户可以直接通过相关API进行调用,开启初步商业化。"
PARAPHRASE = "2019年微软给OpenAI投了多少钱?"
OTHER = "ChatGPT一天要烧掉多少钱?"


def feedback_line(question: str, **fields: object) -> str:
    row = {"time": "2026-11-30T08:00:00+00:00", "kb": "default", "question": question,
           "generation": "", "answer_span": None, "verdict": "down", "better_span": None,
           "not_in_documents": False} | fields
    return json.dumps(row, ensure_ascii=False) + "\n"


@pytest.fixture
def engine(tmp_path: Path, shared_qa, embedder):  # type: ignore[no-untyped-def]
    from qa.service import QA

    root = copy_project(shared_qa, tmp_path)
    return QA(make_settings(root), embedder=embedder)


def correct(engine, question: str, **fields: object) -> None:  # type: ignore[no-untyped-def]
    path = engine.settings.corpus_dir / ".qa" / "feedback.jsonl"
    path.parent.mkdir(exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(feedback_line(question, **fields))


def better_span(engine) -> list[object]:  # type: ignore[no-untyped-def]
    text = (engine.settings.corpus_dir / ARTICLE).read_text(encoding="utf-8")
    start = text.index(BETTER)
    return [ARTICLE, start, start + len(BETTER)]


def test_a_better_sentence_answers_the_question_and_its_paraphrase(engine) -> None:  # type: ignore[no-untyped-def]
    before = engine.ask(HEADLINE)
    assert before.text != BETTER and not hasattr(before, "note")
    correct(engine, HEADLINE, better_span=better_span(engine))
    for question in (HEADLINE, PARAPHRASE):
        answer = engine.ask(question)
        assert answer.found and answer.text == BETTER, question
        assert answer.span == tuple(better_span(engine))
        assert answer.note == f"{MARK}（2026-11-30）"
        assert answer.passages[0].start <= answer.span[1] < answer.span[2] <= \
            answer.passages[0].end
        assert answer.to_json()["corrected"]["question"] == HEADLINE
    other = engine.ask(OTHER)
    assert not hasattr(other, "note") and "70万美元" in other.text
    follow_up = engine.ask("那2021年呢?", history=[HEADLINE])
    assert not hasattr(follow_up, "note"), "a follow-up is read in its context, uncorrected"


def test_a_looser_paraphrase_answered_as_wrongly_gets_the_correction(engine) -> None:  # type: ignore[no-untyped-def]
    loose = "微软头一回给OpenAI砸了多少钱?"
    engine.corrections.same_answer = 0.8  # the rule, not the fitted value (bench/corrections.py)
    wrong = engine.ask(HEADLINE).span
    assert engine.ask(loose).span == wrong  # the same answer as the corrected question's
    correct(engine, HEADLINE, better_span=better_span(engine))
    assert not hasattr(engine.ask(loose), "note"), "not close enough on its own"
    path = engine.settings.corpus_dir / ".qa" / "feedback.jsonl"
    path.write_text(feedback_line(HEADLINE, better_span=better_span(engine),
                                  answer_span=list(wrong)), encoding="utf-8")
    answer = engine.ask(loose)
    assert answer.text == BETTER and answer.corrected["similarity"] < \
        engine.settings.correction_threshold
    assert not hasattr(engine.ask(OTHER), "note")


def test_not_in_the_documents_refuses_marked(engine) -> None:  # type: ignore[no-untyped-def]
    correct(engine, HEADLINE, not_in_documents=True)
    answer = engine.ask(HEADLINE)
    assert not answer.found and answer.note.startswith(MARK) and answer.passages
    from qa.serve.render import answer_head

    assert MARK in answer_head(answer)
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api

    body = {"model": "qa", "messages": [{"role": "user", "content": HEADLINE}]}
    reply = TestClient(create_api(engine)).post("/v1/chat/completions", json=body).json()
    assert reply["choices"][0]["message"]["content"].startswith("文档中没有能回答")
    assert MARK in reply["choices"][0]["message"]["content"] and not reply["qa"]["found"]


def test_a_changed_cited_text_drops_the_correction(engine, caplog) -> None:  # type: ignore[no-untyped-def]
    correct(engine, HEADLINE, better_span=better_span(engine))
    assert engine.ask(HEADLINE).text == BETTER
    path = engine.settings.corpus_dir / ARTICLE
    path.write_text(path.read_text(encoding="utf-8").replace("微软再次", "微软又一次"),
                    encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="qa.corrections"):
        answer = engine.ask(HEADLINE)
    assert not hasattr(answer, "note")
    assert any("dropped: the cited text of microsoft-openai.txt changed" in r.getMessage()
               for r in caplog.records)
    listed = engine.corrections.listing(engine.index)
    assert [c.status.split(":")[0] for c in listed] == ["dropped"]
    path.write_text(path.read_text(encoding="utf-8").replace("微软又一次", "微软再次"),
                    encoding="utf-8")
    assert not hasattr(engine.ask(HEADLINE), "note"), "a dropped correction stays dropped"


def test_a_filter_outside_the_correction_ignores_it(engine) -> None:  # type: ignore[no-untyped-def]
    correct(engine, HEADLINE, better_span=better_span(engine))
    assert engine.ask(HEADLINE, where={"type": "txt"}).text == BETTER
    (engine.settings.corpus_dir / "cafe.md").write_text("微软给咖啡馆投资了3亿美元。\n",
                                                        encoding="utf-8")
    answer = engine.ask(HEADLINE, where={"type": "md"})
    assert not hasattr(answer, "note") and {p.source for p in answer.passages} == {"cafe.md"}


def test_rest_faq_list_delete_and_the_openai_reply(engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api

    client = TestClient(create_api(engine))
    faq = (json.dumps({"问题": "OpenAI的ChatGPT每天花多少钱?", "答案": "每天就要消耗70万美元左右的成本"},
                      ensure_ascii=False) + "\n"
           + json.dumps({"问题": "客服电话是多少?", "答案": "请拨打 400-000-0000。"},
                        ensure_ascii=False) + "\n").encode("utf-8")
    r = client.post("/v1/corrections/faq", files={"file": ("faq.jsonl", faq, "text/plain")})
    assert r.status_code == 201 and r.json()["added"] == 2
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(("问题", "答案"))
    book.active.append(("开放时间是几点?", "每天九点到五点。"))
    sheet = io.BytesIO()
    book.save(sheet)
    r = client.post("/v1/corrections/faq", files={"file": ("常见问题.xlsx", sheet.getvalue())})
    assert r.status_code == 201 and r.json()["added"] == 1
    assert engine.ask("开放时间是几点?").text == "每天九点到五点。"
    bad = client.post("/v1/corrections/faq", files={"file": ("faq.jsonl", b'{"q": 1}\n')})
    assert bad.status_code == 400 and "line 1" in bad.json()["error"]
    phone = engine.ask("客服电话是多少?")
    assert phone.found and phone.text == "请拨打 400-000-0000。" and phone.span is None
    cost = engine.ask("OpenAI的ChatGPT每天花多少钱?")
    assert cost.text == "每天就要消耗70万美元左右的成本" and cost.span[0] == ARTICLE
    listed = client.get("/v1/corrections").json()["corrections"]
    assert sorted((c["kind"], c["origin"], c["status"]) for c in listed) == [
        ("span", "faq", "live"), ("text", "faq", "live"), ("text", "faq", "live")]
    body = {"model": "qa", "messages": [{"role": "user", "content": "客服电话是多少?"}]}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert MARK in reply["choices"][0]["message"]["content"]
    assert reply["qa"]["corrected"]["origin"] == "faq"
    phone_id = next(c["id"] for c in listed if c["question"] == "客服电话是多少?")
    assert client.delete(f"/v1/corrections/{phone_id}").status_code == 200
    assert client.delete(f"/v1/corrections/{phone_id}").status_code == 404
    assert not hasattr(engine.ask("客服电话是多少?"), "note")
    statuses = {c["id"]: c["status"] for c in client.get("/v1/corrections").json()["corrections"]}
    assert statuses[phone_id] == "deleted"


# -- without the model -------------------------------------------------------------------------


def test_feedback_lines_as_corrections(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text(
        feedback_line("甲?", better_span=["a.txt", 3, 9])
        + feedback_line("乙?", not_in_documents=True)
        + feedback_line("丙?")  # a bare 👎 teaches nothing
        + feedback_line("丁?", verdict="up", answer_span=["a.txt", 0, 2])
        + feedback_line("甲?", better_span=["a.txt", 10, 20], answer_span=["a.txt", 0, 2])
        + feedback_line("戊?", better_span=["a.txt", 9, 3])  # no span
        + "not json\n", encoding="utf-8")
    got = {c.question: (c.kind, c.span, c.answered) for c in from_feedback(path)}
    assert got == {"甲?": ("span", ("a.txt", 10, 20), ("a.txt", 0, 2)),
                   "乙?": ("unanswerable", None, None)}


def test_faq_files() -> None:
    pairs = read_faq('{"问题": "甲?", "答案": "乙"}\n\n{"question": "丙?", "answer": "丁"}\n'
                     .encode())
    assert pairs == [("甲?", "乙"), ("丙?", "丁")]
    for data, named in [(b"\xff\xfe", "not UTF-8"), (b"[1]\n", "line 1: expected"),
                        (b'{"a": 1}\nnope\n', "line 1"), (b"", "no pairs")]:
        with pytest.raises(ValueError, match=named):
            read_faq(data)


def test_faq_spreadsheets() -> None:
    import io

    from openpyxl import Workbook

    from qa.answer.faq import read_faq_xlsx

    def sheet(*rows: tuple[object, ...]) -> bytes:
        book = Workbook()
        for row in rows:
            book.active.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    data = sheet(("编号", "问题", "答案"), (1, "甲?", "乙"), (2, "", "无问题"), (3, "丙?", 42))
    assert read_faq_xlsx(data) == [("甲?", "乙"), ("丙?", "42")]
    with pytest.raises(ValueError, match="must name the columns 问题 and 答案"):
        read_faq_xlsx(sheet(("Q", "A"), ("甲?", "乙")))
    with pytest.raises(ValueError, match=r"not a readable \.xlsx"):
        read_faq_xlsx(b"PK not really")


def test_similarity_adds_the_bigram_overlap() -> None:
    assert similarity(0.8, {"ab", "bc"}, {"ab", "bc"}) == pytest.approx(1.3)
    assert similarity(0.8, {"ab"}, {"cd"}) == pytest.approx(0.8)
