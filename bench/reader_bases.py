"""The table of bases: ONNX reader folders scored with the gold paragraph on each shared set's
report split (``qa.train.reader_eval``), int8 as they ship, beside int8 ms per window.

    python bench/reader_bases.py NAME=FOLDER [NAME=FOLDER ...] [--questions 400]
        [--max-length 256] [--stride 128]

A folder of the first format (today's reader: start/end scores only, ``[CLS]`` for no answer)
gets span-or-null kinds from its scores and no yes/no. Prints one markdown row per folder and
set, naming the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.train.common import DEFAULT_SETS  # noqa: E402
from qa.train.reader_eval import evaluate_sets, int8_ms_per_window, onnx_scorer  # noqa: E402
from qa.train.reader_train import cpu_name, load_sets  # noqa: E402
from qa.train.reader_windows import Layout  # noqa: E402


def folder_base(folder: Path) -> SimpleNamespace:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    if tok.token_to_id("[CLS]") is not None:
        return SimpleNamespace(tokenizer=tok, layout=Layout.bert(tok), pad_id=0)
    return SimpleNamespace(tokenizer=tok, layout=Layout.xlmr(tok.token_to_id("<s>"),
                                                             tok.token_to_id("</s>")),
                           pad_id=tok.token_to_id("<pad>") or 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("readers", nargs="+", help="NAME=FOLDER")
    ap.add_argument("--questions", type=int, default=400, help="per set (0: all)")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--stride", type=int, default=128)
    args = ap.parse_args()
    _, report = load_sets(list(DEFAULT_SETS))
    print(f"gold paragraph, report splits, {args.questions or 'all'} questions a set, windows "
          f"{args.max_length}/{args.stride}; CPU: {cpu_name()}\n")
    print("| reader | set | EM | F1 | span found | null refused | yes/no right | int8 ms/window |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.readers:
        name, folder = spec.split("=", 1)
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        model = folder / meta.get("model", "model.int8.onnx")
        ms = int8_ms_per_window(model, args.max_length)
        scores = evaluate_sets(onnx_scorer(model), folder_base(folder), report,
                               args.max_length, args.stride, args.questions)
        for s, row in scores.items():
            print(f"| {name} | {s} | {row['em']:.3f} | {row['f1']:.3f} | {row['found']:.3f} | "
                  f"{row.get('refused', '—')} | {row.get('yes_no', '—')} | {ms} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
