"""How far the int8 models stray from fp32 on this CPU, on text qa never fitted on.

- embedder: the cosine of every int8 vector to its fp32 vector, over the sentences of the
  report articles of the shared sets (least, 1st percentile, mean);
- reader: on every report question, the gold paragraph read in windows (as
  ``qa.train.reader_train.evaluate``): the share of questions whose chosen span is the same under
  int8 and under its fp32 twin, and each one's EM / F1.

Usage: python bench/int8_agreement.py [--paragraphs N] [--reader FILE.int8.onnx]... [--fp32 F]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import footer, header

from qa.config import M3E_MODEL, Settings
from qa.eval.squad import cmrc_em, cmrc_f1, load_squad
from qa.models.embedding import Embedder
from qa.models.quantization import cpu_isa, cpu_name
from qa.models.reader import Reader, default_folder, fp32_twin
from qa.train.common import DEFAULT_SETS
from qa.train.reader_data import paragraphs_of
from qa.train.reader_train import pack, read_paragraph


def report_paragraphs(limit: int) -> list:
    out = []
    for s in DEFAULT_SETS:
        out += paragraphs_of([a for a in load_squad(s) if a.split == "report"])
    return out[:limit] if limit else out


def embedder_rows(paragraphs: list, limit: int) -> list[str]:
    texts = [p.text[s:e] for p in paragraphs for s, e in p.sentences][:limit]
    settings = Settings.from_env().with_(model=M3E_MODEL, lowercase=True)
    fp32 = Embedder(settings.with_(embed_quantize="none")).encode(texts)
    int8 = Embedder(settings.with_(embed_quantize="int8")).encode(texts)
    cos = np.sum(fp32 * int8, 1)
    return [f"| embedder m3e-small int8 | {len(texts)} sentences | least {cos.min():.4f} | "
            f"p1 {np.percentile(cos, 1):.4f} | mean {cos.mean():.4f} |"]


def reading(reader: Reader, paragraphs: list) -> list[tuple[str, str, tuple[str, ...]]]:
    """(question id, chosen phrase, gold answers) of every answerable question."""
    out = []
    for p in paragraphs:
        windows = pack(p.text, p.sentences)
        for q in p.questions:
            if not q.answers:
                continue
            phrase, _ = read_paragraph(reader, p.text, windows, q.text)
            out.append((q.id, phrase, q.answers))
    return out


def reader_as(model: Path, work: Path) -> Reader:
    """A reader of the shipped tokenizer and meta running ``model`` unchecked."""
    folder = work / model.stem
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(default_folder() / "tokenizer.json", folder / "tokenizer.json")
    meta = json.loads((default_folder() / "meta.json").read_text("utf-8"))
    meta["model"] = "model.onnx"
    (folder / "meta.json").write_text(json.dumps(meta), "utf-8")
    shutil.copy(model, folder / "model.onnx")
    return Reader(folder)


def reader_rows(paragraphs: list, models: list[Path], work: Path, fp32: Path | None
                ) -> list[str]:
    rows, ref = [], None
    for model in models:
        if ref is None or fp32 is None:
            twin = fp32 or fp32_twin(model, work / "twins")
            ref = reading(reader_as(twin, work / "fp32"), paragraphs)
        got = reading(reader_as(model, work / "int8"), paragraphs)
        same = sum(a[1] == b[1] for a, b in zip(ref, got, strict=True)) / max(1, len(ref))
        em = lambda rs: sum(cmrc_em(r[1], r[2]) for r in rs) / max(1, len(rs))  # noqa: E731
        f1 = lambda rs: sum(cmrc_f1(r[1], r[2]) for r in rs) / max(1, len(rs))  # noqa: E731
        rows.append(f"| reader {model} | {len(ref)} questions | same span {same:.4f} | "
                    f"EM/F1 int8 {em(got):.3f}/{f1(got):.3f} | fp32 twin {em(ref):.3f}/"
                    f"{f1(ref):.3f} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=0, help="report paragraphs (0: all)")
    ap.add_argument("--sentences", type=int, default=4000)
    ap.add_argument("--reader", action="append", type=Path,
                    help="an int8 reader model to compare with its fp32 twin (default: shipped)")
    ap.add_argument("--fp32", type=Path, help="compare every reader with this fp32 model")
    ap.add_argument("--no-embedder", action="store_true")
    args = ap.parse_args()
    header(f"int8 against fp32 on {cpu_name()} (int8 kernels: {cpu_isa()})")
    paragraphs = report_paragraphs(args.paragraphs)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [] if args.no_embedder else embedder_rows(paragraphs, args.sentences)
        rows += reader_rows(paragraphs, args.reader or [default_folder() / "model.int8.onnx"],
                            Path(tmp), args.fp32)
    print("\n".join(rows))
    footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
