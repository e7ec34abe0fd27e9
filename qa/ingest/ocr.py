"""OCR on the CPU, offline: RapidOCR (``rapidocr-onnxruntime``, PP-OCRv4 detection and
recognition models shipped inside the PyPI package, run by ONNX Runtime).

``read_lines`` gives every line found on an image with its box as fractions of the image;
``paragraphs`` groups lines into paragraphs the way a reader would: a line that starts
indented, or follows a line that stopped short of the right margin or a wide gap, starts a
new paragraph. The engine is loaded on first use (about a second) and kept.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import re
import statistics
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Lines the recogniser is less sure of than this are dropped.
MIN_SCORE = 0.5
#: Longest side an image is scaled down to before OCR (an A4 page at about 150 dpi).
MAX_SIDE = 1800
#: Longest side the detector sees.
DET_SIDE = 1024


@dataclass(frozen=True)
class OcrLine:
    """One line of text found on an image: (left, top, right, bottom) as fractions."""

    text: str
    box: tuple[float, float, float, float]
    score: float

    def to_json(self) -> list[Any]:
        return [self.text, [round(v, 4) for v in self.box], round(self.score, 3)]

    @classmethod
    def from_json(cls, row: list[Any]) -> OcrLine:
        return cls(str(row[0]), tuple(float(v) for v in row[1]), float(row[2]))  # type: ignore[arg-type]


def engine_version() -> str:
    """Names the engine and its version: cached results of another are read again."""
    try:
        version = importlib.metadata.version("rapidocr-onnxruntime")
        return f"rapidocr-onnxruntime {version} det{DET_SIDE} max{MAX_SIDE}"
    except importlib.metadata.PackageNotFoundError:
        return "rapidocr-onnxruntime (not installed)"


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    # detection on the page scaled to DET_SIDE at most (all 30 lines of a rendered A4 page
    # found, where the default "at least 736" missed some); no 180-degree classifier: scans
    # come upright, and it costs a third of the time
    return RapidOCR(max_side_len=MAX_SIDE, det_limit_type="max", det_limit_side_len=DET_SIDE,
                    use_cls=False)


def read_lines(image: Any) -> list[OcrLine]:
    """The lines of a PIL image, top to bottom, with their boxes."""
    import numpy as np

    image = image.convert("RGB")
    scale = min(1.0, MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    width, height = image.size
    result, _ = _engine()(np.asarray(image)[:, :, ::-1])  # RapidOCR wants BGR, as OpenCV
    lines = []
    for points, text, score in result or ():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        if float(score) < MIN_SCORE or not str(text).strip():
            continue
        box = (max(0.0, min(xs) / width), max(0.0, min(ys) / height),
               min(1.0, max(xs) / width), min(1.0, max(ys) / height))
        lines.append(OcrLine(str(text).strip(), box, float(score)))
    return sorted(lines, key=lambda line: (round(line.box[1] * 200), line.box[0]))


_UNBROKEN = re.compile(r"[0-9A-Za-z:：.,，%/-]*")


def paragraphs(lines: list[OcrLine], aspect: float = 1.0) -> list[list[OcrLine]]:
    """Lines grouped into paragraphs: a new one after a wide gap, after a line that ends
    short of the right margin, or at a line that starts indented. ``aspect`` is the image's
    height over its width (boxes are fractions of each)."""
    if not lines:
        return []
    heights = [line.box[3] - line.box[1] for line in lines]
    height = statistics.median(heights) or 0.01
    left = min(line.box[0] for line in lines)
    right = max(line.box[2] for line in lines)
    char = height * aspect  # a character's width, as a fraction of the width
    groups: list[list[OcrLine]] = [[lines[0]]]
    for prev, line in itertools.pairwise(lines):
        gap = line.box[1] - prev.box[3]
        # a line wrapped before a run of digits or Latin that would not fit ends short of the
        # margin by about that run's width (digits are about half a CJK character wide)
        lead = len(_UNBROKEN.match(line.text).group())  # type: ignore[union-attr]
        short = prev.box[2] < right - (2 + 0.6 * lead) * char
        indented = line.box[0] > left + 1.2 * char
        if gap > 1.2 * height or short or indented:
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups
