"""``qa train-reader``: fine-tune the extractive reader (``qa.models.reader``) and export it.

Every shared set's "fit" articles (``qa.eval.squad.split_of``; "report" articles are never
trained on) are cut into windows over whole paragraphs (``qa.train.reader_windows``): span,
YES/NO (CAIL2019) and null answers (CAIL2019's unanswerable questions, windows without the
answer, another article's paragraph). The net (``qa.train.reader_net``) is trained with torch
on the CPU, in bfloat16 autocast where the CPU has native bf16 (AMX or AVX-512 BF16), else
float32. A checkpoint (model, optimiser, schedule, step) is written to ``--work`` every
``--checkpoint-every`` steps; the same command started again goes on from it.

At the end the reader is scored with the gold paragraph on each set's report split
(``qa.train.reader_eval``), exported to ONNX (float32 and int8), and written with a
``meta.json`` holding its provenance: base, sets and splits, commit, command, minutes, scores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from qa.train.common import DEFAULT_SETS, commit
from qa.train.reader_data import Paragraph, paragraphs_of


def native_bf16() -> bool:
    """True where the CPU multiplies bfloat16 natively (AMX or AVX-512 BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def load_sets(sets: list[Path]) -> tuple[list[Paragraph], dict[str, list[Paragraph]]]:
    from qa.eval.squad import load_squad

    fit: list[Paragraph] = []
    report: dict[str, list[Paragraph]] = {}
    for s in sets:
        articles = load_squad(s)
        fit += paragraphs_of([a for a in articles if a.split == "fit"])
        report[s.stem] = paragraphs_of([a for a in articles if a.split == "report"])
    return fit, report


def _save(state: dict[str, Any], path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(net: Any, maker: Any, args: argparse.Namespace, work: Path, pad_id: int,
          log: Any = print) -> float:
    """Train ``net`` in place, resuming from ``work/checkpoint.pt`` if there is one; the
    minutes spent in all runs."""
    import torch

    from qa.train.reader_net import loss
    from qa.train.reader_windows import batches, tensors

    bf16 = args.precision == "bf16" or (args.precision == "auto" and native_bf16())
    per_epoch = math.ceil(len(maker.epoch(args.seed)) / args.batch)
    steps = args.epochs * per_epoch
    if args.max_steps:
        steps = min(steps, args.max_steps)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    step, minutes = 0, 0.0
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)  # tensors and numbers: no pickle
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, minutes = state["step"], state["minutes"]
        if "rng" in state:
            torch.set_rng_state(state["rng"])
        log(f"resumed from {ckpt} at step {step}/{steps}")
    log(f"{steps} steps ({per_epoch} a epoch), batch {args.batch}, "
        f"{'bfloat16' if bf16 else 'float32'}")
    net.train()
    started, total, seen = time.perf_counter(), 0.0, 0
    while step < steps:  # ``stop_after`` (tests): stop there as if the run were killed
        epoch, skip = divmod(step, per_epoch)
        for b in batches(maker.epoch(args.seed + epoch), args.batch)[skip:]:
            t = tensors(b, pad_id)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                value = loss(net, t)
            value.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            total += float(value.detach())
            seen += int(t["attention_mask"].sum())
            now = (time.perf_counter() - started) / 60
            if step % args.log_every == 0:
                log(f"step {step}/{steps} epoch {epoch + 1} loss {total / args.log_every:.3f} "
                    f"{seen / (now * 60):.0f} tokens/s ({minutes + now:.1f} min)")
                total = 0.0
            if step % args.checkpoint_every == 0 or step == steps:
                _save({"model": net.state_dict(), "opt": opt.state_dict(),
                       "sched": sched.state_dict(), "step": step,
                       "rng": torch.get_rng_state(), "minutes": minutes + now}, ckpt)
            if step >= min(steps, getattr(args, "stop_after", 0) or steps):
                net.eval()
                return minutes + now
    net.eval()
    return minutes + (time.perf_counter() - started) / 60


def main(args: argparse.Namespace) -> int:
    import torch
    from transformers.utils import logging as hf_logging

    from qa.train.reader_eval import evaluate_sets, int8_ms_per_window, torch_scorer
    from qa.train.reader_net import export_onnx, load_base, reader_net
    from qa.train.reader_windows import WindowMaker

    hf_logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [Path(s) for s in (args.squad or DEFAULT_SETS)]
    fit, report = load_sets(sets)
    base = load_base(args.base)
    if args.freeze_embeddings:
        base.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    net = reader_net(base.encoder)
    if args.init:
        from qa.config import Settings
        from qa.train.reader_init import init_from_reader

        init_from_reader(net, Path(args.init), Settings.from_env().model_cache)
    maker = WindowMaker(base.tokenizer, base.layout, fit, args.max_length, args.stride,
                        args.keep_null, args.others)
    print(f"fit: {sum(len(p.questions) for p in fit)} questions in {len(fit)} paragraphs; "
          f"report: {sum(len(p.questions) for ps in report.values() for p in ps)} questions",
          flush=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    minutes = train(net, maker, args, work, base.pad_id, log=lambda m: print(m, flush=True))
    scores = evaluate_sets(torch_scorer(net), base, report, args.max_length, args.stride,
                           args.eval_questions)
    for name, row in scores.items():
        print(f"{name}: {row}", flush=True)
    out = Path(args.out)
    new = out.with_name(out.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    export_onnx(net, new / "model.onnx")
    from qa.models.quantization import quantize_int8

    quantize_int8(new / "model.onnx", new / "model.int8.onnx")
    (new / "tokenizer.json").write_text(base.tokenizer.to_str(), encoding="utf-8")
    ms = int8_ms_per_window(new / "model.int8.onnx", args.max_length)
    meta = {
        "format": 2, "model": args.model_file, "base": base.about, "licence":
        f"{base.licence}; trained on CMRC 2018 and DRCD (CC BY-SA) and CAIL2019 (cite Duan et "
        "al., CCL 2019)", "trained_on": [f"{s.name}: 'fit' articles (qa.eval.squad.split_of)"
                                         for s in sets],
        "init": args.init or None, "max_length": args.max_length, "stride": args.stride, "kinds": ["span", "yes", "no",
                                                                         "null"],
        "commit": commit(), "train_minutes": round(minutes, 1), "epochs": args.epochs,
        "max_steps": args.max_steps, "lr": args.lr, "batch": args.batch, "seed": args.seed,
        "keep_null": args.keep_null, "others": args.others,
        "command": "qa train-reader " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "",
        "int8_ms_per_window": ms, "cpu": cpu_name(),
        "report_scores_gold_paragraph": scores,
    }
    (new / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                   encoding="utf-8")
    if args.model_file != "model.onnx":
        (new / "model.onnx").unlink()
    shutil.rmtree(out, ignore_errors=True)
    new.rename(out)
    print(f"reader written to {out} (int8 {ms} ms a window on {cpu_name()})", flush=True)
    return 0


def cpu_name() -> str:
    from qa.models.quantization import cpu_isa

    try:
        model = next((line.split(":", 1)[1].strip() for line in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "unknown CPU")
    except OSError:
        model = "unknown CPU"
    return f"{model} ({cpu_isa()})"


def pack(text: str, sentences: tuple[tuple[int, int], ...], chars: int = 200
         ) -> list[tuple[int, int]]:
    """Windows of whole consecutive sentences of about ``chars`` characters covering
    ``text`` (how ``bench/int8_agreement.py`` reads a paragraph)."""
    out: list[tuple[int, int]] = []
    for s, e in sentences:
        if out and e - out[-1][0] <= chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out or [(0, len(text))]


def read_paragraph(reader: Any, text: str, windows: list[tuple[int, int]], question: str
                   ) -> tuple[str, int]:
    """The phrase the reader picks in ``text`` read in ``windows`` (the window whose best span
    has the highest margin wins), and that window's index."""
    readings = reader.read(question, [text[s:e] for s, e in windows])
    best = max(range(len(windows)), key=lambda i: readings[i].margin)
    r, (s0, _) = readings[best], windows[best]
    return text[s0 + r.start : s0 + r.end], best
