"""The extractive reader: the short phrase of a text that answers a question, or none.

A small Chinese BERT (m3e-small's 4 layers, fine-tuned on public reading-comprehension sets by
``qa train-reader``) reads ``[CLS] question [SEP] context [SEP]`` and scores every token as the
start and the end of the answer; the ``[CLS]`` token's pair of scores says "no answer here".
It runs on ONNX Runtime (int8) with the ``tokenizers`` library: no torch at run time. A
context's best span is the highest start + end score over spans of at most ``MAX_ANSWER``
tokens; ``Reading.margin`` (span score minus the no-answer score) compares contexts.

The model folder holds ``model.onnx`` (or ``model.int8.onnx``), ``tokenizer.json`` and
``meta.json`` (its provenance: base model, training sets and splits, commit, scores, licence).
An int8 model is checked on the CPU it runs on against its fp32 twin (``fp32_twin``: the same
weights dequantised, made once in the model cache) on ``CHECK_PAIRS``; when its start and end
scores stray (cosine under ``INT8_MIN_COSINE``) the twin runs instead, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
#: formats this reader loads: 1 (start/end scores), 2 (also the kind of answer a window holds:
#: span / YES / NO / null, ``qa train-reader``'s ``kind_logits``)
FORMATS = (1, 2)
KINDS = ("span", "yes", "no", "null")
#: the most tokens of a question, and of a question and its context together
MAX_QUESTION = 64
MAX_LENGTH = 256
#: the longest answer, in tokens
MAX_ANSWER = 40
#: windows read in one model call are padded to the longest: the questions waiting to be read
#: go in calls of questions whose longest windows are about as long (at most this many times
#: the shortest of the call's); a question's own windows stay in one call, so one question
#: alone is read as before (docs/performance.md)
PAD_RATIO = 1.15
#: the least cosine of an int8 model's start and end scores to its fp32 twin's on this CPU
INT8_MIN_COSINE = 0.99
#: what the int8 check reads: general questions and texts, one longer than the window
CHECK_PAIRS = (
    ("长江全长多少公里?", "长江全长约6300公里,是亚洲第一长河,流经11个省级行政区,最终注入东海。"),
    ("合同约定的违约金是多少?", "乙方逾期支付租金超过15日的,应按月租金的20%向甲方支付违约金。"),
    ("这款手机的电池容量是多少", "该机搭载5000mAh电池,支持67W有线快充,30分钟可充至80%。"),
    ("what year was it founded?", "The company was founded in 1998 in a garage in Menlo Park."),
    ("被告人何时被抓获?", "经审理查明:" + "被告人于2018年3月5日在其住处被公安机关抓获。" * 12),
)
log = logging.getLogger("qa")


@dataclass(frozen=True)
class Reading:
    """What the reader found in one context: the best span (character offsets into the
    context; (0, 0) when it has no token to offer) and its scores."""

    start: int
    end: int
    span_score: float
    null_score: float
    #: the probabilities of ``KINDS`` (span, yes, no, null) from a reader of format 2
    kinds: tuple[float, ...] | None = None

    @property
    def kind(self) -> str | None:
        """The likeliest kind of answer in the context (format 2), else None."""
        if self.kinds is None:
            return None
        return KINDS[max(range(len(self.kinds)), key=lambda i: self.kinds[i])]

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
    """The reader of one model folder, loaded once; ``read`` is safe to call from threads.
    ``cache``: where an int8 model's fp32 twin and check verdicts are kept (None: the int8
    model runs unchecked); ``fp32``: run the twin outright."""

    def __init__(self, folder: Path, threads: int = 0, cache: Path | None = None,
                 fp32: bool = False) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.meta: dict[str, Any] = json.loads((self.folder / "meta.json").read_text("utf-8"))
        if self.meta.get("format") not in FORMATS:
            raise ValueError(f"{self.folder}: reader format {self.meta.get('format')!r}, "
                             f"this qa reads {', '.join(map(str, FORMATS))}")
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.threads = threads
        model = self.folder / str(self.meta.get("model", "model.onnx"))
        self.session = self._session(model)
        #: the model file that runs, and the int8 check's cosine (None: not checked)
        self.model_file, self.check_cosine = model, None
        if "int8" in model.name and cache is not None:
            if fp32:
                self.model_file = fp32_twin(model, cache)
                self.session = self._session(self.model_file)
                log.info("reader: fp32 (QA_READER_QUANTIZE=none)")
            else:
                self._check_int8(model, cache)

    def _session(self, model: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def _check_int8(self, model: Path, cache: Path) -> None:
        """Run the fp32 twin instead of ``model`` when ``model`` strays from it on this CPU."""
        from qa.models.quantization import cpu_isa, verdict

        twin = fp32_twin(model, cache)
        fp32: list[Any] = []

        def measure() -> float:
            fp32.append(self._session(twin))
            return logits_cosine(self, self.session, fp32[0])

        ok, cosine = verdict(twin.parent, model, measure, INT8_MIN_COSINE)
        self.check_cosine = cosine
        if ok:
            log.info("reader: int8 on ONNX Runtime (%s; score cosine to fp32 %.4f)", cpu_isa(),
                     cosine)
            return
        log.warning("reader: the int8 model strays from fp32 on this CPU (%s: cosine %.4f < "
                    "%s); running fp32", cpu_isa(), cosine, INT8_MIN_COSINE)
        self.session = fp32[0] if fp32 else self._session(twin)
        self.model_file = twin

    def scores(self, session: Any, question: str, contexts: Sequence[str]
               ) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """The encodings of ``contexts`` with ``question`` and ``session``'s start and end
        scores of every token."""
        encs = self.encode(question, contexts)
        return encs, *self._run(session, encs)[:2]

    @staticmethod
    def _run(session: Any, encs: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encs):
            ids[row, : len(e.ids)] = e.ids
            types[row, : len(e.ids)] = e.type_ids
            mask[row, : len(e.ids)] = 1
        out = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                 "token_type_ids": types})
        kinds = None
        if len(out) > 2:  # format 2: softmax of the kind scores
            e = np.exp(out[2] - out[2].max(-1, keepdims=True))
            kinds = e / e.sum(-1, keepdims=True)
        return out[0], out[1], kinds

    def _run_by_length(self, encs: list[list[Any]]
                       ) -> tuple[list[Any], list[Any], list[Any] | None]:
        """``_run`` of the windows of several questions (``encs``: each question's) in calls
        of questions of about the same longest window (``PAD_RATIO``): each window's start
        and end scores (and kinds), in the order of the windows."""
        longest = [max(len(e.ids) for e in mine) for mine in encs]
        first = [0]  # the index of each question's first window among all windows
        for mine in encs:
            first.append(first[-1] + len(mine))
        groups: list[list[int]] = []
        for q in sorted(range(len(encs)), key=lambda q: longest[q]):
            if groups and longest[q] <= PAD_RATIO * longest[groups[-1][0]]:
                groups[-1].append(q)
            else:
                groups.append([q])
        n = first[-1]
        starts: list[Any] = [None] * n
        ends: list[Any] = [None] * n
        kinds: list[Any] | None = [None] * n
        for group in groups:
            rows = [i for q in sorted(group) for i in range(first[q], first[q + 1])]
            s, e, k = self._run(self.session, [e for q in sorted(group) for e in encs[q]])
            for row, i in enumerate(rows):
                starts[i], ends[i] = s[row], e[row]
                if k is None:
                    kinds = None
                elif kinds is not None:
                    kinds[i] = k[row]
        return starts, ends, kinds

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
        still read). Runs on the process's inference worker, in one model call with the
        windows of the other questions waiting to be read."""
        if not contexts:
            return []
        from qa.models import inference

        return inference.worker().batch(self._read_many, (question, list(contexts), focus))

    def _read_many(self, items: list[tuple[str, list[str], Any]]) -> list[list[Reading]]:
        """``read`` of several questions' contexts in one model call."""
        encs = [self.encode(question, contexts) for question, contexts, _ in items]
        starts, ends, kinds = self._run_by_length(encs)
        out, row = [], 0
        for (_, _, focus), mine in zip(items, encs, strict=True):
            out.append([self._reading(e, starts[row + i], ends[row + i],
                                      focus[i] if focus else (0, 1 << 30),
                                      None if kinds is None else kinds[row + i])
                        for i, e in enumerate(mine)])
            row += len(mine)
        return out

    @staticmethod
    def _reading(e: Any, starts: np.ndarray, ends: np.ndarray, focus: tuple[int, int],
                 kinds: np.ndarray | None = None) -> Reading:
        lo, hi = focus
        in_context = np.array([s == 1 and o[0] >= lo and o[1] <= hi for s, o in zip(
            e.sequence_ids, e.offsets, strict=True)] + [False] * (len(starts) - len(e.ids)))
        first, last, score = best_span(starts, ends, in_context)
        null = float(starts[0] + ends[0])
        k = None if kinds is None else tuple(round(float(x), 4) for x in kinds)
        if np.isfinite(score):
            return Reading(e.offsets[first][0], e.offsets[last][1], score, null, k)
        return Reading(0, 0, score, null, k)


def default_folder() -> Path:
    """The reader shipped with qa."""
    return Path(__file__).resolve().parent / "weights" / "reader"


def logits_cosine(reader: Reader, session: Any, reference: Any) -> float:
    """The least cosine, over ``CHECK_PAIRS`` and start and end, between ``session``'s token
    scores and ``reference``'s (each row's scores centred on its own mean first)."""
    least = 1.0
    for question, context in CHECK_PAIRS:
        encs, *got = reader.scores(session, question, [context])
        _, *want = reader.scores(reference, question, [context])
        n = len(encs[0].ids)
        for a, b in zip(got, want, strict=True):
            x, y = a[0, :n] - a[0, :n].mean(), b[0, :n] - b[0, :n].mean()
            least = min(least, float(x @ y / max(1e-12, np.linalg.norm(x) * np.linalg.norm(y))))
    return least


def fp32_twin(model: Path, cache: Path) -> Path:
    """The fp32 model that the int8 ``model`` approximates (``qa.models.quantization.dequantize``),
    made once in ``cache`` under the int8 file's content hash."""
    from qa.models.quantization import dequantize

    digest = hashlib.sha1(model.read_bytes()).hexdigest()[:12]
    folder = cache / f"reader-fp32-{digest}"
    target = folder / "model.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".model.", suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        dequantize(model, Path(name))
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
    return target
