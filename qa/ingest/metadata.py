"""An article's own metadata, read from its title block: when it was published and by whom.

Web articles open with a block of short lines: a channel, the date and time, the publishing
body or author, buttons ("分享"). ``fields`` reads the date (2023-09-19 10:25, 2023年9月19日,
2023/9/19), labelled fields (来源：…, 作者：…, 文/…, 记者 …, 编辑：…) and, when nothing is
labelled, takes the line right after the date as the source (the usual layout). ``asks`` tells
a question about the article itself ("这篇文章是哪天发布的?", "本文的来源机构是谁?") from one
about its content ("GPT-4是什么时候发布的?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.chunking import Chunk

_ABOUT_ARTICLE = re.compile(r"这篇(?:文章|报道|稿子|稿件|文)|本文|该文|此文|原文|文章(?:的|是|由|在|于|来自|出自)")
_ASKS = {
    "date": re.compile(r"哪天|哪一天|什么时候|何时|时间|日期|哪年|几号|几月"),
    "source": re.compile(r"来源|出处|机构|谁|作者|署名|哪家|出自|发布方|媒体|哪个单位|哪个网站"),
}
_DATE = re.compile(r"(?:19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?"
                   r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_LABEL = re.compile(r"^\s*(?:(?:来源|出处|发布机构|发布者|出品|作者|撰文|供稿|记者|编辑)\s*[:：/|]?|文\s*[/／])\s*")
#: lines of a title block that are page furniture, not a source
_FURNITURE = re.compile(r"^(?:分享|收藏|点赞|转发|评论|阅读|关注|原创|TIME|DATE|举报|\W*)$",
                        re.IGNORECASE)


@dataclass(frozen=True)
class Field:
    """One metadata value and the line holding it (absolute offsets into the file)."""

    name: str
    value: str
    start: int
    end: int
    line: tuple[int, int]


def asks(question: str) -> list[str]:
    """The metadata fields ("date", "source") a question about the article itself asks for."""
    if not _ABOUT_ARTICLE.search(question):
        return []
    return [name for name, pattern in _ASKS.items() if pattern.search(question)]


def _lines(chunk: Chunk) -> list[tuple[int, int, str]]:
    out, at = [], chunk.start
    for raw in chunk.text.split("\n"):
        stripped = raw.strip()
        if stripped:
            s = at + raw.index(stripped)
            out.append((s, s + len(stripped), stripped))
        at += len(raw) + 1
    return out


def fields(chunks: list[Chunk]) -> dict[str, Field]:
    """The date and source of a file, from its title-block chunks (kind "meta")."""
    found: dict[str, Field] = {}
    labelled: list[Field] = []
    for chunk in (c for c in chunks if c.kind == "meta"):
        lines = _lines(chunk)
        for i, (s, e, line) in enumerate(lines):
            if "date" not in found and (m := _DATE.search(line)):
                found["date"] = Field("date", m.group(), s + m.start(), s + m.end(), (s, e))
                after = lines[i + 1] if i + 1 < len(lines) else None
                if after and "source" not in found and not _FURNITURE.match(after[2]) \
                        and not _DATE.search(after[2]):
                    found["source"] = Field("source", after[2], after[0], after[1], after[:2])
            if (m := _LABEL.match(line)) and m.end() < len(line):
                labelled.append(Field("source", line[m.end():].strip(), s + m.end(), e, (s, e)))
    if labelled:  # a labelled source wins over the line after the date
        found["source"] = labelled[0]
    return found


def by_source(chunks: list[Chunk]) -> dict[str, dict[str, Field]]:
    """``fields`` of every file with a title block."""
    meta: dict[str, list[Chunk]] = {}
    for c in chunks:
        if c.kind == "meta":
            meta.setdefault(c.source, []).append(c)
    return {source: f for source, cs in meta.items() if (f := fields(cs))}
