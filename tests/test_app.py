"""The Gradio app, served for real on 127.0.0.1 and called through gradio_client."""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import qa
from qa.config import PROJECT_ROOT
from qa.render import escape, unescape

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

HEADLINE = "微软第一次向OpenAI投资了多少钱?"
ARTICLE = "microsoft-openai.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_qa) -> Iterator[SimpleNamespace]:
    """app.py served from a temp copy of the corpus and its index; qa's singleton restored."""
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(shared_qa.settings.corpus_dir, root / "corpus")
    shutil.copytree(shared_qa.settings.index_dir, root / "index",
                    ignore=shutil.ignore_patterns(".lock", "*.tmp"))
    saved = qa._default
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_CORPUS_DIR", str(root / "corpus"))
        mp.setenv("QA_INDEX_DIR", str(root / "index"))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        mp.syspath_prepend(str(PROJECT_ROOT))
        qa._default = None
        try:
            import app

            demo = app.make_app()  # creates qa.default() from the environment above
            assert qa.default().settings.corpus_dir == (root / "corpus").resolve()
            assert qa.default().settings.index_dir == (root / "index").resolve()
            demo.queue()
            port = free_port()
            demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                        quiet=True, show_error=False)
            try:
                yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", root=root, app=app)
            finally:
                demo.close()
        finally:
            qa._default = saved


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


def text_of(message: dict[str, Any]) -> str:
    """A chat message's text, whether content is a string or a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p)
                       for p in content)
    raise AssertionError(f"unexpected content {content!r}")


def ask(client, message: str, history: list | None = None) -> list[dict[str, Any]]:
    box, chat = client.predict(message, history or [], api_name="/ask")
    assert box == "", "the textbox is cleared after sending"
    assert isinstance(chat, list) and len(chat) == len(history or []) + 2
    assert [m["role"] for m in chat[-2:]] == ["user", "assistant"]
    return chat


def answer_sentence(reply: str) -> str:
    m = re.search(r"\*\*答案：\*\* <strong>(.*?)</strong>", reply, re.S)
    assert m, reply[:300]
    return m.group(1)


def test_api_lists_ask_and_rebuild(client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert {"/ask", "/rebuild"} <= set(api["named_endpoints"])


def test_headline_answer_with_citations(client, server) -> None:
    chat = ask(client, HEADLINE)
    assert text_of(chat[-2]) == escape(HEADLINE)
    reply = text_of(chat[-1])
    assert "10亿美元" in reply
    assert "10亿美元" in answer_sentence(reply), "the answer sentence itself names the sum"
    assert re.search(r"第\d+段", reply) and "字符" in reply
    # every cited range is the quoted text of the file, as rendered
    article = (server.root / "corpus" / ARTICLE).read_text(encoding="utf-8")
    plain = reply.replace("<strong>", "").replace("</strong>", "")
    spans = [(int(a), int(b)) for a, b in re.findall(r"字符 (\d+)–(\d+)", reply)]
    assert 1 <= len(spans) <= 3
    for start, end in spans:
        passage = article[start:end]
        assert passage and "\n" not in passage
        assert "> " + escape(passage) in plain, (start, end)


def test_follow_up_uses_the_chat_history(client) -> None:
    first = ask(client, HEADLINE)
    chat = ask(client, "那2021年呢?", first)
    assert "20亿美元" in answer_sentence(text_of(chat[-1]))


def test_earlier_questions_are_read_back_from_gradio_history(client, server) -> None:
    """The history the chat sends back is the one the server returned: its user questions must
    come back out as the questions typed."""
    chat = ask(client, HEADLINE)
    assert server.app._earlier_questions(chat) == [HEADLINE]


@pytest.mark.parametrize("payload", [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script> 微软投资",
    "[x](javascript:alert(1)) 微软投资了多少钱",
])
def test_xss_payload_stays_text(client, payload: str) -> None:
    chat = ask(client, payload)
    for message in chat:
        text = text_of(message).lower()
        assert "<img" not in text and "<script" not in text, text[:300]
        assert "](javascript:" not in text
    assert text_of(chat[-1]).strip()


@pytest.mark.parametrize("message", ["", "   ", "问" * 5000])
def test_bad_question_gets_a_clear_reply(client, message: str) -> None:
    reply = text_of(ask(client, message)[-1])
    assert "无法回答这个问题" in reply
    assert "empty" in reply or "limit" in reply
    assert "Traceback" not in reply


def test_rebuild_reports_the_index(client) -> None:
    status = unescape(client.predict(api_name="/rebuild"))
    assert "索引已重建" in status, status
    assert "up to date" in status and "gen-" in status


def test_chat_keeps_answering_after_rebuild(client, server) -> None:
    client.predict(api_name="/rebuild")
    (server.root / "corpus" / "cafe.txt").write_text(
        "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。\n", encoding="utf-8")
    try:
        reply = text_of(ask(client, "量子猫公司火星咖啡馆的首任店长叫什么?")[-1])
        assert "李四" in answer_sentence(reply)
        assert "cafe\\.txt" in reply
        assert "10亿美元" in text_of(ask(client, HEADLINE)[-1])
    finally:
        Path(server.root / "corpus" / "cafe.txt").unlink()
