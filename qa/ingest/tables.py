"""Tables as records: every data row names its columns ("型号：X-200；单价：1,280元；库存：35").

Shared by Word and PowerPoint tables and by spreadsheets. A table arrives as rows of cell
texts with merged cells already repeated over the cells they cover. ``header_rows`` finds
how many rows at the top are column headers (none, one, or two when the first is a merged
group over the second: "2023年" over "Q1 Q2" names the columns "2023年Q1", "2023年Q2"), and
``record`` writes a data row with the names of its columns.
"""

from __future__ import annotations

import re

from qa.ingest import periods

_NUMBER = re.compile(r"^[-+(（]?[¥$€£]?\s*[\d.,，]+\s*[%‰万亿元件个台人次]*[)）]?$")
_DATE = re.compile(r"^\d{4}[-/年.]\d{1,2}([-/月.]\d{1,2}日?)?$")
TOTAL_WORDS = ("合计", "总计", "小计", "总和", "total", "sum")


def is_value(cell: str) -> bool:
    """Whether a cell holds a number, amount or date rather than a label."""
    cell = cell.strip()
    return bool(_NUMBER.match(cell) or _DATE.match(cell))


def _is_label_row(row: list[str]) -> bool:
    filled = [c for c in row if c.strip()]
    return len(filled) >= max(1, len(row) // 2) and not any(is_value(c) for c in filled)


def _has_groups(row: list[str]) -> bool:
    """Whether a row has a cell repeated over its neighbours (a merged group)."""
    return any(row[i].strip() and row[i] == row[i + 1] for i in range(len(row) - 1))


def header_rows(rows: list[list[str]]) -> int:
    """How many of the first rows are column headers: 0, 1 or 2."""
    if len(rows) < 2 or len(rows[0]) < 2 or not _is_label_row(rows[0]):
        return 0
    if len(rows) >= 3 and _has_groups(rows[0]) and _is_label_row(rows[1]):
        return 2
    return 1


def column_names(rows: list[list[str]], n_header: int) -> list[str]:
    """The name of each column from the header rows (a top group joined to the name below
    it; an unnamed column is "列N")."""
    width = max((len(r) for r in rows), default=0)
    names = []
    for j in range(width):
        parts: list[str] = []
        for r in rows[:n_header]:
            cell = r[j].strip() if j < len(r) else ""
            if cell and cell not in parts:
                parts.append(cell)
        names.append("".join(parts) or f"列{j + 1}")
    return names


def record(names: list[str], row: list[str]) -> str:
    """"列名：值；列名：值" of the non-empty cells of ``row`` (a merged cell repeated under
    the same name once); without names, the cells joined by " | "."""
    if not names:
        return " | ".join(c.strip() for c in row if c.strip())
    parts: list[str] = []
    for name, cell in zip(names, row, strict=False):
        cell = " ".join(cell.split())
        if not cell:
            continue
        part = f"{name}：{cell}"
        if not parts or parts[-1] != part:
            parts.append(part)
    return "；".join(parts)


def is_total(row: list[str]) -> bool:
    """Whether a row is a totals row (its first filled cell says 合计/总计/小计/Total)."""
    first = next((c.strip().lower() for c in row if c.strip()), "")
    return first.replace(" ", "") in TOTAL_WORDS


def record_cells(text: str) -> list[tuple[str, int, int]]:
    """(column name, start, end of its value) of each "名：值" of a record ("型号：X-200；单价：
    1,280元"); [] for text that is not a record of two or more cells."""
    cells, at = [], 0
    for part in text.split("；"):
        name, sep, value = part.partition("：")
        if not sep or not name.strip() or not value.strip() or len(name) > 40:
            return []
        start = at + len(name) + 1
        cells.append((name.strip(), start, start + len(value.rstrip())))
        at += len(part) + 1
    return cells if len(cells) >= 2 else []


def _pairs(text: str) -> set[str]:
    text = re.sub(r"[（(][^）)]*[）)]|\s", "", text.lower())  # units in brackets do not count
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def _common_run(a: str, b: str) -> tuple[int, int]:
    """The length of the longest run of characters ``a`` and ``b`` share, and where it ends
    in ``a``."""
    best, end = 0, 0
    prev = [0] * (len(b) + 1)
    for i, x in enumerate(a, 1):
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                row[j] = prev[j - 1] + 1
                if row[j] > best:
                    best, end = row[j], i
        prev = row
    return best, end


def asked_cell(question: str, record: str) -> tuple[int, int] | None:
    """The (start, end) in ``record`` of the value of the column ``question`` asks for: the
    column whose name shares the most character pairs with the question (one or more; on a
    tie, the longest run, then the one where that run ends the name, as the leaf of a
    two-level header "金额（万元）毛利" does), leaving out the columns whose value the question names (the row
    it picks: "X-200的单价" asks 单价, not 型号). None when no column is clearly asked."""
    q = question.lower()
    asked = _pairs(q)
    scored = []
    for name, start, end in record_cells(record):
        value = record[start:end].lower()
        if value in q or any(a.lower() in q for a in periods.aliases(value)):
            continue
        run, at = _common_run(name.lower(), q)
        shared = len(_pairs(name.lower()) & asked)
        scored.append(((shared, run, at == len(name), -len(name)), start, end))
    scored.sort(reverse=True)
    if not scored or scored[0][0][0] < 1 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1], scored[0][2]


def names_row(question: str, record: str) -> bool:
    """Whether ``question`` names ``record``'s row: one of its cells' values (two or more
    characters, not a bare number) or that value's other spelling (2023Q2, 2023年第二季度)."""
    q = question.lower()
    for _, start, end in record_cells(record):
        value = record[start:end].lower()
        if len(value) < 2 or re.fullmatch(r"[\d.,%]+", value):
            continue
        if value in q or any(a.lower() in q for a in periods.aliases(value)):
            return True
    return False
