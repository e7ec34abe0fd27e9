"""Read the corpus folder into ``Document``s, with content hashes and clear reasons for skips.

Text offsets everywhere in qa point into ``Document.text``. For ``.txt``/``.md`` files that is
exactly ``path.read_text(encoding=...)`` (universal newlines, a UTF-8 BOM kept as U+FEFF), so
``text[start:end]`` of a citation can be checked against the file itself. For ``.html`` it is
the visible text (scripts and styles dropped); for ``.pdf`` the text pypdf extracts, pages
joined by a blank line, with each page's start offset kept in ``Document.pages`` (a page
with no text layer is read by OCR, ``qa.ingest.scans``). Word, Excel, CSV, PowerPoint and
images are converted by their own modules (``docx``, ``sheets``, ``pptx``, ``scans``) into
text plus ``Document.units``: each block's offsets, kind and place ("表1 第2行").
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from qa.config import IngestLimits
from qa.ingest.decode import CorpusError, decode_text
from qa.ingest.units import Converted, ReadContext, Region, Unit

if TYPE_CHECKING:
    ConvertFn = Callable[[bytes, ReadContext], Converted]

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
OFFICE_SUFFIXES = {".docx", ".xlsx", ".pptx"}
TABLE_SUFFIXES = {".csv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SUFFIXES = (TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | OFFICE_SUFFIXES | TABLE_SUFFIXES
            | IMAGE_SUFFIXES)
#: Where a corpus keeps the OCR results of its scans, by content hash (``qa.ingest.scans``).
OCR_CACHE = Path(".qa") / "ocr"


@dataclass(frozen=True)
class Document:
    """One corpus file as text: ``source`` is its path relative to the corpus folder."""

    source: str
    text: str
    sha256: str
    encoding: str
    pages: tuple[int, ...] = ()  # PDF only: start offset of each page in ``text``
    #: converted files (Word, sheets, slides, scans): each block with its kind and place
    units: tuple[Unit, ...] = ()
    #: OCR'd lines and their boxes on the page
    regions: tuple[Region, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """1-based PDF page holding ``offset``, or None for files without pages."""
        if not self.pages:
            return None
        page = 1
        for i, start in enumerate(self.pages, 1):
            if start <= offset:
                page = i
        return page

    @cached_property
    def _unit_starts(self) -> list[int]:
        return [u.start for u in self.units]

    @cached_property
    def _region_starts(self) -> list[int]:
        return [r.start for r in self.regions]

    def unit_at(self, offset: int) -> Unit | None:
        """The unit holding ``offset`` (the last one starting at or before it), or None."""
        i = bisect.bisect_right(self._unit_starts, offset) - 1
        return self.units[i] if i >= 0 else None

    def region_at(self, offset: int) -> Region | None:
        """The OCR'd line holding ``offset``, or None."""
        i = bisect.bisect_right(self._region_starts, offset) - 1
        region = self.regions[i] if i >= 0 else None
        return region if region and offset < region.end else None

    def place_at(self, offset: int) -> str:
        """Where ``offset`` is, for a person: "第3段", "表1 第2行", "第4张幻灯片" …; "" for
        plain text. An OCR'd offset adds its page region ("第2页 区域 10%,22%–88%,25%")."""
        unit = self.unit_at(offset)
        place = unit.place if unit else ""
        region = self.region_at(offset)
        if region:
            x0, y0, x1, y1 = (round(v * 100) for v in region.box)
            place = place or f"第{region.page}页"
            place += f" 区域 {x0}%,{y0}%–{x1}%,{y1}%"
        return place.strip()


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class Corpus:
    """What ``read_corpus`` found: the documents it could read and the files it skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def hashes(self) -> dict[str, str]:
        return {d.source: d.sha256 for d in self.documents}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _candidates(corpus_dir: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """``(source, entry)`` for every supported file under ``corpus_dir``, walked the way
    ``os.walk(followlinks=False)`` does (each folder's files by name, then its subfolders by
    name; hidden names and symlinked folders skipped) but with ``os.scandir`` and plain
    strings, since ``stat_signature`` runs this before every question."""

    def walk(folder: str, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                folders.append(entry)
            elif os.path.splitext(entry.name)[1].lower() in SUFFIXES:
                yield prefix + entry.name, entry
        for entry in folders:
            if not entry.is_symlink():
                yield from walk(entry.path, f"{prefix}{entry.name}/")

    if corpus_dir.is_dir():
        yield from walk(str(corpus_dir), "")


def list_files(corpus_dir: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(source, path)`` for every supported file under ``corpus_dir``, sorted.

    Hidden files and folders are ignored. Symlinks are yielded too: ``read_document`` refuses
    the ones that point outside the corpus.
    """
    for source, entry in _candidates(corpus_dir):
        yield source, Path(entry.path)


class _TextOfHTML(HTMLParser):
    """Collect the visible text of an HTML page; block elements end a line."""

    SKIP: ClassVar[set[str]] = {"script", "style", "noscript", "template", "head", "svg"}
    BLOCK: ClassVar[set[str]] = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
             "article", "header", "footer", "blockquote", "pre", "title", "ul", "ol", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextOfHTML()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _resolve(corpus_dir: Path, source: str) -> tuple[Path, os.stat_result]:
    """The real path of a corpus file and its stat; ``CorpusError`` if it must not be read."""
    path = corpus_dir / source
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(corpus_dir.resolve()):
            raise CorpusError(f"{source}: symlink to {real}, outside the corpus folder")
        st = real.stat()
    except FileNotFoundError:
        if os.path.lexists(path):
            raise CorpusError(f"{source}: broken symlink (its target does not exist)") from None
        raise CorpusError(f"{source}: disappeared while reading") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise CorpusError(f"{source}: cannot read ({getattr(exc, 'strerror', None) or exc})"
                          ) from None
    if not stat.S_ISREG(st.st_mode):
        raise CorpusError(f"{source}: not a regular file")
    return real, st


def converter(suffix: str) -> ConvertFn | None:
    """The function that converts files with ``suffix`` (None for text and HTML)."""
    if suffix in (".docx", ".xlsx", ".csv", ".pptx"):
        from qa.ingest import docx, pptx, sheets

        return {".docx": docx.read_docx, ".xlsx": sheets.read_xlsx, ".csv": sheets.read_csv,
                ".pptx": pptx.read_pptx}[suffix]
    if suffix in PDF_SUFFIXES | IMAGE_SUFFIXES:
        from qa.ingest import scans

        return scans.read_pdf if suffix in PDF_SUFFIXES else scans.read_image
    return None


def read_document(corpus_dir: Path, source: str, max_bytes: int,
                  limits: IngestLimits | None = None,
                  on_page: Callable[[int, int], None] | None = None) -> Document:
    """Read one corpus file; raise ``CorpusError`` naming the file if it cannot be used.
    ``limits`` default to ``IngestLimits.from_env()``; ``on_page(done, total)`` hears of each
    page OCR reads."""
    path = corpus_dir / source
    real, st = _resolve(corpus_dir, source)
    if st.st_size > max_bytes:
        raise CorpusError(f"{source}: {st.st_size:,} bytes, over the {max_bytes:,}-byte limit "
                          "(QA_MAX_FILE_BYTES)")
    try:
        with real.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise CorpusError(f"{source}: disappeared while reading") from None
    except OSError as exc:
        raise CorpusError(f"{source}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise CorpusError(f"{source}: grew over the {max_bytes:,}-byte limit while reading "
                          "(QA_MAX_FILE_BYTES)")
    if not data.strip():
        raise CorpusError(f"{source}: empty file")
    suffix = path.suffix.lower()
    convert = converter(suffix)
    if convert is not None:
        ctx = ReadContext(source, limits or IngestLimits.from_env(), corpus_dir / OCR_CACHE,
                          on_page)
        done = convert(data, ctx)
        if not done.text.strip():
            raise CorpusError(f"{source}: no text in it")
        return Document(source, done.text, sha256_bytes(data), done.encoding, done.pages,
                        done.units, done.regions)
    text, encoding = decode_text(data, source)
    if suffix in HTML_SUFFIXES:
        text = html_to_text(text)
    if not text.strip():
        raise CorpusError(f"{source}: no text in it")
    return Document(source, text, sha256_bytes(data), encoding)


def read_corpus(corpus_dir: Path, max_bytes: int = 20_000_000,
                only: set[str] | None = None,
                progress: Callable[[int, int], None] | None = None,
                page_progress: Callable[[str, int, int], None] | None = None) -> Corpus:
    """Read every supported file under ``corpus_dir`` (or just the sources in ``only``); a file
    that cannot be read is recorded in ``Corpus.skipped`` with its reason and never stops the
    others, and ``progress(done, total)`` is called before each file and at the end;
    ``page_progress(source, done, total)`` for each page OCR reads."""
    corpus = Corpus()
    limits = IngestLimits.from_env()
    sources = [s for s, _ in list_files(corpus_dir) if only is None or s in only]
    for done, source in enumerate(sources):
        if progress:
            progress(done, len(sources))
        try:
            on_page = (None if page_progress is None else
                       lambda d, t, s=source: page_progress(s, d, t))  # type: ignore[misc]
            corpus.documents.append(read_document(corpus_dir, source, max_bytes, limits,
                                                  on_page))
        except CorpusError as exc:
            corpus.skipped.append(Skipped(source, str(exc).split(": ", 1)[-1]))
    if progress:
        progress(len(sources), len(sources))
    return corpus


def stat_signature(corpus_dir: Path) -> dict[str, tuple[int, int]]:
    """``{source: (size, mtime_ns)}`` for every file ``list_files`` yields whose ``stat``
    succeeds (a dangling symlink has none): a cheap change detector."""
    sig: dict[str, tuple[int, int]] = {}
    for source, entry in _candidates(corpus_dir):
        try:
            st = entry.stat()
        except OSError:
            continue
        sig[source] = (st.st_size, st.st_mtime_ns)
    return sig


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_hashes(corpus_dir: Path, max_bytes: int | None = None) -> dict[str, str]:
    """``{source: sha256}`` of the raw bytes of every candidate file (readable or not); files
    that are never read are not read here either (a symlink out of the corpus, a FIFO or
    device, a file over ``max_bytes``): they get a marker from ``stat`` or the reason instead,
    so they still show up as changed when they change."""
    hashes: dict[str, str] = {}
    for source, path in list_files(corpus_dir):
        try:
            real, st = _resolve(corpus_dir, source)
            if max_bytes is not None and st.st_size > max_bytes:
                hashes[source] = f"oversize:{st.st_size}:{st.st_mtime_ns}"
            else:
                hashes[source] = sha256_file(real)
        except CorpusError as exc:
            if not os.path.lexists(path):  # gone since it was listed
                continue
            hashes[source] = "unreadable:" + sha256_bytes(str(exc).encode("utf-8"))[:16]
        except OSError:
            continue
    return hashes
