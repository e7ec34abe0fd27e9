"""Knowledge-base names, folders and merging answers across bases: no model, no index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.answerer import Answer, Passage
from qa.answer.merge import merge_answers, merge_passages
from qa.config import BadKbName, Settings, check_kb_name


@pytest.mark.parametrize("name", ["legal", "合同", "kb-2", "a.b", "x_y", "A1", "z" * 64])
def test_good_names(name: str) -> None:
    assert check_kb_name(name) == name


@pytest.mark.parametrize("name", ["", "..", "../x", "a/b", "a\\b", ".hidden", "-x", "_x",
                                  "a..b", "*", "a b", "z" * 65, "a\x00", "/etc", 3, None])
def test_bad_names_say_which(name: object) -> None:
    with pytest.raises(BadKbName) as caught:
        check_kb_name(name)
    assert str(caught.value).startswith("knowledge base name")
    assert repr(name) in str(caught.value)


def test_layout_of_bases(tmp_path: Path) -> None:
    s = Settings().with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                         kb_root=tmp_path / "kbs")
    assert s.for_kb("default") is s
    legal = s.for_kb("legal")
    assert (legal.kb, legal.corpus_dir, legal.index_dir) == (
        "legal", tmp_path / "kbs" / "legal" / "corpus", tmp_path / "kbs" / "legal" / "index")
    assert legal.milvus_prefix == "qa_kb_legal"
    chinese = s.for_kb("合同").milvus_prefix
    assert chinese.startswith("qa_kb_kb") and chinese.replace("_", "a").isascii()
    assert chinese.replace("_", "a").isalnum()
    with pytest.raises(ValueError, match="default base"):
        legal.for_kb("other")
    with pytest.raises(BadKbName, match=r"\.\./x"):
        s.for_kb("../x")


def passage(kb: str, source: str, score: float) -> Passage:
    return Passage(text="t", source=source, start=0, end=1, score=score,
                   citation=f"[9] {source} · 第1段 · 字符 0–1", paragraph=1, kb=kb)


def test_merge_takes_the_most_confident_found_answer_and_names_bases() -> None:
    a = Answer("q", True, "a", [passage("a", "a1.txt", 0.9), passage("a", "a2.txt", 0.5)],
               0.7, ("a1.txt", 0, 1), "gen-a", kb="a")
    b = Answer("q", True, "b", [passage("b", "b1.txt", 0.6), passage("b", "b2.txt", 0.95)],
               0.8, ("b1.txt", 0, 1), "gen-b", kb="b")
    c = Answer("q", False, "no", [passage("c", "c1.txt", 1.0)], 0.99, None, "gen-c", kb="c")
    m = merge_answers({"a": a, "b": b, "c": c}, k=3)
    assert m.found and m.kb == "b" and m.text == "b" and m.span == ("b1.txt", 0, 1)
    assert [(p.kb, p.source) for p in m.passages] == [("b", "b1.txt"), ("c", "c1.txt"),
                                                      ("b", "b2.txt")]
    assert [p.citation.split(" · ")[0] for p in m.passages] == [
        "[1] b/b1.txt", "[2] c/c1.txt", "[3] b/b2.txt"]
    assert m.generation == "a=gen-a,b=gen-b,c=gen-c"
    none = merge_answers({"c": c, "a": Answer("q", False, "no", [], 0.1, kb="a")}, k=3)
    assert not none.found and none.kb == "c"
    assert [p.kb for p in merge_passages({"a": a.passages, "b": b.passages}, 2)] == ["b", "a"]


def test_private_reads_serve_no_open_chat(tmp_path: Path) -> None:
    """With QA_READ_TOKEN the chat is behind a login (tests/test_login.py), the REST API
    behind its bearer tokens."""
    from fastapi.testclient import TestClient

    from qa.serve import app
    from qa.service import QA

    settings = Settings().with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                                kb_root=tmp_path / "kbs", read_token="r-token")
    client = TestClient(app.make_server(QA(settings)))
    assert client.get("/", follow_redirects=False).status_code in (303, 401)
    assert client.post("/v1/ask", json={"question": "谁?"}).status_code == 401
    assert client.get("/v1/kbs").status_code == 401
    r = client.get("/v1/kbs", headers={"Authorization": "Bearer r-token"})
    assert r.status_code == 200 and [b["name"] for b in r.json()["kbs"]] == ["default"]
