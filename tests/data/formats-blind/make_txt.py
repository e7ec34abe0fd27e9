"""The same documents as plain text, as a person would paste them into a .txt file: headings
and paragraphs as lines, list items one a line, a table as its caption, its header line and
one line per row (cells separated by two spaces), a sheet likewise, slide titles, bullets and
notes in order. ``bench/formats_vs_txt.py`` compares the answers over these with the answers
over the office files of ``docs/``.

    python tests/data/formats-blind/make_txt.py      # writes text/*.txt
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _flat(items: list) -> list[str]:  # type: ignore[type-arg]
    out: list[str] = []
    for x in items:
        out += _flat(x) if isinstance(x, list) else [str(x)]
    return out


def table_lines(header: list, rows: list, totals: list | None = None  # type: ignore[type-arg]
                ) -> list[str]:
    heads = [" ".join(str(c) for c in col if str(c)) for col in zip(*header, strict=False)] \
        if header and isinstance(header[0], list) else [str(c) for c in header]
    lines = ["  ".join(heads)]
    lines += ["  ".join("" if c is None else str(c) for c in r) for r in rows]
    if totals:
        lines.append("  ".join(str(c) for c in totals))
    return lines


def word(doc: dict) -> str:  # type: ignore[type-arg]
    lines = [doc["title"], doc.get("header", "")]
    for b in doc["blocks"]:
        kind = b["type"]
        if kind in ("heading", "paragraph", "textbox"):
            lines.append(b["text"])
        elif kind == "list":
            lines += [f"{i}. {t}" if b.get("ordered") else f"• {t}"
                      for i, t in enumerate(_flat(b["items"]), 1)]
        elif kind == "table":
            lines += [b.get("caption", ""), *table_lines(b["header"], b["rows"])]
    lines.append(doc.get("footer", ""))
    return "\n".join(line for line in lines if line) + "\n"


def slides(doc: dict) -> str:  # type: ignore[type-arg]
    lines = [doc["title"]]
    for n, s in enumerate(doc["slides"], 1):
        lines.append(f"第{n}页 {s['title']}")
        lines += [f"• {t}" for t in _flat(s.get("bullets", []))]
        if s.get("table"):
            lines += table_lines(s["table"]["header"], s["table"]["rows"])
        if s.get("notes"):
            lines.append(f"备注：{s['notes']}")
    return "\n".join(lines) + "\n"


def sheets(doc: dict) -> str:  # type: ignore[type-arg]
    lines: list[str] = []
    for sh in doc["sheets"]:
        lines += [sh["name"], *sh.get("title_rows", [])]
        lines += table_lines(sh["header"], [r for r in sh["rows"] if any(
            str(c).strip() for c in r if c is not None)], sh.get("totals"))
    return "\n".join(lines) + "\n"


def main() -> None:
    out = HERE / "text"
    out.mkdir(exist_ok=True)
    for src in sorted((HERE / "source").iterdir()):
        if src.suffix == ".txt":
            shutil.copyfile(src, out / src.name)
            continue
        doc = json.loads(src.read_text(encoding="utf-8"), parse_float=Decimal)
        make = word if src.stem.startswith("word") else slides if src.stem.startswith(
            "slides") else sheets
        (out / f"{src.stem}.txt").write_text(make(doc), encoding="utf-8")


if __name__ == "__main__":
    main()
