"""Spreadsheets (.xlsx with openpyxl, .csv with the standard library) as records.

Every sheet is read. Its name is a heading (level 1); rows at the top holding one value over
the whole width (a title "2023年销售报表" merged across) are headings below it; then the
header row(s) are found (``qa.ingest.tables``) and every data row becomes one unit naming its
columns: "型号：X-200；单价：1,280元；库存：35". Merged cells are repeated over the cells they
cover, empty rows are skipped, a totals row (合计/总计/小计) is marked in its place, and
dates and numbers read as their cell format shows them ("2023-04-01", "2023年4月1日";
thousands separators, decimals, percent, a unit in quotes such as "元").

Limits (``IngestLimits``): rows per sheet, counted in the XML before openpyxl loads anything,
and cells per workbook; a file past one is refused with a message naming the sheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import zipfile
from typing import Any

from qa.ingest.decode import CorpusError, decode_text
from qa.ingest.office import library_error, open_package
from qa.ingest.tables import column_names, header_rows, is_total, record
from qa.ingest.units import Converted, ReadContext, TextBuilder

_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_REL = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>]")


def read_xlsx(data: bytes, ctx: ReadContext) -> Converted:
    """The text of an .xlsx workbook and its units (``CorpusError`` for a bad file)."""
    package = open_package(data, ".xlsx", ctx)
    for name, rows in _row_counts(package):
        if rows > ctx.limits.max_sheet_rows:
            raise CorpusError(f"{ctx.source}: sheet「{name}」has {rows:,} rows, over the "
                              f"{ctx.limits.max_sheet_rows:,}-row limit (QA_MAX_SHEET_ROWS)")
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl on damaged XML raises many kinds
        raise library_error(ctx, "Excel workbook", exc) from None
    cells = sum(ws.max_row * ws.max_column for ws in book.worksheets)
    if cells > ctx.limits.max_cells:
        raise CorpusError(f"{ctx.source}: {cells:,} cells, over the {ctx.limits.max_cells:,}-"
                          "cell limit (QA_MAX_CELLS)")
    out = TextBuilder("xlsx")
    for ws in book.worksheets:
        _add_sheet(out, ws.title, _sheet_rows(ws), f"工作表「{ws.title}」")
    return out.build()


def read_csv(data: bytes, ctx: ReadContext) -> Converted:
    """The text of a .csv file (UTF-8 or GB18030; comma, tab, semicolon or bar) as records."""
    text, encoding = decode_text(data, ctx.source)
    text = text.removeprefix("\ufeff")  # Excel's UTF-8 CSV starts with a byte-order mark
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text), dialect), 1):
            if number > ctx.limits.max_sheet_rows:
                raise CorpusError(f"{ctx.source}: more than {ctx.limits.max_sheet_rows:,} rows "
                                  "(QA_MAX_SHEET_ROWS)")
            rows.append((number, row))
    except csv.Error as exc:
        raise CorpusError(f"{ctx.source}: unreadable CSV ({exc})") from None
    out = TextBuilder(f"csv/{encoding}")
    _add_sheet(out, "", rows, "")
    return out.build()


def _row_counts(package: zipfile.ZipFile) -> list[tuple[str, int]]:
    """(sheet name, rows) of every worksheet, counted from its XML in 1 MiB blocks."""
    try:
        book = package.read("xl/workbook.xml")
        rels = package.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return []
    targets = {_attr(tag, b"Id"): _attr(tag, b"Target") for tag in _REL.findall(rels)}
    out = []
    for tag in _SHEET.findall(book):
        name, rid = html.unescape(_attr(tag, b"name")), _attr(tag, b"(?:\\w+:)?id")
        target = targets.get(rid, "").lstrip("/")
        part = target if target.startswith("xl/") else f"xl/{target}"
        if part not in package.namelist():
            continue
        rows, tail = 0, b""
        with package.open(part) as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                rows += len(_ROW_TAG.findall(tail + block)) - len(_ROW_TAG.findall(tail))
                tail = block[-16:]
        out.append((name, rows))
    return out


def _attr(tag: bytes, name: bytes) -> str:
    """The value of attribute ``name`` (a regular expression) in an XML start tag."""
    m = re.search(rb"\s" + name + rb'="([^"]*)"', tag)
    return m.group(1).decode("utf-8", "replace") if m else ""


def _sheet_rows(ws: Any) -> list[tuple[int, list[str]]]:
    """(Excel row number, cell texts) of every row, merged cells repeated over their range."""
    width = ws.max_column
    grid = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is not None:
                grid[(cell.row, cell.column)] = cell_text(cell.value, cell.number_format)
    for merged in ws.merged_cells.ranges:
        value = grid.get((merged.min_row, merged.min_col), "")
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                grid[(r, c)] = value
    return [(r, [grid.get((r, c), "") for c in range(1, width + 1)])
            for r in range(1, ws.max_row + 1)]


def _add_sheet(out: TextBuilder, name: str, rows: list[tuple[int, list[str]]],
               place: str) -> None:
    rows = [(r, [c.strip() for c in row]) for r, row in rows if any(c.strip() for c in row)]
    if not rows:
        return
    width = max(max((j + 1 for j, c in enumerate(row) if c), default=0) for _, row in rows)
    rows = [(r, (row + [""] * width)[:width]) for r, row in rows]
    if name:
        out.add(f"工作表：{name}", "heading", place, 1)
    while len(rows) > 2 and width > 1 and len({c for c in rows[0][1] if c}) == 1:
        r, row = rows.pop(0)  # a title over the whole table
        out.add(next(c for c in row if c), "heading", f"{place}第{r}行", 2)
    kept = [row for _, row in rows]
    n_header = header_rows(kept)
    names = column_names(kept, n_header) if n_header else []
    if n_header:
        out.add("表头：" + " | ".join(names), "row", f"{place}表头")
    for r, row in rows[n_header:]:
        total = "（合计行）" if is_total(row) else ""
        out.add(record(names, row), "row", f"{place}第{r}行{total}")


def cell_text(value: object, number_format: str = "General") -> str:
    """A cell's value as the sheet shows it: dates and numbers in their format (a date
    without one as 2023-04-01)."""
    if isinstance(value, dt.date):
        return format_date(value, number_format or "General")
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return format_number(value, number_format or "General")
    return str(value).strip()


_DATE_TOKEN = re.compile(r'"[^"]*"|\\.|yyyy|yy|mmmm|mmm|mm|m|dd|d|hh|h|ss|s|AM/PM|.', re.I)


def format_date(value: dt.date, number_format: str) -> str:
    """``value`` as Excel's date ``number_format`` shows it (years, months, days, hours,
    minutes, seconds and quoted literals such as "年"); ISO 8601 for a general format."""
    fmt = re.sub(r"\[[^\]]*\]", "", number_format.split(";")[0])
    if not re.search(r"[yd]", fmt, re.I):
        iso = value.isoformat(sep=" ", timespec="minutes") if isinstance(value, dt.datetime) \
            else value.isoformat()
        return iso.removesuffix(" 00:00")
    t = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month,
                                                                   value.day)
    out, after_hour = [], False
    for tok in _DATE_TOKEN.findall(fmt):
        low = tok.lower()
        if tok.startswith('"'):
            out.append(tok[1:-1])
        elif tok.startswith("\\"):
            out.append(tok[1:])
        elif low in ("yyyy", "yy"):
            out.append(f"{t.year}" if low == "yyyy" else f"{t.year % 100:02d}")
        elif low in ("mm", "m"):
            n = t.minute if after_hour else t.month
            out.append(f"{n:02d}" if low == "mm" else str(n))
        elif low in ("dd", "d"):
            out.append(f"{t.day:02d}" if low == "dd" else str(t.day))
        elif low in ("hh", "h"):
            out.append(f"{t.hour:02d}" if low == "hh" else str(t.hour))
        elif low in ("ss", "s"):
            out.append(f"{t.second:02d}")
        else:
            out.append(tok)
        after_hour = low in ("hh", "h") or (after_hour and not low.isalpha())
    return "".join(out).strip()


def format_number(value: float, number_format: str) -> str:
    """``value`` as Excel's ``number_format`` shows it (the common parts: thousands,
    decimals, percent and literal text in quotes; the first section of the format)."""
    fmt = number_format.split(";")[0]
    literals = re.findall(r'"([^"]*)"', fmt)
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|[_*].', "", fmt)
    if "%" in bare:
        value *= 100
    m = re.search(r"0\.(0+)", bare)
    if m:
        text = f"{value:,.{len(m.group(1))}f}" if "," in bare else f"{value:.{len(m.group(1))}f}"
    elif "0" in bare or "#" in bare:
        text = f"{round(value):,}" if "," in bare else f"{round(value)}"
    else:  # General
        text = f"{value:.10g}" if isinstance(value, float) else str(value)
    prefix = "".join(x for x in literals if fmt.find(f'"{x}"') < fmt.find("0"))
    suffix = "".join(x for x in literals if x not in prefix)
    sign = "¥" if "¥" in bare else ""
    return f"{sign}{prefix}{text}{'%' if '%' in bare else ''}{suffix}"
