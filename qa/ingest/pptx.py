"""PowerPoint (.pptx) as text, with python-pptx.

Each slide is a page (``Document.pages`` holds each slide's start, so a passage's page is its
slide number): its title is a heading (a slide without one gets "第N张幻灯片"), then the text
frames in reading order (top to bottom, then left to right; groups opened), tables as records
naming their columns (``qa.ingest.tables``), and the speaker notes last ("备注：…").
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from qa.ingest.office import library_error, open_package
from qa.ingest.tables import column_names, header_rows, record
from qa.ingest.units import Converted, ReadContext, TextBuilder


def read_pptx(data: bytes, ctx: ReadContext) -> Converted:
    """The text of a .pptx deck, slide by slide (``CorpusError`` for a bad file)."""
    open_package(data, ".pptx", ctx)
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(data))
        out = TextBuilder("pptx")
        for number, slide in enumerate(deck.slides, 1):
            _add_slide(out, slide, number)
        return out.build()
    except Exception as exc:  # python-pptx and lxml on damaged XML raise many kinds
        raise library_error(ctx, "PowerPoint deck", exc) from None


def _add_slide(out: TextBuilder, slide: Any, number: int) -> None:
    place = f"第{number}张幻灯片"
    out.new_page()
    title_shape = slide.shapes.title
    title = title_shape.text_frame.text.strip() if title_shape is not None else ""
    out.add(title or place, "heading", place, 1)
    table_no = 0
    for shape in reading_order(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            table_no += 1
            _add_table(out, shape.table, f"{place} 表{table_no}")
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            out.add(_frame_text(shape.text_frame), "body", place)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            out.add("备注：" + _frame_text(notes), "note", f"{place} 备注")


def reading_order(shapes: Any) -> Iterator[Any]:
    """The shapes top to bottom, then left to right, a group's shapes in its place."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    def key(shape: Any) -> tuple[int, int]:  # tops within a quarter inch are one line
        return (shape.top or 0) // 228_600, shape.left or 0

    for shape in sorted(shapes, key=key):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from reading_order(shape.shapes)
        else:
            yield shape


def _frame_text(frame: Any) -> str:
    """A text frame's paragraphs, one a line, deeper bullet levels indented."""
    lines = []
    for paragraph in frame.paragraphs:
        text = "".join(run.text for run in paragraph.runs) or paragraph.text
        if text.strip():
            lines.append("  " * (paragraph.level or 0) + text.strip())
    return "\n".join(lines)


def _add_table(out: TextBuilder, table: Any, place: str) -> None:
    rows = []
    for r, row in enumerate(table.rows, 1):
        cells = [cell.text.strip() for cell in row.cells]
        rows.append((r, cells))
    rows = _repeat_merged(table, rows)
    kept = [row for _, row in rows if any(row)]
    n_header = header_rows(kept)
    names = column_names(kept, n_header) if n_header else []
    if n_header:
        out.add("表头：" + " | ".join(names), "row", f"{place} 表头")
    data = [(r, row) for r, row in rows if any(row)][n_header:]
    for r, row in data:
        out.add(record(names, row), "row", f"{place} 第{r}行")


def _repeat_merged(table: Any, rows: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """Rows with a merged cell's text repeated in the cells it spans."""
    grid = [list(row) for _, row in rows]
    for i, row in enumerate(table.rows):
        for j, cell in enumerate(row.cells):
            if cell.is_merge_origin:
                for di in range(cell.span_height):
                    for dj in range(cell.span_width):
                        if i + di < len(grid) and j + dj < len(grid[i + di]):
                            grid[i + di][j + dj] = grid[i][j]
    return [(r, grid[k]) for k, (r, _) in enumerate(rows)]
