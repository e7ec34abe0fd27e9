"""The app: a Gradio chat and knowledge base mounted into qa's REST API (``qa.serve.api``), one server.

    python app.py          # or: make run, qa serve

Binds 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise, and refuses
to bind anything but loopback without QA_API_TOKEN. The chat is at ``/``, the REST API under
``/v1`` with its docs at ``/docs``. Gradio events have stable API names: ``/ask`` (message,
history) -> ("", history), ``/ask_example``, ``/clear``, ``/load``, ``/documents``,
``/upload``, ``/delete_document`` and ``/rebuild``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

import qa
from qa.serve.api import UnsafeExposure, authorized, check_exposure, create_api
from qa.serve.examples import example_questions
from qa.serve.library import Library, Rejected, shown
from qa.serve.render import answer_head, escape, sources_markdown, sources_title, unescape

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.service import QA

log = logging.getLogger("qa.app")
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf"]
STATUS_LABELS = {"indexed": "已索引", "changed": "已修改 · 待重建", "new": "新文件 · 待重建",
                 "skipped": "已跳过", "removed": "已删除 · 待重建"}
TABLE_HEADERS = ["文件", "大小", "编码", "段落", "状态", "说明"]
CSS = """
.message mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.dark .message mark { background: #a16207; }
"""


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


def reply_messages(answer: qa.Answer) -> list[dict[str, Any]]:
    """The answer (or the plain refusal), then its passages as a collapsed message."""
    head = {"role": "assistant", "content": answer_head(answer)}
    if not answer.passages:
        return [head]
    return [head, {"role": "assistant", "content": sources_markdown(answer),
                   "metadata": {"title": sources_title(answer), "status": "done"}}]


def respond(message: str, history: list[dict[str, Any]] | None,
            engine: QA | None = None) -> tuple[str, list[dict]]:
    """Chat handler: answer ``message`` in the context of the user's earlier questions."""
    history = list(history or [])
    engine = engine or qa.default()
    try:
        answer = engine.ask(message, k=3, history=_earlier_questions(history))
        replies = reply_messages(answer)
    except ValueError as exc:
        replies = [{"role": "assistant", "content": f"**无法回答这个问题：** {escape(str(exc))}"}]
    except Exception:  # never a traceback in the chat
        log.exception("answering %r failed", message[:200])
        replies = [{"role": "assistant",
                    "content": "**出错了：** 暂时无法回答，请稍后再试（详情见服务器日志）。"}]
    shown_question = escape(message if len(message) <= 2000 else message[:2000] + "…")
    return "", [*history, {"role": "user", "content": shown_question}, *replies]


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1 << 20 else \
        f"{n / (1 << 20):.1f} MB"


def documents_table(library: Library) -> list[list[str]]:
    """One row per document: name, size, encoding, paragraphs, status, reason."""
    return [[d.name, _size(d.size), d.encoding or "—",
             "—" if d.paragraphs is None else str(d.paragraphs),
             STATUS_LABELS.get(d.status, d.status), d.reason]
            for d in library.documents()]


def index_line(library: Library) -> str:
    info = library.index_info()
    if not info["generation"]:
        return "**索引：** 尚未建立"
    built = str(info["built_at"] or "").replace("T", " ").replace("+00:00", " UTC")
    return (f"**索引：** {escape(str(info['generation']))} · 构建于 {escape(built)} · "
            f"{len(info['files'])} 个文件")  # type: ignore[arg-type]


def make_app(engine: QA | None = None) -> gr.Blocks:
    """The chat tab and the knowledge-base tab over ``engine`` (``qa.default()`` by default)."""
    engine = engine or qa.default()
    library = Library(engine.settings)

    def examples_update() -> gr.Dataset:  # from the index in memory: never a rebuild here
        index = engine.serving or engine.index
        return gr.Dataset(samples=[[q] for q in example_questions(index.records())])

    def page_state() -> tuple[Any, ...]:
        names = library.names()
        return (examples_update(), documents_table(library), index_line(library),
                gr.Dropdown(choices=names, value=None))

    with gr.Blocks(title="qa · 文章问答") as demo:
        gr.Markdown("# 文章问答\n基于语料库的引用式问答：答案都是语料中的原句，并标明出处"
                    "（文件 · 段落 · 字符位置）。REST API 见 [/docs](/docs)。")
        with gr.Tabs():
            with gr.Tab("对话", id="chat"):
                examples = _chat_tab(engine)
            with gr.Tab("知识库", id="kb") as kb_tab:
                kb = _kb_tab(engine, library)
        outputs = [examples, kb["table"], kb["index"], kb["choice"]]
        demo.load(page_state, None, outputs, api_name="load")
        kb_tab.select(page_state, None, outputs, api_name="documents")
        _wire_kb(engine, library, kb, outputs, page_state)
    return demo


def _chat_tab(engine: QA) -> gr.Dataset:
    chatbot = gr.Chatbot(label="对话", height=560, sanitize_html=True, layout="bubble",
                         placeholder="向语料库提问：答案先行，出处可展开。")
    box = gr.Textbox(placeholder="输入问题，按回车发送", label="问题", lines=1,
                     max_length=engine.settings.max_question_chars + 1000, autofocus=True)
    examples = gr.Dataset(components=[box], samples=[[q] for q in
                                                     example_questions(engine.index.records())],
                          label="示例问题（来自语料的标题）", type="values")
    clear = gr.Button("清空对话", size="sm")

    def ask_example(sample: Any, history: list[dict[str, Any]] | None) -> tuple[str, list]:
        question = sample[0] if isinstance(sample, list | tuple) and sample else str(sample)
        return respond(question, history, engine)

    workers = engine.settings.app_workers
    box.submit(lambda m, h: respond(m, h, engine), [box, chatbot], [box, chatbot],
               api_name="ask", concurrency_limit=workers)
    examples.click(ask_example, [examples, chatbot], [box, chatbot], api_name="ask_example",
                   concurrency_limit=workers)
    clear.click(lambda: ("", []), None, [box, chatbot], api_name="clear")
    return examples


def _kb_tab(engine: QA, library: Library) -> dict[str, Any]:
    kb: dict[str, Any] = {}
    gr.Markdown("语料库中的文件与索引状态。上传或删除后点 **重建索引**；重建期间对话继续用旧索引回答。")
    kb["index"] = gr.Markdown(index_line(library))
    kb["table"] = gr.Dataframe(value=documents_table(library), headers=TABLE_HEADERS,
                               datatype=["str"] * 6, interactive=False, wrap=True,
                               label="文档", column_widths=["26%", "9%", "9%", "7%", "13%", "36%"],
                               elem_id="kb-table")
    with gr.Row():
        with gr.Column(scale=3):
            kb["files"] = gr.File(label="上传文件（.txt .md .html .pdf，可多选）",
                                  file_count="multiple", file_types=UPLOAD_TYPES, height=150,
                                  elem_id="kb-upload")
            with gr.Row():
                kb["replace"] = gr.Checkbox(label="替换同名文件", value=False, scale=1)
                kb["add"] = gr.Button("添加到知识库", variant="primary", scale=2)
        with gr.Column(scale=2):
            kb["choice"] = gr.Dropdown(label="选择要删除的文件", choices=library.names(),
                                       value=None)
            kb["delete"] = gr.Button("删除所选文件", variant="stop")
            kb["token"] = gr.Textbox(label="访问令牌（QA_API_TOKEN）", type="password",
                                     visible=bool(engine.settings.api_token))
            kb["rebuild"] = gr.Button("重建索引", variant="secondary")
    kb["status"] = gr.Markdown(min_height=72, elem_id="kb-status")  # room for a progress bar
    return kb


def _wire_kb(engine: QA, library: Library, kb: dict[str, Any], outputs: list[Any],
             page_state: Any) -> None:
    def upload(files: list[dict[str, Any]] | None, replace: bool, token: str) -> tuple:
        return (upload_files(library, files, replace, token, engine), None, *page_state())

    def delete(name: str | None, token: str) -> tuple:
        return (delete_document(library, name, token, engine), *page_state())

    def rebuild(token: str, progress: gr.Progress = gr.Progress()) -> tuple:
        return (rebuild_index(engine, token, progress), *page_state())

    # preprocess=False: the handler sees each file's name as the browser sent it (Gradio's
    # own processing would reduce it first); paths are still checked to be Gradio uploads.
    kb["add"].click(upload, [kb["files"], kb["replace"], kb["token"]],
                    [kb["status"], kb["files"], *outputs], api_name="upload", preprocess=False,
                    concurrency_limit=1, show_progress_on=kb["status"])
    kb["delete"].click(delete, [kb["choice"], kb["token"]], [kb["status"], *outputs],
                       api_name="delete_document", concurrency_limit=1,
                       show_progress_on=kb["status"])
    kb["rebuild"].click(rebuild, [kb["token"]], [kb["status"], *outputs], api_name="rebuild",
                        concurrency_limit=1, show_progress_on=kb["status"])


NO_TOKEN = "**需要访问令牌：** 本服务设置了 QA_API_TOKEN，请在“访问令牌”中填写。"


def upload_files(library: Library, files: list[dict[str, Any]] | None, replace: bool,
                 token: str | None, engine: QA) -> str:
    """Add the uploaded files (raw Gradio file payloads), each checked by ``qa.serve.library``;
    the report names every added and every refused file with its reason."""
    if not authorized(engine.settings, token):
        return NO_TOKEN
    if not files:
        return "**没有选择文件。**"
    added, refused = [], []
    for f in files if isinstance(files, list) else [files]:
        path = str(f.get("path", "")) if isinstance(f, dict) else str(f)
        name = (f.get("orig_name") if isinstance(f, dict) else None) or Path(path).name
        try:
            with open(path, "rb") as data:
                upload = library.check(name, data, replace=bool(replace))
            added.append(("替换 " if upload.replaces else "") + library.write(upload))
        except Rejected as exc:
            refused.append(f"- **已拒绝** {escape(exc.name)}：{escape(exc.reason)}")
        except OSError as exc:
            refused.append(f"- **已拒绝** {escape(shown(name))}：{escape(str(exc))}")
    lines = [f"- **已添加** {escape(n)}" for n in added] + refused
    tail = "\n\n点 **重建索引** 让新文件进入索引。" if added else ""
    return "\n".join(lines) + tail


def delete_document(library: Library, name: str | None, token: str | None,
                    engine: QA) -> str:
    if not authorized(engine.settings, token):
        return NO_TOKEN
    if not name:
        return "**请先选择要删除的文件。**"
    try:
        library.delete(name)
    except Rejected as exc:
        return f"**无法删除** {escape(exc.name)}：{escape(exc.reason)}"
    return f"**已删除** {escape(name)}。点 **重建索引** 把它移出索引。"


def rebuild_index(engine: QA, token: str | None, progress: gr.Progress) -> str:
    """Rebuild the index (incrementally) while the chat keeps answering from the old one."""
    if not authorized(engine.settings, token):
        return NO_TOKEN

    def report(stage: str, done: int, total: int) -> None:
        progress(done / total if total else None, desc=stage)

    from qa.store.embedded.builder import CorpusEmpty

    try:
        summary = engine.build(progress=report).summary()
    except (CorpusEmpty, OSError) as exc:  # expected trouble: said plainly, no traceback
        log.warning("rebuild failed: %s", exc)
        return f"**重建失败，仍使用原索引：** {escape(str(exc))}"
    except Exception as exc:  # the old index keeps serving
        log.exception("rebuild failed")
        return f"**重建失败，仍使用原索引：** {escape(str(exc))}"
    return "**索引已重建**\n\n" + escape(summary).replace("\n", "  \n")


def make_server(engine: QA) -> FastAPI:
    """The REST API with the Gradio app mounted at ``/``; when reads of the default base need
    a token (``QA_READ_TOKEN`` or its own ``read_token``) the REST API alone, since the chat
    cannot send one yet and would answer anyone."""
    from qa.bases import Bases

    bases = Bases(default=engine)
    if bases.read_token("default"):
        log.warning("reads need a token (QA_READ_TOKEN): serving the REST API only, not the "
                    "chat, which cannot send one")
        return create_api(engine, bases)
    demo = make_app(engine)
    demo.queue(default_concurrency_limit=engine.settings.app_workers)
    return gr.mount_gradio_app(create_api(engine, bases), demo, path="/", footer_links=["api"],
                               show_error=False, css=CSS,
                               max_file_size=2 * engine.settings.max_file_bytes + (1 << 20))


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = qa.default()
    try:
        check_exposure(engine.settings)
    except UnsafeExposure as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        sys.exit(2)
    engine.refresh()  # build or load the index before the first visitor
    try:  # warm every step of a question (model, jieba, answer layer) before the first visitor
        warm = example_questions(engine.index.records())
        engine.ask(warm[0] if warm else "你好")
    except Exception:  # the visitors' questions will say what is wrong, as before
        log.exception("the warm-up question failed")
    server = make_server(engine)
    print(f"qa: serving on http://{engine.settings.server_name}:{engine.settings.server_port}/ "
          "(REST API under /v1, docs at /docs)", flush=True)
    uvicorn.run(server, host=engine.settings.server_name, port=engine.settings.server_port,
                log_level="warning")


if __name__ == "__main__":
    main()
