"""Make the Office files, spreadsheets and scans of tests/data/formats/ (README.md there).

    python tests/data/formats/make_formats.py

Word files, the slide deck and the scans are made from the fictional documents of
tests/data/genres/docs/; the tables and spreadsheets hold fictional figures written here.
The scans need a CJK font (Debian: fonts-wqy-microhei). Every file is made with the library
that reads it (python-docx, openpyxl, python-pptx; Pillow and pypdf for the scans), so
running this again gives the same content.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENRES = HERE.parent / "genres" / "docs"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def _lines(name: str) -> list[str]:
    return [x.strip() for x in (GENRES / name).read_text(encoding="utf-8").splitlines()]


def _table(document, rows: list[list[str]], merges: list[tuple[int, int, int, int]]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for (r0, c0, r1, c1) in merges:
        table.cell(r0, c0).merge(table.cell(r1, c1))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if text:
                table.cell(r, c).text = text


def travel_docx() -> None:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "江苏澜川智能装备有限公司　内部制度文件"
    document.sections[0].footer.paragraphs[0].text = "澜川财〔2025〕7号　财务管理中心印发"
    lines = _lines("policy-travel.txt")
    document.add_heading(lines[0], 0)
    for line in lines[1:]:
        if not line:
            continue
        if re.match(r"^第.{1,3}章", line) or line.startswith("附"):
            document.add_heading(line, 1)
        else:
            document.add_paragraph(line)
        if line.startswith("三类城市：一般员工300元"):
            document.add_paragraph("表1　住宿费限额（元/晚）")
            _table(document, [
                ["城市类别", "住宿费限额（元/晚）", "", ""],
                ["", "一般员工", "部门经理", "总监及以上"],
                ["一类城市", "550", "700", "900"],
                ["二类城市", "400", "520", "680"],
                ["三类城市", "300", "400", "500"],
            ], [(0, 0, 1, 0), (0, 1, 0, 3)])
        if line.startswith("第十八条"):
            document.add_paragraph("表2　每人每天补助标准（元）")
            _table(document, [
                ["城市类别", "伙食补助", "市内交通补助", "连续出差第31天起合计"],
                ["一类城市", "120", "80", "160"],
                ["二类城市", "100", "60", "128"],
                ["三类城市", "80", "50", "104"],
            ], [])
    document.save(HERE / "policy-travel.docx")


def lease_docx() -> None:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "合同编号：AJT-ZL-2025-0311"
    lines = _lines("contract-lease.txt")
    document.add_heading(lines[0], 0)
    for line in lines[1:]:
        if not line:
            continue
        if (re.match(r"^第.{1,3}条", line) and len(line) < 20) or line.startswith("附件"):
            document.add_heading(line, 1)
        elif re.match(r"^\d+．", line):
            document.add_paragraph(line, style="List Paragraph")
        else:
            document.add_paragraph(line)
    document.add_heading("附件一　房屋附属家具、家电清单", 1)
    _table(document, [
        ["类别", "物品", "品牌/型号", "数量", "交付时状况"],
        ["家电", "冰箱", "海尔BCD-470", "1台", "完好"],
        ["家电", "洗衣机", "小天鹅TG100", "1台", "完好，排水管略有老化"],
        ["家电", "空调", "格力KFR-35GW", "2台", "完好，遥控器2个"],
        ["家具", "双人床", "1.8米实木", "1张", "完好"],
        ["家具", "衣柜", "四门推拉", "1个", "右侧门轨轻微磨损"],
        ["家具", "餐桌椅", "一桌四椅", "1套", "完好"],
        ["钥匙", "入户门钥匙", "—", "3把", "含1把单元门禁卡"],
    ], [(1, 0, 3, 0), (4, 0, 6, 0)])
    document.save(HERE / "contract-lease.docx")


def aircon_pptx() -> None:
    import pptx
    from pptx.util import Inches, Pt

    deck = pptx.Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    lines = [x for x in _lines("manual-aircon.txt") if x]
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = lines[0]
    first.placeholders[1].text = "\n".join(lines[1:3])
    sections: list[tuple[str, list[str]]] = []
    for line in lines[3:]:
        if re.match(r"^[一二三四五六七八九十]+、", line):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            sections.append(("使用前须知", [line]))
    notes = {"二、部件名称": "讲解时拿实物指给用户看室内机和室外机各部件的位置。",
             "六、故障代码说明": "提醒用户：E1、E2以外的代码出现时应先断电5分钟再开机观察。",
             "九、保修说明": "保修期从发票日期起算，发票丢失的按出厂日期后3个月起算。"}
    for title, body in sections:
        for part in range(0, len(body), 6):
            slide = deck.slides.add_slide(deck.slide_layouts[5])
            slide.shapes.title.text = title + ("（续）" if part else "")
            box = slide.shapes.add_textbox(Inches(0.6), Inches(1.5), Inches(12), Inches(5.5))
            frame = box.text_frame
            frame.word_wrap = True
            for i, line in enumerate(body[part:part + 6]):
                paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                paragraph.text = line
                paragraph.font.size = Pt(16)
            if title in notes and not part:
                slide.notes_slide.notes_text_frame.text = notes[title]
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "两种型号的主要区别"
    rows = [["项目", "KFR-26GW/LC21-A1", "KFR-35GW/LC21-A1"],
            ["适用面积", "11～17平方米", "16～24平方米"], ["额定制冷量", "2600W", "3500W"],
            ["室外机净重", "24.5kg", "28.0kg"], ["建议零售价", "2,399元", "2,999元"]]
    table = slide.shapes.add_table(len(rows), 3, Inches(0.6), Inches(1.6), Inches(12),
                                   Inches(3)).table
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    deck.save(HERE / "manual-aircon.pptx")


def price_list_xlsx() -> None:
    """A price list: a title merged across, one header row, formatted prices, dates, totals."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "报价单"
    sheet.append(["星衡办公设备有限公司2025年第三季度经销商报价单"])
    sheet.merge_cells("A1:G1")
    sheet.append(["型号", "名称", "单价", "经销商折扣", "库存", "上架日期", "备注"])
    items = [
        ("X-200", "激光打印机", 1280, 0.12, 35, dt.date(2024, 3, 15), "黑白，双面打印"),
        ("X-300", "彩色激光打印机", 2560, 0.10, 12, dt.date(2024, 9, 1), "支持无线直连"),
        ("S-15", "碎纸机", 468, 0.15, 80, dt.date(2023, 11, 20), "5级保密"),
        ("P-900", "投影仪", 4399, 0.08, 7, dt.date(2025, 5, 6), "4000流明"),
        ("B-60", "装订机", 356, 0.18, 44, dt.date(2022, 6, 30), ""),
        ("K-7", "考勤机", 699, 0.12, 0, dt.date(2025, 1, 8), "缺货，预计10月到货"),
    ]
    for item in items:
        sheet.append(list(item))
    sheet.append([])
    sheet.append(["合计", None, None, None, sum(i[4] for i in items), None, None])
    for row in sheet.iter_rows(min_row=3, max_row=2 + len(items)):
        row[2].number_format = '#,##0"元"'
        row[3].number_format = "0%"
        row[5].number_format = "yyyy-mm-dd"
    terms = book.create_sheet("付款条件")
    terms.append(["条件", "说明"])
    terms.append(["付款方式", "款到发货，月结客户可在次月10日前付清"])
    terms.append(["运费", "单笔订单满5,000元包邮，不满的按实际运费收取"])
    terms.append(["质保", "整机保修一年，耗材不在保修范围"])
    book.save(HERE / "price-list.xlsx")


def finance_xlsx() -> None:
    """Quarterly figures: two header rows (years merged over quarters), a sheet per segment."""
    import openpyxl

    book = openpyxl.Workbook()
    figures = {
        "智能装备": {"营业收入": [3120, 3480, 3305, 4012, 3566, 3890],
                  "营业成本": [2230, 2460, 2391, 2815, 2540, 2712],
                  "净利润": [402, 468, 430, 590, 455, 521]},
        "售后服务": {"营业收入": [610, 655, 702, 740, 771, 805],
                  "营业成本": [318, 330, 352, 361, 380, 392],
                  "净利润": [160, 178, 193, 210, 215, 228]},
    }
    for n, (segment, rows) in enumerate(figures.items()):
        sheet = book.active if n == 0 else book.create_sheet()
        sheet.title = segment
        sheet.append(["项目（万元）", "2023年", None, None, None, "2024年", None])
        sheet.append([None, "第一季度", "第二季度", "第三季度", "第四季度", "第一季度", "第二季度"])
        sheet.merge_cells("A1:A2")
        sheet.merge_cells("B1:E1")
        sheet.merge_cells("F1:G1")
        for name, values in rows.items():
            sheet.append([name, *values])
    book.save(HERE / "quarterly-finance.xlsx")


def roster_csv() -> None:
    """A staff roster as CSV (UTF-8 with a BOM, as Excel saves it)."""
    rows = [["工号", "姓名", "部门", "职务", "入职日期", "办公电话"],
            ["LC0012", "顾明轩", "财务管理中心", "财务总监", "2016-04-01", "0512-6655-1201"],
            ["LC0147", "沈佳怡", "财务管理中心", "会计", "2021-07-12", "0512-6655-1217"],
            ["LC0203", "陆承泽", "行政人事部", "部门经理", "2018-03-05", "0512-6655-1302"],
            ["LC0318", "钱思远", "销售部", "大区经理", "2019-10-21", "0512-6655-1415"],
            ["LC0355", "周若溪", "销售部", "销售代表", "2023-02-13", "0512-6655-1433"],
            ["LC0421", "吴浩然", "研发中心", "高级工程师", "2020-08-03", "0512-6655-1520"],
            ["LC0466", "郑雨涵", "研发中心", "测试工程师", "2024-06-17", "0512-6655-1538"],
            ["LC0502", "王子墨", "常州分公司", "分公司经理", "2017-12-01", "0519-8833-2001"]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    (HERE / "staff-roster.csv").write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))


def render_pages(lines: list[str], size: int = 28) -> list:
    """A4 pages at 150 dpi (1240 x 1754) holding ``lines``, wrapped, paragraphs indented."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, size)
    width, height, margin, step = 1240, 1754, 120, round(size * 1.7)
    pages, page, y = [], None, 0

    def new_page():
        nonlocal page, y
        page = Image.new("L", (width, height), 255)
        pages.append(page)
        y = margin

    new_page()
    for line in lines:
        if not line:
            y += step // 2
            continue
        rest, indent = line, 2 * size
        while rest:
            n = len(rest)
            while font.getlength(rest[:n]) > width - 2 * margin - indent:
                n -= 1
            if y + step > height - margin:
                new_page()
            ImageDraw.Draw(page).text((margin + indent, y), rest[:n], font=font, fill=0)
            rest, indent, y = rest[n:], 0, y + step
    return pages


def _noisy(page, seed: int):
    """A page as a scanner might return it: speckles and a light blur."""
    from PIL import ImageFilter

    rng = random.Random(seed)
    page = page.copy()
    pixels = page.load()
    for _ in range(6000):
        x, y = rng.randrange(page.width), rng.randrange(page.height)
        pixels[x, y] = rng.choice((0, 90, 170))
    return page.filter(ImageFilter.GaussianBlur(0.6))


def _image_pdf(pages) -> bytes:
    out = io.BytesIO()
    pages[0].convert("RGB").save(out, "PDF", resolution=150, save_all=True,
                                 append_images=[p.convert("RGB") for p in pages[1:]])
    return out.getvalue()


def scans() -> None:
    """news-flood as a three-page scan (page 2 turned 1.2 degrees, page 3 noisy), the start
    of policy-leave as a PNG, and a PDF of one text page and one scanned page. Each scan's
    text is kept beside it (.truth.txt) for the character error rate (bench/ocr.py)."""
    import sys

    from pypdf import PdfReader, PdfWriter

    flood = _lines("news-flood.txt")[:60]
    pages = render_pages(flood)[:3]
    pages[1] = pages[1].rotate(1.2, fillcolor=255, expand=False)
    if len(pages) > 2:
        pages[2] = _noisy(pages[2], 7)
    (HERE / "news-flood-scan.pdf").write_bytes(_image_pdf(pages))
    (HERE / "news-flood-scan.truth.txt").write_text("\n".join(flood) + "\n", encoding="utf-8")
    leave = _lines("policy-leave.txt")[:14]
    render_pages(leave)[0].save(HERE / "policy-leave-scan.png", optimize=True)
    (HERE / "policy-leave-scan.truth.txt").write_text("\n".join(leave) + "\n", encoding="utf-8")
    launch = _lines("news-launch.txt")[:12]
    sys.path.insert(0, str(HERE.parent.parent))
    from test_formats import make_pdf

    text_page = make_pdf([["Launch briefing, English summary.",
                           "The crewed capsule lifted off on schedule at dawn.",
                           "Chinese details follow on the scanned page."]])
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(text_page)))
    writer.append(PdfReader(io.BytesIO(_image_pdf(render_pages(launch)[:1]))))
    out = io.BytesIO()
    writer.write(out)
    (HERE / "news-launch-mixed.pdf").write_bytes(out.getvalue())
    (HERE / "news-launch-mixed.truth.txt").write_text("\n".join(launch) + "\n",
                                                      encoding="utf-8")


def main() -> None:
    travel_docx()
    lease_docx()
    aircon_pptx()
    price_list_xlsx()
    finance_xlsx()
    roster_csv()
    scans()
    for path in sorted(HERE.iterdir()):
        if path.suffix not in (".py", ".md"):
            print(f"{path.stat().st_size:>9,}  {path.name}")


if __name__ == "__main__":
    main()
