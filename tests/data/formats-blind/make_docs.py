#!/usr/bin/env python
"""Render the JSON / text sources in source/ into real office files.

Outputs (all in docs/):
  word-report.docx, word-contract.docx   (python-docx)
  slides-deck.pptx                       (python-pptx)
  sheet-pricelist.xlsx, sheet-finance.xlsx, sheet-roster.xlsx (openpyxl)
  scan-notice.pdf                        (Pillow; image-only PDF, no text layer)

Run:  python tests/data/formats-blind/make_docs.py (fixed seed: the same files every run)
"""
import datetime as dt
import json
import os
import random
import re
import sys

import docx
import numpy as np
import openpyxl
from docx.enum.section import WD_ORIENT  # noqa: F401  (kept for clarity)
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pptx import Presentation
from pptx.util import Inches
from pptx.util import Pt as PPt
from pypdf import PdfReader

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "source")
OUT = os.path.join(HERE, "docs")
CJK_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

random.seed(20250410)
np.random.seed(20250410)


def load(name):
    with open(os.path.join(SRC, name), encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# Word (.docx)
# ---------------------------------------------------------------------------
EAST_ASIA_BODY = "宋体"
EAST_ASIA_HEAD = "黑体"


def _set_east_asia(style, font_name):
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = parse_xml(f"<w:rFonts {nsdecls('w')}/>")
        rpr.insert(0, rfonts)
    rfonts.set(qn("w:eastAsia"), font_name)


def _new_list_num(document, style_name="List Number"):
    """Create a fresh w:num (restarting at 1) pointing to the abstractNum of the
    given list style, so each ordered list in the document restarts numbering."""
    numbering = document.part.numbering_part.element
    style = document.styles[style_name]
    style_numid = int(style.element.pPr.numPr.numId.val)
    abstract_id = numbering.num_having_numId(style_numid).abstractNumId.val
    num = numbering.add_num(abstract_id)
    num.add_lvlOverride(ilvl=0).add_startOverride(1)
    return num.numId


def _set_num(paragraph, num_id, ilvl=0):
    ppr = paragraph._p.get_or_add_pPr()
    numpr = ppr.get_or_add_numPr()
    numpr.get_or_add_ilvl().val = ilvl
    numpr.get_or_add_numId().val = num_id


class _DocPrIds:
    next_id = 100

    @classmethod
    def take(cls):
        cls.next_id += 1
        return cls.next_id


WPS_NS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"


def _add_textbox(document, text, width_emu, height_emu):
    """Insert a real DrawingML text box (wps:wsp with w:txbxContent) inline in
    its own paragraph. Word 2010+ and LibreOffice read this form."""
    doc_pr_id = _DocPrIds.take()
    esc = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    xml = f"""
<w:r {nsdecls('w', 'wp', 'a')} xmlns:wps="{WPS_NS}">
  <w:drawing>
    <wp:inline distT="0" distB="0" distL="0" distR="0">
      <wp:extent cx="{width_emu}" cy="{height_emu}"/>
      <wp:effectExtent l="0" t="0" r="0" b="0"/>
      <wp:docPr id="{doc_pr_id}" name="文本框 {doc_pr_id}"/>
      <wp:cNvGraphicFramePr/>
      <a:graphic>
        <a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">
          <wps:wsp>
            <wps:cNvSpPr txBox="1"/>
            <wps:spPr>
              <a:xfrm><a:off x="0" y="0"/><a:ext cx="{width_emu}" cy="{height_emu}"/></a:xfrm>
              <a:prstGeom prst="rect"><a:avLst/></a:prstGeom>
              <a:solidFill><a:srgbClr val="EEF3FA"/></a:solidFill>
              <a:ln w="12700"><a:solidFill><a:srgbClr val="2F5597"/></a:solidFill></a:ln>
            </wps:spPr>
            <wps:txbx>
              <w:txbxContent>
                <w:p>
                  <w:pPr><w:spacing w:before="0" w:after="0"/></w:pPr>
                  <w:r><w:rPr><w:b/><w:color w:val="1F3864"/></w:rPr><w:t xml:space="preserve">{esc}</w:t></w:r>
                </w:p>
              </w:txbxContent>
            </wps:txbx>
            <wps:bodyPr rot="0" vert="horz" wrap="square" lIns="114300" tIns="91440" rIns="114300" bIns="91440" anchor="t" anchorCtr="0">
              <a:spAutoFit/>
            </wps:bodyPr>
          </wps:wsp>
        </a:graphicData>
      </a:graphic>
    </wp:inline>
  </w:drawing>
</w:r>"""
    p = document.add_paragraph()
    p._p.append(parse_xml(xml))
    return p


def _shade(cell, fill):
    tcpr = cell._tc.get_or_add_tcPr()
    tcpr.append(parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{fill}"/>'))


def _add_table(document, block):
    header = block["header"]
    rows = block["rows"]
    ncols = len(header)
    if block.get("caption"):
        cap = document.add_paragraph(block["caption"], style="Caption")
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
    table = document.add_table(rows=1 + len(rows), cols=ncols)
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER

    # cells covered by a vertical merge (not the anchor) stay untouched
    covered = set()
    for m in block.get("merge", []) or []:
        for k in range(1, int(m.get("rowspan", 1))):
            covered.add((int(m["row"]) + k, int(m["col"])))

    for c, text in enumerate(header):
        cell = table.cell(0, c)
        cell.text = ""
        run = cell.paragraphs[0].add_run(str(text))
        run.bold = True
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _shade(cell, "D9E2F3")
    # mark header row as repeating table header
    trpr = table.rows[0]._tr.get_or_add_trPr()
    trpr.append(parse_xml(f'<w:tblHeader {nsdecls("w")}/>'))

    for r, row in enumerate(rows):
        for c in range(ncols):
            val = row[c] if c < len(row) else ""
            if (r, c) in covered:
                if str(val) != "":
                    print(f"  WARNING: covered cell ({r},{c}) not empty: {val!r}")
                continue
            table.cell(1 + r, c).text = str(val)

    for m in block.get("merge", []) or []:
        r0, c0, span = int(m["row"]), int(m["col"]), int(m.get("rowspan", 1))
        cspan = int(m.get("colspan", 1))
        if span <= 1 and cspan <= 1:
            continue
        a = table.cell(1 + r0, c0)
        b = table.cell(1 + r0 + span - 1, c0 + cspan - 1)
        merged = a.merge(b)
        from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
        merged.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    return table


def build_docx(src_name, out_name):
    data = load(src_name)
    document = docx.Document()
    # A4 page, moderate margins
    sec = document.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.5)
    sec.top_margin = sec.bottom_margin = Cm(2.5)
    text_width = sec.page_width - sec.left_margin - sec.right_margin

    _set_east_asia(document.styles["Normal"], EAST_ASIA_BODY)
    document.styles["Normal"].font.size = Pt(10.5)
    for sname in ("Title", "Heading 1", "Heading 2", "Heading 3", "Caption"):
        _set_east_asia(document.styles[sname], EAST_ASIA_HEAD)

    document.core_properties.title = data.get("title", "")

    if data.get("header"):
        hp = sec.header.paragraphs[0]
        hp.text = data["header"]
        hp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if data.get("footer"):
        fp = sec.footer.paragraphs[0]
        fp.text = data["footer"]
        fp.alignment = WD_ALIGN_PARAGRAPH.CENTER

    if data.get("title"):
        t = document.add_heading(data["title"], level=0)  # style "Title"
        t.alignment = WD_ALIGN_PARAGRAPH.CENTER

    counts = {"paragraph": 0, "heading": 0, "table": 0, "list": 0, "textbox": 0}
    for block in data["blocks"]:
        typ = block["type"]
        counts[typ] = counts.get(typ, 0) + 1
        if typ == "paragraph":
            document.add_paragraph(block["text"])
        elif typ == "heading":
            lvl = max(1, min(3, int(block.get("level", 1))))
            document.add_heading(block["text"], level=lvl)
        elif typ == "list":
            ordered = bool(block.get("ordered"))
            style = "List Number" if ordered else "List Bullet"
            num_id = _new_list_num(document) if ordered else None
            for item in block["items"]:
                if isinstance(item, list):  # defensive: nested list -> level 1
                    for sub in item:
                        p = document.add_paragraph(str(sub), style=style)
                        if num_id is not None:
                            _set_num(p, num_id, 1)
                    continue
                p = document.add_paragraph(str(item), style=style)
                if num_id is not None:
                    _set_num(p, num_id, 0)
        elif typ == "table":
            _add_table(document, block)
        elif typ == "textbox":
            # height estimate: ~ chars per line at 10.5pt, grows via spAutoFit
            width = int(text_width)
            chars_per_line = max(10, int((width / 12700 - 18) / 10.5))
            lines = max(1, -(-len(block["text"]) // chars_per_line))
            height = int(Pt(lines * 16 + 14))
            _add_textbox(document, block["text"], width, height)
        else:
            raise ValueError(f"unknown block type {typ!r} in {src_name}")

    path = os.path.join(OUT, out_name)
    document.save(path)
    return path, counts


# ---------------------------------------------------------------------------
# PowerPoint (.pptx)
# ---------------------------------------------------------------------------
def build_pptx(src_name, out_name):
    data = load(src_name)
    prs = Presentation()  # 4:3, 10in x 7.5in
    prs.core_properties.title = data.get("title", "")
    layout = prs.slide_layouts[1]  # Title and Content
    for s in data["slides"]:
        slide = prs.slides.add_slide(layout)
        slide.shapes.title.text = s["title"]
        for para in slide.shapes.title.text_frame.paragraphs:
            for run in para.runs:
                run.font.size = PPt(30)
                run.font.bold = True

        body = slide.placeholders[1]
        has_table = bool(s.get("table"))
        # flatten bullets: str -> level 0, nested list -> level 1
        items = []
        for b in s.get("bullets", []):
            if isinstance(b, list):
                items.extend((str(x), 1) for x in b)
            else:
                items.append((str(b), 0))
        n_lines = len(items)
        size0 = 16 if has_table else (20 if n_lines <= 6 else 18)
        tf = body.text_frame
        tf.word_wrap = True
        for i, (text, lvl) in enumerate(items):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            p.text = text
            p.level = lvl
            for run in p.runs:
                run.font.size = PPt(size0 - 2 * lvl)

        if has_table:
            body.left, body.top = Inches(0.5), Inches(1.55)
            body.width = Inches(9.0)
            body.height = Inches(0.38 * max(1, n_lines) + 0.3)
            tbl = s["table"]
            nrows = 1 + len(tbl["rows"])
            ncols = len(tbl["header"])
            top = body.top + body.height + Inches(0.15)
            row_h = Inches(0.36)
            gf = slide.shapes.add_table(nrows, ncols, Inches(0.5), top, Inches(9.0), row_h * nrows)
            table = gf.table
            for c, h in enumerate(tbl["header"]):
                table.cell(0, c).text = str(h)
            for r, row in enumerate(tbl["rows"], start=1):
                for c in range(ncols):
                    table.cell(r, c).text = str(row[c]) if c < len(row) else ""
            for r in range(nrows):
                table.rows[r].height = row_h
                for c in range(ncols):
                    for p in table.cell(r, c).text_frame.paragraphs:
                        for run in p.runs:
                            run.font.size = PPt(12)
                            if r == 0:
                                run.font.bold = True

        if s.get("notes"):
            slide.notes_slide.notes_text_frame.text = s["notes"]

    path = os.path.join(OUT, out_name)
    prs.save(path)
    return path


# ---------------------------------------------------------------------------
# Excel (.xlsx)
# ---------------------------------------------------------------------------
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
THIN = Side(style="thin", color="808080")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="D9E2F3")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")


def _xl_value(v):
    """numbers stay numbers, YYYY-MM-DD strings become dates, the rest text."""
    if isinstance(v, bool):
        return v, None
    if isinstance(v, int):
        return v, None
    if isinstance(v, float):
        return v, None
    if v is None or v == "":
        return None, None
    s = str(v)
    if DATE_RE.match(s):
        try:
            return dt.datetime.strptime(s, "%Y-%m-%d").date(), "yyyy-mm-dd"
        except ValueError:
            pass
    return s, None


def _is_empty_row(row):
    return all((c is None or str(c) == "") for c in row)


def build_xlsx(src_name, out_name):
    data = load(src_name)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    summary = []
    for sh in data["sheets"]:
        ws = wb.create_sheet(sh["name"])
        header = sh["header"]
        two_level = bool(header) and isinstance(header[0], list)
        hdr_rows = header if two_level else [header]
        ncols = max(len(h) for h in hdr_rows)
        r = 1
        # title rows, merged across the header width
        for i, t in enumerate(sh.get("title_rows", []) or []):
            cell = ws.cell(row=r, column=1, value=t)
            cell.font = Font(bold=(i == 0), size=14 if i == 0 else 10)
            cell.alignment = Alignment(horizontal="center" if i == 0 else "left",
                                       vertical="center", wrap_text=True)
            if ncols > 1:
                ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncols)
            ws.row_dimensions[r].height = 24 if i == 0 else 30
            r += 1
        # header
        hdr_start = r
        for hr in hdr_rows:
            for c in range(ncols):
                v = hr[c] if c < len(hr) else ""
                cell = ws.cell(row=r, column=c + 1, value=(v if v != "" else None))
                cell.font = Font(bold=True)
                cell.fill = HEAD_FILL
                cell.border = BORDER
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            r += 1
        merges_done = []
        if two_level:
            top, bottom = hdr_rows[0], hdr_rows[1]
            c = 0
            while c < ncols:
                if top[c] != "":
                    end = c
                    while end + 1 < ncols and top[end + 1] == "":
                        end += 1
                    if end > c:  # group label spanning columns c..end
                        ws.merge_cells(start_row=hdr_start, start_column=c + 1,
                                       end_row=hdr_start, end_column=end + 1)
                        merges_done.append(f"{get_column_letter(c+1)}{hdr_start}:{get_column_letter(end+1)}{hdr_start}")
                    elif c < len(bottom) and bottom[c] == "":
                        # single-column label with nothing below: merge vertically
                        ws.merge_cells(start_row=hdr_start, start_column=c + 1,
                                       end_row=hdr_start + 1, end_column=c + 1)
                        merges_done.append(f"{get_column_letter(c+1)}{hdr_start}:{get_column_letter(c+1)}{hdr_start+1}")
                    c = end + 1
                else:
                    c += 1
        data_start = r
        # data rows
        n_empty = 0
        for row in sh["rows"]:
            if _is_empty_row(row):
                n_empty += 1
                r += 1  # keep the empty row
                continue
            for c in range(ncols):
                v = row[c] if c < len(row) else ""
                val, fmt = _xl_value(v)
                cell = ws.cell(row=r, column=c + 1, value=val)
                cell.border = BORDER
                if fmt:
                    cell.number_format = fmt
                elif (isinstance(val, float) and not float(val).is_integer()) or isinstance(val, float):
                    cell.number_format = "0.00"
            r += 1
        # totals row
        if sh.get("totals"):
            for c in range(ncols):
                v = sh["totals"][c] if c < len(sh["totals"]) else ""
                val, fmt = _xl_value(v)
                cell = ws.cell(row=r, column=c + 1, value=val)
                cell.font = Font(bold=True)
                cell.fill = TOTAL_FILL
                cell.border = BORDER
                if fmt:
                    cell.number_format = fmt
            r += 1
        # column widths (rough, CJK counted double)
        for c in range(ncols):
            width = 8
            for hr in hdr_rows:
                if c < len(hr):
                    width = max(width, _disp_len(hr[c]))
            for row in sh["rows"]:
                if c < len(row):
                    width = max(width, _disp_len(row[c]))
            ws.column_dimensions[get_column_letter(c + 1)].width = min(48, width + 2)
        ws.freeze_panes = ws.cell(row=data_start, column=1)
        summary.append((sh["name"], len(sh["rows"]), n_empty, bool(sh.get("totals")),
                        two_level, merges_done))
    path = os.path.join(OUT, out_name)
    wb.save(path)
    return path, summary


def _disp_len(v):
    s = str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


# ---------------------------------------------------------------------------
# Scanned PDF (image-only)
# ---------------------------------------------------------------------------
DPI = 200
A4_PX = (round(8.2677 * DPI), round(11.6929 * DPI))  # 1654 x 2339
NO_LINE_START = set("，。、；：？！）》」』”’%％·…—")
TOKEN_RE = re.compile(r"[A-Za-z0-9.,:\-/%+()~]+|\s+|.", re.S)


def _wrap(text, font, max_w, first_indent_px=0):
    """Greedy wrap; ASCII runs (numbers, phone numbers) are not split; closing
    punctuation may hang past the margin instead of starting a line."""
    lines, cur, cur_w = [], "", 0.0
    limit = max_w - first_indent_px
    for tok in TOKEN_RE.findall(text):
        w = font.getlength(tok)
        if cur and cur_w + w > limit:
            if tok in NO_LINE_START:
                cur += tok
                lines.append(cur)
                cur, cur_w, limit = "", 0.0, max_w
                continue
            lines.append(cur)
            cur, cur_w, limit = "", 0.0, max_w
            if tok.isspace():
                continue
        cur += tok
        cur_w += w
    if cur:
        lines.append(cur)
    return lines


def _layout_notice(paras, font_px):
    """Return list of pages; each page a list of (kind, text, x_mode, indent, y)."""
    W, H = A4_PX
    margin_l = margin_r = int(1.0 * DPI)     # 2.54 cm
    margin_t, margin_b = int(0.95 * DPI), int(0.95 * DPI)
    body_font = ImageFont.truetype(CJK_FONT_FILE, font_px)
    title_font = ImageFont.truetype(CJK_FONT_FILE, int(font_px * 1.45))
    line_h = int(font_px * 1.62)
    max_w = W - margin_l - margin_r
    pages, cur, y = [], [], margin_t
    n = len(paras)
    for idx, (text, gap_before) in enumerate(paras):
        if idx == 0:
            kind, font, indent, align = "title", title_font, 0, "center"
        elif idx >= n - 2:  # issuing organisation + date: right aligned
            kind, font, indent, align = "sign", body_font, 0, "right"
        elif (text.endswith("：") and len(text) < 30) or re.match(r"^[一二三四五六七八九十]+、", text):
            kind, font, indent, align = "plain", body_font, 0, "left"
        elif re.match(r"^[^，。]{2,20}[（(：].*\d{3,4}-\d{4}", text) or text.startswith("物业服务中心主任"):
            kind, font, indent, align = "plain", body_font, int(2 * font_px), "left"
        else:
            kind, font, indent, align = "body", body_font, int(2 * font_px), "left"
        if idx == n - 2:
            gap_before = max(gap_before, 1.5)
        lines = _wrap(text, font, max_w, indent)
        this_h = int(font.size * 1.62)
        y += int(gap_before * line_h * 0.5)
        for li, ln in enumerate(lines):
            if y + this_h > H - margin_b:
                pages.append(cur)
                cur, y = [], margin_t
            x_ind = indent if li == 0 else 0
            cur.append((kind, ln, align, x_ind, y, font))
            y += this_h
        if kind == "title":
            y += int(line_h * 0.6)
    if cur:
        pages.append(cur)
    return pages, (margin_l, margin_r)


def build_scan_pdf(src_name, out_name):
    with open(os.path.join(SRC, src_name), encoding="utf-8") as f:
        raw = f.read()
    # paragraphs = non-empty lines; remember whether a blank line preceded it
    paras, blank = [], 0
    for line in raw.splitlines():
        if line.strip() == "":
            blank += 1
            continue
        paras.append((line.strip(), 1.0 if blank else 0.0))
        blank = 0

    for font_px in (38, 36, 34, 32, 30, 28):
        pages, (ml, mr) = _layout_notice(paras, font_px)
        if len(pages) <= 2:
            break
    W, H = A4_PX
    images, angles = [], []
    for page in pages:
        img = Image.new("L", (W, H), 255)
        d = ImageDraw.Draw(img)
        for kind, text, align, x_ind, y, font in page:
            tw = font.getlength(text)
            if align == "center":
                x = (W - tw) / 2
            elif align == "right":
                x = W - mr - tw - font.size  # a little in from the right margin
            else:
                x = ml + x_ind
            ink = random.randint(18, 40)
            d.text((x, y), text, font=font, fill=ink,
                   stroke_width=1 if kind == "title" else 0, stroke_fill=ink)
        # --- scanner realism ---
        img = img.filter(ImageFilter.GaussianBlur(radius=0.6))
        angle = random.uniform(0.5, 1.0) * random.choice((-1, 1))
        angles.append(angle)
        bg = random.randint(238, 246)
        img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)
        arr = np.asarray(img).astype(np.float32)
        # paper tone + faint uneven illumination
        yy = np.linspace(0, 1, H, dtype=np.float32)[:, None]
        xx = np.linspace(0, 1, W, dtype=np.float32)[None, :]
        shade = 1.0 - 0.035 * (xx * 0.6 + yy * 0.4)
        arr = arr * (bg / 255.0) * shade
        arr += np.random.normal(0.0, 7.0, size=arr.shape).astype(np.float32)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L").convert("RGB")
        images.append(img)

    path = os.path.join(OUT, out_name)
    images[0].save(path, "PDF", resolution=float(DPI), save_all=True,
                   append_images=images[1:], quality=82)
    return path, len(images), angles, font_px


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------
def verify_docx(path):
    d = docx.Document(path)
    body = d.element.body
    txbx = body.xpath(".//w:txbxContent")
    styles = {}
    for p in d.paragraphs:
        styles[p.style.name] = styles.get(p.style.name, 0) + 1
    merged = 0
    for t in d.tables:
        merged += len(t._tbl.xpath(".//w:vMerge"))
    sec = d.sections[0]
    print(f"  {os.path.basename(path)}: paragraphs={len(d.paragraphs)} tables={len(d.tables)} "
          f"table_rows={[len(t.rows) for t in d.tables]} textboxes(w:txbxContent)={len(txbx)} "
          f"vMerge_cells={merged}")
    print(f"    styles: {dict(sorted(styles.items()))}")
    print(f"    header: {sec.header.paragraphs[0].text[:50]!r}")
    print(f"    footer: {sec.footer.paragraphs[0].text[:50]!r}")
    for t in d.tables:
        # show the first merged column texts as read back (unique cells)
        if t._tbl.xpath(".//w:vMerge"):
            col0 = [c.text for c in t.columns[0].cells]
            print(f"    merged table col0 read-back: {col0}")


def verify_pptx(path):
    prs = Presentation(path)
    n_tables = n_notes = 0
    for s in prs.slides:
        if any(sh.has_table for sh in s.shapes):
            n_tables += 1
        if s.has_notes_slide and s.notes_slide.notes_text_frame.text.strip():
            n_notes += 1
    lvl1 = sum(1 for s in prs.slides for p in s.placeholders[1].text_frame.paragraphs if p.level == 1)
    print(f"  {os.path.basename(path)}: slides={len(prs.slides)} slides_with_table={n_tables} "
          f"slides_with_notes={n_notes} level1_bullets={lvl1}")


def verify_xlsx(path):
    wb = openpyxl.load_workbook(path)
    parts = []
    for ws in wb.worksheets:
        dates = sum(1 for row in ws.iter_rows() for c in row if getattr(c, "is_date", False))
        nums = sum(1 for row in ws.iter_rows() for c in row
                   if isinstance(c.value, (int, float)) and not getattr(c, "is_date", False))
        parts.append(f"[{ws.title}: rows={ws.max_row} cols={ws.max_column} "
                     f"merged={[str(m) for m in ws.merged_cells.ranges]} date_cells={dates} numeric_cells={nums}]")
    print(f"  {os.path.basename(path)}: sheets={len(wb.worksheets)} " + " ".join(parts))


def verify_pdf(path):
    r = PdfReader(path)
    texts = [(p.extract_text() or "") for p in r.pages]
    ok = all(t.strip() == "" for t in texts)
    imgs = [len(p.images) for p in r.pages]
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in r.pages]
    fonts = any("/Font" in (p.get("/Resources") or {}) for p in r.pages)
    print(f"  {os.path.basename(path)}: pages={len(r.pages)} images_per_page={imgs} "
          f"mediabox_pt={sizes} fonts_present={fonts} extract_text_empty_all_pages={ok} "
          f"text_lens={[len(t) for t in texts]}")
    if not ok:
        raise SystemExit("scan PDF has a text layer!")


def main():
    os.makedirs(OUT, exist_ok=True)
    print("Building ...")
    p1, c1 = build_docx("word-report.json", "word-report.docx")
    print(f"  word-report blocks: {c1}")
    p2, c2 = build_docx("word-contract.json", "word-contract.docx")
    print(f"  word-contract blocks: {c2}")
    p3 = build_pptx("slides-deck.json", "slides-deck.pptx")
    xl = []
    for name in ("sheet-pricelist", "sheet-finance", "sheet-roster"):
        p, summ = build_xlsx(f"{name}.json", f"{name}.xlsx")
        xl.append(p)
        for s in summ:
            print(f"  {name}/{s[0]}: data_rows={s[1]} empty_rows={s[2]} totals={s[3]} "
                  f"two_level_header={s[4]} header_merges={s[5]}")
    p7, npages, angles, fpx = build_scan_pdf("scan-notice.txt", "scan-notice.pdf")
    print(f"  scan-notice: pages={npages} font_px={fpx} rotation_deg={[round(a, 2) for a in angles]}")

    print("Verifying (re-opening each file) ...")
    verify_docx(p1)
    verify_docx(p2)
    verify_pptx(p3)
    for p in xl:
        verify_xlsx(p)
    verify_pdf(p7)

    print("Outputs:")
    for f in sorted(os.listdir(OUT)):
        print(f"  {os.path.join(OUT, f)}  {os.path.getsize(os.path.join(OUT, f)):,} bytes")


if __name__ == "__main__":
    sys.exit(main())
