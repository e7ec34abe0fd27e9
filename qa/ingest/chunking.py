"""Split documents into ``Chunk``s that keep exact character offsets into their file.

A document is first cut into paragraphs (blocks separated by blank lines; in files without
blank lines, each line is a paragraph). Each paragraph is classified:

- ``heading``: one short line without sentence punctuation, followed by text. It is never a
  passage itself; its text is kept as ``Chunk.heading`` of the chunks below it, so the heading
  helps retrieve the paragraph it introduces.
- ``meta``: a block of short unpunctuated lines (a title block: channel, date, author).
- ``boilerplate``: everything from an end marker (``THE END``, ``免责声明``, ``相关热点``, …) on:
  page furniture that is not part of the article.
- ``body``: the rest — the text answers come from.

Body paragraphs longer than ``chunk_size`` are split by langchain's
``RecursiveCharacterTextSplitter`` with Chinese-aware separators; chunks never cross
paragraphs or files, and ``text[start:end] == chunk.text`` always holds.

A converted file (Word, spreadsheet, slides: ``Document.units``) is not guessed at: its units
are its paragraphs, a heading unit is a heading at its level, and a passage's ``heading`` is
its heading path ("合同 › 第二章 付款 › 表1"); ``Chunk.place`` says where it is ("表1 第3行").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from qa.ingest.corpus import Document
from qa.ingest.text import SENTENCE_END, sentence_spans

SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", ",", "、", " ", ""]
#: Lines that start the page furniture after an article.
END_MARKERS = re.compile(
    r"^\s*(THE END|—*\s*END\s*—*|（完）|\(完\)|免责声明|版权声明|相关热点|相关阅读|相关推荐"
    r"|推荐阅读|延伸阅读|热门推荐|责任编辑|Disclaimer)", re.IGNORECASE)
HEADING_MAX = 40
META_LINE_MAX = 24


@dataclass(frozen=True)
class Chunk:
    """A passage of one file: ``text == document.text[start:end]``."""

    id: int
    source: str
    start: int
    end: int
    text: str
    paragraph: int  # 1-based paragraph number in its file
    kind: str  # "body" | "meta"
    heading: str = ""
    page: int | None = None
    sentences: tuple[tuple[int, int], ...] = ()  # absolute (start, end) of each sentence
    #: where a person finds it in a converted file: "第3段", "表1 第2行", "第4张幻灯片" …
    place: str = ""

    def span_text(self, start: int, end: int) -> str:
        """The text of the file span ``start``–``end`` (absolute offsets) inside this chunk."""
        return self.text[start - self.start : end - self.start]

    def sentence_text(self, place: int) -> str:
        """The text of the chunk's sentence at ``place`` (0-based)."""
        return self.span_text(*self.sentences[place])

    def sentence_texts(self) -> list[str]:
        """The texts of the chunk's sentences, in order."""
        return [self.span_text(s, e) for s, e in self.sentences]

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["sentences"] = [list(s) for s in self.sentences]
        return d

    @classmethod
    def from_json(cls, d: dict) -> Chunk:  # type: ignore[type-arg]
        d = dict(d)
        d["sentences"] = tuple(tuple(s) for s in d.get("sentences", ()))
        return cls(**d)


@dataclass(frozen=True)
class Paragraph:
    number: int
    start: int
    end: int
    kind: str


def paragraphs(text: str) -> list[Paragraph]:
    """Cut ``text`` into classified paragraphs (see the module docstring)."""
    if re.search(r"\n[ \t\u3000]*\n", text):
        pattern = re.compile(r"(?:[^\n]*\S[^\n]*(?:\n|$))+")
        spans = [(m.start(), m.end()) for m in pattern.finditer(text)]
    else:
        spans = [(m.start(), m.end()) for m in re.finditer(r"[^\n]*\S[^\n]*", text)]
    raw: list[tuple[int, int]] = []
    for s, e in spans:
        while s < e and (text[s].isspace() or text[s] == "\ufeff"):
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            raw.append((s, e))
    out: list[Paragraph] = []
    in_boilerplate = False
    for number, (s, e) in enumerate(raw, 1):
        block = text[s:e]
        lines = block.split("\n")
        punctuated = any(c in block for c in SENTENCE_END + "，,")
        if in_boilerplate or END_MARKERS.match(block):
            in_boilerplate, kind = True, "boilerplate"
        elif len(lines) == 1 and len(block) <= HEADING_MAX and not punctuated:
            kind = "heading"
        elif len(lines) > 1 and all(len(x.strip()) <= META_LINE_MAX for x in lines) \
                and not punctuated:
            kind = "meta"
        else:
            kind = "body"
        out.append(Paragraph(number, s, e, kind))
    return out


def _splitter(chunk_size: int, chunk_overlap: int):  # type: ignore[no-untyped-def]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        strip_whitespace=True,
    )


def split_span(text: str, start: int, end: int, chunk_size: int,
               chunk_overlap: int) -> Iterator[tuple[int, int]]:
    """Yield absolute ``(start, end)`` pieces of ``text[start:end]``, each an exact substring."""
    if end - start <= chunk_size:
        yield start, end
        return
    prev_start, prev_end = start - 1, start
    for piece in _splitter(chunk_size, chunk_overlap).split_text(text[start:end]):
        # a piece starts after the previous one, overlapping it by at most chunk_overlap;
        # searching from there keeps a repeated phrase from matching too early
        at = -1
        for cursor in (max(prev_start + 1, prev_end - chunk_overlap), prev_start + 1, start):
            at = text.find(piece, cursor, end)
            if at >= 0:
                break
        if at < 0:
            raise AssertionError(f"splitter returned text not in the document: {piece[:30]!r}")
        yield at, at + len(piece)
        prev_start, prev_end = at, at + len(piece)


#: Between the headings of a heading path.
PATH_SEPARATOR = " › "
#: A table row up to this long is one sentence (its cells are separated by "；", which ends a
#: sentence elsewhere): the row is the answer sentence, a cell the short answer.
ROW_SENTENCE_MAX = 300


def _chunk_units(doc: Document, chunk_size: int, chunk_overlap: int,
                 first_id: int) -> list[Chunk]:
    """Chunks of a converted document: one or more per non-heading unit, each with its
    heading path and place; a unit's number is its paragraph number."""
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, heading) from the top
    for number, unit in enumerate(doc.units, 1):
        if unit.kind == "heading":
            path = [(lvl, h) for lvl, h in path if lvl < unit.level]
            path.append((unit.level, doc.text[unit.start:unit.end]))
            continue
        heading = PATH_SEPARATOR.join(h for _, h in path)
        for s, e in split_span(doc.text, unit.start, unit.end, chunk_size, chunk_overlap):
            whole_row = unit.kind == "row" and e - s <= ROW_SENTENCE_MAX
            chunks.append(Chunk(
                id=first_id + len(chunks), source=doc.source, start=s, end=e,
                text=doc.text[s:e], paragraph=number, kind="body", heading=heading,
                page=doc.page_at(s), place=doc.place_at(s),
                sentences=((s, e),) if whole_row else tuple(sentence_spans(doc.text, s, e))))
    return chunks


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int,
                   first_id: int = 0) -> list[Chunk]:
    """Chunks of one document's body and meta paragraphs, numbered from ``first_id``."""
    if doc.units:
        return _chunk_units(doc, chunk_size, chunk_overlap, first_id)
    chunks: list[Chunk] = []
    heading = ""
    for para in paragraphs(doc.text):
        if para.kind == "heading":
            heading = doc.text[para.start:para.end]
            continue
        if para.kind == "boilerplate":
            continue
        for s, e in split_span(doc.text, para.start, para.end, chunk_size, chunk_overlap):
            chunks.append(Chunk(
                id=first_id + len(chunks), source=doc.source, start=s, end=e,
                text=doc.text[s:e], paragraph=para.number, kind=para.kind,
                heading=heading, page=doc.page_at(s),
                sentences=tuple(sentence_spans(doc.text, s, e)), place=doc.place_at(s),
            ))
    return chunks


def chunk_documents(docs: list[Document], chunk_size: int, chunk_overlap: int,
                    first_id: int = 0) -> list[Chunk]:
    """Chunks of all documents, ids ``first_id``.. in corpus order."""
    chunks: list[Chunk] = []
    for doc in docs:
        chunks.extend(chunk_document(doc, chunk_size, chunk_overlap,
                                     first_id=first_id + len(chunks)))
    return chunks
