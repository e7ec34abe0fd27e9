"""int8 on the CPU this runs on: the recipe's copies stay close to fp32, each model checks its
int8 file at load against its fp32 twin, and one that strays runs fp32 and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from qa.config import M3E_MODEL, Settings, resolve_model
from qa.models import onnx_model, reader
from qa.models.embedding import Embedder, export_folder
from qa.models.quantization import CHECKS_FILE, RECIPE, cpu_isa, dequantize, runtime_key

pytestmark = pytest.mark.slow
QUESTION = "长江全长多少公里?"
CONTEXTS = ["长江全长约6300公里,是亚洲第一长河。", "黄河全长约5464公里,是中国第二长河。"]


def test_cpu_isa_names_the_kernels_the_cpu_picks() -> None:
    assert cpu_isa() in {"amx", "avx512-vnni", "avx-vnni", "avx512", "avx2"} or \
        not Path("/proc/cpuinfo").is_file()
    assert runtime_key().startswith(cpu_isa() + "/onnxruntime-")


def test_embedder_int8_verdict_is_measured_once_per_cpu_kind(tmp_path: Path) -> None:
    settings = Settings.from_env().with_(model=M3E_MODEL, lowercase=True, embed_quantize="int8",
                                         model_cache=tmp_path)
    e = Embedder(settings)
    vector = e.encode(["长江有多长?"])
    folder = export_folder(tmp_path, resolve_model(M3E_MODEL))
    assert (folder / "int8-recipe.txt").read_text().strip() == RECIPE
    checks = (folder / CHECKS_FILE).read_text()
    assert runtime_key() in checks and e.model.int8
    ok, cosine = onnx_model.int8_verdict(folder)
    assert ok and cosine >= onnx_model.INT8_MIN_COSINE
    assert (folder / CHECKS_FILE).read_text() == checks  # kept, not measured again
    fp32 = Embedder(settings.with_(embed_quantize="none")).encode(["长江有多长?"])
    assert float(vector[0] @ fp32[0]) >= onnx_model.INT8_MIN_COSINE


def test_embedder_int8_that_strays_runs_fp32_with_a_warning(tmp_path: Path, monkeypatch,
                                                           caplog) -> None:
    settings = Settings.from_env().with_(model=M3E_MODEL, lowercase=True, embed_quantize="int8",
                                         model_cache=tmp_path)
    monkeypatch.setattr(onnx_model, "INT8_MIN_COSINE", 1.01)  # no int8 copy reaches it
    with caplog.at_level(logging.INFO, logger="qa"):
        e = Embedder(settings)
        e.encode(["长江有多长?"])
    assert not e.model.int8
    assert any("strays" in r.message and cpu_isa() in r.message and "fp32" in r.message
               for r in caplog.records)


def test_reader_int8_checked_against_its_fp32_twin(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="qa"):
        r = reader.Reader(reader.default_folder(), cache=tmp_path)
    assert r.model_file.name == "model.int8.onnx"
    assert r.check_cosine is not None and r.check_cosine >= reader.INT8_MIN_COSINE
    assert any("reader: int8" in m and cpu_isa() in m for m in caplog.messages)
    twin = next(tmp_path.glob("reader-fp32-*/model.onnx"))
    fp32 = r._session(twin)
    measured = reader.logits_cosine(r, r.session, fp32)
    assert measured >= reader.INT8_MIN_COSINE, f"reader int8 strays on {cpu_isa()}: {measured}"
    # the same answer span under both on a plain question
    int8_span = r.read(QUESTION, CONTEXTS)[0]
    r.session = fp32
    fp32_span = r.read(QUESTION, CONTEXTS)[0]
    assert CONTEXTS[0][int8_span.start:int8_span.end] == CONTEXTS[0][fp32_span.start:fp32_span.end]
    assert "6300" in CONTEXTS[0][int8_span.start:int8_span.end]


def test_reader_int8_that_strays_runs_its_fp32_twin(tmp_path: Path, monkeypatch,
                                                    caplog) -> None:
    monkeypatch.setattr(reader, "INT8_MIN_COSINE", 1.01)
    with caplog.at_level(logging.INFO, logger="qa"):
        r = reader.Reader(reader.default_folder(), cache=tmp_path)
    assert r.model_file.name == "model.onnx" and r.model_file.parent.parent == tmp_path
    assert any("strays" in m and "running fp32" in m for m in caplog.messages)
    span = r.read(QUESTION, CONTEXTS)[0]
    assert "6300" in CONTEXTS[0][span.start:span.end]


def test_dequantize_gives_the_function_the_int8_model_approximates(tmp_path: Path) -> None:
    src = reader.default_folder() / "model.int8.onnx"
    dequantize(src, tmp_path / "fp32.onnx")
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "fp32.onnx")).graph.node}
    assert "MatMulInteger" not in ops and "DynamicQuantizeLinear" not in ops
    r = reader.Reader(reader.default_folder())
    fp32 = r._session(tmp_path / "fp32.onnx")
    assert reader.logits_cosine(r, r.session, fp32) >= reader.INT8_MIN_COSINE
    _, starts, _ = r.scores(fp32, QUESTION, CONTEXTS)
    assert np.isfinite(starts).all()
