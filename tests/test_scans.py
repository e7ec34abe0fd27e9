"""Scanned PDFs and images read by OCR (qa.ingest.scans, RapidOCR's bundled models, offline):
the text matches what was rendered, a mixed PDF keeps its text page and OCRs its scanned
one, every OCR'd line keeps its box, the cache makes a second read run no OCR, and the
exact-offset contract holds. The scans are tests/data/formats/ (make_formats.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.config import Settings
from qa.eval.metrics import char_errors
from qa.ingest.chunking import chunk_document
from qa.ingest.corpus import OCR_CACHE, read_corpus, read_document

pytestmark = pytest.mark.slow
FORMATS = Path(__file__).parent / "data" / "formats"


def cer(truth: str, read: str) -> float:
    """Character error rate, whitespace ignored: edit distance over the truth's length."""
    errors, chars = char_errors(truth, read)
    return errors / max(1, chars)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    for name in ("policy-leave-scan.png", "news-launch-mixed.pdf"):
        shutil.copy(FORMATS / name, folder / name)
    return folder


def test_an_image_is_read_with_boxes_and_places(corpus: Path) -> None:
    pages: list[tuple[int, int]] = []
    doc = read_document(corpus, "policy-leave-scan.png", 10**8,
                        on_page=lambda d, t: pages.append((d, t)))
    assert pages == [(0, 1), (1, 1)] and doc.encoding == "image+ocr"
    truth = (FORMATS / "policy-leave-scan.truth.txt").read_text(encoding="utf-8")
    assert cer(truth, doc.text) <= 0.03
    assert doc.regions and all(0 <= r.box[0] < r.box[2] <= 1 for r in doc.regions)
    first = doc.regions[0]
    assert doc.text[first.start:first.end] and first.page == 1
    assert doc.place_at(first.start).startswith("第1页 区域 ")
    chunks = chunk_document(doc, 500, 50)
    assert chunks and all(c.text == doc.text[c.start:c.end] and c.page == 1 for c in chunks)


def test_a_mixed_pdf_keeps_its_text_page_and_ocrs_the_scan(corpus: Path) -> None:
    doc = read_document(corpus, "news-launch-mixed.pdf", 10**8)
    assert doc.encoding == "pdf+ocr" and len(doc.pages) == 2
    text_page = doc.text[:doc.pages[1]]
    assert text_page.startswith("Launch briefing, English summary.")
    assert not any(r.start < doc.pages[1] for r in doc.regions)  # no OCR on the text page
    truth = (FORMATS / "news-launch-mixed.truth.txt").read_text(encoding="utf-8")
    assert cer(truth, doc.text[doc.pages[1]:]) <= 0.03
    assert doc.page_at(doc.regions[0].start) == 2


def test_a_second_read_runs_no_ocr(corpus: Path) -> None:
    first = read_corpus(corpus)  # the tests above filled the cache
    cached = sorted((corpus / OCR_CACHE).glob("*.json"))
    assert len(cached) == 2
    seen: list[tuple[str, int, int]] = []
    again = read_corpus(corpus, page_progress=lambda s, d, t: seen.append((s, d, t)))
    assert seen == []  # nothing was OCR'd
    assert [d.text for d in again.documents] == [d.text for d in first.documents]
    for path in cached:
        path.unlink()
    read_corpus(corpus, page_progress=lambda s, d, t: seen.append((s, d, t)))
    assert ("news-launch-mixed.pdf", 1, 1) in seen and ("policy-leave-scan.png", 1, 1) in seen


def test_the_document_view_shows_the_scanned_page_with_the_line_boxed(corpus: Path,
                                                                     tmp_path: Path) -> None:
    from qa.serve.docpage import PAGE_HEADERS, document_page
    from qa.serve.library import Library
    from qa.serve.viewer import document_view

    library = Library(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"))
    doc = read_document(corpus, "news-launch-mixed.pdf", 10**8)
    line = doc.regions[3]
    view = document_view(library, "news-launch-mixed.pdf", line.start, line.end)
    assert view["span"]["text"] == doc.text[line.start:line.end]
    assert view["span"]["page"] == 2 and view["span"]["place"].startswith("第2页 区域 ")
    image = view["page_image"]
    assert image["page"] == 2 and image["box"] == list(line.box)
    assert image["src"].startswith("data:image/jpeg;base64,/9j/")
    page = document_page(view)
    assert '<figure><img alt="第2页扫描图" src="data:image/jpeg;base64,' in page
    assert "img-src data:" in PAGE_HEADERS["Content-Security-Policy"]
    text_view = document_view(library, "news-launch-mixed.pdf", 0, 10)  # the text page
    assert "page_image" not in text_view and text_view["span"]["place"] is None
