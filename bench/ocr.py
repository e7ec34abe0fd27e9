"""OCR speed and accuracy on the rendered scans of tests/data/formats/ (issue 22).

    .venv/bin/python bench/ocr.py [--rounds 1]

For each scan (a three-page PDF with a turned and a noisy page, a mixed PDF, a PNG) it reads
the file with ``qa.ingest.corpus.read_document`` and no OCR cache, so every scanned page is
rendered (150 dpi) and OCR'd, and prints seconds per scanned A4 page (wall and this process's
CPU seconds) and the character error rate against the text that was rendered (edit distance
over the truth's characters, whitespace ignored). The engine's load (about a second) is
timed apart. Nothing is asserted: the CPU, its cores and its load are printed beside the
numbers.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

from common import ROOT, footer, header, table, tmpdir

sys.path.insert(0, str(ROOT))  # this checkout's qa, whichever one the venv has installed

FORMATS = ROOT / "tests" / "data" / "formats"
SCANS = ("news-flood-scan.pdf", "news-launch-mixed.pdf", "policy-leave-scan.png")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ocr_text(doc) -> str:  # type: ignore[no-untyped-def]
    """The OCR'd part of a document (a mixed PDF's text page left out)."""
    first = min((r.start for r in doc.regions), default=0)
    page_start = max((p for p in doc.pages if p <= first), default=0)
    return doc.text[page_start:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    header("OCR: seconds per A4 page and character error rate (rapidocr-onnxruntime)")
    from qa.eval.metrics import char_errors
    from qa.ingest.corpus import read_document
    from qa.ingest.ocr import _engine, engine_version

    started = time.perf_counter()
    _engine()
    print(f"engine: {engine_version()}, loaded in {time.perf_counter() - started:.2f} s\n")
    rows, pages_all, wall_all, cpu_all, errors_all, chars_all = [], 0, 0.0, 0.0, 0, 0
    with tmpdir("ocr") as folder:
        corpus = Path(folder)
        for name in SCANS:
            shutil.copy(FORMATS / name, corpus / name)
            truth = (FORMATS / name.replace(".pdf", ".truth.txt").replace(".png", ".truth.txt")
                     ).read_text(encoding="utf-8")
            for _ in range(args.rounds):
                shutil.rmtree(corpus / ".qa", ignore_errors=True)  # no cache: OCR every page
                seen: list[int] = []
                wall, cpu = time.perf_counter(), cpu_seconds()
                doc = read_document(corpus, name, 10**9, on_page=lambda d, t, seen=seen: seen.append(t))
                wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
                pages = max(seen, default=0)
                errors, chars = char_errors(truth, ocr_text(doc))
                rows.append([name, pages, wall / pages, cpu / pages, 100 * errors / chars])
                pages_all += pages
                wall_all += wall
                cpu_all += cpu
                errors_all += errors
                chars_all += chars
    print(table(["scan", "OCR'd pages", "s/page (wall)", "CPU s/page", "CER %"], rows))
    print(f"\nall: {pages_all} pages, {wall_all / pages_all:.2f} s per page (wall), "
          f"{cpu_all / pages_all:.2f} CPU s per page, CER {100 * errors_all / chars_all:.2f}% "
          f"({errors_all} edits over {chars_all} characters)")
    footer()


if __name__ == "__main__":
    main()
