"""An OpenAI-compatible face of the API, for chat front ends and scripts written against the
``openai`` client (Open WebUI, LobeChat, ChatBox, Dify, …):

    GET  /v1/models             qa (the default base), qa:NAME (each other base), qa:* (all)
    POST /v1/chat/completions   {"model", "messages", "stream"} (+ "filter", "k")

The last message is the question, the user's earlier messages its follow-up history (system
and assistant messages are ignored). The reply is an assistant message in Markdown: the answer
sentence with its short answer in bold and the number of the passage it is in, then the
numbered citations ("[1] file · 第3段 · 字符 53–415"), each linking to the document view. A
question the documents do not answer gets an ordinary message saying so, with the closest
passages. The same citations are in a field beside the message, ``citations`` (source, kb,
start, end, paragraph, page, score, label, url, text), with the rest of the answer in ``qa``
(found, confidence, short, span, kb, generation, corrected). With ``stream: true`` the reply is
sent as server-sent events exactly as OpenAI sends them (``chat.completion.chunk`` objects,
the first also carrying ``citations`` and ``qa``, then ``data: [DONE]``).

Reads need the base's read token as on every other endpoint (``Authorization: Bearer …``, the
``api_key`` of the client); ``/v1/models`` lists only the bases the token may read.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from qa.answer.answerer import Answer, Passage
from qa.bases import ALL
from qa.config import DEFAULT_KB, BadKbName
from qa.errors import BadInput, NotFound, QAError, http_status
from qa.serve.render import answer_passage, view_url

if TYPE_CHECKING:
    from qa.serve.routes import Context

#: the model name of the default base; ``qa:NAME`` names another, ``qa:*`` every one
MODEL = "qa"
#: what a refusal says before the closest passages
NOT_ANSWERED = "文档中没有能回答这个问题的内容。"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
#: the OpenAI error ``type`` of each status
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error"}


def openai_error(status: int, message: str, headers: dict[str, str] | None = None
                 ) -> JSONResponse:
    """An error as the OpenAI API sends one (so its clients show the message)."""
    return JSONResponse(status_code=status, headers=headers, content={"error": {
        "message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": None,
        "code": None}})


class OpenAIRoute(APIRoute):
    """A route whose refusals (HTTP errors, a body that does not validate) are shaped as
    the OpenAI API shapes them: ``{"error": {"message", "type", …}}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except HTTPException as exc:
                return openai_error(exc.status_code, str(exc.detail),
                                    getattr(exc, "headers", None))
            except QAError as exc:  # its status from the one table (qa.errors)
                return openai_error(http_status(exc), str(exc))
            except RequestValidationError as exc:
                where = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:]) or 'body'}: "
                                  f"{e['msg']}" for e in exc.errors())
                return openai_error(400, where or "bad request")

        return handler


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """What the ``openai`` client sends; options qa has no use for (temperature, …) are
    accepted and ignored. ``filter`` and ``k`` come in the client's ``extra_body``."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(examples=[MODEL])
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: dict[str, Any] | None = None
    filter: dict[str, Any] | None = Field(None, description="as in POST /v1/ask")
    k: StrictInt = Field(3, description="passages to cite, 1 to 20")


def kb_of(model: str) -> str:
    """The knowledge base a model name picks: ``qa`` the default, ``qa:NAME``, ``qa:*``."""
    name, sep, kb = model.strip().partition(":")
    if name != MODEL:
        raise NotFound(f"no model {model!r}: the models are {MODEL!r} (the default "
                          f"knowledge base), '{MODEL}:NAME' (base NAME) and '{MODEL}:*' (all)")
    return kb.strip() if sep else DEFAULT_KB


def model_of(kb: str) -> str:
    return MODEL if kb == DEFAULT_KB else f"{MODEL}:{kb}"


def text_of(message: ChatMessage) -> str:
    """A message's text (a list of parts: its text parts joined)."""
    if isinstance(message.content, str) or message.content is None:
        return message.content or ""
    return "\n".join(str(p.get("text", "")) for p in message.content
                     if p.get("type") == "text")


def question_and_history(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """The question (the last message, which must be the user's) and the user's earlier
    messages, oldest first."""
    if messages[-1].role != "user":
        raise BadInput(f"the last message must be the user's question, not a "
                         f"{messages[-1].role!r} message")
    users = [text_of(m) for m in messages if m.role == "user"]
    return users[-1], [u for u in users[:-1] if u.strip()]


def md(text: str) -> str:
    """Corpus text made inert for Markdown (no links, emphasis or HTML of its own)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _target(answer: Answer, p: Passage) -> tuple[int, int]:
    """What a citation marks: the answer sentence when it is in the passage, else the
    passage."""
    if answer.span and answer.span[0] == p.source and p.start <= answer.span[1] \
            and answer.span[2] <= p.end:
        return answer.span[1], answer.span[2]
    return p.start, p.end


def citations(answer: Answer, base_url: str) -> list[dict[str, Any]]:
    """The answer's passages as structured citations, numbered from 1."""
    out = []
    for n, p in enumerate(answer.passages, 1):
        kb = p.kb or answer.kb or DEFAULT_KB
        label = re.sub(r"^\[\d+\]\s*", "", p.citation)
        out.append({"index": n, "kb": kb, "source": p.source, "start": p.start, "end": p.end,
                    "paragraph": p.paragraph, "page": p.page, "heading": p.heading,
                    "score": p.score, "label": f"[{n}] {label}",
                    "url": base_url + view_url(kb, p.source, *_target(answer, p)),
                    "text": p.text})
    return out


def sentence_markdown(answer: Answer) -> str:
    """The answer sentence, its short answer in bold (a yes/no verdict before it)."""
    from qa.serve.render import short_offsets

    where = short_offsets(answer)
    if where is None:
        sentence = md(answer.text)
    else:
        s, e = where
        sentence = f"{md(answer.text[:s])}**{md(answer.text[s:e])}**{md(answer.text[e:])}"
    return f"**{answer.short}**。{sentence}" if answer.is_verdict else sentence


def reply_markdown(answer: Answer, cites: list[dict[str, Any]]) -> str:
    """The assistant message: the answer (or the refusal), then the numbered citations."""
    listed = "\n\n".join(f"[{c['index']}] [{md(c['label'].split('] ', 1)[1])}]({c['url']})"
                         for c in cites)
    note = getattr(answer, "note", "")  # a remembered correction's mark
    marked = f"\n\n*{md(note)}*" if note else ""
    if not answer.found:
        head = NOT_ANSWERED + marked
        return f"{head}\n\n最接近的段落（仅供参考）：\n\n{listed}" if cites else head
    own = answer_passage(answer)
    number = next((c["index"] for c, p in zip(cites, answer.passages, strict=True)
                   if p is own), None)
    head = sentence_markdown(answer) + (f" [{number}]" if number else "") + marked
    return f"{head}\n\n置信度 {answer.confidence:.2f}\n\n{listed}" if cites else head


def answer_fields(answer: Answer) -> dict[str, Any]:
    """The answer beside the message: found, confidence, short answer, where, which base."""
    return {"found": answer.found, "confidence": answer.confidence, "short": answer.short,
            "sentence": answer.text if answer.found else None,
            "span": list(answer.span) if answer.span else None,
            "short_span": list(answer.short_span) if answer.short_span else None,
            "kb": answer.kb, "generation": answer.generation,
            "corrected": getattr(answer, "corrected", None)}


def _envelope(kind: str, model: str, ident: str, created: int) -> dict[str, Any]:
    return {"id": ident, "object": kind, "created": created, "model": model,
            "system_fingerprint": None}


def completion(answer: Answer, model: str, base_url: str, question: str) -> dict[str, Any]:
    """The ``chat.completion`` object of an answer (usage counted in characters)."""
    cites = citations(answer, base_url)
    content = reply_markdown(answer, cites)
    out = _envelope("chat.completion", model, f"chatcmpl-{uuid.uuid4().hex}", int(time.time()))
    out["choices"] = [{"index": 0, "finish_reason": "stop", "logprobs": None,
                       "message": {"role": "assistant", "content": content, "refusal": None}}]
    out["usage"] = {"prompt_tokens": len(question), "completion_tokens": len(content),
                    "total_tokens": len(question) + len(content)}
    out["citations"], out["qa"] = cites, answer_fields(answer)
    return out


def sse(data: dict[str, Any] | str) -> str:
    """One server-sent event as the OpenAI API sends it."""
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False,
                                                         separators=(",", ":"))
    return f"data: {body}\n\n"


def pieces(text: str, size: int = 24) -> Iterator[str]:
    """``text`` in short pieces, line breaks kept (the deltas of a stream)."""
    for line in text.splitlines(keepends=True):
        for i in range(0, len(line), size):
            yield line[i : i + size]


def stream(whole: dict[str, Any], usage: bool = False) -> Iterator[str]:
    """The events of a streamed reply: the role (with the citations), the content in pieces,
    the finish, with ``usage`` a last chunk of no choices carrying it, ``[DONE]``."""
    head = {k: whole[k] for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return head | {"choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": finish}]}

    yield sse(chunk({"role": "assistant", "content": ""})
              | {"citations": whole["citations"], "qa": whole["qa"]})
    for piece in pieces(whole["choices"][0]["message"]["content"]):
        yield sse(chunk({"content": piece}))
    yield sse(chunk({}, "stop"))
    if usage:
        yield sse(head | {"choices": [], "usage": whole["usage"]})
    yield sse("[DONE]")


def add_openai_routes(api: FastAPI, ctx: Context) -> None:
    """``/v1/models`` and ``/v1/chat/completions`` over the bases of ``ctx``."""
    bases = ctx.bases
    router = APIRouter(route_class=OpenAIRoute)
    bearer = HTTPBearer(auto_error=False, description="the read token of the base, if any")
    tags = ["OpenAI-compatible"]

    def may_read(kb: str, credentials: HTTPAuthorizationCredentials | None) -> None:
        """401/403 unless ``credentials`` may read ``kb`` (every base, for "*")."""
        ctx.reader(lambda kb: kb)(kb=kb, credentials=credentials)

    def resolve(model: str) -> str:
        try:
            kb = kb_of(model)
            if kb != ALL:
                bases.settings_of(kb)
        except BadKbName as exc:
            raise HTTPException(400, f"model {model!r}: {exc}") from None
        except NotFound as exc:  # no such model or base
            raise HTTPException(404, str(exc)) from None
        return kb

    @router.get("/v1/models", tags=tags, responses=ctx.errors)
    def models(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
               ) -> dict[str, Any]:
        """The models: one per knowledge base the token may read, and ``qa:*`` when it may
        read them all."""
        names = []
        for kb in bases.names():
            try:
                may_read(kb, credentials)
            except HTTPException:
                continue
            names.append(kb)
        if names and len(names) == len(bases.names()):
            names.append(ALL)
        return {"object": "list", "data": [{"id": model_of(kb), "object": "model",
                                            "created": 0, "owned_by": "qa"} for kb in names]}

    @router.get("/v1/models/{model}", tags=tags, responses=ctx.errors)
    def model(model: str, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
              ) -> dict[str, Any]:
        """One model (404 when there is no such base; 401/403 as its reads)."""
        kb = resolve(model)
        may_read(kb, credentials)
        return {"id": model_of(kb), "object": "model", "created": 0, "owned_by": "qa"}

    @router.post("/v1/chat/completions", tags=tags, responses=ctx.errors, response_model=None)
    def chat(body: ChatRequest, request: Request,
             credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
             ) -> dict[str, Any] | StreamingResponse:
        """The answer as an assistant message with numbered citations (``stream``: as
        server-sent events); the structured citations in ``citations``."""
        kb = resolve(body.model)
        may_read(kb, credentials)
        question, history = question_and_history(body.messages)  # BadInput: 400
        answer = bases.ask(question, kb=kb, k=body.k, history=history, where=body.filter)
        whole = completion(answer, body.model.strip(), str(request.base_url).rstrip("/"),
                           question)
        if not body.stream:
            return whole
        usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(stream(whole, usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    api.include_router(router)
