"""Filters (``qa.search.filters``): a filtered question never cites a document outside the
filter, over Python, the CLI, REST and the OpenAI endpoint; a filter no document passes is a
clear error; bad filters name the key at fault."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from qa.search.filters import BadFilter, NoDocumentMatches, Where, parse_date
from tests.conftest import CORPUS, make_settings
from tests.test_cli import run_qa

HEADLINE = "微软2019年向OpenAI投资了多少钱?"
#: documents beside the seed article (dated 2023-09-19), each with a dated title block
DOCUMENTS = {
    "reports/2019/old.txt": "微软投资回顾\n\n2019-07-22 09:00\n科技日报\n\n"
                            "2019年7月,微软向OpenAI投资10亿美元,双方合作开发Azure超级计算机。\n",
    "notes/cafe.md": "火星咖啡馆\n\n2031年5月1日\n火星日报\n\n"
                     "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。"
                     "微软也向这家咖啡馆投资了3亿美元。\n",
    "notes/undated.txt": "没有日期的笔记。微软在2019年投资了一家初创公司,金额未公开。\n",
}
QUESTIONS = [HEADLINE, "火星咖啡馆的首任店长叫什么?", "微软投资了哪些公司?",
             "这篇文章是哪天发布的?"]
FILTERS: list[dict[str, object]] = [
    {"folder": "reports"}, {"folder": "notes"}, {"type": "md"}, {"type": ["txt"]},
    {"name": "*cafe*"}, {"name": "notes/*.txt"}, {"after": "2024-01-01"},
    {"before": "2023-12-31"}, {"after": "2019-01-01", "before": "2023-09-19"},
    {"sources": ["microsoft-openai.txt"]}, {"folder": "notes", "type": "txt"},
]
DATES = {"microsoft-openai.txt": dt.date(2023, 9, 19), "reports/2019/old.txt":
         dt.date(2019, 7, 22), "notes/cafe.md": dt.date(2031, 5, 1)}


def admitted(spec: dict[str, object]) -> set[str]:
    where = Where.parse(spec)
    assert where is not None
    return {s for s in ["microsoft-openai.txt", *DOCUMENTS] if where.admits(s, DATES.get(s))}


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    from qa.service import QA

    root = tmp_path_factory.mktemp("filters")
    shutil.copytree(CORPUS, root / "corpus")
    for name, text in DOCUMENTS.items():
        (root / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    engine = QA(make_settings(root), embedder=embedder)
    engine.build()
    return engine


def cited(answer: dict) -> set[str]:  # type: ignore[type-arg]
    sources = {p["source"] for p in answer["passages"]}
    return sources | ({answer["span"][0]} if answer["span"] else set())


def test_python_never_cites_outside_the_filter(library) -> None:  # type: ignore[no-untyped-def]
    for spec in FILTERS:
        allowed = admitted(spec)
        assert allowed, spec
        for question in QUESTIONS:
            answer = library.ask(question, k=5, where=spec).to_json()
            assert answer["passages"], (spec, question)
            assert cited(answer) <= allowed, (spec, question, cited(answer))


def test_the_filter_changes_the_answer(library) -> None:  # type: ignore[no-untyped-def]
    assert library.ask(HEADLINE, where={"folder": "reports"}).span[0] == "reports/2019/old.txt"
    dated = library.ask("这篇文章是哪天发布的?", where={"type": "md"})
    assert dated.found and dated.short == "2031年5月1日"
    assert library.ask(HEADLINE).span[0] in ("microsoft-openai.txt", "reports/2019/old.txt")


def test_a_filter_matching_nothing_is_a_clear_error(library) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoDocumentMatches, match=r"matches none of the 4 documents"):
        library.ask(HEADLINE, where={"type": "pdf"})
    with pytest.raises(NoDocumentMatches, match="matches none"):
        library.ask(HEADLINE, where={"after": "2040-01-01"})


def test_cli_where(library) -> None:  # type: ignore[no-untyped-def]
    root = library.settings.corpus_dir.parent
    proc = run_qa("ask", HEADLINE, "--json", "-k", "5", "--where", "folder=notes",
                  "--where", "type=md", root=root)
    assert proc.returncode == 0, proc.stderr
    assert cited(json.loads(proc.stdout)) == {"notes/cafe.md"}
    proc = run_qa("search", HEADLINE, "--json", "--lexical", "-k", "5", "--where",
                  "name=*old*", root=root)
    assert proc.returncode == 0, proc.stderr
    assert {p["source"] for p in json.loads(proc.stdout)} == {"reports/2019/old.txt"}
    proc = run_qa("ask", HEADLINE, "--where", "type=pdf", root=root)
    assert proc.returncode == 2 and "matches none of the 4 documents" in proc.stderr
    proc = run_qa("ask", HEADLINE, "--where", "colour=red", root=root)
    assert proc.returncode == 2 and "unknown filter key 'colour'" in proc.stderr


def test_rest_filter(library) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api

    client = TestClient(create_api(library))
    for spec in FILTERS:
        for path in ("/v1/ask", "/v1/kbs/*/ask"):
            r = client.post(path, json={"question": HEADLINE, "k": 5, "filter": spec})
            assert r.status_code == 200, r.text
            assert cited(r.json()) <= admitted(spec), (path, spec)
    for lexical in (False, True):
        r = client.post("/v1/search", json={"question": HEADLINE, "k": 5, "lexical": lexical,
                                             "filter": {"folder": "notes"}})
        assert r.status_code == 200 and r.json()["passages"], r.text
        assert {p["source"] for p in r.json()["passages"]} <= admitted({"folder": "notes"})
    r = client.post("/v1/ask", json={"question": HEADLINE, "filter": {"type": "pdf"}})
    assert r.status_code == 400 and "matches none" in r.json()["error"]
    r = client.post("/v1/kbs/*/ask", json={"question": HEADLINE, "filter": {"type": "pdf"}})
    assert r.status_code == 400 and "matches no document of any" in r.json()["error"]
    r = client.post("/v1/ask", json={"question": HEADLINE, "filter": {"after": "soon"}})
    assert r.status_code == 400 and "'after'" in r.json()["error"]
    body = {"model": "qa", "messages": [{"role": "user", "content": HEADLINE}],
            "filter": {"folder": "reports"}}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert {c["source"] for c in reply["citations"]} == {"reports/2019/old.txt"}


# -- without the model -------------------------------------------------------------------------


def test_where_admits() -> None:
    day = dt.date(2023, 9, 19)
    assert Where(name=("*合同*",)).admits("a/采购合同.pdf")
    assert not Where(name=("*合同*",)).admits("合同/发票.pdf"), "the pattern is over the name"
    assert Where(name=("合同/*",)).admits("合同/发票.pdf"), "… or over the path with a /"
    assert Where(folder=("a",)).admits("a/b/c.txt") and not Where(folder=("a",)).admits("ab/c.txt")
    assert Where(folder=("",)).admits("top.txt") and not Where(folder=("",)).admits("a/x.txt")
    assert Where(type=("pdf",)).admits("x.PDF") and not Where(type=("pdf",)).admits("pdf.txt")
    assert Where(after=day).admits("x", day) and not Where(after=day).admits("x", None)
    assert not Where(before=dt.date(2023, 9, 18)).admits("x", day)


def test_where_parse() -> None:
    assert Where.parse(None) is None and Where.parse({}) is None
    where = Where.parse({"type": [".PDF", "md"], "folder": "reports/", "after": "2023年9月1日"})
    assert where == Where(type=("pdf", "md"), folder=("reports",), after=dt.date(2023, 9, 1))
    assert Where.from_pairs(["type=pdf", "type=md", "before=2024-01-31"]) == \
        Where(type=("pdf", "md"), before=dt.date(2024, 1, 31))
    for bad, named in [({"colour": "red"}, "'colour'"), ({"after": "tomorrow"}, "'after'"),
                       ({"type": 3}, "'type'"), ([1], "must be an object"),
                       ({"after": "2024-01-02", "before": "2024-01-01"}, "later than")]:
        with pytest.raises(BadFilter, match=named):
            Where.parse(bad)  # type: ignore[arg-type]
    with pytest.raises(BadFilter, match="KEY=VALUE"):
        Where.from_pairs(["pdf"])


def test_parse_date() -> None:
    assert parse_date("2023-09-19 10:25") == dt.date(2023, 9, 19)
    assert parse_date("2023/9/1") == dt.date(2023, 9, 1) and parse_date("2023年9月1日")
    assert parse_date("2023-13-40") is None and parse_date("昨天") is None

