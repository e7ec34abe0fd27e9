"""ONNX Runtime copy of a sentence-transformers model: the same vectors, without torch at run time.

``export(st, folder)`` writes the model's transformer and its pooling as one ONNX graph
(``model.onnx``), its tokenizer (``tokenizer.json``) and ``meta.json``, then checks the copy
against the original on a fixed set of texts (Chinese, English, mixed, and one longer than the
model's window) and refuses it unless every cosine is at least ``MIN_COSINE``. ``OnnxEncoder``
loads such a folder with ``onnxruntime`` and ``tokenizers`` only, which import in a fraction of
a second where sentence-transformers and torch take about six, and encodes about 3x faster (a
question) and 2.4-3x faster (passages, sentences) on 2 CPU cores.
Only plain encoder models are exported: a ``Transformer`` followed by mean or CLS pooling and
optionally ``Normalize``. Anything else raises ``Unsupported``, and the caller keeps torch.

``quantize(folder)`` adds ``model.int8.onnx`` beside the export: its weights int8 per output
channel in 7 bits, its activations quantised at run time (``qa.models.quantization``: right on CPUs
with and without VNNI), about 3.5x faster than fp32. Run-time quantisation scales each matrix
product's input over the whole batch, so a text's int8 vector moves a little with the batch it
is in (cosine >= ``INT8_REPRODUCIBLE`` to itself embedded alone). ``int8_verdict`` says whether
the copy may run on this CPU: every cosine to the fp32 model on the check texts at least
``INT8_MIN_COSINE``, measured once per CPU kind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
MIN_COSINE = 0.9999
#: The int8 copy's least cosine to the fp32 model on ``CHECK_TEXTS`` on the CPU it runs on
INT8_MIN_COSINE = 0.99
#: How close an int8 vector stays to itself across batches (m3e-small: >= 0.99 measured)
INT8_REPRODUCIBLE = 0.97
FP32_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
#: Most padded tokens in one batch (see ``OnnxEncoder.encode``).
TOKEN_BUDGET = 512
#: ``progress(done, total)`` of an encode, in characters of the texts embedded
Progress = Callable[[int, int], None]
CHECK_TEXTS = (
    "微软宣布将向OpenAI投资10亿美元。",
    "why did microsoft invest in openai?",
    "ChatGPT 的周活跃用户超过1亿,GPU 算力由 Azure 提供;",
    "好",
    "二是云计算。" * 120,  # longer than a 512-token window: exercises truncation
)


class Unsupported(Exception):
    """The model is not a plain transformer + pooling stack that ``export`` can copy."""


def pooling_of(st: Any) -> str:
    """``"mean"`` or ``"cls"``: the pooling of a ``SentenceTransformer``, or ``Unsupported``."""
    names = [type(m).__name__ for m in st]
    if len(names) < 2 or names[0] != "Transformer" or names[1] != "Pooling" or any(
            n != "Normalize" for n in names[2:]):
        raise Unsupported(f"modules {names}: only Transformer, Pooling[, Normalize]")
    pool = st[1]
    mode = getattr(pool, "pooling_mode", None)
    if mode is None:  # sentence-transformers < 5 keeps one flag per mode
        names = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
        on = [names.get(f, f) for f, v in vars(pool).items()
              if f.startswith("pooling_mode_") and v is True]
        mode = on[0] if len(on) == 1 else repr(on)
    if isinstance(mode, list | tuple):
        mode = mode[0] if len(mode) == 1 else repr(mode)
    if mode not in ("mean", "cls"):
        raise Unsupported(f"pooling {mode!r}: only mean or cls")
    return str(mode)


def _write_onnx(st: Any, pooling: str, inputs: list[str], path: Path) -> None:
    """``torch.onnx.export`` of ``st``'s transformer followed by its pooling, with dynamic
    batch and sequence axes."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = st[0].auto_model.eval()

        def forward(self, *args: Any) -> Any:
            feed = dict(zip(inputs, args, strict=True))
            h = self.bert(**feed).last_hidden_state
            if pooling == "cls":
                return h[:, 0]
            m = feed["attention_mask"].unsqueeze(-1).to(h.dtype)
            return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)

    sample = st.tokenizer(["维度", "两个字"], padding=True, return_tensors="pt")
    axes = {n: {0: "batch", 1: "tokens"} for n in inputs}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Pooled(), tuple(sample[n] for n in inputs), str(path),
                          input_names=inputs, output_names=["embedding"],
                          dynamic_axes=axes | {"embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)


def export(st: Any, folder: Path) -> dict[str, Any]:
    """Write ``st`` as an ONNX model folder at ``folder`` (built beside it, checked, then
    renamed into place) and return its ``meta.json``. Raises ``Unsupported`` for a model it
    cannot copy, ``RuntimeError`` when the copy disagrees with the model, ``OSError`` when
    the folder cannot be written."""
    pooling = pooling_of(st)
    tokenizer = st.tokenizer
    if not hasattr(tokenizer, "backend_tokenizer"):
        raise Unsupported(f"tokenizer {type(tokenizer).__name__} has no fast (Rust) tokenizer")
    inputs = [n for n in tokenizer.model_input_names
              if n in ("input_ids", "attention_mask", "token_type_ids")]
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    work.chmod(0o755)
    try:
        _write_onnx(st, pooling, inputs, work / "model.onnx")
        (work / "tokenizer.json").write_text(tokenizer.backend_tokenizer.to_str(),
                                             encoding="utf-8")
        want = st.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True,
                         show_progress_bar=False)
        meta = {"format": FORMAT, "pooling": pooling, "inputs": inputs,
                "max_length": int(st.max_seq_length or 512), "dimension": int(want.shape[1]),
                "pad_id": int(tokenizer.pad_token_id or 0),
                "pad_token": str(tokenizer.pad_token or "[PAD]")}
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        cosine = float(np.min(np.sum(want * OnnxEncoder(work).encode(list(CHECK_TEXTS)), 1)))
        if not cosine >= MIN_COSINE:  # also refuses NaN
            raise RuntimeError(f"the ONNX copy disagrees with the model (cosine {cosine:.6f} "
                               f"< {MIN_COSINE})")
        meta["check_cosine"] = round(cosine, 7)
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            os.replace(work, folder)
        except OSError:  # another process published the same export first: keep theirs
            if not (folder / "meta.json").is_file():
                raise
        return meta
    finally:
        shutil.rmtree(work, ignore_errors=True)


def quantize(folder: Path) -> Path:
    """``folder``/``INT8_FILE``: the export's int8 copy by ``qa.models.quantization.RECIPE``, made
    once beside ``FP32_FILE`` (written aside, then renamed into place; a copy made by an older
    recipe, which saturated on CPUs without VNNI, is made again). Whether it may run on this
    CPU is ``int8_verdict``'s to say."""
    from qa.models.quantization import RECIPE, quantize_int8

    target = folder / INT8_FILE
    recipe_file = folder / "int8-recipe.txt"
    with contextlib.suppress(OSError):
        if target.is_file() and recipe_file.read_text(encoding="utf-8").strip() == RECIPE:
            return target
    fd, name = tempfile.mkstemp(prefix=f".{INT8_FILE}.", suffix=".onnx", dir=folder)
    os.close(fd)
    work = Path(name)
    try:
        quantize_int8(folder / FP32_FILE, work)
        work.chmod(0o644)
        os.replace(work, target)
        recipe_file.write_text(RECIPE + "\n", encoding="utf-8")
        return target
    finally:
        work.unlink(missing_ok=True)


def int8_cosine(folder: Path, model_file: str = INT8_FILE) -> float:
    """The least cosine between the int8 copy's vectors and the fp32 model's on
    ``CHECK_TEXTS``, on this CPU."""
    texts = list(CHECK_TEXTS)
    want = OnnxEncoder(folder).encode(texts)
    got = OnnxEncoder(folder, model_file=model_file).encode(texts)
    return float(np.min(np.sum(want * got, 1)))


def int8_verdict(folder: Path, model_file: str = INT8_FILE) -> tuple[bool, float]:
    """Whether the int8 copy stays within ``INT8_MIN_COSINE`` of fp32 on this CPU (measured
    once per CPU kind, ``qa.models.quantization.verdict``), and the least cosine measured."""
    from qa.models.quantization import verdict

    return verdict(folder, folder / model_file, lambda: int8_cosine(folder, model_file),
                   INT8_MIN_COSINE)


class OnnxEncoder:
    """Encode texts with an exported folder; the subset of ``SentenceTransformer`` that
    ``Embedder`` uses (``encode``, ``get_sentence_embedding_dimension``).

    ``threads``: ONNX Runtime's intra-op threads (0: its default, one per core);
    ``model_file``: ``FP32_FILE`` or ``INT8_FILE`` (see ``quantize``)."""

    def __init__(self, folder: Path, threads: int = 0, model_file: str = FP32_FILE) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: export format {self.meta.get('format')} != {FORMAT}")
        self.int8 = model_file != FP32_FILE
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(self.meta["max_length"]))
        self.tokenizer.no_padding()  # encode() pads each batch itself
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # idle threads sleep rather than spin: spinning ONNX Runtime threads took the cores
        # from the e5 engine's OpenMP threads, and the mixed default's question took 22 ms
        # instead of 11 (m3e alone: 2.5 -> 2.8 ms)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / model_file), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = list(self.meta["inputs"])

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.meta["dimension"])

    def _run(self, enc: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in enc)
        arrays = {n: np.zeros((len(enc), width), dtype=np.int64)
                  for n in ("input_ids", *self.inputs)}
        arrays["input_ids"].fill(int(self.meta["pad_id"]))
        for row, e in enumerate(enc):
            n = len(e.ids)
            arrays["input_ids"][row, :n] = e.ids
            if "attention_mask" in arrays:
                arrays["attention_mask"][row, :n] = 1
            if "token_type_ids" in arrays:
                arrays["token_type_ids"][row, :n] = e.type_ids
        feed = {n: arrays[n] for n in self.inputs}
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               normalize_embeddings: bool = True, progress: Progress | None = None,
               run: Callable[..., np.ndarray] | None = None, **_: Any) -> np.ndarray:
        """One float32 row per text. All texts are tokenized first and batched by length, at
        most ``batch_size`` rows and ``TOKEN_BUDGET`` padded tokens a batch, so that no batch
        is mostly padding: on 2 cores the article's sentences embed 2.2x faster, and its
        chunks 1.5x, than in fixed batches of 32. ``progress(done, total)`` counts characters
        of the texts embedded, after every batch; ``run(fn, batch)`` runs each batch (by
        default here: ``qa.models.inference`` passes its worker's)."""
        enc = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(enc), self.get_sentence_embedding_dimension()), dtype=np.float32)
        order = sorted(range(len(enc)), key=lambda i: -len(enc[i].ids))
        total, done = sum(len(t) for t in texts), 0
        start = 0
        while start < len(order):
            longest = len(enc[order[start]].ids)
            size = max(1, min(batch_size, TOKEN_BUDGET // max(1, longest)))
            rows = order[start : start + size]
            batch = [enc[i] for i in rows]
            out[rows] = run(self._run, batch) if run else self._run(batch)
            start += size
            if progress:
                done += sum(len(texts[i]) for i in rows)
                progress(done, total)
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
