"""The process's one inference worker: questions waiting at the same moment are embedded in one
call, each caller gets its own vector, questions go before build work, and a failure reaches
the callers it concerns without stopping the worker. Real model (m3e-small on ONNX Runtime)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa.config import M3E_MODEL, Settings
from qa.models.embedding import Embedder
from qa.models.inference import InferenceWorker, worker

QUESTIONS = ["微软2019年向OpenAI投资了多少钱?", "ChatGPT每天的运行成本是多少?",
             "微软为什么要和OpenAI合作?", "OpenAI LP是哪一年设立的?", "微软的市值涨了多少?",
             "What did Microsoft invest in OpenAI?", "必应搜索接入了什么?", "好"]


@pytest.fixture(scope="module")
def m3e() -> Embedder:
    e = Embedder(Settings.from_env().with_(model=M3E_MODEL, embed_quantize="none"))
    e.encode(["预热"])
    return e


def held(work: InferenceWorker) -> threading.Event:
    """Keep ``work``'s thread busy until the returned event is set."""
    release, busy = threading.Event(), threading.Event()

    def hold() -> None:
        busy.set()
        release.wait(timeout=60)

    threading.Thread(target=work.call, args=(hold,), daemon=True).start()
    assert busy.wait(timeout=60)
    return release


def test_questions_waiting_together_are_embedded_in_one_call(m3e: Embedder) -> None:
    work = InferenceWorker()
    release = held(work)
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        futures = [pool.submit(work.query, m3e.encode_queries, q) for q in QUESTIONS]
        while sum(1 for _ in work._questions) < len(QUESTIONS):  # all queued behind the hold
            threading.Event().wait(0.01)
        release.set()
        vectors = [f.result(timeout=60) for f in futures]
    assert work.batch_sizes == [len(QUESTIONS)]
    for question, vector in zip(QUESTIONS, vectors, strict=True):  # each its own vector
        alone = m3e.encode_queries([question])[0]
        assert vector.shape == (512,) and float(vector @ alone) > 0.99999


def test_questions_go_before_queued_build_work(m3e: Embedder) -> None:
    work = InferenceWorker()
    release, order = held(work), []

    def embed(texts: list[str]) -> np.ndarray:
        order.append("question")  # on the worker, as it runs
        return m3e.encode_queries(texts)

    build = threading.Thread(target=work.call, args=(order.append, "build batch"))
    build.start()
    while not work._calls:
        threading.Event().wait(0.01)
    answers: list[np.ndarray] = []
    asker = threading.Thread(target=lambda: answers.append(work.query(embed, QUESTIONS[0])))
    asker.start()
    while not work._questions:
        threading.Event().wait(0.01)
    release.set()
    build.join(timeout=60)
    asker.join(timeout=60)
    assert order == ["question", "build batch"] and answers[0].shape == (512,)


def test_a_stream_of_questions_never_starves_build_work() -> None:
    """Questions of two kinds (as asking is now: an embedding, then a reading) waiting beside a
    build batch: the build batch runs after the first batch of questions, not after all."""
    work = InferenceWorker()
    release, order = held(work), []

    def first(items: list[str]) -> list[str]:
        order.append("embed")
        return items

    def second(items: list[str]) -> list[str]:
        order.append("read")
        return items

    threads = [threading.Thread(target=work.batch, args=(first, "q1")),
               threading.Thread(target=work.batch, args=(second, "q1")),
               threading.Thread(target=work.call, args=(order.append, "build batch"))]
    for t in threads:
        t.start()
        while t.is_alive() and len(work._questions) + len(work._calls) < threads.index(t) + 1:
            threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(timeout=60)
    assert order == ["embed", "build batch", "read"]


def test_a_failure_reaches_its_callers_and_the_worker_goes_on(m3e: Embedder) -> None:
    work = InferenceWorker()

    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError(f"model failed on {len(texts)} texts")

    with pytest.raises(RuntimeError, match="model failed on 1 texts"):
        work.query(broken, "问题")
    with pytest.raises(ZeroDivisionError):
        work.call(lambda: 1 / 0)
    assert work.query(m3e.encode_queries, QUESTIONS[0]).shape == (512,)


def test_work_from_the_worker_thread_runs_at_once(m3e: Embedder) -> None:
    work = InferenceWorker()
    nested = work.call(lambda: work.call(lambda: work.query(m3e.encode_queries, "问题")))
    assert nested.shape == (512,) and work.batch_sizes == []  # run in place, no deadlock


def test_embedder_questions_from_many_threads_get_their_own_vectors(m3e: Embedder) -> None:
    with ThreadPoolExecutor(16) as pool:
        vectors = list(pool.map(m3e.encode_query, QUESTIONS * 4))
    for question, vector in zip(QUESTIONS * 4, vectors, strict=True):
        assert float(vector @ m3e.encode_queries([question])[0]) > 0.99999
    assert worker().batch_sizes and sum(worker().batch_sizes) >= len(QUESTIONS) * 4
