"""The cited document as a page of its own: what a citation link in the chat opens.

``document_page`` turns ``qa.serve.viewer.document_view`` (a document's text and the cited span)
into one HTML page: every character of the document escaped, the cited span in
``<mark id="cited">`` (the link ends in ``#cited``, so the browser scrolls it into view without
any script), its paragraph tinted, and for a PDF the page it is on. The page runs no script at
all (``PAGE_HEADERS`` forbid it), so nothing in a document can run either.
"""

from __future__ import annotations

import html
from typing import Any

#: Headers of the page: no script, no frames, nothing fetched but its own inline style.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

STYLE = """
body { font: 16px/1.8 system-ui, "Noto Sans CJK SC", sans-serif; margin: 0; color: #1f2937; }
header { position: sticky; top: 0; background: #f8fafc; border-bottom: 1px solid #e5e7eb;
         padding: 10px 24px; font-size: 14px; }
header b { font-size: 16px; }
main { max-width: 860px; margin: 0 auto; padding: 16px 24px 60vh; white-space: pre-wrap; }
.para { background: #f1f5f9; border-radius: 4px; }
mark { background: #fde68a; padding: 1px 0; scroll-margin-top: 35vh; }
figure { max-width: 860px; margin: 16px auto 0; padding: 0 24px; font-size: 14px; }
figure img { width: 100%; border: 1px solid #e5e7eb; }
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def document_page(view: dict[str, Any]) -> str:
    """The page of a ``document_view`` result (its ``text``; ``span`` and ``paragraph`` when
    a span was asked for)."""
    text: str = view["text"]
    span, para = view.get("span"), view.get("paragraph")
    where = ""
    if span:
        start, end = int(span["start"]), int(span["end"])
        page = f" · 第{span['page']}页" if span.get("page") else ""
        page += f" · {span['place']}" if span.get("place") else ""
        number = f" · 第{para['number']}段" if para and not span.get("place") else ""
        where = f"{page}{number} · 字符 {start}–{end}"
        p0, p1 = (int(para["start"]), int(para["end"])) if para else (start, end)
        p0, p1 = min(p0, start), max(p1, end)
        body = (_esc(text[:p0]) + '<span class="para">' + _esc(text[p0:start])
                + f'<mark id="cited">{_esc(text[start:end])}</mark>'
                + _esc(text[end:p1]) + "</span>" + _esc(text[p1:]))
    else:
        body = _esc(text)
    title = f"{view.get('kb', 'default')}/{view['name']}"
    return ("<!doctype html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><b>{_esc(view['name'])}</b> · 知识库 {_esc(str(view.get('kb', '')))}"
            f"{_esc(where)} · {int(view['chars'])} 字</header>"
            f"{_figure(view.get('page_image'))}<main>{body}</main></body></html>\n")


def _figure(image: dict[str, Any] | None) -> str:
    """The scanned page a cited OCR'd line was read from, the line boxed in red."""
    if not image or not str(image.get("src", "")).startswith("data:image/jpeg;base64,"):
        return ""
    return (f'<figure><img alt="第{int(image["page"])}页扫描图" src="{_esc(image["src"])}">'
            f"<figcaption>第{int(image['page'])}页扫描图，红框为引用的文字所在位置</figcaption>"
            "</figure>")
