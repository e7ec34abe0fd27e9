"""Corpus formats besides UTF-8 text: HTML (visible text only), PDF (per page, page in the
citation), GBK-encoded text (detected, encoding in the manifest) and Markdown. The files are
made here, indexed for real and asked about; every offset is checked against the text qa read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.config import PROJECT_ROOT, Settings
from qa.ingest.corpus import read_document
from qa.service import QA

pytestmark = pytest.mark.slow

HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>头部标题不应出现</title>
<style>body { color: red; } .secret::after { content: "样式里的秘密" }</style>
<script>var leak = "脚本里的秘密"; alert("脚本弹窗");</script></head>
<body>
<h1>星辰公司简介</h1>
<p>星辰公司成立于2001年，总部位于杭州，创始人是李明。</p>
<script type="text/javascript">document.write("正文中的脚本秘密");</script>
<p>公司主要生产智能芯片，员工约三千人，2022年营收达到&nbsp;15亿元。</p>
<noscript>请开启脚本才能看到的秘密</noscript>
<ul><li>产品一：星辰一号芯片</li><li>产品二：星辰二号芯片</li></ul>
</body></html>
"""

PDF_PAGES = [
    ["Annual report of the Boreal Energy cooperative, first section.",
     "The cooperative was founded by farmers, engineers and teachers.",
     "Its members meet every spring, in the old mill, to vote on plans."],
    ["The Zephyr reactor was commissioned in 1987, after nine years of work.",
     "It produces 42 megawatts, enough for the valley, and it never failed.",
     "Maintenance happens every autumn, when demand is lowest, said the chief."],
    ["Plans for the next decade include solar fields, and a new grid line.",
     "The members approved the budget, with a large majority, in 2023."],
]

GBK_TEXT = ("天河水库简介\n\n天河水库建于1958年，位于湖南省西部山区，库容约为三亿立方米。"
            "水库的主要作用是灌溉和发电，每年为下游农田提供充足的用水。\n\n"
            "2015年，天河水库完成了大坝加固工程，总投资为四点五亿元。\n")

MARKDOWN = ("# 蓝鲸项目\n\n蓝鲸项目是一个开源的数据库项目，于2019年发布第一个版本。"
            "项目使用Rust语言编写，重点是**高并发写入**。\n")


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF, one Helvetica text page per item (correct xref offsets)."""
    n = len(pages)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
        + f"] /Count {n} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        body = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(
            f"({_pdf_string(line)}) Tj T*" for line in lines) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>")
        objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("latin-1")
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode("latin-1")
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            ).encode("latin-1")
    return out


@pytest.fixture(scope="module")
def engine(tmp_path_factory, embedder) -> QA:
    root = tmp_path_factory.mktemp("formats")
    corpus = root / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    (corpus / "company.html").write_text(HTML, encoding="utf-8")
    (corpus / "report.pdf").write_bytes(make_pdf(PDF_PAGES))
    (corpus / "reservoir-gbk.txt").write_bytes(GBK_TEXT.encode("gbk"))
    (corpus / "project.md").write_text(MARKDOWN, encoding="utf-8")
    settings = Settings.from_env().with_(corpus_dir=corpus, index_dir=root / "index")
    qa = QA(settings, embedder=embedder)
    report = qa.build()
    assert not report.skipped, report.summary()
    return qa


def check_offsets(engine: QA, answer) -> None:  # type: ignore[no-untyped-def]
    """Every passage is exactly ``text[start:end]`` of the document qa read from the file."""
    settings = engine.settings
    for p in answer.passages:
        doc = read_document(settings.corpus_dir, p.source, settings.max_file_bytes)
        assert doc.text[p.start:p.end] == p.text
        assert f"字符 {p.start}–{p.end}" in p.citation


def test_html_keeps_visible_text_and_drops_scripts_and_styles(engine: QA) -> None:
    index = engine.index
    html_chunks = [c for c in index.chunks if c.source == "company.html"]
    assert html_chunks
    doc = read_document(engine.settings.corpus_dir, "company.html", 10**6)
    assert "星辰公司成立于2001年" in doc.text and "产品一：星辰一号芯片" in doc.text
    text = "\n".join(c.heading + c.text for c in html_chunks)
    assert "星辰公司成立于2001年" in text and "员工约三千人" in text
    for hidden in ("秘密", "alert", "color", "document.write", "头部标题", "<p>", "&nbsp;"):
        assert hidden not in text and hidden not in doc.text, hidden
    assert index.manifest["files"]["company.html"]["encoding"] == "utf-8"
    answer = engine.ask("星辰公司是哪一年成立的?")
    assert answer.passages[0].source == "company.html"
    assert "2001" in answer.passages[0].text
    check_offsets(engine, answer)


def test_pdf_pages_are_cited(engine: QA) -> None:
    doc = read_document(engine.settings.corpus_dir, "report.pdf", 10**6)
    assert doc.encoding == "pdf" and len(doc.pages) == 3
    assert "Zephyr reactor" in doc.text[doc.pages[1]:doc.pages[2]]
    pdf_chunks = [c for c in engine.index.chunks if c.source == "report.pdf"]
    assert {c.page for c in pdf_chunks} == {1, 2, 3}
    answer = engine.ask("When was the Zephyr reactor commissioned?")
    top = answer.passages[0]
    assert top.source == "report.pdf" and top.page == 2
    assert "1987" in top.text and "第2页" in top.citation
    assert top.citation.startswith("[1] report.pdf · 第2页 · 第")
    check_offsets(engine, answer)


def test_gbk_text_is_detected_and_noted_in_the_manifest(engine: QA) -> None:
    files = engine.index.manifest["files"]
    assert files["reservoir-gbk.txt"]["encoding"] == "gb18030"
    assert files["microsoft-openai.txt"]["encoding"] == "utf-8"
    answer = engine.ask("天河水库建于哪一年?")
    assert answer.passages[0].source == "reservoir-gbk.txt"
    assert any("1958年" in p.text for p in answer.passages if p.source == "reservoir-gbk.txt")
    check_offsets(engine, answer)
    doc = read_document(engine.settings.corpus_dir, "reservoir-gbk.txt", 10**6)
    assert doc.text == GBK_TEXT


def test_markdown_is_indexed(engine: QA) -> None:
    answer = engine.ask("蓝鲸项目使用什么语言编写?")
    assert answer.passages[0].source == "project.md"
    assert "Rust" in answer.passages[0].text
    check_offsets(engine, answer)


def test_a_broken_pdf_is_skipped_by_name(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    (corpus / "broken.pdf").write_bytes(make_pdf(PDF_PAGES)[:300])
    (corpus / "fake.pdf").write_text("这不是PDF文件", encoding="utf-8")
    settings = Settings.from_env().with_(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = QA(settings, embedder=embedder).build()
    reasons = {s.source: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.pdf", "fake.pdf"}
    assert all("unreadable PDF" in r for r in reasons.values())
    assert report.added == ["microsoft-openai.txt"]
