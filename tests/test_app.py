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

from qa.config import Settings
from qa.serve.render import escape, unescape

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

HEADLINE = "微软2019年向OpenAI投资了多少钱?"
ARTICLE = "microsoft-openai.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_qa) -> Iterator[SimpleNamespace]:
    """The app served from a temp copy of the corpus and its index."""
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(shared_qa.settings.corpus_dir, root / "corpus")
    shutil.copytree(shared_qa.settings.index_dir, root / "index",
                    ignore=shutil.ignore_patterns(".lock", "*.tmp"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_CORPUS_DIR", str(root / "corpus"))
        mp.setenv("QA_INDEX_DIR", str(root / "index"))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        from qa.serve import app
        from qa.service import QA

        engine = QA(Settings.from_env(), embedder=shared_qa.embedder)
        assert engine.settings.corpus_dir == (root / "corpus").resolve()
        assert engine.settings.index_dir == (root / "index").resolve()
        demo = app.make_app(engine)
        demo.queue()
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True, show_error=False)
        try:
            yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", root=root, app=app,
                                  engine=engine)
        finally:
            demo.close()


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
    assert isinstance(chat, list) and len(chat) > len(history or []) + 1
    new = chat[len(history or []):]
    assert new[0]["role"] == "user" and all(m["role"] == "assistant" for m in new[1:])
    return chat


def reply(chat: list[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """The last answer's head and its sources message (None when it has no passages)."""
    last_user = max(i for i, m in enumerate(chat) if m["role"] == "user")
    replies = chat[last_user + 1:]
    assert 1 <= len(replies) <= 2
    return text_of(replies[0]), replies[1] if len(replies) == 2 else None


def answer_sentence(head: str) -> str:
    m = re.match(r"<strong>(.*?)</strong>", head, re.S)
    assert m, head[:300]
    return m.group(1)


def test_api_lists_every_event(client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert {"/ask", "/ask_example", "/clear", "/load", "/documents", "/upload",
            "/delete_document", "/rebuild"} <= set(api["named_endpoints"])


def test_headline_answer_first_then_collapsed_sources(client, server) -> None:
    chat = ask(client, HEADLINE)
    assert text_of(chat[-3]) == escape(HEADLINE)
    head, sources = reply(chat)
    assert "10亿美元" in answer_sentence(head), "the answer sentence itself names the sum"
    assert re.search(r"microsoft\\-openai\\.txt · 第3段 · 字符 \d+–\d+", head), head
    assert sources is not None
    assert sources["metadata"]["title"].startswith("出处")
    assert sources["metadata"]["status"] == "done"  # Gradio shows it collapsed
    # every cited range is the quoted text of the file, as rendered
    article = (server.root / "corpus" / ARTICLE).read_text(encoding="utf-8")
    body = text_of(sources)
    plain = body.replace("<mark>", "").replace("</mark>", "")
    spans = [(int(a), int(b)) for a, b in re.findall(r"字符 (\d+)–(\d+)", body)]
    assert 1 <= len(spans) <= 3
    for start, end in spans:
        passage = article[start:end]
        assert passage and "\n" not in passage
        assert "> " + escape(passage) in plain, (start, end)
    marked = re.findall(r"<mark>(.*?)</mark>", body)
    sentence = answer_sentence(head)
    assert re.findall(r"<mark>(.*?)</mark>", sentence) == ["10亿美元"], "the short answer"
    assert marked == [sentence.replace("<mark>", "").replace("</mark>", "")], \
        "the answer sentence is marked in its passage"


def test_refusal_is_plain_with_the_closest_passages_collapsed(client) -> None:
    head, sources = reply(ask(client, "苹果公司的总部在哪里?"))
    assert head.startswith("未找到可靠答案") and "<strong>" not in head
    assert sources is not None and "最接近" in sources["metadata"]["title"]
    assert sources["metadata"]["status"] == "done"
    assert "<mark>" not in text_of(sources)


def test_follow_up_uses_the_chat_history(client) -> None:
    first = ask(client, HEADLINE)
    chat = ask(client, "那2021年呢?", first)
    assert "20亿美元" in answer_sentence(reply(chat)[0])


def test_earlier_questions_are_read_back_from_gradio_history(client, server) -> None:
    """The history the chat sends back is the one the server returned: its user questions must
    come back out as the questions typed."""
    chat = ask(client, HEADLINE)
    chat = ask(client, "那2021年呢?", chat)
    assert server.app._earlier_questions(chat) == [HEADLINE, "那2021年呢?"]


def test_example_questions_come_from_the_corpus(client) -> None:
    examples = client.predict(api_name="/load")[0]
    samples = [s[0] for s in examples["samples"]]
    assert samples[0] == "《微软与OpenAI合作的思考与启示》讲了什么?"
    assert "微软与OpenAI合作的原因分析" in samples
    chat = client.predict(0, [], api_name="/ask_example")[1]  # the first example, by index
    assert text_of(chat[0]) == escape(samples[0])
    assert answer_sentence(reply(chat)[0])


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
    head, sources = reply(ask(client, message))
    assert "无法回答这个问题" in head and sources is None
    assert "empty" in head or "limit" in head
    assert "Traceback" not in head


def test_rebuild_reports_the_index(client) -> None:
    status = unescape(client.predict("", api_name="/rebuild")[0])
    assert "索引已重建" in status, status
    assert "up to date" in status and "gen-" in status


def test_chat_keeps_answering_after_rebuild(client, server) -> None:
    client.predict("", api_name="/rebuild")
    (server.root / "corpus" / "cafe.txt").write_text(
        "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。\n", encoding="utf-8")
    try:
        chat = ask(client, "量子猫公司火星咖啡馆的首任店长叫什么?")
        head, sources = reply(chat)
        assert "李四" in answer_sentence(head)
        assert "cafe\\.txt" in head and sources is not None
        assert "10亿美元" in reply(ask(client, HEADLINE))[0]
    finally:
        Path(server.root / "corpus" / "cafe.txt").unlink()


def test_upload_and_delete_through_the_knowledge_base_events(client, server, tmp_path) -> None:
    from gradio_client import handle_file

    good = tmp_path / "kb-upload.txt"
    good.write_text("蓝鲸天文台建于2035年,台长名叫王五。\n", encoding="utf-8")
    binary = tmp_path / "kb-binary.txt"
    binary.write_bytes(b"\x00\x01\x02" * 30)
    status = client.predict([handle_file(str(good)), handle_file(str(binary))], False, "",
                            api_name="/upload")[0]  # all or none, as over REST
    assert "已拒绝** kb\\-binary\\.txt" in status and "binary data" in status
    assert "没有添加任何文件" in status and "已添加" not in status
    corpus = server.root / "corpus"
    assert not (corpus / "kb-upload.txt").exists() and not (corpus / "kb-binary.txt").exists()
    status = client.predict([handle_file(str(good))], False, "", api_name="/upload")[0]
    assert "已添加** kb\\-upload\\.txt" in status
    assert (corpus / "kb-upload.txt").read_text(encoding="utf-8").startswith("蓝鲸天文台")
    table = client.predict(api_name="/documents")[1]
    rows = {row[0]: row for row in table["data"]}
    assert rows["kb-upload.txt"][4] == "新文件 · 待重建"
    again = client.predict([handle_file(str(good))], False, "", api_name="/upload")[0]
    assert "已拒绝" in again and "replace" in again
    status = client.predict("kb-upload.txt", "", api_name="/delete_document")[0]
    assert "已删除" in status and not (corpus / "kb-upload.txt").exists()


def test_knowledge_base_writes_need_the_token_when_one_is_set(server, tmp_path, embedder) -> None:
    from qa.serve.library import Library
    from qa.service import QA

    settings = server.engine.settings.with_(api_token="t0ken", corpus_dir=tmp_path)
    engine = QA(settings, embedder=embedder)
    (tmp_path / "a.txt").write_text("一句话。", encoding="utf-8")
    library = Library(settings)
    from qa.serve.kb_tab import delete_document, upload_files

    assert "需要访问令牌" in delete_document(library, "a.txt", "wrong", engine)
    assert "需要访问令牌" in upload_files(library, [], False, None, engine)
    assert (tmp_path / "a.txt").exists()
    assert "已删除" in delete_document(library, "a.txt", "t0ken", engine)
