"""Render an ``Answer`` as chat Markdown that is safe to show in a browser.

Every piece of corpus text and every question is escaped twice over: Markdown syntax is
backslash-escaped (so ``[x](javascript:…)`` stays text) and HTML is entity-escaped (so
``<script>`` stays text). The only HTML in the output is what this module adds itself:
``<strong>`` around the answer sentence and ``<mark>`` around the short answer in it (and
around the answer sentence inside its passage).

The chat shows an answer as two messages: ``answer_head`` (the sentence, or the refusal) and
``sources_markdown`` under the title ``sources_title`` (collapsed).
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from qa.answer.answerer import Answer, Passage

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


def _marked(text: str, start: int, end: int, tag: str = "mark") -> str:
    """``text`` escaped, with ``text[start:end]`` inside ``<tag>`` (when it is a real span)."""
    if not 0 <= start < end <= len(text):
        return escape(text)
    return (escape(text[:start]) + f"<{tag}>" + escape(text[start:end]) + f"</{tag}>"
            + escape(text[end:]))


def short_offsets(answer: Answer) -> tuple[int, int] | None:
    """Where ``answer.short`` sits in ``answer.text``: from ``short_span`` when it lies inside
    ``span``, else the first occurrence of ``short``; None when there is none."""
    if not answer.found or not answer.short or answer.is_verdict:
        return None
    if answer.short_span and answer.span and answer.short_span[0] == answer.span[0]:
        start, end = answer.short_span[1] - answer.span[1], answer.short_span[2] - answer.span[1]
        if 0 <= start < end <= len(answer.text) and answer.text[start:end] == answer.short:
            return start, end
    at = answer.text.find(answer.short)
    return (at, at + len(answer.short)) if at >= 0 else None


def answer_sentence_html(answer: Answer) -> str:
    """The answer sentence in bold, its short answer (if any) highlighted."""
    where = short_offsets(answer)
    inner = _marked(answer.text, *where) if where else escape(answer.text)
    return f"<strong>{inner}</strong>"


def answer_passage(answer: Answer) -> Passage | None:
    """The passage holding the answer sentence, if it is among the answer's passages."""
    return next((p for p in answer.passages if answer.span_in(p) is not None), None)


def view_url(kb: str, source: str, start: int, end: int) -> str:
    """The app's page showing ``source`` of base ``kb`` with ``[start, end)`` marked and
    scrolled into view (``GET /v1/kbs/{kb}/view/{source}``, ``qa.serve.docpage``)."""
    return (f"/v1/kbs/{quote(kb or 'default', safe='')}/view/{quote(source, safe='/')}"
            f"?start={int(start)}&end={int(end)}#cited")


def _linked(label: str, url: str | None) -> str:
    """``label`` (already escaped) as a Markdown link to ``url`` (quoted: no ``(``, ``)``,
    spaces or quotes survive in it), or as it is."""
    return f"[{label}]({url})" if url else label


def answer_head(answer: Answer, links: bool = False) -> str:
    """The first chat message: the answer sentence and where it is, or the refusal, plain.
    With ``links`` where it is links to the document with the sentence marked. An answer
    given by a remembered correction carries its mark ("已按反馈更正（date）") after it."""
    note = getattr(answer, "note", "")
    if note:
        return f"{_answer_head(answer, links)}\n\n*{escape(note)}*"
    return _answer_head(answer, links)


def _answer_head(answer: Answer, links: bool) -> str:
    if not answer.found:
        return escape(answer.text)
    where = ""
    if answer.span:
        source, start, end = answer.span
        p = answer_passage(answer)
        paragraph = f" · 第{p.paragraph}段" if p else ""
        page = f" · 第{p.page}页" if p and p.page else ""
        kb = answer.kb or (p.kb if p else "") or "default"
        url = view_url(kb, source, start, end) if links else None
        shown_source = f"{kb}/{source}" if links and kb != "default" else source
        where = " · " + _linked(f"{escape(shown_source)}{page}{paragraph} · 字符 {start}–{end}",
                                url)
    return f"{answer_sentence_html(answer)}\n\n置信度 {answer.confidence:.2f}{where}"


def sources_title(answer: Answer) -> str:
    """The title of the collapsed sources message."""
    if answer.found:
        return f"出处 · {len(answer.passages)} 段"
    return f"最接近的段落 · {len(answer.passages)} 段（匹配较弱，仅供参考）"


def _passage_body(answer: Answer, p: Passage) -> str:
    """A passage, escaped, with the answer sentence highlighted when it lies inside it."""
    where = answer.span_in(p)
    return _marked(p.text, *where) if where is not None else escape(p.text)


def _target(answer: Answer, p: Passage) -> tuple[int, int]:
    """What a passage's citation link marks: the answer sentence when it is in the passage,
    else the whole passage."""
    where = answer.span_in(p)
    return (p.start + where[0], p.start + where[1]) if where is not None else (p.start, p.end)


def sources_markdown(answer: Answer, links: bool = False) -> str:
    """Every passage with its citation (file · paragraph · span · score), quoted; with
    ``links`` each citation links to its document with the cited text marked."""
    out = []
    for p in answer.passages:
        url = view_url(p.kb or answer.kb or "default", p.source, *_target(answer, p)) \
            if links else None
        out.append(f"**{_linked(escape(p.citation), url)}** · 分数 {p.score:.3f}\n")
        out.append(_quote(_passage_body(answer, p)) + "\n")
    return "\n".join(out)


def answer_markdown(answer: Answer) -> str:
    """The whole reply as one Markdown text: the answer first, then the passages."""
    if not answer.passages:
        return answer_head(answer)
    return f"{answer_head(answer)}\n\n**{sources_title(answer)}**\n\n{sources_markdown(answer)}"
