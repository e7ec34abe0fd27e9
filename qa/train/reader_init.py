"""Start ``qa train-reader`` from a reader that shipped as ONNX only (``--init FOLDER``).

The shipped reader is an int8 file; its fp32 twin (``qa.models.reader.fp32_twin``: weights
dequantised) names every MatMul after the torch module it was exported from
("/qa/bert/encoder/layer.0/attention/self/query/MatMul…"), keeps biases and LayerNorms under
their torch names ("qa.bert.…") and the embeddings as int8 tables with a scale and zero point.
``reader_weights`` turns that back into a ``BertModel`` state dict and the span head's
weights, so a new reader (with the kind head) can continue from the old one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

_MATMUL = re.compile(r"^/qa/(bert/encoder/layer\.\d+/[\w/]+?|qa_outputs)/MatMul")


def _dequantised(inits: dict[str, np.ndarray], name: str) -> np.ndarray:
    q = inits[f"{name}_quantized"].astype(np.float32)
    scale, zero = inits[f"{name}_scale"], inits[f"{name}_zero_point"].astype(np.float32)
    if scale.ndim == 1 and scale.size > 1:  # per row
        return (q - zero[:, None]) * scale[:, None]
    return (q - zero) * scale


def reader_weights(onnx_model: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(encoder state dict, span head state dict) of an fp32 reader exported by
    ``qa train-reader`` (first format)."""
    import onnx
    import torch
    from onnx import numpy_helper

    m = onnx.load(str(onnx_model))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    encoder: dict[str, Any] = {}
    head: dict[str, Any] = {}
    for name, value in inits.items():
        if name.startswith("qa.bert.") and not re.search(r"_(quantized|scale|zero_point)$",
                                                         name):
            encoder[name.removeprefix("qa.bert.")] = torch.from_numpy(value.copy())
    for table in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        key = f"qa.bert.embeddings.{table}.weight"
        encoder[f"embeddings.{table}.weight"] = torch.from_numpy(_dequantised(inits, key))
    for node in m.graph.node:
        match = _MATMUL.match(node.name)
        if node.op_type != "MatMul" or not match or node.input[1] not in inits:
            continue
        weight = torch.from_numpy(inits[node.input[1]].T.copy())
        path = match.group(1)
        if path == "qa_outputs":
            head["weight"] = weight
        else:
            encoder[path.removeprefix("bert/").replace("/", ".") + ".weight"] = weight
    head["bias"] = torch.from_numpy(inits["qa.qa_outputs.bias"].copy())
    return encoder, head


def init_from_reader(net: Any, folder: Path, cache: Path) -> None:
    """Load ``folder``'s reader into ``net`` (its encoder and span head; the kind head stays
    fresh)."""
    import json

    from qa.models.reader import fp32_twin

    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    model = folder / str(meta.get("model", "model.onnx"))
    twin = fp32_twin(model, cache) if "int8" in model.name else model
    encoder, head = reader_weights(twin)
    missing, unexpected = net.encoder.load_state_dict(encoder, strict=False)
    if unexpected or [k for k in missing if "position_ids" not in k]:
        raise ValueError(f"{folder}: reader weights do not fit the base "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    net.span.load_state_dict(head)
