"""The reader scored with the gold paragraph, per set's report split (the table of bases).

Each question's paragraph is read in the training windows; over its windows the kind of
answer is the most likely of: span (best window's span probability), YES, NO, and null (the
least null probability of any window). The span is the best start + end score of any window
(``qa.models.reader.best_span``, as at run time), so EM / F1 (CMRC 2018's metric) are those of
a reader forced to answer, as the published readers are scored; ``found`` is the share of span questions whose
kind is not null, ``refused`` that of unanswerable questions whose kind is null, ``yes_no`` the
share of yes/no questions given the right kind.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.models.reader import best_span
from qa.train.reader_data import Paragraph
from qa.train.reader_windows import NO, NULL, SPAN, YES, question_kind, tensors, windows


def _sample(paragraphs: list[Paragraph], n: int) -> list[tuple[Paragraph, Any]]:
    pairs = [(p, q) for p in paragraphs for q in p.questions]
    pairs.sort(key=lambda pq: hashlib.sha1(pq[1].id.encode()).digest())
    return pairs[:n] if n else pairs


def torch_scorer(net: Any) -> Any:
    """A scorer of padded id/mask/type arrays by the torch ``net``: (start, end, kind)."""
    import torch

    def run(ids: Any, mask: Any, types: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.no_grad():
            start, end, kind = net(ids, mask, types)
        return start.float().numpy(), end.float().numpy(), kind.float().numpy()

    return run


def onnx_scorer(model: Path) -> Any:
    """A scorer by an ONNX reader; a model of the first format (no kind head) gives no kind
    scores (``read_gold`` then says null where its ``[CLS]`` pair outscores every span)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])

    def run(ids: Any, mask: Any, types: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                "token_type_ids": types.numpy()}
        out = session.run(None, feed)
        return out[0], out[1], out[2] if len(out) == 3 else None

    return run


def read_gold(scorer: Any, base: Any, p: Paragraph, question: str, max_length: int,
              stride: int) -> tuple[str, int]:
    """The span and the kind ``scorer`` reads in ``p`` for ``question``."""
    ws = windows(base.tokenizer, base.layout, question, p.text, max_length, stride)
    t = tensors(ws, base.pad_id)
    start, end, kind = scorer(t["input_ids"], t["attention_mask"], t["token_type_ids"])
    best, nulls = (-np.inf, ""), []
    for row, w in enumerate(ws):
        inside = np.array([o[0] >= 0 for o in w.offsets] + [False] * (start.shape[1] - len(w.ids)))
        i, j, score = best_span(start[row], end[row], inside)
        nulls.append(start[row, 0] + end[row, 0] > score)
        if score > best[0]:
            best = (score, p.text[w.offsets[i][0] : w.offsets[j][1]])
    if kind is None:  # a reader without a kind head: null where [CLS] outscores every span
        return best[1], NULL if all(nulls) else SPAN
    e = np.exp(kind - kind.max(-1, keepdims=True))
    probs = e / e.sum(-1, keepdims=True)
    votes = {SPAN: probs[:, SPAN].max(), YES: probs[:, YES].max(), NO: probs[:, NO].max(),
             NULL: probs[:, NULL].min()}
    return best[1], max(votes, key=lambda k: votes[k])


def evaluate_sets(scorer: Any, base: Any, report: dict[str, list[Paragraph]], max_length: int,
                  stride: int, per_set: int = 0) -> dict[str, dict[str, float]]:
    from qa.eval.squad import cmrc_em, cmrc_f1

    out = {}
    for name, paragraphs in report.items():
        n = {"span": 0, "null": 0, "yes_no": 0}
        em = f1 = found = refused = right = 0.0
        for p, q in _sample(paragraphs, per_set):
            gold = question_kind(q)
            text, kind = read_gold(scorer, base, p, q.text, max_length, stride)
            if gold == SPAN:
                n["span"] += 1
                em += cmrc_em(text, q.answers)
                f1 += cmrc_f1(text, q.answers)
                found += kind != NULL
            elif gold == NULL:
                n["null"] += 1
                refused += kind == NULL
            else:
                n["yes_no"] += 1
                right += kind == gold
        row: dict[str, float] = {"span_questions": n["span"],
                                 "em": round(em / max(1, n["span"]), 4),
                                 "f1": round(f1 / max(1, n["span"]), 4),
                                 "found": round(found / max(1, n["span"]), 4)}
        if n["null"]:
            row |= {"null_questions": n["null"], "refused": round(refused / n["null"], 4)}
        if n["yes_no"]:
            row |= {"yes_no_questions": n["yes_no"], "yes_no": round(right / n["yes_no"], 4)}
        out[name] = row
    return out


def int8_ms_per_window(model: Path, max_length: int, batch: int = 8, rounds: int = 5) -> float:
    """Milliseconds per full-length window of the int8 ONNX model, batches of ``batch``."""
    import onnxruntime as ort

    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    ids = np.full((batch, max_length), 100, dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids)}
    s.run(None, feed)
    t = time.perf_counter()
    for _ in range(rounds):
        s.run(None, feed)
    return round((time.perf_counter() - t) * 1000 / (rounds * batch), 2)
