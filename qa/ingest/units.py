"""What the converters of structured files hand back: the text, and where each part of it is.

A converter (``docx``, ``sheets``, ``pptx``, ``scans``) writes a file's text one block at a
time through a ``TextBuilder``: blocks are separated by a blank line, and each one is recorded
as a ``Unit`` — its offsets in the text, its kind (a heading with its level, a paragraph, a
table row, a slide title, a speaker note …) and the place a person would look for it
("第3段", "表1 第2行", "工作表「报价」第5行", "第4张幻灯片"). OCR'd lines also keep their box
on the page as a ``Region`` (``qa.ingest.scans``). Offsets follow the corpus contract: ``text[start:end]`` is the
unit, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.config import IngestLimits

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n[ \t\u3000]*\n\s*")


@dataclass(frozen=True)
class Unit:
    """One block of a converted file: ``text[start:end]``, what it is and where it was."""

    start: int
    end: int
    kind: str  # "heading" | "body" | "row" | "title" | "note" | "header" | "footer"
    place: str
    level: int = 0  # headings: 1 for the top level


@dataclass(frozen=True)
class Region:
    """One OCR'd line: ``text[start:end]`` was read from ``box`` of page ``page`` (1-based);
    the box is (left, top, right, bottom) as fractions of the page's width and height."""

    start: int
    end: int
    page: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class ReadContext:
    """What a converter is given besides the bytes: the file's name (for messages), the
    limits, where OCR results are cached and who hears of each OCR'd page."""

    source: str
    limits: IngestLimits = field(default_factory=IngestLimits)
    cache_dir: Path | None = None
    on_page: Callable[[int, int], None] | None = None


@dataclass(frozen=True)
class Converted:
    """A converter's result: the text and its units, page starts and OCR regions."""

    text: str
    encoding: str
    units: tuple[Unit, ...] = ()
    pages: tuple[int, ...] = ()
    regions: tuple[Region, ...] = ()


def clean_block(text: str) -> str:
    """A block's text as it goes into the document: no control characters, no blank lines
    inside, no spaces around it (a blank line separates blocks)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n")
    text = _CONTROL.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


class TextBuilder:
    """Builds a converted file's text block by block, recording each block's ``Unit``."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.parts: list[str] = []
        self.length = 0
        self.units: list[Unit] = []
        self.pages: list[int] = []
        self.regions: list[Region] = []
        self._page_pending = False

    def new_page(self) -> None:
        """The next block starts a page (or slide): its start goes into ``pages``."""
        if self._page_pending:  # the previous page was empty: it starts where this one does
            self.pages.append(-1)
        self._page_pending = True

    def _separate(self) -> None:
        if self.length:
            self.parts.append("\n\n")
            self.length += 2

    def add(self, text: str, kind: str, place: str, level: int = 0) -> Unit | None:
        """Append one block (cleaned; nothing if it is empty) and return its unit."""
        text = clean_block(text)
        if not text:
            return None
        self._separate()
        start = self.length
        self._start_page(start)
        self.parts.append(text)
        self.length += len(text)
        unit = Unit(start, self.length, kind, place, level)
        self.units.append(unit)
        return unit

    def _start_page(self, start: int) -> None:
        if self._page_pending:
            self.pages = [start if p == -1 else p for p in self.pages]
            self.pages.append(start)
            self._page_pending = False

    def build(self) -> Converted:
        text = "".join(self.parts) + "\n" if self.parts else ""
        pages = [p if p != -1 else self.length for p in self.pages]
        if self._page_pending:
            pages.append(self.length)
        return Converted(text, self.encoding, tuple(self.units), tuple(pages),
                         tuple(self.regions))
