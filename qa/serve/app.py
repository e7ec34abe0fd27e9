"""The app: a Gradio chat and knowledge base mounted into qa's REST API (``qa.serve.api``), one server.

    qa serve [--corpus DIR] [--index DIR] [--port N]    # or: make run, python app.py

Binds 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise, and refuses
to bind anything but loopback without QA_API_TOKEN. The chat is at ``/``, the REST API under
``/v1`` with its docs at ``/docs``. Gradio events have stable API names: ``/ask`` (message,
history, kb="default") -> ("", history), ``/ask_example``, ``/clear``, ``/like`` and
``/feedback`` (👍/👎 on an answer), ``/load``, and the knowledge-base tab's (``qa.serve.kb_tab``):
``/documents``, ``/select_kb``, ``/upload``, ``/delete_document``, ``/rebuild``, ``/create_kb``,
``/delete_kb``. A citation in the chat links to the document with the sentence marked
(``/v1/kbs/{kb}/view/{name}``, ``qa.serve.docpage``). With ``QA_READ_TOKEN`` the chat is behind a
login (``qa.serve.login``) and shows each visitor the bases their token reads.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import gradio as gr

from qa.answer.answerer import Answer
from qa.bases import ALL, Bases
from qa.config import DEFAULT_KB, Settings
from qa.errors import NotFound, QAError, title
from qa.serve.api import UnsafeExposure, check_exposure, create_api
from qa.serve.examples import example_questions
from qa.serve.kb_tab import (
    Libraries,
    build_tab,
    documents_table,
    index_line,
    kb_choices,
    public_names,
    wire_tab,
)
from qa.serve.render import answer_head, escape, sources_markdown, sources_title, unescape
from qa.serve.viewer import record_feedback, sentence_choices

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.service import QA

log = logging.getLogger("qa.serve.app")
CSS = """
.message mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.dark .message mark { background: #a16207; }
"""
#: The 👎 panel's last two choices (the others are the sources' sentences, by number).
NOT_IN_DOCUMENTS, NO_BETTER = "none", "skip"


def _message_text(content: Any) -> str:
    """The text of a chat message; Gradio 6 may hand back a list of {"type", "text"} parts."""
    if isinstance(content, list):
        return "".join(_message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    return "" if content is None else str(content)


def _earlier_questions(history: list[dict[str, Any]]) -> list[str]:
    return [unescape(_message_text(m.get("content"))) for m in history
            if isinstance(m, dict) and m.get("role") == "user"][-5:]


def reply_messages(answer: Answer, links: bool = True) -> list[dict[str, Any]]:
    """The answer (or the plain refusal), then its passages as a collapsed message; with
    ``links`` each citation opens its document with the sentence marked."""
    head = {"role": "assistant", "content": answer_head(answer, links)}
    if not answer.passages:
        return [head]
    return [head, {"role": "assistant", "content": sources_markdown(answer, links),
                   "metadata": {"title": sources_title(answer), "status": "done"}}]


def answer_record(answer: Answer, asked: str) -> dict[str, Any]:
    """What a 👍/👎 on ``answer`` needs to write its feedback line (kept in the page's state):
    the base it goes to (the answering base when every base was asked), the question, the
    generation, the answer's span and the sentences a 👎 may name instead."""
    kb = answer.kb or next((p.kb for p in answer.passages if p.kb), "") or \
        (asked if asked != ALL else DEFAULT_KB)
    return {"kb": kb, "question": answer.question, "generation": answer.generation,
            "answer_span": list(answer.span) if answer.found and answer.span else None,
            "choices": sentence_choices(answer.passages, kb)}


def ask_base(message: str, history: list[dict[str, Any]] | None, bases: Bases,
             kb: str = DEFAULT_KB, shown: list[str] | None = None,
             ) -> tuple[list[dict], dict[str, Any] | None]:
    """The chat with ``message`` asked of base ``kb`` (``"*"``: every base) and answered, and
    the answer's feedback record (None when there is no answer to judge). ``shown``: the
    bases the visitor may ask (by default those whose reads need no token)."""
    history = list(history or [])
    record = None
    try:
        shown = public_names(bases) if shown is None else shown
        if kb not in shown and kb != ALL:
            raise NotFound(f"knowledge base {kb!r}: none, or its reads need a token (REST)")
        if kb == ALL and len(shown) < len(bases.names()):
            raise NotFound("some knowledge bases need a read token: ask them one by one")
        answer = bases.ask(message, kb=kb or DEFAULT_KB, k=3,
                           history=_earlier_questions(history))
        replies = reply_messages(answer)
        record = answer_record(answer, kb)
    except QAError as exc:  # bad question, unknown base, busy, store down: said plainly
        replies = [{"role": "assistant", "content": f"**{title(exc)}：** {escape(str(exc))}"}]
    except Exception:  # never a traceback in the chat
        log.exception("answering %r failed", message[:200])
        replies = [{"role": "assistant",
                    "content": "**出错了：** 暂时无法回答，请稍后再试（详情见服务器日志）。"}]
    shown_question = escape(message if len(message) <= 2000 else message[:2000] + "…")
    return [*history, {"role": "user", "content": shown_question}, *replies], record


def write_feedback(bases: Bases, record: dict[str, Any], verdict: str,
                   better: str | None = None) -> str:
    """Write the 👍/👎 on ``record`` (``better``: a choice's number, ``NOT_IN_DOCUMENTS`` or
    ``NO_BETTER``) to its base's ``.qa/feedback.jsonl`` through ``record_feedback``, as
    ``POST /v1/feedback`` does."""
    choices = record.get("choices") or []
    span = None
    if better not in (None, "", NOT_IN_DOCUMENTS, NO_BETTER) and str(better).isdigit() \
            and int(str(better)) < len(choices):
        span = choices[int(str(better))][1]
    try:
        line = record_feedback(bases.settings_of(record["kb"]), record["question"],
                               record["generation"], record["answer_span"], verdict, span,
                               better == NOT_IN_DOCUMENTS)
    except QAError as exc:
        return f"**反馈未记录（{title(exc)}）：** {escape(str(exc))}"
    said = "答案正确" if verdict == "up" else "答案不对" + (
        "，文档中没有答案" if line["not_in_documents"] else "，附更好的句子" if span else "")
    return f"**已记录反馈：{said}。** 谢谢。"


class Judged:
    """The feedback record of every answer shown, per browser session (kept on the server, so
    the page holds no state and no heartbeat; the oldest sessions are forgotten)."""

    def __init__(self, sessions: int = 500, answers: int = 200) -> None:
        self.sessions, self.answers = sessions, answers
        self._records: OrderedDict[str, dict[int, dict[str, Any]]] = OrderedDict()
        self.pending: dict[str, dict[str, Any]] = {}  # the record a 👎 is being given on
        self._lock = threading.Lock()

    def put(self, session: str, index: int, record: dict[str, Any]) -> None:
        with self._lock:
            mine = self._records.pop(session, {})
            mine[index] = record
            while len(mine) > self.answers:
                mine.pop(min(mine))
            self._records[session] = mine
            while len(self._records) > self.sessions:
                gone, _ = self._records.popitem(last=False)
                self.pending.pop(gone, None)

    def get(self, session: str, index: int) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get(session, {}).get(index)


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", "") or "")


def make_app(engine: QA, bases: Bases | None = None, sessions: Any = None) -> gr.Blocks:
    """The chat tab and the knowledge-base tab over ``engine`` and the other knowledge bases
    beside it (``bases``). With ``sessions`` (``qa.serve.login.Sessions``: a private
    deployment) the page starts empty and each visitor is shown the bases their login's
    token reads."""
    bases = bases or Bases(default=engine)
    libraries = Libraries(bases, sessions)
    private = sessions is not None

    def examples_update(shown: list[str]) -> gr.Dataset:  # from the index in memory
        if DEFAULT_KB not in shown:  # the default base's titles are not the visitor's to see
            return gr.Dataset(samples=[])
        index = engine.serving or engine.index
        return gr.Dataset(samples=[[q] for q in example_questions(index.records())])

    def page_state(base: str = DEFAULT_KB, request: gr.Request = None) -> tuple[Any, ...]:
        base = libraries.known(base, request)
        library = libraries(base)
        shown = libraries.shown(request)
        chat = gr.Dropdown(choices=libraries.choices(request), value=base) if private else \
            gr.Dropdown(choices=kb_choices(bases))
        return (examples_update(shown), documents_table(library), index_line(library),
                gr.Dropdown(choices=library.names(), value=None),
                gr.Dropdown(choices=shown, value=base), chat)

    with gr.Blocks(title="qa · 文章问答") as demo:
        gr.Markdown("# 文章问答\n基于语料库的引用式问答：答案都是语料中的原句，并标明出处"
                    "（文件 · 段落 · 字符位置，点击可查看原文）。REST API 见 [/docs](/docs)。"
                    + (" · [退出登录](/logout)" if private else ""))
        with gr.Tabs():
            with gr.Tab("对话", id="chat"):
                examples, chat_kb = _chat_tab(engine, bases, libraries, private)
            with gr.Tab("知识库", id="kb") as kb_tab:
                kb = build_tab(engine, bases, private)
        outputs = [examples, kb["table"], kb["index"], kb["choice"], kb["base"], chat_kb]
        demo.load(page_state, None, outputs, api_name="load")
        kb_tab.select(page_state, [kb["base"]], outputs, api_name="documents")
        wire_tab(engine, bases, kb, outputs, page_state, libraries)
    return demo


def _chat_tab(engine: QA, bases: Bases, libraries: Libraries,
              private: bool) -> tuple[gr.Dataset, gr.Dropdown]:
    kb = gr.Dropdown(label="知识库（* 为全部）", choices=[] if private else kb_choices(bases),
                     value=None if private else DEFAULT_KB, elem_id="chat-kb")
    chatbot = gr.Chatbot(label="对话", height=560, sanitize_html=True, layout="bubble",
                         placeholder="向语料库提问：答案先行，出处可展开，点击出处查看原文。",
                         elem_id="chatbot")
    with gr.Column(visible=False, elem_id="feedback-panel") as panel:
        better = gr.Radio(label="答案不对？哪句话才回答了问题（可选）", choices=[],
                          elem_id="feedback-choice")
        with gr.Row():
            send = gr.Button("提交反馈", variant="primary", size="sm", elem_id="feedback-send")
            cancel = gr.Button("取消", size="sm")
    note = gr.Markdown(elem_id="feedback-status")
    box = gr.Textbox(placeholder="输入问题，按回车发送", label="问题", lines=1,
                     max_length=engine.settings.max_question_chars + 1000, autofocus=True)
    samples = [] if private else [[q] for q in example_questions(engine.index.records())]
    examples = gr.Dataset(components=[box], samples=samples,
                          label="示例问题（来自语料的标题）", type="values")
    clear = gr.Button("清空对话", size="sm")
    judged = Judged()

    def ask(message: str, history: list[dict[str, Any]] | None, base: str = DEFAULT_KB,
            request: gr.Request | None = None) -> tuple[str, list]:
        shown = libraries.shown(request) if private else None
        chat, record = ask_base(message, history, bases, base or DEFAULT_KB, shown)
        if record is not None:
            judged.put(_session(request), len(history or []) + 1, record)
        return "", chat

    def ask_example(sample: Any, history: list[dict[str, Any]] | None,
                    base: str = DEFAULT_KB, request: gr.Request | None = None) -> tuple:
        question = sample[0] if isinstance(sample, list | tuple) and sample else str(sample)
        return ask(question, history, base, request)

    def like(data: gr.LikeData, request: gr.Request) -> tuple:
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        record = judged.get(_session(request), int(index))
        if record is None or data.liked not in (True, False):
            return gr.Column(visible=False), gr.Radio(), ""
        if data.liked:
            return gr.Column(visible=False), gr.Radio(), write_feedback(bases, record, "up")
        judged.pending[_session(request)] = record
        choices = [(label, str(i)) for i, (label, _) in enumerate(record["choices"])]
        choices += [("文档中没有答案", NOT_IN_DOCUMENTS), ("不指定，只记“不对”", NO_BETTER)]
        return gr.Column(visible=True), gr.Radio(choices=choices, value=NO_BETTER), ""

    def submit(choice: str | None, request: gr.Request) -> tuple:
        record = judged.pending.pop(_session(request), None)
        if record is None:
            return gr.Column(visible=False), ""
        return gr.Column(visible=False), write_feedback(bases, record, "down", choice)

    workers = engine.settings.app_workers
    box.submit(ask, [box, chatbot, kb], [box, chatbot], api_name="ask",
               concurrency_limit=workers)
    examples.click(ask_example, [examples, chatbot, kb], [box, chatbot],
                   api_name="ask_example", concurrency_limit=workers)
    chatbot.like(like, None, [panel, better, note], api_name="like")
    send.click(submit, [better], [panel, note], api_name="feedback")
    cancel.click(lambda: gr.Column(visible=False), None, [panel], api_name=False)
    clear.click(lambda: ("", []), None, [box, chatbot], api_name="clear")
    return examples, kb


#: Gradio's queue recomputes its analytics summary (a pandas groupby over up to 10,000
#: past events) after every event unless told otherwise: 7-14 ms of CPU a question, a fifth
#: of one. Once per 1000 events costs nothing (an explicit setting of the variable wins).
GRADIO_DEFAULTS = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000"}


def make_server(engine: QA) -> FastAPI:
    """The REST API with the Gradio app mounted at ``/``. When reads of the default base need
    a token (``QA_READ_TOKEN`` or its own ``read_token``) the chat is behind a login
    (``qa.serve.login``): a read token opens the bases it reads, in the chat and in the
    document view."""
    for name, value in GRADIO_DEFAULTS.items():  # read when the app's queue is made
        os.environ.setdefault(name, value)
    bases = Bases(default=engine)
    sessions = None
    if bases.read_token("default"):
        from qa.serve.login import Sessions

        sessions = Sessions()
        log.info("reads need a token (QA_READ_TOKEN): the chat is behind a login (/login)")
    demo = make_app(engine, bases, sessions)
    demo.queue(default_concurrency_limit=engine.settings.app_workers)
    api = create_api(engine, bases, sessions)
    if sessions is not None:
        from qa.serve.login import LoginGate, add_login_routes

        add_login_routes(api, bases, sessions)
    server = gr.mount_gradio_app(api, demo, path="/", footer_links=["api"],
                                 show_error=False, css=CSS,
                                 max_file_size=2 * engine.settings.max_file_bytes + (1 << 20))
    if sessions is not None:
        server.add_middleware(LoginGate, sessions=sessions)
    return server


def main(settings: Settings | None = None) -> None:
    """Serve the app with ``settings`` (by default ``Settings.from_env()``) until stopped."""
    import uvicorn

    from qa.service import QA

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:  # a bad QA_* value or QA_STORE fails here, naming the variable
        engine = QA(settings or Settings.from_env())
        check_exposure(engine.settings)
    except (QAError, UnsafeExposure) as exc:
        print(f"qa serve: {exc}", file=sys.stderr)
        sys.exit(2)
    engine.refresh()  # build or load the index before the first visitor
    try:  # warm every step of a question (model, jieba, answer layer) before the first visitor
        warm = example_questions(engine.index.records())
        engine.ask(warm[0] if warm else "你好")
        from qa.search.bilingual import bridge

        bridge(engine.index)  # CC-CEDICT, read once: seconds the first English question waited
    except Exception:  # the visitors' questions will say what is wrong, as before
        log.exception("the warm-up question failed")
    server = make_server(engine)
    print(f"qa: serving on http://{engine.settings.server_name}:{engine.settings.server_port}/ "
          "(REST API under /v1, docs at /docs)", flush=True)
    uvicorn.run(server, host=engine.settings.server_name, port=engine.settings.server_port,
                log_level="warning", access_log=False)
