"""FAQ pairs of a knowledge base (``corpus/.qa/faq.jsonl``, read by
``qa.answer.corrections``): reading an uploaded ``faq.jsonl`` or ``.xlsx`` (问题/答案) and
adding its pairs."""

from __future__ import annotations

import json
from pathlib import Path

from qa.answer.corrections import FAQ, FAQ_KEYS, faq_pairs
from qa.errors import BadInput


def read_faq(data: bytes, name: str = "faq.jsonl") -> list[tuple[str, str]]:
    """The pairs of an uploaded ``faq.jsonl``; ``ValueError`` naming the first bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{name}: not UTF-8") from None
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise BadInput(f"{name} line {n}: not JSON") from None
        got = faq_pairs([row]) if isinstance(row, dict) else []
        if not got:
            raise BadInput(f"{name} line {n}: expected an object with 问题 and 答案 "
                             "(or question and answer), both non-empty text")
        pairs += got
    if not pairs:
        raise BadInput(f"{name}: no pairs")
    return pairs


def read_faq_xlsx(data: bytes, name: str = "faq.xlsx") -> list[tuple[str, str]]:
    """The pairs of an uploaded spreadsheet: its first sheet, a header row naming the columns
    问题 and 答案 (or question and answer), a pair a row; ``ValueError`` naming the fault."""
    import io
    import zipfile

    try:
        from openpyxl import load_workbook
    except ImportError:
        raise BadInput(f"{name}: reading .xlsx needs openpyxl (pip install openpyxl)") \
            from None
    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        rows = [[("" if v is None else str(v)).strip() for v in row]
                for row in sheet.iter_rows(values_only=True)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError):
        raise BadInput(f"{name}: not a readable .xlsx workbook") from None
    header = rows[0] if rows else []
    for q, a in FAQ_KEYS:
        if q in header and a in header:
            qi, ai = header.index(q), header.index(a)
            pairs = [(r[qi], r[ai]) for r in rows[1:]
                     if len(r) > max(qi, ai) and r[qi] and r[ai]]
            if not pairs:
                raise BadInput(f"{name}: no pairs under the columns {q} and {a}")
            return pairs
    raise BadInput(f"{name}: the first row must name the columns 问题 and 答案 "
                     f"(or question and answer), not {header[:6]}")


def add_faq(corpus_dir: Path, pairs: list[tuple[str, str]]) -> int:
    """Append FAQ pairs to the base's ``faq.jsonl`` (a pair on a question already there
    replaces it: the later line wins); returns how many."""
    path = corpus_dir / FAQ
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for q, a in pairs:
            f.write(json.dumps({"问题": q, "答案": a}, ensure_ascii=False) + "\n")
    return len(pairs)
