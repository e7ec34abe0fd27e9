"""Embedding variants: m3e-small on ONNX Runtime (qa's default) beside torch fp32, torch int8
and ONNX Runtime int8: speed of query and build embedding, and the quality figures of ``qa eval``.

    .venv/bin/python bench/embedding_variants.py [--rounds 3]

Variants: ``torch fp32`` (sentence-transformers, ``QA_EMBED_BACKEND=torch``); ``torch int8``
(``QA_EMBED_QUANTIZE=int8``: ``quantize_dynamic`` of every ``nn.Linear``, weights int8,
activations quantised on the fly); ``onnxruntime fp32`` (qa's default: the export made by
qa/onnx_model.py, length-bucketed batches); ``onnxruntime int8`` (that export passed through
``onnxruntime.quantization.quantize_dynamic``, not offered by qa). sentence-transformers' own
``backend="onnx"`` needs ``optimum``, which would downgrade transformers (see RESULTS.md).

Speed is measured in rounds, each variant in turn, to spread the machine's load; quality is
``qa eval --split all`` (hit@1, hit@3, MRR, sent, found, abstain) on a temporary index built
with each variant, plus the cosine of each variant's vectors to torch fp32's.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import ARTICLE, footer, header, questions, table, tmpdir

from qa.config import M3E_MODEL, Settings, resolve_model
from qa.ingest.chunking import chunk_documents
from qa.ingest.corpus import read_corpus
from qa.models.embedding import Embedder, export_folder
from qa.models.onnx_model import OnnxEncoder
from qa.store.base import index_text


def ort_int8(settings: Settings, work: Path) -> OnnxEncoder:
    """qa's ONNX export with its weights dynamically quantised to int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = export_folder(settings.model_cache, resolve_model(settings.model))
    dst = work / "int8"
    shutil.copytree(src, dst)
    quantize_dynamic(str(src / "model.onnx"), str(dst / "model.onnx"),
                     weight_type=QuantType.QInt8)
    return OnnxEncoder(dst)


def variants(settings: Settings, work: Path) -> dict[str, Embedder]:
    onnx = Embedder(settings.with_(embed_backend="onnx"))
    onnx.model  # noqa: B018  # exports once if needed
    int8 = Embedder(settings.with_(embed_backend="onnx"))
    int8._model = ort_int8(settings, work)
    out = {"torch fp32": Embedder(settings.with_(embed_backend="torch")),
           "torch int8": Embedder(settings.with_(embed_quantize="int8")),
           "onnxruntime fp32 (default)": onnx, "onnxruntime int8": int8}
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
    from qa.eval.evaluate import DEFAULT_QUESTIONS, evaluate, load_questions, score
    from qa.service import QA
    from qa.store.embedded.builder import build_index

    s = settings.with_(index_dir=work / "index")
    build_index(s, embedder, full=True)
    engine = QA(s, embedder=embedder)
    sc = score(evaluate(lambda q, k, h: engine.ask(q, k=k, history=h),
                        load_questions(DEFAULT_QUESTIONS), s))
    return {"hit@1": sc.hit1, "hit@3": sc.hit3, "MRR": sc.mrr, "sent": sc.sentence,
            "found": sc.found, "abstain": sc.abstain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    header("embedding variants")
    settings = Settings.from_env().with_(model=M3E_MODEL, lowercase=True)
    qs = [r["question"] for r in questions()]
    chunks, sentences = texts_for_build()
    with tmpdir("variants") as work:
        t = time.perf_counter()
        embs = variants(settings, work)
        print(f"variants prepared in {time.perf_counter() - t:.1f} s\n")
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
                         f"{base['c'] / med['c']:.2f}x", f"{base['s'] / med['s']:.2f}x", f"{cos.min():.4f}",
                         f"{cos.mean():.4f}", f"{np.sum(alone * batched, axis=1).min():.4f}"])
            with tmpdir("variants-q") as qdir:
                qual.append([name, *(f"{v:.3f}" for v in quality(settings, emb, qdir).values())])
    print(f"speed: median of {args.rounds} rounds; query = one question per encode() call "
          f"(median over {len(qs)}); chunks = {len(chunks)} chunk texts of the 10x corpus; "
          f"sentences = {len(sentences)} article sentences")
    print(table(["variant", "query ms", "query speed-up", "chunk chars/s", "sentence chars/s",
                 "chunk speed-up", "sentence speed-up", "cos min", "cos mean", "batch cos min"], rows))
    print("(cos: to fp32's vectors of the same texts; batch cos: a question embedded alone vs in "
          "a batch with long passages, 1.0 when a vector does not depend on its batch)")
    print("\nquality: qa eval --split all on an index built with each variant")
    print(table(["variant", "hit@1", "hit@3", "MRR", "sent", "found", "abstain"], qual))
    print()
    footer()


if __name__ == "__main__":
    main()
