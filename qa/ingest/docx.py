"""Word (.docx) as text, with python-docx.

The body is read in order, paragraph by paragraph and table by table:

- a paragraph with a heading style ("Heading N", "标题 N", "Title") or an outline level is a
  heading unit with its level, so the chunker knows each passage's heading path;
- a list item gets its marker ("• " or its number, "1." …), since Word draws those itself;
- a table becomes one unit per row: the header row(s) found by ``qa.ingest.tables`` name the
  columns of every data row ("型号：X-200；单价：1,280元"); merged cells are repeated over
  the cells they cover (python-docx does that);
- text boxes follow the paragraph that anchors them;
- the headers of every section come first and the footers last, each distinct text once.

Places: "第N段" for paragraphs, "表T 第R行" for table rows (R counts the table's rows,
header included), "页眉"/"页脚", "文本框".
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from qa.ingest.office import library_error, open_package
from qa.ingest.tables import column_names, header_rows, record
from qa.ingest.units import Converted, ReadContext, TextBuilder

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_TEXTBOX_PARAS = ("./*//*[local-name()='txbxContent'][not(ancestor::*[local-name()='Fallback'])]"
                  "//*[local-name()='p']")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(data: bytes, ctx: ReadContext) -> Converted:
    """The text of a .docx file and its units (``CorpusError`` for a bad file)."""
    open_package(data, ".docx", ctx)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        return _convert(document)
    except Exception as exc:  # python-docx and lxml on damaged XML raise many kinds
        raise library_error(ctx, "Word document", exc) from None


def _convert(document: Any) -> Converted:
    from docx.table import Table

    out = TextBuilder("docx")
    for text in _furniture(document, "header"):
        out.add(text, "header", "页眉")
    numbering = _Numbering(document)
    paragraph_no = table_no = 0
    for block in body_blocks(document):
        if isinstance(block, Table):
            table_no += 1
            _add_table(out, block, table_no)
            continue
        paragraph_no += 1
        level = heading_level(block)
        if level is not None:
            out.add(block.text, "heading", f"第{paragraph_no}段", level)
        else:
            out.add(numbering.marker(block) + block.text, "body", f"第{paragraph_no}段")
        for box in block._p.xpath(_TEXTBOX_PARAS):
            out.add("".join(t.text or "" for t in box.iter(f"{_W}t")), "body", "文本框")
    for text in _furniture(document, "footer"):
        out.add(text, "footer", "页脚")
    return out.build()


def body_blocks(document: Any) -> Iterator[Any]:
    """The body's paragraphs and tables in order, those inside content controls (``w:sdt``,
    common in templates and forms) included."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def walk(element: Any) -> Iterator[Any]:
        for child in element.iterchildren():
            if child.tag == f"{_W}p":
                yield Paragraph(child, document._body)
            elif child.tag == f"{_W}tbl":
                yield Table(child, document._body)
            elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"):
                yield from walk(child)

    yield from walk(document.element.body)


def heading_level(paragraph: Any) -> int | None:
    """Heading level of a paragraph ("Title" 0, "Heading 1" 1 …), or None."""
    style = paragraph.style
    while style is not None:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        m = _HEADING_STYLE.match(name)
        if m:
            return max(1, int(m.group(1)))
        style = style.base_style
    outline = paragraph._p.xpath("./w:pPr/w:outlineLvl/@w:val")
    if outline and outline[0].isdigit() and int(outline[0]) < 9:
        return int(outline[0]) + 1
    return None


def _add_table(out: TextBuilder, table: Any, number: int) -> None:
    rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
    numbered = [(r, row) for r, row in enumerate(rows, 1) if any(row)]
    if not numbered:
        return
    kept = [row for _, row in numbered]
    n_header = header_rows(kept)
    names = column_names(kept, n_header) if n_header else []
    if n_header:
        out.add("表头：" + " | ".join(names), "row", f"表{number} 表头")
    for r, row in numbered[n_header:]:
        out.add(record(names, row), "row", f"表{number} 第{r}行")


def _furniture(document: Any, which: str) -> list[str]:
    """The distinct texts of the headers (or footers) of every section, in order."""
    seen: list[str] = []
    for section in document.sections:
        for part in (getattr(section, which), getattr(section, f"first_page_{which}")):
            if part.is_linked_to_previous:
                continue
            text = "\n".join(p.text for p in part.paragraphs if p.text.strip())
            if text.strip() and text not in seen:
                seen.append(text)
    return seen


class _Numbering:
    """The markers Word draws before list items: "• " for bullets, "N. " for numbered lists
    (counted per list and level, a deeper level restarting when a shallower one moves on)."""

    def __init__(self, document: Any) -> None:
        self.formats: dict[tuple[str, str], str] = {}
        self.counts: dict[tuple[str, str], int] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract = {a.get(f"{_W}abstractNumId"): a for a in root.findall(f"{_W}abstractNum")}
        for num in root.findall(f"{_W}num"):
            ref = num.find(f"{_W}abstractNumId")
            a = abstract.get(ref.get(f"{_W}val")) if ref is not None else None
            for lvl in a.findall(f"{_W}lvl") if a is not None else ():
                fmt = lvl.find(f"{_W}numFmt")
                key = (num.get(f"{_W}numId"), lvl.get(f"{_W}ilvl"))
                self.formats[key] = fmt.get(f"{_W}val") if fmt is not None else "bullet"

    def marker(self, paragraph: Any) -> str:
        num_id = paragraph._p.xpath("./w:pPr/w:numPr/w:numId/@w:val")
        if not num_id:
            style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
            if style.startswith("list number"):
                key = ("style:" + style, "0")
                self.counts[key] = self.counts.get(key, 0) + 1
                return f"{self.counts[key]}. "
            return "• " if style.startswith("list bullet") else ""
        ilvl = paragraph._p.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
        key = (num_id[0], ilvl[0] if ilvl else "0")
        fmt = self.formats.get(key, "bullet")
        if fmt in ("bullet", "none"):
            return "• "
        self.counts[key] = self.counts.get(key, 0) + 1
        for other in list(self.counts):  # deeper levels of this list start again
            if other[0] == key[0] and int(other[1]) > int(key[1]):
                del self.counts[other]
        return f"{self.counts[key]}. "
