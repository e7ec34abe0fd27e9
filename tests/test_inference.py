"""The process's one inference worker, through its public calls: items waiting at the same
moment go through their function in one call, each caller gets its own result, questions go
before build work, a failure reaches the callers it concerns without stopping the worker, and
its statistics stay bounded. Small blocking functions stand in for the model; one test runs
the real embedder from many threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from qa.config import M3E_MODEL, Settings
from qa.models.embedding import Embedder
from qa.models.inference import InferenceWorker, worker

QUESTIONS = ["微软2019年向OpenAI投资了多少钱?", "ChatGPT每天的运行成本是多少?",
             "微软为什么要和OpenAI合作?", "OpenAI LP是哪一年设立的?", "微软的市值涨了多少?",
             "What did Microsoft invest in OpenAI?", "必应搜索接入了什么?", "好"]


def held(work: InferenceWorker) -> threading.Event:
    """Keep ``work``'s thread busy until the returned event is set."""
    release, busy = threading.Event(), threading.Event()

    def hold() -> None:
        busy.set()
        release.wait(timeout=60)

    threading.Thread(target=work.call, args=(hold,), daemon=True).start()
    assert busy.wait(timeout=60)
    return release


def until_waiting(work: InferenceWorker, count: int) -> None:
    """Wait until ``count`` items and calls are queued on ``work``."""
    deadline = time.monotonic() + 60
    while work.waiting() < count:
        assert time.monotonic() < deadline, f"{work.waiting()} queued, expected {count}"
        time.sleep(0.005)


def submit(pool: ThreadPoolExecutor, work: InferenceWorker, fn: Callable[..., Any],
           *args: Any) -> Future[Any]:
    """Run ``fn(*args)`` in the pool and wait until it is queued on the worker."""
    before = work.waiting()
    future = pool.submit(fn, *args)
    until_waiting(work, before + 1)
    return future


def upper(texts: list[str]) -> list[str]:
    return [t.upper() for t in texts]


def test_items_waiting_together_go_through_their_function_in_one_call() -> None:
    work, calls = InferenceWorker(), []

    def tagged(texts: list[str]) -> list[str]:
        calls.append(list(texts))
        return [f"<{t}>" for t in texts]

    release = held(work)
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        futures = [submit(pool, work, work.query, tagged, q) for q in QUESTIONS]
        release.set()
        results = [f.result(timeout=60) for f in futures]
    assert calls == [QUESTIONS] and list(work.batch_sizes) == [len(QUESTIONS)]
    assert results == [f"<{q}>" for q in QUESTIONS]  # each caller its own result


def test_a_batch_holds_at_most_max_batch_items() -> None:
    work = InferenceWorker(max_batch=3)
    release = held(work)
    with ThreadPoolExecutor(7) as pool:
        futures = [submit(pool, work, work.batch, upper, f"q{i}") for i in range(7)]
        release.set()
        assert [f.result(timeout=60) for f in futures] == [f"Q{i}" for i in range(7)]
    assert list(work.batch_sizes) == [3, 3, 1]


def test_questions_go_before_queued_build_work() -> None:
    work, order = InferenceWorker(), []
    release = held(work)

    def embed(texts: list[str]) -> list[str]:
        order.append("question")  # on the worker, as it runs
        return texts

    with ThreadPoolExecutor(2) as pool:
        build = submit(pool, work, work.call, order.append, "build batch")
        asked = submit(pool, work, work.query, embed, QUESTIONS[0])
        release.set()
        build.result(timeout=60)
        assert asked.result(timeout=60) == QUESTIONS[0]
    assert order == ["question", "build batch"]


def test_a_stream_of_questions_never_starves_build_work() -> None:
    """Questions of two kinds (as asking is now: an embedding, then a reading) waiting beside a
    build batch: the build batch runs after the first batch of questions, not after all."""
    work, order = InferenceWorker(), []
    release = held(work)

    def first(items: list[str]) -> list[str]:
        order.append("embed")
        return items

    def second(items: list[str]) -> list[str]:
        order.append("read")
        return items

    with ThreadPoolExecutor(3) as pool:
        futures = [submit(pool, work, work.batch, first, "q1"),
                   submit(pool, work, work.batch, second, "q1"),
                   submit(pool, work, work.call, order.append, "build batch")]
        release.set()
        for f in futures:
            f.result(timeout=60)
    assert order == ["embed", "build batch", "read"]


def test_a_failure_reaches_its_callers_and_the_worker_goes_on() -> None:
    work = InferenceWorker()

    def broken(texts: list[str]) -> list[str]:
        raise RuntimeError(f"model failed on {len(texts)} texts")

    with pytest.raises(RuntimeError, match="model failed on 1 texts"):
        work.query(broken, "问题")
    with pytest.raises(ZeroDivisionError):
        work.call(lambda: 1 / 0)
    assert work.query(upper, "abc") == "ABC"


def test_work_from_the_worker_thread_runs_at_once() -> None:
    work = InferenceWorker()
    nested = work.call(lambda: work.call(lambda: work.query(upper, "abc")))
    assert nested == "ABC" and list(work.batch_sizes) == []  # run in place, no deadlock


def test_statistics_stay_bounded_over_100000_batches() -> None:
    work = InferenceWorker(kept=1000)
    for i in range(100_000):
        assert work.batch(upper, f"q{i}") == f"Q{i}"
    assert len(work.batch_sizes) == 1000 and set(work.batch_sizes) == {1}
    assert work.waiting() == 0


@pytest.mark.slow
def test_embedder_questions_from_many_threads_get_their_own_vectors() -> None:
    m3e = Embedder(Settings.from_env().with_(model=M3E_MODEL, embed_quantize="none"))
    with ThreadPoolExecutor(16) as pool:
        vectors = list(pool.map(m3e.encode_query, QUESTIONS * 4))
    for question, vector in zip(QUESTIONS * 4, vectors, strict=True):
        assert float(vector @ m3e.encode_queries([question])[0]) > 0.99999
    assert worker().batch_sizes and sum(worker().batch_sizes) >= len(QUESTIONS) * 4
