"""The extractive reader: the short phrase of a text that answers a question, or none.

A small Chinese BERT (m3e-small's 4 layers, fine-tuned on public reading-comprehension sets by
``qa train-reader``) reads ``[CLS] question [SEP] context [SEP]`` and scores every token as the
start and the end of the answer; the ``[CLS]`` token's pair of scores says "no answer here".
It runs on ONNX Runtime (int8) with the ``tokenizers`` library: no torch at run time. A
context's best span is the highest start + end score over spans of at most ``MAX_ANSWER``
tokens; ``Reading.margin`` (span score minus the no-answer score) compares contexts.

The model folder holds ``model.onnx`` (or ``model.int8.onnx``), ``tokenizer.json`` and
``meta.json`` (its provenance: base model, training sets and splits, commit, scores, licence).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
#: the most tokens of a question, and of a question and its context together
MAX_QUESTION = 64
MAX_LENGTH = 256
#: the longest answer, in tokens
MAX_ANSWER = 40


@dataclass(frozen=True)
class Reading:
    """What the reader found in one context: the best span (character offsets into the
    context; (0, 0) when it has no token to offer) and its scores."""

    start: int
    end: int
    span_score: float
    null_score: float

    @property
    def margin(self) -> float:
        """How much more the span scores than "no answer here" (comparable across contexts)."""
        return self.span_score - self.null_score


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, in_context: np.ndarray,
              max_answer: int = MAX_ANSWER) -> tuple[int, int, float]:
    """The token span (first, last) of the context maximising start + end score, at most
    ``max_answer`` tokens long, and its score; (0, 0, -inf) for a context without tokens."""
    s = np.where(in_context, start_logits, -np.inf)
    e = np.where(in_context, end_logits, -np.inf)
    n = len(s)
    # score[i, d] = s[i] + e[i + d] for spans of d + 1 tokens
    width = min(max_answer, n)
    pairs = np.full((n, width), -np.inf, dtype=np.float64)
    for d in range(width):
        pairs[: n - d, d] = s[: n - d] + e[d:]
    flat = int(np.argmax(pairs))
    first, d = divmod(flat, width)
    score = float(pairs[first, d])
    if not np.isfinite(score):
        return 0, 0, float("-inf")
    return first, first + d, score


class Reader:
    """The reader of one model folder, loaded once; ``read`` is safe to call from threads."""

    def __init__(self, folder: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.meta: dict[str, Any] = json.loads((self.folder / "meta.json").read_text("utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{self.folder}: reader format {self.meta.get('format')!r}, "
                             f"this qa reads {FORMAT}")
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = self.folder / str(self.meta.get("model", "model.onnx"))
        self.session = ort.InferenceSession(str(model), options,
                                            providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def encode(self, question: str, contexts: Sequence[str]) -> list[Any]:
        """Tokenized ``[CLS] question [SEP] context [SEP]`` pairs, the question cut to
        ``MAX_QUESTION`` tokens and the context to what fits in ``MAX_LENGTH``."""
        q = self.tokenizer.encode(question, add_special_tokens=False)
        q_len = min(len(q.ids), MAX_QUESTION)
        budget = MAX_LENGTH - q_len - 3
        q_text = question[: q.offsets[q_len - 1][1]] if q_len else question
        encs = []
        for context in contexts:
            enc = self.tokenizer.encode(q_text, context)
            if len(enc.ids) > MAX_LENGTH:  # cut the context at a token boundary
                c = self.tokenizer.encode(context, add_special_tokens=False)
                cut = c.offsets[budget - 1][1] if budget > 0 and c.ids else 0
                enc = self.tokenizer.encode(q_text, context[:cut])
            encs.append(enc)
        return encs

    def read(self, question: str, contexts: Sequence[str],
             focus: Sequence[tuple[int, int]] | None = None) -> list[Reading]:
        """The best span of each context for ``question``, with its scores; with ``focus``,
        the best span within each context's (start, end) characters (the whole context is
        still read)."""
        if not contexts:
            return []
        encs = self.encode(question, contexts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encs):
            ids[row, : len(e.ids)] = e.ids
            types[row, : len(e.ids)] = e.type_ids
            mask[row, : len(e.ids)] = 1
        with self._lock:
            starts, ends = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                   "token_type_ids": types})
        out = []
        for row, e in enumerate(encs):
            lo, hi = focus[row] if focus else (0, 1 << 30)
            in_context = np.array([s == 1 and o[0] >= lo and o[1] <= hi for s, o in zip(
                e.sequence_ids, e.offsets, strict=True)] + [False] * (width - len(e.ids)))
            first, last, score = best_span(starts[row], ends[row], in_context)
            null = float(starts[row, 0] + ends[row, 0])
            if np.isfinite(score):
                out.append(Reading(e.offsets[first][0], e.offsets[last][1], score, null))
            else:
                out.append(Reading(0, 0, score, null))
        return out


def default_folder() -> Path:
    """The reader shipped with qa."""
    return Path(__file__).resolve().parent / "models" / "reader"
