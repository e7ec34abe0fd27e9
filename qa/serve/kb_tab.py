"""The app's knowledge-base tab (Gradio): choose a base; create one; delete one (its name typed
again first); list, upload and delete its files; rebuild its index while the chat answers.

Events (stable API names): ``/documents`` and ``/select_kb`` (base) -> the page state,
``/upload`` (files, replace, token, base), ``/delete_document`` (name, token, base),
``/rebuild`` (token, base), ``/create_kb`` (name, token), ``/delete_kb`` (base, typed name,
token). The base is the last input and defaults to "default", so callers of before still work.
Creating, deleting and every change of files need ``QA_API_TOKEN`` when one is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import gradio as gr

from qa.bases import ALL, Bases
from qa.config import DEFAULT_KB
from qa.errors import NotFound, QAError, title
from qa.serve.api import authorized
from qa.serve.library import Library, Refused, Rejected
from qa.serve.render import escape
from qa.service import QA

log = logging.getLogger("qa.app")
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".xlsx", ".csv",
                ".pptx", ".png", ".jpg", ".jpeg"]
STATUS_LABELS = {"indexed": "已索引", "changed": "已修改 · 待重建", "new": "新文件 · 待重建",
                 "skipped": "已跳过", "removed": "已删除 · 待重建"}
TABLE_HEADERS = ["文件", "大小", "编码", "段落", "状态", "说明"]
NO_TOKEN = "**需要访问令牌：** 本服务设置了 QA_API_TOKEN，请在“访问令牌”中填写。"


class Libraries:
    """The ``Library`` of each knowledge base, as ``Bases`` keeps it for the whole process
    (the REST API's too), and the bases a visitor is shown: without ``sessions`` those whose
    reads need no token; with them (a private deployment, ``qa.serve.login``) those the
    token of the visitor's login reads."""

    def __init__(self, bases: Bases, sessions: Any = None) -> None:
        self.bases, self.sessions = bases, sessions

    def __call__(self, name: str) -> Library:
        return self.bases.kept(name, Library)

    def shown(self, request: Any = None) -> list[str]:
        """The bases the app shows the visitor of ``request``."""
        if self.sessions is None:
            return public_names(self.bases)
        from qa.serve.login import readable

        token = self.sessions.of(request)
        return readable(self.bases, token) if token else []

    def choices(self, request: Any = None) -> list[str]:
        """What the chat may ask: every base shown, then "*" (all of them; in a private
        deployment only for a login that reads every base)."""
        shown = self.shown(request)
        if self.sessions is not None and len(shown) < len(self.bases.names()):
            return shown
        return [*shown, ALL]

    def known(self, name: object, request: Any = None) -> str:
        """``name`` when it is a base the app may show the visitor (else the first it may:
        "default" unless its reads need a token the visitor lacks)."""
        shown = self.shown(request)
        if isinstance(name, str) and name in shown:
            return name
        if not shown:
            raise NotFound("请先登录（/login）：没有可以查看的知识库")
        return DEFAULT_KB if DEFAULT_KB in shown else shown[0]


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1 << 20 else \
        f"{n / (1 << 20):.1f} MB"


def documents_table(library: Library) -> list[list[str]]:
    """One row per document: name, size, encoding, paragraphs, status, reason (with the index
    out of reach: every file, its status unknown and why)."""
    try:
        documents = library.documents()
    except QAError as exc:  # the store is down: the files are still there
        return [[name, "—", "—", "—", "—", f"{title(exc)}：{exc}"] for name in library.names()]
    return [[d.name, _size(d.size), d.encoding or "—",
             "—" if d.paragraphs is None else str(d.paragraphs),
             STATUS_LABELS.get(d.status, d.status), d.reason]
            for d in documents]


def index_line(library: Library) -> str:
    base = f"**知识库：** {escape(library.settings.kb)} · "
    try:
        info = library.index_info()
    except QAError as exc:  # the store is down
        return base + f"**索引：** {escape(title(exc))}：{escape(str(exc))}"
    if not info["generation"]:
        return base + "**索引：** 尚未建立"
    built = str(info["built_at"] or "").replace("T", " ").replace("+00:00", " UTC")
    return (f"{base}**索引：** {escape(str(info['generation']))} · 构建于 {escape(built)} · "
            f"{len(info['files'])} 个文件")  # type: ignore[arg-type]


def upload_files(library: Library, files: list[dict[str, Any]] | None, replace: bool,
                 token: str | None, engine: QA) -> str:
    """Add the uploaded files (raw Gradio file payloads) as the REST upload does, all or none
    (``Library.add_all``): the report names every added file, or every refused one with its
    reason and that nothing was added."""
    if not authorized(engine.settings, token):
        return NO_TOKEN
    if not files:
        return "**没有选择文件。**"
    payloads = files if isinstance(files, list) else [files]
    with ExitStack() as opened:
        named = []
        for f in payloads:
            path = str(f.get("path", "")) if isinstance(f, dict) else str(f)
            name = (f.get("orig_name") if isinstance(f, dict) else None) or Path(path).name
            named.append((name, opened.enter_context(Path(path).open("rb"))))
        try:
            added = library.add_all(named, replace=bool(replace))
        except Refused as exc:
            return "\n".join([f"- **已拒绝** {escape(e.name)}：{escape(e.reason)}"
                              for e in exc.rejected] + ["", "**没有添加任何文件。**"])
    return "\n".join(f"- **已添加** {'替换 ' if u.replaces else ''}{escape(u.name)}"
                     for u in added) + "\n\n点 **重建索引** 让新文件进入索引。"


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

    try:
        summary = engine.build(progress=report).summary()
    except QAError as exc:  # expected trouble (empty corpus, busy, store down): said plainly
        log.warning("rebuild failed: %s", exc)
        return f"**重建失败，仍使用原索引：** {escape(str(exc))}"
    except Exception as exc:  # the old index keeps serving
        log.exception("rebuild failed")
        return f"**重建失败，仍使用原索引：** {escape(str(exc))}"
    return "**索引已重建**\n\n" + escape(summary).replace("\n", "  \n")


def create_base(bases: Bases, name: str | None, token: str | None, engine: QA) -> str:
    """Create the empty base ``name`` (the report says why not: bad name, exists)."""
    if not authorized(engine.settings, token):
        return NO_TOKEN
    name = (name or "").strip()
    try:
        bases.create(name)
    except QAError as exc:  # a bad name, or one taken
        return f"**无法新建知识库：** {escape(str(exc))}"
    return f"**已新建知识库** {escape(name)}。上传文件后点 **重建索引**。"


def delete_base(bases: Bases, name: str | None, typed: str | None, token: str | None,
                engine: QA) -> str:
    """Delete base ``name`` when ``typed`` repeats its name ("default" never)."""
    if not authorized(engine.settings, token):
        return NO_TOKEN
    if not name or name == DEFAULT_KB:
        return "**默认知识库 default 不能删除。**"
    if (typed or "").strip() != name:
        return (f"**未删除：** 请在确认框中输入知识库名称 {escape(name)}，"
                "再点 **删除知识库**。")
    try:
        bases.delete(name)
    except QAError as exc:  # a bad or unknown name, or a base being built
        return f"**无法删除知识库：** {escape(str(exc))}"
    return f"**已删除知识库** {escape(name)} 及其文件和索引。"


def build_tab(engine: QA, bases: Bases, private: bool = False) -> dict[str, Any]:
    """The tab's components (call inside ``gr.Tab``); ``private``: empty until the page's
    load fills in what the visitor's login may see."""
    kb: dict[str, Any] = {}
    gr.Markdown("选择知识库，管理其中的文件与索引。上传或删除后点 **重建索引**；"
                "重建期间对话继续用旧索引回答。")
    with gr.Row(equal_height=True):
        kb["base"] = gr.Dropdown(label="知识库", choices=[] if private else public_names(bases),
                                 value=None if private else DEFAULT_KB,
                                 scale=2, elem_id="kb-base")
        kb["new_name"] = gr.Textbox(label="新知识库名称", placeholder="字母、数字、_ - .",
                                    scale=2, elem_id="kb-new-name")
        kb["create"] = gr.Button("新建知识库", scale=1, elem_id="kb-create")
        kb["confirm"] = gr.Textbox(label="删除前再次输入所选知识库的名称", scale=2,
                                   elem_id="kb-confirm")
        kb["drop"] = gr.Button("删除知识库", variant="stop", scale=1, elem_id="kb-drop")
    library = bases.kept(DEFAULT_KB, Library)
    kb["index"] = gr.Markdown("" if private else index_line(library))
    kb["table"] = gr.Dataframe(value=[] if private else documents_table(library),
                               headers=TABLE_HEADERS, datatype=["str"] * 6, interactive=False,
                               wrap=True, label="文档", elem_id="kb-table",
                               column_widths=["26%", "9%", "9%", "7%", "13%", "36%"])
    with gr.Row():
        with gr.Column(scale=3):
            kb["files"] = gr.File(label="上传文件（.txt .md .html .pdf .docx .xlsx .csv .pptx .png .jpg，可多选）",
                                  file_count="multiple", file_types=UPLOAD_TYPES, height=150,
                                  elem_id="kb-upload")
            with gr.Row():
                kb["replace"] = gr.Checkbox(label="替换同名文件", value=False, scale=1)
                kb["add"] = gr.Button("添加到知识库", variant="primary", scale=2)
        with gr.Column(scale=2):
            kb["choice"] = gr.Dropdown(label="选择要删除的文件",
                                       choices=[] if private else library.names(),
                                       value=None)
            kb["delete"] = gr.Button("删除所选文件", variant="stop")
            kb["token"] = gr.Textbox(label="访问令牌（QA_API_TOKEN）", type="password",
                                     visible=bool(engine.settings.api_token))
            kb["rebuild"] = gr.Button("重建索引", variant="secondary")
    kb["status"] = gr.Markdown(min_height=72, elem_id="kb-status")  # room for a progress bar
    return kb


def wire_tab(engine: QA, bases: Bases, kb: dict[str, Any], outputs: list[Any],
             page_state: Callable[..., tuple[Any, ...]], libraries: Libraries) -> None:
    """The tab's events; ``page_state(base)`` refreshes ``outputs`` (the last of them is the
    base selector, then the chat's)."""
    base = kb["base"]

    def upload(files: list[dict[str, Any]] | None, replace: bool, token: str,
               name: str = DEFAULT_KB, request: gr.Request = None) -> tuple:
        name = libraries.known(name, request)
        return (upload_files(libraries(name), files, replace, token, engine), None,
                *page_state(name, request))

    def delete(file: str | None, token: str, name: str = DEFAULT_KB,
               request: gr.Request = None) -> tuple:
        name = libraries.known(name, request)
        return (delete_document(libraries(name), file, token, engine),
                *page_state(name, request))

    def rebuild(token: str, name: str = DEFAULT_KB, request: gr.Request = None,
                progress: gr.Progress = gr.Progress()) -> tuple:
        name = libraries.known(name, request)
        return (rebuild_index(bases.engine(name), token, progress), *page_state(name, request))

    def create(name: str, token: str, request: gr.Request = None) -> tuple:
        report = create_base(bases, name, token, engine)
        made = (name or "").strip()
        return (report, "", *page_state(made if made in bases.names() else DEFAULT_KB,
                                         request))

    def drop(name: str, typed: str, token: str, request: gr.Request = None) -> tuple:
        report = delete_base(bases, name, typed, token, engine)  # Bases forgets its Library
        return (report, "", *page_state(name, request))

    def select(name: str, request: gr.Request = None) -> tuple:
        return page_state(name, request)

    status = kb["status"]
    # preprocess=False: the handler sees each file's name as the browser sent it (Gradio's
    # own processing would reduce it first); paths are still checked to be Gradio uploads.
    kb["add"].click(upload, [kb["files"], kb["replace"], kb["token"], base],
                    [status, kb["files"], *outputs], api_name="upload", preprocess=False,
                    concurrency_limit=1, show_progress_on=status)
    kb["delete"].click(delete, [kb["choice"], kb["token"], base], [status, *outputs],
                       api_name="delete_document", concurrency_limit=1, show_progress_on=status)
    kb["rebuild"].click(rebuild, [kb["token"], base], [status, *outputs], api_name="rebuild",
                        concurrency_limit=1, show_progress_on=status)
    kb["create"].click(create, [kb["new_name"], kb["token"]], [status, kb["new_name"], *outputs],
                       api_name="create_kb", concurrency_limit=1)
    kb["drop"].click(drop, [base, kb["confirm"], kb["token"]], [status, kb["confirm"], *outputs],
                     api_name="delete_kb", concurrency_limit=1)
    base.input(select, [base], outputs, api_name="select_kb")


def public_names(bases: Bases) -> list[str]:
    """The bases the app shows: those whose reads need no token (a base's own
    ``read_token`` keeps it to the REST API, which can send one)."""
    return [n for n in bases.names() if not bases.read_token(n)]


def kb_choices(bases: Bases) -> list[str]:
    """What the chat may ask: every base it shows, then "*" (all of them)."""
    return [*public_names(bases), ALL]
