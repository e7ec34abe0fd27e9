"""The OpenAI-compatible endpoint, through the official ``openai`` client and a raw HTTP read
of the SSE stream, against a real uvicorn server on a free port (``qa.serve.openai_api``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.serve.openai_api import ChatMessage, kb_of, pieces, question_and_history
from tests.conftest import make_settings
from tests.test_api import HEADLINE, copy_project, free_port

READ = "secret-read-token"
CAFE = "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。\n"
CAFE_QUESTION = "量子猫公司火星咖啡馆的首任店长叫什么?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_qa, embedder) -> Iterator[str]:
    """uvicorn serving ``create_api`` over a copy of the project, with a base "cafe" and a
    private base "vault" (its own read token)."""
    import uvicorn

    from qa.serve.api import create_api
    from qa.service import QA

    root = copy_project(shared_qa, tmp_path_factory.mktemp("openai"))
    for name, own in (("cafe", None), ("vault", READ)):
        corpus = root / "kbs" / name / "corpus"
        (corpus / ".qa").mkdir(parents=True)
        (root / "kbs" / name / "index").mkdir()
        (corpus / "cafe.txt").write_text(CAFE, encoding="utf-8")
        if own:
            (corpus / ".qa" / "settings.json").write_text(json.dumps({"read_token": own}))
    port = free_port()
    api = create_api(QA(make_settings(root), embedder=embedder))
    config = uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=30)


def client(url: str, key: str = "none"):  # type: ignore[no-untyped-def]
    from openai import OpenAI

    return OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)


def test_the_client_gets_the_answer_and_its_citations(server: str) -> None:
    reply = client(server).chat.completions.create(
        model="qa", messages=[{"role": "user", "content": HEADLINE}])
    text = reply.choices[0].message.content
    assert "**10亿美元**" in text, text
    assert "[1] [microsoft-openai.txt · 第" in text and "字符 " in text
    assert reply.choices[0].finish_reason == "stop"
    cites = reply.model_extra["citations"]
    first = cites[0]
    assert first["source"] == "microsoft-openai.txt" and first["kb"] == "default"
    assert {"start", "end", "paragraph", "page", "score", "url"} <= set(first)
    assert first["url"].startswith(server + "/v1/kbs/default/view/microsoft-openai.txt?")
    document = Path(reply.model_extra["qa"]["span"][0])
    assert document.name == "microsoft-openai.txt" and reply.model_extra["qa"]["found"]
    import httpx

    page = httpx.get(first["url"], timeout=30)  # the link opens the document, span marked
    assert page.status_code == 200 and '<mark id="cited">' in page.text


def test_streaming_through_the_client(server: str) -> None:
    events = list(client(server).chat.completions.create(
        model="qa", stream=True, messages=[{"role": "user", "content": HEADLINE}]))
    text = "".join(e.choices[0].delta.content or "" for e in events)
    assert "**10亿美元**" in text
    assert events[0].choices[0].delta.role == "assistant"
    assert events[0].model_extra["citations"][0]["source"] == "microsoft-openai.txt"
    assert events[-1].choices[0].finish_reason == "stop"


def test_usage_in_a_stream_and_one_model(server: str) -> None:
    import openai

    events = list(client(server).chat.completions.create(
        model="qa", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": HEADLINE}]))
    assert events[-1].choices == [] and events[-1].usage.completion_tokens > 0
    assert client(server).models.retrieve("qa:cafe").id == "qa:cafe"
    with pytest.raises(openai.NotFoundError):
        client(server).models.retrieve("qa:nope")
    with pytest.raises(openai.PermissionDeniedError):
        client(server, "wrong").models.retrieve("qa:vault")


def test_raw_sse_stream_ends_with_done(server: str) -> None:
    import httpx

    body = {"model": "qa", "stream": True, "messages": [{"role": "user", "content": HEADLINE}]}
    with httpx.stream("POST", server + "/v1/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode("utf-8")
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_named_base_and_every_base(server: str) -> None:
    ids = [m.id for m in client(server).models.list()]
    assert ids == ["qa", "qa:cafe"], "without the token the private base is not listed"
    reply = client(server).chat.completions.create(
        model="qa:cafe", messages=[{"role": "user", "content": CAFE_QUESTION}])
    assert "李四" in reply.choices[0].message.content
    assert reply.model_extra["citations"][0]["kb"] == "cafe"
    assert "/v1/kbs/cafe/view/cafe.txt" in reply.model_extra["citations"][0]["url"]
    with_token = [m.id for m in client(server, READ).models.list()]
    assert with_token == ["qa", "qa:cafe", "qa:vault", "qa:*"]


def test_a_private_base_needs_its_read_token(server: str) -> None:
    import httpx
    import openai

    ask = {"model": "qa:vault", "messages": [{"role": "user", "content": CAFE_QUESTION}]}
    bare = httpx.post(server + "/v1/chat/completions", json=ask, timeout=60)  # no token at all
    assert bare.status_code == 401
    assert "bearer token is required" in bare.json()["error"]["message"]
    with pytest.raises(openai.PermissionDeniedError):  # 403: a wrong one
        client(server, "wrong").chat.completions.create(**ask)
    with pytest.raises(openai.PermissionDeniedError):  # every base includes the private one
        client(server, "wrong").chat.completions.create(**(ask | {"model": "qa:*"}))
    reply = client(server, READ).chat.completions.create(**ask)
    assert "李四" in reply.choices[0].message.content
    every = client(server, READ).chat.completions.create(**(ask | {"model": "qa:*"}))
    assert "李四" in every.choices[0].message.content
    assert every.model_extra["qa"]["kb"] in ("cafe", "vault")
    assert {c["kb"] for c in every.model_extra["citations"]} <= {"default", "cafe", "vault"}


def test_follow_up_and_refusal(server: str) -> None:
    reply = client(server).chat.completions.create(model="qa", messages=[
        {"role": "system", "content": "你是助手"},
        {"role": "user", "content": HEADLINE},
        {"role": "assistant", "content": "10亿美元"},
        {"role": "user", "content": "那2021年呢?"}])
    assert "20亿美元" in reply.choices[0].message.content
    refused = client(server).chat.completions.create(
        model="qa", messages=[{"role": "user", "content": CAFE_QUESTION}])
    assert refused.choices[0].message.content.startswith("文档中没有能回答这个问题的内容")
    assert refused.model_extra["qa"]["found"] is False


def test_bad_requests_name_the_fault(server: str) -> None:
    import openai

    with pytest.raises(openai.NotFoundError, match="no model 'gpt-4'"):
        client(server).chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": HEADLINE}])
    with pytest.raises(openai.NotFoundError, match="no knowledge base 'nope'"):
        client(server).chat.completions.create(
            model="qa:nope", messages=[{"role": "user", "content": HEADLINE}])
    with pytest.raises(openai.BadRequestError, match="last message must be the user"):
        client(server).chat.completions.create(
            model="qa", messages=[{"role": "assistant", "content": HEADLINE}])
    with pytest.raises(openai.BadRequestError, match="matches none of the"):
        client(server).chat.completions.create(
            model="qa", messages=[{"role": "user", "content": HEADLINE}],
            extra_body={"filter": {"type": "pdf"}})
    with pytest.raises(openai.BadRequestError, match="messages: List should have at least"):
        client(server).chat.completions.create(model="qa", messages=[])


# -- without the model -------------------------------------------------------------------------


def test_model_names() -> None:
    assert kb_of("qa") == "default" and kb_of("qa:legal") == "legal" and kb_of("qa:*") == "*"
    with pytest.raises(LookupError, match="no model 'gpt-4o'"):
        kb_of("gpt-4o")


def test_question_and_history_from_messages() -> None:
    messages = [ChatMessage(role="system", content="s"), ChatMessage(role="user", content="一"),
                ChatMessage(role="assistant", content="a"),
                ChatMessage(role="user", content=[{"type": "text", "text": "二"}])]
    assert question_and_history(messages) == ("二", ["一"])
    with pytest.raises(ValueError, match="not a 'assistant' message"):
        question_and_history(messages[:3])


def test_pieces_keep_the_text() -> None:
    text = "第一行很长" * 20 + "\n\n[1] 出处\n"
    assert "".join(pieces(text)) == text and len(list(pieces(text))) > 3
