"""``qa train-mlm``: continued masked-language-model training of m3e-small's encoder.

m3e-small's BERT was retrained for sentence embeddings, which may cost it token-level reading.
This command trains it again to fill in masked characters of Chinese text the project holds
(the contexts of the shared sets' "fit" articles; report articles are never read), then writes
a BERT folder that ``qa train-reader --base FOLDER`` starts from, with ``base.json`` naming
its provenance. Masking: 15 % of the context tokens, 80 % of them ``[MASK]``, 10 % a random
token, 10 % kept (BERT's recipe). The MLM head, which the m3e folder lacks, starts fresh with
its decoder tied to the word embeddings.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from qa.train.common import DEFAULT_SETS, commit


def texts_of(sets: list[Path]) -> list[str]:
    from qa.eval.squad import load_squad

    return [p for s in sets for a in load_squad(s) if a.split == "fit" for p in a.paragraphs]


def sequences(tokenizer: Any, texts: list[str], length: int) -> list[list[int]]:
    """Texts tokenized and cut into runs of ``length - 2`` tokens."""
    out = []
    for t in texts:
        ids = tokenizer.encode(t, add_special_tokens=False).ids
        out += [ids[i : i + length - 2] for i in range(0, len(ids), length - 2)
                if len(ids[i : i + length - 2]) >= 32]
    return out


def masked_batch(rows: list[list[int]], cls: int, sep: int, mask: int, vocab: int,
                 rng: random.Random) -> dict[str, Any]:
    import torch

    width = max(len(r) for r in rows) + 2
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full_like(ids, -100)
    att = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        seq = [cls, *r, sep]
        for j in range(1, len(seq) - 1):
            if rng.random() < 0.15:
                labels[i, j] = seq[j]
                roll = rng.random()
                seq[j] = mask if roll < 0.8 else rng.randrange(vocab) if roll < 0.9 else seq[j]
        ids[i, : len(seq)] = torch.tensor(seq)
        att[i, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": att, "labels": labels}


def masked_loss(model: Any, batch: dict[str, Any]) -> Any:
    """The MLM loss with the vocabulary scored at masked positions only (scoring all 21k
    words at every position would cost as much as the encoder)."""
    import torch.nn.functional as F

    h = model.bert(input_ids=batch["input_ids"],
                   attention_mask=batch["attention_mask"]).last_hidden_state
    at = batch["labels"] != -100
    logits = model.cls(h[at])
    return F.cross_entropy(logits.float(), batch["labels"][at])


def main(args: argparse.Namespace) -> int:
    import torch
    from transformers import BertForMaskedLM
    from transformers.utils import logging as hf_logging

    from qa.config import M3E_MODEL, resolve_model
    from qa.train.reader_net import m3e_tokenizer
    from qa.train.reader_train import native_bf16

    hf_logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    folder = Path(resolve_model(M3E_MODEL))
    tok = m3e_tokenizer(folder)
    model = BertForMaskedLM.from_pretrained(str(folder))
    model.tie_weights()
    sets = [Path(s) for s in (args.squad or DEFAULT_SETS)]
    rows = sequences(tok, texts_of(sets), args.length)
    rng.shuffle(rows)
    print(f"{len(rows)} sequences of up to {args.length} tokens", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps, warm = args.steps, max(1, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (args.steps - s) / (args.steps - warm))))
    bf16 = native_bf16()
    model.train()
    started, total = time.perf_counter(), 0.0
    special = (tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]"), tok.token_to_id("[MASK]"))
    for step in range(steps):
        at = (step * args.batch) % max(1, len(rows) - args.batch)
        batch = masked_batch(rows[at : at + args.batch], *special, tok.get_vocab_size(), rng)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = masked_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        total += float(loss.detach())
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{steps} loss {total / 50:.3f} "
                  f"({(time.perf_counter() - started) / 60:.1f} min)", flush=True)
            total = 0.0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.bert.save_pretrained(str(out))
    (out / "tokenizer.json").write_text(tok.to_str(), encoding="utf-8")
    minutes = round((time.perf_counter() - started) / 60, 1)
    (out / "base.json").write_text(json.dumps({
        "about": f"m3e-small's encoder after {steps} steps of continued MLM training (batch "
                 f"{args.batch}, {args.length} tokens, lr {args.lr:g}, {minutes} min) on the "
                 "fit articles' contexts of " + ", ".join(s.name for s in sets),
        "licence": "m3e-small's: research and non-commercial use only",
        "commit": commit()}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"encoder written to {out} ({minutes} min)", flush=True)
    return 0
