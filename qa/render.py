"""Render an ``Answer`` as chat Markdown that is safe to show in a browser.

Every piece of corpus text and every question is escaped twice over: Markdown syntax is
backslash-escaped (so ``[x](javascript:…)`` stays text) and HTML is entity-escaped (so
``<script>`` stays text). The only HTML in the output is the ``<strong>`` this module adds
around the answer sentence.
"""

from __future__ import annotations

import html
import re

from .answer import Answer

#: Markdown punctuation to backslash-escape; ``<``/``>``/``&`` are left to ``html.escape``
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape(text: str) -> str:
    """Text made inert for Markdown + HTML rendering (line breaks kept)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)


def unescape(text: str) -> str:
    """Undo ``escape`` (used to read questions back out of the chat history)."""
    return re.sub(r"\\(.)", r"\1", html.unescape(text))


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def answer_markdown(answer: Answer) -> str:
    """The chat reply: the answer sentence first, then each passage with its citation."""
    out: list[str] = []
    if answer.found:
        out.append(f"**答案：** <strong>{escape(answer.text)}</strong>")
        out.append(f"\n置信度 {answer.confidence:.2f}\n")
        out.append("**出处**\n")
    else:
        out.append(f"**{escape(answer.text)}**\n")
        if answer.passages:
            out.append("**最接近的段落（弱匹配）**\n")
    for p in answer.passages:
        body = escape(p.text)
        if answer.span and answer.span[0] == p.source and p.start <= answer.span[1] \
                and answer.span[2] <= p.end:
            s, e = answer.span[1] - p.start, answer.span[2] - p.start
            body = (escape(p.text[:s]) + "<strong>" + escape(p.text[s:e]) + "</strong>"
                    + escape(p.text[e:]))
        out.append(f"{escape(p.citation)} · 分数 {p.score:.3f}\n")
        out.append(_quote(body) + "\n")
    return "\n".join(out)
