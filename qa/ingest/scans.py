"""PDFs page by page, and images (.png .jpg), with OCR where there is no text layer.

A PDF page with a text layer is read by pypdf as before. A page without one (a scan) is
rendered by pypdfium2 at ``DPI`` and read by OCR (``qa.ingest.ocr``); each OCR'd line keeps
its box on the page (``Document.regions``). OCR results are cached by the file's content
hash under the corpus's ``.qa/ocr/`` (one JSON file per scanned file, with the engine's
version), so reading an unchanged file again runs no OCR; ``ReadContext.on_page`` hears of
every page OCR reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from qa.ingest.decode import CorpusError
from qa.ingest.ocr import OcrLine, engine_version, paragraphs, read_lines
from qa.ingest.units import Converted, ReadContext, Region, clean_block

#: Resolution scanned pages are rendered at for OCR (A4: 1240 x 1754 pixels).
DPI = 150
#: A page whose text layer has fewer visible characters than this is treated as a scan.
MIN_LAYER_CHARS = 8
#: Images larger than this many pixels are refused (a decompression bomb).
MAX_PIXELS = 60_000_000


class OcrCache:
    """The OCR'd pages of one file, kept in ``cache_dir/<sha256>.json``."""

    def __init__(self, cache_dir: Path | None, data: bytes) -> None:
        self.path = cache_dir / f"{hashlib.sha256(data).hexdigest()}.json" if cache_dir else None
        self.pages: dict[str, list[list[Any]]] = {}
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                saved = json.loads(self.path.read_text(encoding="utf-8"))
                if saved.get("engine") == engine_version() and saved.get("dpi") == DPI:
                    self.pages = saved["pages"]
            except (OSError, ValueError, KeyError, TypeError):
                self.pages = {}

    def get(self, page: int) -> list[OcrLine] | None:
        rows = self.pages.get(str(page))
        return None if rows is None else [OcrLine.from_json(r) for r in rows]

    def put(self, page: int, lines: list[OcrLine]) -> None:
        self.pages[str(page)] = [line.to_json() for line in lines]
        self.dirty = True

    def save(self) -> None:
        """Write the cache if it changed; a folder that cannot be written is no error."""
        if not (self.path and self.dirty):
            return
        record = {"engine": engine_version(), "dpi": DPI, "pages": self.pages}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass


def read_pdf(data: bytes, ctx: ReadContext) -> Converted:
    """A PDF's text page by page: its text layer, or OCR on a page that has none."""
    layers = _text_layers(data, ctx.source)
    texts = [text for text, _ in layers]
    scanned = [n for n, text in enumerate(texts, 1) if len(text.split()) == 0
               or len("".join(text.split())) < MIN_LAYER_CHARS]
    if len(scanned) > ctx.limits.max_ocr_pages:
        raise CorpusError(f"{ctx.source}: {len(scanned):,} scanned pages, over the "
                          f"{ctx.limits.max_ocr_pages:,}-page OCR limit (QA_MAX_OCR_PAGES)")
    cache = OcrCache(ctx.cache_dir, data)
    ocr = _ocr_pdf_pages(data, scanned, cache, ctx) if scanned else {}
    cache.save()
    if scanned and not any(ocr.values()) and len(scanned) == len(texts):
        raise CorpusError(f"{ctx.source}: a scan with no text OCR could read "
                          f"({len(scanned)} page{'s' if len(scanned) > 1 else ''})")
    # text-layer pages exactly as qa has always read them (pages joined by a blank line), so
    # the offsets of PDFs indexed before stay right; OCR'd paragraphs joined by a blank line
    text, starts, regions = "", [], []
    for number, layer in enumerate(texts, 1):
        starts.append(len(text))
        if number in ocr:
            page_text, page_regions = ocr_text(ocr[number], number, layers[number - 1][1],
                                               len(text))
            text += page_text
            regions += page_regions
        else:
            text += layer.replace("\r\n", "\n")
        text += "\n\n"
    return Converted(text, "pdf+ocr" if scanned else "pdf", (), tuple(starts), tuple(regions))


def read_image(data: bytes, ctx: ReadContext) -> Converted:
    """The text OCR reads on a .png/.jpg image (one page)."""
    image = open_image(data, ctx.source)
    cache = OcrCache(ctx.cache_dir, data)
    lines = cache.get(1)
    if lines is None:
        if ctx.on_page:
            ctx.on_page(0, 1)
        lines = read_lines(image)
        cache.put(1, lines)
        cache.save()
        if ctx.on_page:
            ctx.on_page(1, 1)
    if not lines:
        raise CorpusError(f"{ctx.source}: no text OCR could read in the image")
    text, regions = ocr_text(lines, 1, image.height / image.width, 0)
    return Converted(text + "\n", "image+ocr", (), (0,), tuple(regions))


def open_image(data: bytes, source: str) -> Any:
    """The PIL image of ``data``; ``CorpusError`` if it is no image or too large."""
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise CorpusError(f"{source}: {image.width}x{image.height} pixels, over the "
                              f"{MAX_PIXELS:,}-pixel limit")
        image.load()
        image = ImageOps.exif_transpose(image)  # a phone's photo the way it was held
    except CorpusError:
        raise
    except Exception as exc:  # PIL raises many kinds on damaged images
        raise CorpusError(f"{source}: unreadable image ({type(exc).__name__}: {exc})") from None
    return image


def _text_layers(data: bytes, source: str) -> list[tuple[str, float]]:
    """(text layer, height over width) of every page."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        return [((page.extract_text() or "").strip(), _aspect(page)) for page in reader.pages]
    except Exception as exc:  # pypdf on malformed input can raise almost anything
        raise CorpusError(f"{source}: unreadable PDF ({type(exc).__name__}: {exc})") from None


def _ocr_pdf_pages(data: bytes, numbers: list[int], cache: OcrCache,
                   ctx: ReadContext) -> dict[int, list[OcrLine]]:
    """{page: lines} of the scanned pages, from the cache or rendered and OCR'd."""
    out: dict[int, list[OcrLine]] = {n: lines for n in numbers
                                     if (lines := cache.get(n)) is not None}
    todo = [n for n in numbers if n not in out]
    if not todo:
        return out
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except Exception as exc:
        raise CorpusError(f"{ctx.source}: PDF pages cannot be rendered for OCR ({exc})") from None
    try:
        for done, number in enumerate(todo):
            if ctx.on_page:
                ctx.on_page(done, len(todo))
            try:
                image = pdf[number - 1].render(scale=DPI / 72).to_pil()
            except Exception as exc:
                raise CorpusError(f"{ctx.source}: page {number} cannot be rendered for OCR "
                                  f"({type(exc).__name__}: {exc})") from None
            out[number] = read_lines(image)
            cache.put(number, out[number])
        if ctx.on_page:
            ctx.on_page(len(todo), len(todo))
    finally:
        pdf.close()
    return out


def _aspect(page: Any) -> float:
    """Height over width of a pypdf page (A4's when it cannot be told)."""
    try:
        box = page.mediabox
        return float(box.height) / float(box.width)
    except Exception:
        return 297 / 210


def ocr_text(lines: list[OcrLine], page: int, aspect: float,
             offset: int) -> tuple[str, list[Region]]:
    """The text of one OCR'd page, its paragraphs joined by a blank line and a paragraph's
    lines joined as written (nothing between CJK lines or the digits of a number cut by the
    line's end, a space between Latin words), and
    the ``Region`` of each line, its offsets counted from ``offset``."""
    parts: list[str] = []
    regions: list[Region] = []
    at = offset
    for g, group in enumerate(paragraphs(lines, aspect)):
        if g:
            parts.append("\n\n")
            at += 2
        previous = ""
        for line in group:
            words = clean_block(line.text).replace("\n", " ")
            if not words:
                continue
            if _needs_space(previous[-1:], words[:1]):
                parts.append(" ")
                at += 1
            parts.append(words)
            regions.append(Region(at, at + len(words), page, line.box))
            at += len(words)
            previous = words
    return "".join(parts), regions


def _needs_space(before: str, after: str) -> bool:
    """Whether two wrapped lines are joined by a space: Latin words are, CJK and digits not."""
    latin = before.isascii() and before.isalnum() and after.isascii() and after.isalnum()
    return latin and not (before.isdigit() and after.isdigit())


def page_picture(data: bytes, suffix: str, page: int,
                 box: tuple[float, float, float, float] | None = None,
                 width: int = 900) -> bytes:
    """A JPEG of page ``page`` of a scanned PDF (or of an image), ``width`` pixels wide,
    with ``box`` (fractions of the page, as in ``Region.box``) outlined in red: what the
    document view shows beside a citation of an OCR'd line."""
    from PIL import ImageDraw

    if suffix == ".pdf":
        import pypdfium2

        pdf = pypdfium2.PdfDocument(data)
        try:
            pdf_page = pdf[page - 1]
            image = pdf_page.render(scale=width / pdf_page.get_width()).to_pil()
        finally:
            pdf.close()
    else:
        image = open_image(data, "image")
    image = image.convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)))
    if box:
        x0, y0, x1, y1 = box
        pad = 4
        ImageDraw.Draw(image).rectangle(
            (x0 * image.width - pad, y0 * image.height - pad, x1 * image.width + pad,
             y1 * image.height + pad), outline=(220, 38, 38), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
