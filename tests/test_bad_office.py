"""Bad Office files, sheets and scans: each is skipped with a reason naming it, and the rest
of the corpus is read. Truncated and corrupt .docx/.xlsx/.pptx, password-protected files
(encrypted with msoffcrypto-tool, as Office does), an old binary .doc under a new name, a zip
bomb, a sheet past the row limit, an image and a scanned page with no text. The library here;
``qa build`` over the same corpus in test_bad_office_cli.py."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from PIL import Image

from qa.ingest.corpus import read_corpus
from qa.ingest.office import OLE_MAGIC


def good_files() -> dict[str, bytes]:
    d = docx.Document()
    d.add_paragraph("星河公司的年度预算为三千万元。")
    book = openpyxl.Workbook()
    book.active.append(["型号", "单价"])
    book.active.append(["X-200", 1280])
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "季度报告"
    out = {}
    for name, thing in (("good.docx", d), ("good.xlsx", book), ("good.pptx", deck)):
        buffer = io.BytesIO()
        thing.save(buffer)
        out[name] = buffer.getvalue()
    return out


def encrypted(data: bytes) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt("secret", out)
    return out.getvalue()


def with_part(data: bytes, part: str, content: bytes) -> bytes:
    """``data`` (a zip) with ``part`` replaced by ``content``, or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, content if info.filename == part else src.read(info))
        if part not in src.namelist():
            dst.writestr(part, content)
    return out.getvalue()


def many_rows(rows: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("流水")
    sheet.append(["序号", "金额"])
    for i in range(rows):
        sheet.append([i, i * 3])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def make_bad_office(corpus: Path) -> dict[str, str]:
    """Write the good files and one of each bad kind; ``{source: reason fragment}``."""
    good = good_files()
    for name, data in good.items():
        (corpus / name).write_bytes(data)
    bad = {
        "truncated.docx": (good["good.docx"][: len(good["good.docx"]) // 2], "corrupt or truncated"),
        "truncated.xlsx": (good["good.xlsx"][:-200], "corrupt or truncated"),
        "truncated.pptx": (good["good.pptx"][:5000], "corrupt or truncated"),
        "broken-xml.docx": (with_part(good["good.docx"], "word/document.xml", b"<w:document"),
                            "unreadable Word document"),
        "not-a-zip.xlsx": (b"PK\x03\x04" + b"\x00garbage" * 100, "corrupt or truncated"),
        "wrong-kind.pptx": (good["good.docx"], "not a PowerPoint deck"),
        "locked.docx": (encrypted(good["good.docx"]), "password-protected"),
        "locked.xlsx": (encrypted(good["good.xlsx"]), "password-protected"),
        "old.doc.docx": (OLE_MAGIC + b"\x00" * 4000, "old binary Office file"),
        "bomb.docx": (with_part(good["good.docx"], "word/media/zeros.bin", b"\0" * 30_000_000),
                      "over the 20,000,000-byte limit (QA_MAX_UNZIPPED_BYTES)"),
        "long.xlsx": (many_rows(1200), "has 1,201 rows, over the 1,000-row limit"),
        "long.csv": (("a,b\n" + "1,2\n" * 1200).encode(), "more than 1,000 rows"),
        "not-an-image.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "unreadable image"),
    }
    bomb = bad["bomb.docx"][0]
    assert len(bomb) < 200_000  # 30 MB of zeros packs small: that is the bomb
    for name, (data, _) in bad.items():
        (corpus / name).write_bytes(data)
    return {name: reason for name, (_, reason) in bad.items()}


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_UNZIPPED_BYTES", "20000000")
    monkeypatch.setenv("QA_MAX_SHEET_ROWS", "1000")


def test_bad_office_files_are_skipped_by_name(tmp_path: Path, limits: None) -> None:
    expected = make_bad_office(tmp_path)
    corpus = read_corpus(tmp_path)
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    assert sorted(d.source for d in corpus.documents) == ["good.docx", "good.pptx", "good.xlsx"]
    assert "三千万元" in next(d.text for d in corpus.documents if d.source == "good.docx")


@pytest.mark.slow
def test_a_sheet_of_a_million_rows_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    """The default limit (100,000 rows) on a real million-row sheet: refused from the row
    count in its XML, before openpyxl loads it."""
    (tmp_path / "million.xlsx").write_bytes(many_rows(1_000_000))
    corpus = read_corpus(tmp_path)
    assert corpus.documents == []
    reason = corpus.skipped[0].reason
    assert "「流水」has 1,000,001 rows, over the 100,000-row limit (QA_MAX_SHEET_ROWS)" in reason


@pytest.mark.slow
def test_scans_with_no_text_are_skipped_by_name(tmp_path: Path) -> None:
    """OCR runs: a blank image and a blank scanned PDF give no text."""
    blank = Image.new("RGB", (1240, 1754), "white")
    blank.save(tmp_path / "blank.png")
    blank.save(tmp_path / "blank-scan.pdf", "PDF", resolution=150)
    (tmp_path / "note.txt").write_text("正文在这里。", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert reasons == {"blank.png": "no text OCR could read in the image",
                       "blank-scan.pdf": "a scan with no text OCR could read (1 page)"}
    assert [d.source for d in corpus.documents] == ["note.txt"]
