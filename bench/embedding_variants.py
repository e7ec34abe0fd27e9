"""Faster embedding? m3e-small in torch fp32 (qa's default) beside dynamic int8 quantization
and ONNX Runtime: speed of query and build embedding, and the quality figures of ``qa eval``.

    .venv/bin/python bench/embedding_variants.py [--ort-path DIR] [--rounds 3]

Variants: ``torch fp32`` (qa's default); ``torch int8`` (``QA_EMBED_QUANTIZE=int8`` in
qa/embedding.py: ``quantize_dynamic`` of every ``nn.Linear``, weights int8, activations
quantised on the fly); and, when ``onnxruntime`` can be imported (from the venv or from
``--ort-path``, a folder made with ``pip install --target DIR onnxruntime onnx`` so the venv
is left alone), ``onnxruntime fp32`` and ``onnxruntime int8``: the BertModel + mean pooling
exported with ``torch.onnx.export``. sentence-transformers' own ``backend="onnx"`` needs
``optimum``, which would downgrade transformers (see RESULTS.md).

Speed is measured in rounds, each variant in turn, to spread the machine's load; quality is
``qa eval --split all`` (hit@1, hit@3, MRR, sent, found, abstain) on a temporary index built
with each variant, plus the cosine of each variant's vectors to fp32's.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import ARTICLE, footer, header, questions, table, tmpdir

from qa.chunking import chunk_documents
from qa.config import Settings
from qa.corpus import read_corpus
from qa.embedding import Embedder
from qa.index import index_text


def int8_settings(settings: Settings) -> Settings:
    """``settings`` with ``embed_quantize="int8"`` (qa/embedding.py's int8 path), also before
    qa/config.py has that field."""
    try:
        return settings.with_(embed_quantize="int8")
    except TypeError:
        copy = settings.with_()
        object.__setattr__(copy, "embed_quantize", "int8")
        return copy


class OrtModel:
    """The part of ``SentenceTransformer`` that ``Embedder`` uses, on ONNX Runtime."""

    def __init__(self, st: Any, folder: Path, int8: bool) -> None:
        import onnxruntime as ort
        import torch

        self.tokenizer, self.max_len = st.tokenizer, int(st.max_seq_length or 512)
        self.dim = getattr(st, "get_embedding_dimension",
                           st.get_sentence_embedding_dimension)()
        bert = st[0].auto_model

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, ids: Any, mask: Any, types: Any) -> Any:
                h = self.bert(input_ids=ids, attention_mask=mask,
                              token_type_ids=types).last_hidden_state
                m = mask.unsqueeze(-1).to(h.dtype)
                return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)

        path = folder / "m3e.onnx"
        sample = self.tokenizer(["维度", "两个"], padding=True, return_tensors="pt")
        axes = {"b": 0, "s": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pooled().eval(), (sample["input_ids"], sample["attention_mask"],
                                                sample["token_type_ids"]), str(path),
                              input_names=["ids", "mask", "types"], output_names=["emb"],
                              dynamic_axes={n: {v: k for k, v in axes.items()}
                                            for n in ("ids", "mask", "types")} | {"emb": {0: "b"}},
                              opset_version=17, dynamo=False)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(path), str(folder / "m3e-int8.onnx"),
                             weight_type=QuantType.QInt8)
            path = folder / "m3e-int8.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.dim)

    def encode(self, texts: Sequence[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            rows = order[i : i + batch_size]
            enc = self.tokenizer([texts[j] for j in rows], padding=True, truncation=True,
                                 max_length=self.max_len, return_tensors="np")
            feed = {"ids": enc["input_ids"].astype(np.int64),
                    "mask": enc["attention_mask"].astype(np.int64),
                    "types": enc["token_type_ids"].astype(np.int64)}
            out[rows] = self.session.run(None, feed)[0]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def variants(settings: Settings, work: Path, ort_ok: bool) -> dict[str, Embedder]:
    base = Embedder(settings)
    out = {"torch fp32": base, "torch int8": Embedder(int8_settings(settings))}
    if ort_ok:
        for name, int8 in (("onnxruntime fp32", False), ("onnxruntime int8", True)):
            emb = Embedder(settings)
            emb._model = OrtModel(base.model, work, int8)
            out[name] = emb
    for emb in out.values():
        emb.encode(["预热"])
    return out


def texts_for_build() -> tuple[list[str], list[str]]:
    """Chunk texts of the article repeated 10x (scaling.py's corpus) and the sentences."""
    from scaling import make_corpus

    with tmpdir("variants-corpus") as folder:
        make_corpus(folder, 10)
        chunks = chunk_documents(read_corpus(folder).documents, 500, 50)
    text = ARTICLE.read_text(encoding="utf-8")
    doc_chunks = chunk_documents(read_corpus(ARTICLE.parent).documents, 500, 50)
    sentences = [text[s:e] for c in doc_chunks for s, e in c.sentences]
    return [index_text(c) for c in chunks], sentences * 4


def clock(fn: Callable[[], Any]) -> float:
    s = time.perf_counter()
    fn()
    return time.perf_counter() - s


def quality(settings: Settings, embedder: Embedder, work: Path) -> dict[str, float]:
    from qa.builder import build_index
    from qa.evaluate import DEFAULT_QUESTIONS, evaluate, load_questions, score
    from qa.service import QA

    s = settings.with_(index_dir=work / "index")
    build_index(s, embedder, full=True)
    engine = QA(s, embedder=embedder)
    sc = score(evaluate(lambda q, k, h: engine.ask(q, k=k, history=h),
                        load_questions(DEFAULT_QUESTIONS), s))
    return {"hit@1": sc.hit1, "hit@3": sc.hit3, "MRR": sc.mrr, "sent": sc.sentence,
            "found": sc.found, "abstain": sc.abstain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ort-path", default="/tmp/qa-ort",
                    help="extra folder holding onnxruntime (appended to sys.path)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    if Path(args.ort_path).is_dir():
        sys.path.append(args.ort_path)  # last: the venv's numpy etc. win
    try:
        import onnxruntime  # noqa: F401

        ort_ok = True
    except ImportError:
        ort_ok = False
    header("embedding variants")
    settings = Settings.from_env()
    qs = [r["question"] for r in questions()]
    chunks, sentences = texts_for_build()
    with tmpdir("variants") as work:
        t = time.perf_counter()
        embs = variants(settings, work, ort_ok)
        print(f"variants prepared in {time.perf_counter() - t:.1f} s "
              f"(onnxruntime {'available' if ort_ok else 'not installed: skipped'})\n")
        speed: dict[str, dict[str, list[float]]] = {n: {"q": [], "c": [], "s": []} for n in embs}
        for _ in range(args.rounds):
            for name, emb in embs.items():
                emb.encode(qs[:5])
                speed[name]["q"].append(statistics.median(
                    clock(lambda q=q, e=emb: e.encode([q])) for q in qs))
                speed[name]["c"].append(clock(lambda e=emb: e.encode(chunks)))
                speed[name]["s"].append(clock(lambda e=emb: e.encode(sentences)))
        ref = {k: embs["torch fp32"].encode(v) for k, v in
               (("q", qs), ("c", chunks), ("s", sentences))}
        rows, qual = [], []
        base = {k: statistics.median(v) for k, v in speed["torch fp32"].items()}
        for name, emb in embs.items():
            med = {k: statistics.median(v) for k, v in speed[name].items()}
            cos = np.concatenate([np.sum(emb.encode(v) * ref[k], axis=1) for k, v in
                                  (("q", qs), ("c", chunks), ("s", sentences))])
            alone = np.vstack([emb.encode([q]) for q in qs[:40]])
            batched = emb.encode(qs[:40] + chunks[:24])[:40]  # beside long texts, as in builds
            rows.append([name, f"{1000 * med['q']:.1f}", f"{base['q'] / med['q']:.2f}x",
                         f"{sum(map(len, chunks)) / med['c']:,.0f}",
                         f"{sum(map(len, sentences)) / med['s']:,.0f}",
                         f"{base['c'] / med['c']:.2f}x", f"{cos.min():.4f}",
                         f"{cos.mean():.4f}", f"{np.sum(alone * batched, axis=1).min():.4f}"])
            with tmpdir("variants-q") as qdir:
                qual.append([name, *(f"{v:.3f}" for v in quality(settings, emb, qdir).values())])
    print(f"speed: median of {args.rounds} rounds; query = one question per encode() call "
          f"(median over {len(qs)}); chunks = {len(chunks)} chunk texts of the 10x corpus; "
          f"sentences = {len(sentences)} article sentences")
    print(table(["variant", "query ms", "query speed-up", "chunk chars/s", "sentence chars/s",
                 "build speed-up", "cos min", "cos mean", "batch cos min"], rows))
    print("(cos: to fp32's vectors of the same texts; batch cos: a question embedded alone vs in "
          "a batch with long passages, 1.0 when a vector does not depend on its batch)")
    print("\nquality: qa eval --split all on an index built with each variant")
    print(table(["variant", "hit@1", "hit@3", "MRR", "sent", "found", "abstain"], qual))
    print()
    footer()


if __name__ == "__main__":
    main()
