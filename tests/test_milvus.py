"""The index in Milvus (``QA_STORE``), against a real Milvus Lite: one server for the session
(``milvus-lite server`` in a child process, reached as ``milvus://127.0.0.1:PORT``, the way a
cluster is), each test under its own collection prefix; and ``milvus-lite:PATH.db`` through the
command line. The same questions are asked of the embedded store with the same model, and must
score the same."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import CORPUS, make_settings, qa_env

from qa.config import PROJECT_ROOT, Settings
from qa.eval.evaluate import evaluate, load_questions, score
from qa.service import QA
from qa.store.base import StoreUnavailable

pytest.importorskip("pymilvus", reason="the milvus extra is not installed (pip install '.[milvus]')")
pytest.importorskip("milvus_lite", reason="the milvus extra is not installed (pip install '.[milvus]')")

pytestmark = pytest.mark.slow
MODEL = "m3e-small"  # the fast model: both stores get the same one
CMRC = PROJECT_ROOT.parent / "shared" / "datasets" / "cmrc2018_trial.json"
QUESTIONS = PROJECT_ROOT / "tests" / "data" / "questions.jsonl"
NEW_FILE = "新文件\n\n量子计算公司Q-Lab于2022年发布了代号为“青鸾”的处理器。该处理器有75%的良率。\n"


@pytest.fixture(scope="module")
def small_embedder():
    from qa.models.embedding import Embedder

    e = Embedder(Settings().with_(model=MODEL))
    e.encode(["预热"])
    return e


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory) -> str:
    """A Milvus Lite server in a child process for the whole session: milvus://127.0.0.1:PORT."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path_factory.mktemp("milvus-server")
    log = (data / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir",
                               str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"milvus-lite server did not start: {(data / 'server.log').read_text()}")
            time.sleep(0.2)
    yield f"milvus://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)
    log.close()


def settings_for(root: Path, store: str = "embedded", **changes: object) -> Settings:
    """Settings for ``root``'s corpus with the fast model, no reader, a prefix of its own."""
    return make_settings(root, model=MODEL, reader="none", store=store,
                         milvus_prefix=f"t{uuid.uuid4().hex[:12]}", **changes)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path


def test_tokens_survive_the_standard_analyzer() -> None:
    """Every token reaches BM25 whole, whatever punctuation or script it has."""
    from milvus_lite.analyzer import create_analyzer

    from qa.store.milvus.store import safe_token, token_text

    analyzer = create_analyzer({"tokenizer": "standard"})
    tokens = ["gpt-3", "75%", "1.5", "微软", "OpenAI", "openai", "c++"]
    assert analyzer.tokenize(token_text(tokens)) == [safe_token(t) for t in tokens]
    assert len({safe_token(t) for t in tokens}) == len(tokens)  # case and punctuation kept


def test_seed_questions_score_as_embedded(corpus_copy: Path, milvus_uri: str,
                                          small_embedder) -> None:
    rows = load_questions(QUESTIONS)
    scored, texts, engines = {}, {}, {}
    for store in ("embedded", milvus_uri):
        engine = QA(settings_for(corpus_copy, store), embedder=small_embedder)
        engine.build()
        answers: list[str] = []

        def ask(q: str, k: int, h: list[str], e: QA = engine, out: list[str] = answers):
            a = e.ask(q, k=k, history=h)
            out.append(a.text)
            return a

        scored[store] = score(evaluate(ask, rows, engine.settings))
        texts[store], engines[store] = answers, engine
    ours, theirs = scored["embedded"], scored[milvus_uri]
    assert abs(ours.hit1 - theirs.hit1) <= 0.01 and abs(ours.sentence - theirs.sentence) <= 0.01
    same = sum(a == b for a, b in zip(texts["embedded"], texts[milvus_uri], strict=True))
    assert same >= 0.99 * len(rows)
    # BM25 on the server ranks as bm25s does: same chunks, same scores
    embedded, milvus = (engines[s].index for s in ("embedded", milvus_uri))
    from qa.ingest import text as textmod

    for question in ("微软2019年向OpenAI投资了多少钱?", "GPT-4的发布时间", "75%的股份"):
        for field in ("words", "bigrams", "sentences"):
            tokens = textmod.words(question) if field == "words" else textmod.bigrams(question)
            a, b = embedded.lexical(field, tokens, 10), milvus.lexical(field, tokens, 10)
            assert [i for i, _ in a] == [i for i, _ in b], (question, field)
            assert [round(s, 3) for _, s in a] == [round(s, 3) for _, s in b]


def test_cmrc_articles_score_as_embedded(tmp_path: Path, milvus_uri: str,
                                         small_embedder) -> None:
    if not CMRC.is_file():
        pytest.skip(f"{CMRC} is not here (the shared datasets)")
    from qa.eval.squad import choose, load_squad, write_corpus
    from qa.eval.squad_eval import run, scores

    articles = choose(load_squad(CMRC), "all", 20)
    write_corpus(articles, tmp_path / "corpus")
    questions = [(q, True) for a in articles for q in a.questions]
    results = {}
    for store in ("embedded", milvus_uri):
        engine = QA(settings_for(tmp_path, store), embedder=small_embedder)
        engine.build()
        results[store] = run(lambda q, k, h, e=engine: e.ask(q, k=k, history=h), questions)
    ours, theirs = scores(results["embedded"]), scores(results[milvus_uri])
    assert ours["n"] == theirs["n"] > 50
    for column in ("hit@1", "sent"):
        assert abs(ours[column] - theirs[column]) <= 0.01, (column, ours, theirs)
    same = sum(a.answer.text == b.answer.text
               for a, b in zip(results["embedded"], results[milvus_uri], strict=True))
    assert same >= 0.99 * len(questions)


def test_hnsw_above_the_ann_threshold(corpus_copy: Path, milvus_uri: str,
                                      small_embedder) -> None:
    """Above QA_ANN_THRESHOLD records the dense indexes are HNSW, and on a small corpus they
    find what exact search finds."""
    exact = QA(settings_for(corpus_copy, "embedded"), embedder=small_embedder)
    exact.build()
    engine = QA(settings_for(corpus_copy, milvus_uri, ann_threshold=5), embedder=small_embedder)
    engine.build()
    assert engine.index.manifest["dense_index"] == {"chunks": "HNSW", "sentences": "HNSW"}
    for question in ("微软2019年向OpenAI投资了多少钱?", "ChatGPT的用户数"):
        vector = small_embedder.encode_query(question)
        assert [i for i, _ in engine.index.dense(vector, 5)] == \
            [i for i, _ in exact.index.dense(vector, 5)]
        assert [k for k, _ in engine.index.dense_sentences(vector, 10)] == \
            [k for k, _ in exact.index.dense_sentences(vector, 10)]


def sources_of(engine: QA) -> set[str]:
    return {c.source for c in engine.index.records()}


def test_add_edit_delete_files(corpus_copy: Path, milvus_uri: str, small_embedder) -> None:
    engine = QA(settings_for(corpus_copy, milvus_uri), embedder=small_embedder)
    first = engine.build()
    assert first.embedded == first.chunks > 0 and first.generation.endswith("-a")
    corpus = corpus_copy / "corpus"

    (corpus / "new.txt").write_text(NEW_FILE, encoding="utf-8")
    added = engine.build()
    assert added.added == ["new.txt"] and added.embedded == 1  # the new file's one chunk
    assert added.chunks == first.chunks + 1 and added.generation.endswith("-b")
    assert sources_of(engine) == {"microsoft-openai.txt", "new.txt"}
    top = engine.passages("青鸾处理器是哪一年发布的?", k=1)[0]
    assert top.source == "new.txt" and "2022年" in top.text

    (corpus / "new.txt").write_text(NEW_FILE.replace("2022年", "2024年"), encoding="utf-8")
    changed = engine.build()
    assert changed.changed == ["new.txt"] and changed.embedded == 1 and changed.kept
    assert changed.generation.endswith("-a")  # set a brought up to date incrementally
    texts = [c.text for c in engine.index.records() if c.source == "new.txt"]
    assert len(texts) == 1 and "2024年" in texts[0] and "2022年" not in texts[0]

    (corpus / "new.txt").unlink()
    removed = engine.build()
    assert removed.removed == ["new.txt"] and removed.embedded == 0
    assert sources_of(engine) == {"microsoft-openai.txt"} and len(engine.index) == first.chunks
    assert engine.build().up_to_date


def test_a_failed_build_leaves_the_served_generation(corpus_copy: Path, milvus_uri: str,
                                                     small_embedder, monkeypatch) -> None:
    import qa.store.milvus.build as milvus_build

    engine = QA(settings_for(corpus_copy, milvus_uri), embedder=small_embedder)
    before = engine.build().generation
    answer = engine.ask("微软2019年向OpenAI投资了多少钱?")
    (corpus_copy / "corpus" / "new.txt").write_text(NEW_FILE, encoding="utf-8")
    real_insert = milvus_build._insert

    def insert_then_fail(backend, collection, rows, say, done, total):  # type: ignore[no-untyped-def]
        real_insert(backend, collection, rows[:1], say, done, total)
        raise RuntimeError("the network went away")

    monkeypatch.setattr(milvus_build, "_insert", insert_then_fail)
    with pytest.raises(RuntimeError, match="network"):
        engine.build()
    fresh = QA(engine.settings, embedder=small_embedder)
    assert fresh.store.current_name() == before
    assert "new.txt" not in fresh.store.load().files()  # served as it was
    monkeypatch.undo()
    assert engine.ask("微软2019年向OpenAI投资了多少钱?").text == answer.text
    report = engine.build()  # the half-written set is refilled
    assert report.generation != before and "new.txt" in engine.index.files()
    assert len(engine.index) == report.chunks == len(engine.index.records())


KILLER = """
import os, signal, sys
from qa.service import QA
def progress(stage, done, total):
    if stage == sys.argv[1] and done > 0:
        os.kill(os.getpid(), signal.SIGKILL)
QA().build(progress=progress)
"""


@pytest.mark.parametrize("stage", ["embedding", "writing to Milvus"])
def test_a_killed_build_leaves_the_served_generation(corpus_copy: Path, milvus_uri: str,
                                                     small_embedder, stage: str) -> None:
    settings = settings_for(corpus_copy, milvus_uri)
    engine = QA(settings, embedder=small_embedder)
    before = engine.build().generation
    (corpus_copy / "corpus" / "new.txt").write_text(NEW_FILE, encoding="utf-8")
    env = qa_env(corpus_copy) | {"QA_STORE": milvus_uri, "QA_EMBED_MODEL": MODEL,
                                 "QA_READER": "none", "QA_MILVUS_PREFIX": settings.milvus_prefix}
    child = subprocess.run([sys.executable, "-c", KILLER, stage], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=600)
    assert child.returncode == -9, child.stderr
    assert engine.store.current_name() == before
    assert "new.txt" not in engine.store.load().files()
    report = engine.build()
    assert report.added == ["new.txt"] and engine.index.generation == report.generation
    assert "new.txt" in {c.source for c in engine.index.records()}


def test_another_process_generation_is_picked_up(corpus_copy: Path, milvus_uri: str,
                                                 small_embedder) -> None:
    settings = settings_for(corpus_copy, milvus_uri)
    builder, reader = (QA(settings, embedder=small_embedder) for _ in range(2))
    builder.build()
    first = reader.ask("微软2019年向OpenAI投资了多少钱?").generation
    (corpus_copy / "corpus" / "new.txt").write_text(NEW_FILE, encoding="utf-8")
    second = builder.build().generation
    answer = reader.ask("青鸾处理器是哪一年发布的?")
    assert answer.generation == second != first
    assert answer.passages[0].source == "new.txt"
    assert reader.store.current_name() == second  # picked up, not rebuilt by the reader


def test_records_too_large_for_milvus_are_refused(corpus_copy: Path, milvus_uri: str,
                                                  small_embedder) -> None:
    from qa.store.milvus.store import RecordTooLarge

    settings = settings_for(corpus_copy, milvus_uri, chunk_size=30_000)
    engine = QA(settings, embedder=small_embedder)
    before = engine.build().generation
    long = "。".join(f"第{i}句话讲的是一件很长很长的事情" for i in range(1_800)) + "。\n"
    (corpus_copy / "corpus" / "long.txt").write_text(long, encoding="utf-8")
    with pytest.raises(RecordTooLarge, match=r"long\.txt.*65,535.*QA_CHUNK_SIZE"):
        engine.build()
    assert engine.store.current_name() == before


def test_an_unreachable_milvus_is_named(tmp_path: Path, corpus_copy: Path) -> None:
    uri = "milvus://127.0.0.1:1"
    engine = QA(settings_for(corpus_copy, uri))
    with pytest.raises(StoreUnavailable, match=uri):
        engine.ask("微软2019年向OpenAI投资了多少钱?")
    with pytest.raises(StoreUnavailable, match=uri):
        engine.build()
    assert not list((corpus_copy / "index").glob("gen-*"))
    env = qa_env(corpus_copy) | {"QA_STORE": uri, "QA_EMBED_MODEL": MODEL, "QA_READER": "none"}
    for argv in (["ask", "微软投资了多少钱?"], ["build"], ["search", "微软", "--lexical"]):
        done = subprocess.run([sys.executable, "-m", "qa", *argv], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1 and uri in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_a_tls_url_opens_and_an_unreachable_host_is_named(corpus_copy: Path) -> None:
    """``milvus+https://`` (Zilliz Cloud, docs/milvus.md) reaches the Milvus backend: a host
    that does not answer is ``StoreUnavailable`` naming it, not a refused setting."""
    uri = "milvus+https://127.0.0.1:1"
    engine = QA(settings_for(corpus_copy, uri))
    assert engine.store.describe().startswith(uri)
    with pytest.raises(StoreUnavailable, match=uri.replace("+", r"\+")):
        engine.ask("微软2019年向OpenAI投资了多少钱?")


def test_documents_show_the_milvus_generation(corpus_copy: Path, small_embedder) -> None:
    """``/v1/documents`` (``Library.index_info``) under milvus-lite reads the Milvus manifest:
    its generation, and every corpus file indexed."""
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api

    db = corpus_copy / "docs.db"
    engine = QA(settings_for(corpus_copy, f"milvus-lite:{db}"), embedder=small_embedder)
    engine.build()
    body = TestClient(create_api(engine)).get("/v1/documents").json()
    assert body["generation"] == engine.store.current_name() and body["generation"].endswith("-a")
    assert {d["status"] for d in body["documents"]} == {"indexed"}
    assert not (corpus_copy / "index").exists() or not list((corpus_copy / "index").glob("gen-*"))


def test_the_command_line_on_milvus_lite(corpus_copy: Path) -> None:
    """``qa build``, ``qa ask`` and ``qa eval`` with QA_STORE=milvus-lite:PATH.db."""
    db = corpus_copy / "milvus.db"
    env = qa_env(corpus_copy) | {"QA_STORE": f"milvus-lite:{db}", "QA_EMBED_MODEL": MODEL,
                                 "QA_READER": "none"}

    def qa(*argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "qa", *argv], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "full build (no index yet)" in qa("build")
    answer = json.loads(qa("ask", "微软2019年向OpenAI投资了多少钱?", "--json"))
    assert answer["generation"].endswith("-a")
    assert answer["passages"][0]["source"] == "microsoft-openai.txt"
    questions = corpus_copy / "questions.jsonl"
    questions.write_text("\n".join(QUESTIONS.read_text(encoding="utf-8").splitlines()[:5]) + "\n",
                         encoding="utf-8")
    assert "qa (hybrid)" in qa("eval", "--questions", str(questions))
    assert db.is_dir() and not list((corpus_copy / "index").glob("gen-*"))
    assert os.path.exists(f"{db}.lock")
