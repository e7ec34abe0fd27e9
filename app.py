"""Gradio chat over the corpus: a thin shell over ``qa``.

    python app.py          # or: make run

Binds 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise. Events have
stable API names: ``/ask`` (message, history) -> ("", history) and ``/rebuild``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gradio as gr

import qa
from qa.render import answer_markdown, escape, unescape

EXAMPLES = [
    "微软第一次向OpenAI投资了多少钱?",
    "微软为什么要和OpenAI合作?",
    "ChatGPT每天的运行成本是多少?",
    "微软与OpenAI的合作带来了哪些启示?",
]
log = logging.getLogger("qa.app")


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


def respond(message: str, history: list[dict[str, Any]] | None) -> tuple[str, list[dict]]:
    """Chat handler: answer ``message`` in the context of the user's earlier questions."""
    history = list(history or [])
    try:
        answer = qa.ask(message, k=3, history=_earlier_questions(history))
        reply = answer_markdown(answer)
    except ValueError as exc:
        reply = f"**无法回答这个问题：** {escape(str(exc))}"
    except Exception:  # never a traceback in the chat
        log.exception("answering %r failed", message[:200])
        reply = "**出错了：** 暂时无法回答，请稍后再试（详情见服务器日志）。"
    shown = escape(message if len(message) <= 2000 else message[:2000] + "…")
    history += [{"role": "user", "content": shown}, {"role": "assistant", "content": reply}]
    return "", history


def rebuild(progress: gr.Progress = gr.Progress()) -> str:
    """Rebuild the index (incrementally) while the chat keeps answering from the old one."""
    def report(stage: str, done: int, total: int) -> None:
        progress(done / total if total else None, desc=stage)

    from qa.builder import CorpusEmpty

    try:
        summary = qa.build(progress=report).summary()
    except (CorpusEmpty, OSError) as exc:  # expected trouble: said plainly, no traceback
        log.warning("rebuild failed: %s", exc)
        return f"**重建失败，仍使用原索引：** {escape(str(exc))}"
    except Exception as exc:  # the old index keeps serving
        log.exception("rebuild failed")
        return f"**重建失败，仍使用原索引：** {escape(str(exc))}"
    return "**索引已重建**\n\n" + escape(summary).replace("\n", "  \n")


def make_app() -> gr.Blocks:
    with gr.Blocks(title="qa · 文章问答") as demo:
        gr.Markdown("# 文章问答\n基于语料库的引用式问答：每个答案都标明出处（文件、段落、字符位置）。")
        chatbot = gr.Chatbot(label="对话", height=520, sanitize_html=True)
        box = gr.Textbox(placeholder="输入问题，按回车发送", label="问题", lines=1,
                         max_length=qa.default().settings.max_question_chars + 1000,
                         autofocus=True)
        gr.Examples(EXAMPLES, inputs=box, label="示例问题")
        with gr.Row():
            clear = gr.Button("清空对话", size="sm")
            rebuild_btn = gr.Button("重建索引", size="sm")
        status = gr.Markdown(min_height=72)  # room for the rebuild progress bar
        box.submit(respond, [box, chatbot], [box, chatbot], api_name="ask",
                   concurrency_limit=qa.default().settings.app_workers)
        clear.click(lambda: ("", []), None, [box, chatbot], api_name="clear")
        rebuild_btn.click(rebuild, None, status, api_name="rebuild", concurrency_limit=1)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = qa.default()
    engine.refresh()  # build or load the index before the first visitor
    try:  # warm every step of a question (model, jieba, answer layer) before the first visitor
        engine.ask(EXAMPLES[0])
    except Exception:  # the visitors' questions will say what is wrong, as before
        log.exception("the warm-up question failed")
    demo = make_app()
    demo.queue(default_concurrency_limit=engine.settings.app_workers)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        show_error=False,
        footer_links=["api"],
    )


if __name__ == "__main__":
    main()
