"""Word, Excel, CSV and PowerPoint files read into text with units (qa.ingest.docx, sheets,
pptx): headings with their paths, lists, tables as records naming their columns, merged
cells, sheets, slides and notes, and the places citations name. Files are made here with the
libraries that read them, and tests/data/formats/ holds the larger ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from pptx.util import Inches

from qa.ingest.chunking import chunk_document
from qa.ingest.corpus import Document, read_document
from qa.ingest.sheets import format_number

FORMATS = Path(__file__).parent / "data" / "formats"


def read(folder: Path, name: str) -> Document:
    doc = read_document(folder, name, 10**8)
    for unit in doc.units:  # the exact-offset contract holds for every unit
        assert doc.text[unit.start:unit.end].strip() == doc.text[unit.start:unit.end]
    return doc


def units(doc: Document) -> list[tuple[str, str, str]]:
    return [(u.kind, u.place, doc.text[u.start:u.end]) for u in doc.units]


def test_word_headings_lists_tables_and_furniture(tmp_path: Path) -> None:
    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "星河公司内部文件"
    d.sections[0].footer.paragraphs[0].text = "第一版"
    d.add_heading("采购合同", 0)
    d.add_heading("第一章 总则", 1)
    d.add_paragraph("本合同由甲方星河公司与乙方远山公司签订。")
    d.add_paragraph("甲方负责付款", style="List Bullet")
    d.add_paragraph("乙方负责交货", style="List Number")
    d.add_paragraph("乙方负责安装", style="List Number")
    d.add_heading("第二章 价格", 1)
    d.add_heading("一、设备单价", 2)
    table = d.add_table(rows=4, cols=3)
    for r, row in enumerate([["型号", "单价", "库存"], ["X-200", "1,280元", "35"],
                             ["X-300", "2,560元", ""], ["合计", "", "47"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(2, 2).merge(table.cell(3, 2))  # a merged cell is repeated below
    d.save(tmp_path / "合同.docx")
    doc = read(tmp_path, "合同.docx")
    got = units(doc)
    assert got[0] == ("header", "页眉", "星河公司内部文件")
    assert got[-1] == ("footer", "页脚", "第一版")
    assert ("body", "第4段", "• 甲方负责付款") in got
    assert ("body", "第5段", "1. 乙方负责交货") in got and ("body", "第6段", "2. 乙方负责安装") in got
    assert ("row", "表1 第2行", "型号：X-200；单价：1,280元；库存：35") in got
    assert ("row", "表1 第3行", "型号：X-300；单价：2,560元；库存：35\n47") not in got
    rows = [text for kind, _, text in got if kind == "row"]
    assert rows[2].startswith("型号：X-300；单价：2,560元；库存：") and rows[3].startswith("型号：合计")
    assert rows[2].split("库存：")[1] == rows[3].split("库存：")[1]  # merged: same text
    chunks = chunk_document(doc, 500, 50)
    row = next(c for c in chunks if "X-200" in c.text)
    assert row.heading == "采购合同 › 第二章 价格 › 一、设备单价" and row.place == "表1 第2行"
    assert row.sentences == ((row.start, row.end),)  # the whole row is one sentence
    first = next(c for c in chunks if "星河公司与乙方" in c.text)
    assert first.heading == "采购合同 › 第一章 总则" and first.place == "第3段"
    assert all(c.text == doc.text[c.start:c.end] for c in chunks)


def test_word_text_boxes_and_content_controls_are_read(tmp_path: Path) -> None:
    from docx.oxml import parse_xml

    d = docx.Document()
    p = d.add_paragraph("正文第一段。")
    box = parse_xml(
        '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape><v:textbox>'
        "<w:txbxContent><w:p><w:r><w:t>文本框里的提示：请于周五前回复。</w:t></w:r></w:p>"
        "</w:txbxContent></v:textbox></v:shape></w:pict></w:r>")
    p._p.append(box)
    control = parse_xml(  # a content control, as templates and forms hold their fields
        '<w:sdt xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:sdtContent><w:p><w:r><w:t>甲方：星河公司</w:t></w:r></w:p></w:sdtContent></w:sdt>")
    d.element.body.insert(1, control)
    d.save(tmp_path / "box.docx")
    got = units(read(tmp_path, "box.docx"))
    assert got == [("body", "第1段", "正文第一段。"),
                   ("body", "文本框", "文本框里的提示：请于周五前回复。"),
                   ("body", "第2段", "甲方：星河公司")]


def test_sheet_rows_become_records(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "报价"
    sheet.append(["2023年报价单"])
    sheet.merge_cells("A1:D1")
    sheet.append(["型号", "单价", "上架日期", "折扣"])
    sheet.append(["X-200", 1280, dt.date(2023, 4, 1), 0.12])
    sheet.append([])
    sheet.append(["X-300", 2560.5, dt.datetime(2023, 5, 2, 9, 30), None])
    sheet.append(["合计", 3840.5, None, None])
    for r in (3, 5, 6):
        sheet.cell(r, 2).number_format = '#,##0.00"元"'
    sheet["D3"].number_format = "0%"
    sheet["C5"].number_format = 'yyyy"年"m"月"d"日" hh:mm'  # as the sheet shows it
    book.create_sheet("空表")
    book.create_sheet("联系人").append(["张三", "13800000000"])
    book.save(tmp_path / "价格.xlsx")
    got = units(read(tmp_path, "价格.xlsx"))
    assert got == [
        ("heading", "工作表「报价」", "工作表：报价"),
        ("heading", "工作表「报价」第1行", "2023年报价单"),
        ("row", "工作表「报价」表头", "表头：型号 | 单价 | 上架日期 | 折扣"),
        ("row", "工作表「报价」第3行", "型号：X-200；单价：1,280.00元；上架日期：2023-04-01；折扣：12%"),
        ("row", "工作表「报价」第5行", "型号：X-300；单价：2,560.50元；上架日期：2023年5月2日 09:30"),
        ("row", "工作表「报价」第6行（合计行）", "型号：合计；单价：3,840.50元"),
        ("heading", "工作表「联系人」", "工作表：联系人"),
        ("row", "工作表「联系人」第1行", "张三 | 13800000000"),
    ]


def test_two_header_rows_name_the_columns(tmp_path: Path) -> None:
    doc = read(FORMATS, "quarterly-finance.xlsx")
    rows = [t for k, _, t in units(doc) if k == "row"]
    assert rows[0].startswith("表头：项目（万元） | 2023年第一季度 | 2023年第二季度")
    assert "营业收入；2023年第一季度：3120；2023年第二季度：3480" in rows[1]
    assert "2024年第二季度：6" in " ".join(rows) or "2024年第二季度：805" in " ".join(rows)
    assert {u.place for u in doc.units if u.kind == "heading"} == {"工作表「智能装备」",
                                                                     "工作表「售后服务」"}


def test_csv_with_a_bom_and_semicolons(tmp_path: Path) -> None:
    (tmp_path / "名单.csv").write_bytes("\ufeff姓名;部门;电话\n张三;销售部;8001\n\n李四;;8002\n"
                                         .encode("utf-8"))
    got = units(read(tmp_path, "名单.csv"))
    assert got == [("row", "表头", "表头：姓名 | 部门 | 电话"),
                   ("row", "第2行", "姓名：张三；部门：销售部；电话：8001"),
                   ("row", "第4行", "姓名：李四；电话：8002")]
    assert read(FORMATS, "staff-roster.csv").text.count("工号：LC0") == 8


def test_slides_titles_frames_tables_and_notes(tmp_path: Path) -> None:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "季度报告"
    low = slide.shapes.add_textbox(Inches(1), Inches(5), Inches(6), Inches(1))
    low.text_frame.text = "下方文字最后读"
    high = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1))
    high.text_frame.text = "营收增长20%"
    slide.notes_slide.notes_text_frame.text = "记得强调利润"
    second = deck.slides.add_slide(deck.slide_layouts[6])  # blank: no title
    table = second.shapes.add_table(3, 2, Inches(1), Inches(1), Inches(6), Inches(2)).table
    for r, row in enumerate([["季度", "营收"], ["Q1", "260万元"], ["Q2", "300万元"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    deck.save(tmp_path / "报告.pptx")
    doc = read(tmp_path, "报告.pptx")
    assert units(doc) == [
        ("heading", "第1张幻灯片", "季度报告"),
        ("body", "第1张幻灯片", "营收增长20%"),
        ("body", "第1张幻灯片", "下方文字最后读"),
        ("note", "第1张幻灯片 备注", "备注：记得强调利润"),
        ("heading", "第2张幻灯片", "第2张幻灯片"),
        ("row", "第2张幻灯片 表1 表头", "表头：季度 | 营收"),
        ("row", "第2张幻灯片 表1 第2行", "季度：Q1；营收：260万元"),
        ("row", "第2张幻灯片 表1 第3行", "季度：Q2；营收：300万元"),
    ]
    chunks = chunk_document(doc, 500, 50)
    assert [c.page for c in chunks] == [1, 1, 1, 2, 2, 2]
    assert chunks[-1].heading == "第2张幻灯片" and chunks[-1].place == "第2张幻灯片 表1 第3行"


@pytest.mark.parametrize(("value", "fmt", "shown"), [
    (1280, '#,##0"元"', "1,280元"), (0.125, "0.0%", "12.5%"), (3.0, "General", "3"),
    (0.1 + 0.2, "General", "0.3"), (1234567.891, "#,##0.00", "1,234,567.89"),
    (42, "0", "42"), (-5, "General", "-5")])
def test_numbers_read_as_their_cells_show_them(value: float, fmt: str, shown: str) -> None:
    assert format_number(value, fmt) == shown


def test_made_files_read_with_their_tables() -> None:
    travel = read(FORMATS, "policy-travel.docx")
    assert "城市类别：一类城市；住宿费限额（元/晚）一般员工：550；住宿费限额（元/晚）部门经理：700" \
        in travel.text
    lease = read(FORMATS, "contract-lease.docx")
    assert "类别：家具；物品：衣柜" in lease.text  # the merged category is repeated
    deck = read(FORMATS, "manual-aircon.pptx")
    assert len(deck.pages) > 10 and "备注：提醒用户" in deck.text
    prices = read(FORMATS, "price-list.xlsx")
    assert "型号：X-200；名称：激光打印机；单价：1,280元；经销商折扣：12%；库存：35；上架日期：2024-03-15" \
        in prices.text


def test_citations_name_the_place() -> None:
    from qa.answer.answerer import citation

    assert citation(1, "报价.xlsx", 4, 10, 30, None, "工作表「报价」第5行") == \
        "[1] 报价.xlsx · 工作表「报价」第5行 · 第4段 · 字符 10–30"
    assert citation(2, "deck.pptx", 3, 0, 9, 4, "第4张幻灯片 表1 第2行") == \
        "[2] deck.pptx · 第4页 · 第4张幻灯片 表1 第2行 · 第3段 · 字符 0–9"
    assert citation(1, "scan.pdf", 7, 5, 20, 2, "第2页 区域 8%,10%–83%,12%") == \
        "[1] scan.pdf · 第2页 · 区域 8%,10%–83%,12% · 第7段 · 字符 5–20"
    assert citation(1, "a.txt", 3, 53, 227) == "[1] a.txt · 第3段 · 字符 53–227"


@pytest.mark.parametrize(("question", "record", "cell"), [
    ("X-200的单价是多少?", "型号：X-200；名称：激光打印机；单价：1,280元；库存：35", "1,280元"),
    ("P-900投影仪的库存还有多少?", "型号：P-900；名称：投影仪；单价：4,399元；库存：7", "7"),
    ("智能装备2023年第二季度的营业收入是多少?",
     "项目（万元）：营业收入；2023年第一季度：3120；2023年第二季度：3480；2024年第二季度：3890",
     "3480"),
    ("二类城市部门经理的住宿费限额是多少?",
     "城市类别：二类城市；住宿费限额（元/晚）一般员工：400；住宿费限额（元/晚）部门经理：520", "520"),
    ("周若溪在哪个部门?", "工号：LC0355；姓名：周若溪；部门：销售部；职务：销售代表", "销售部"),
    ("X-200是什么颜色?", "型号：X-200；名称：激光打印机；单价：1,280元", None),  # no such column
    ("这台打印机怎么样?", "本合同由甲方签订。", None),  # not a record
])
def test_the_cell_a_question_asks_for(question: str, record: str, cell: str | None) -> None:
    from qa.ingest.tables import asked_cell

    span = asked_cell(question, record)
    assert (record[span[0]:span[1]] if span else None) == cell
