"""One thread runs every model call of the process, so concurrent questions never fight over
the cores.

Questions asked from many threads at once (the app serves several visitors) wait in a queue;
the worker embeds all the questions waiting at that moment in one ``encode`` call (up to
``MAX_BATCH``) and hands each caller its own vector through a future. The reader's work is
batched the same way (``batch``): the windows of every question waiting to be read go through
the model in one call. Other model work, such as
a rebuild's batches of passages, is queued as single calls and runs between batches of
questions, so a build in the serving process delays a question by one batch at most and a
stream of questions never starves it. Each model
runs its own threads (``Settings.thread_count``), and only one model call runs at a time.

A call made from the worker thread itself runs at once (a model made of two models calls its
parts from there).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import numpy as np

#: the most questions embedded in one call
MAX_BATCH = 32
#: how many of the latest batch sizes a worker keeps (a server runs for weeks)
KEPT_BATCH_SIZES = 10_000
T = TypeVar("T")
#: a function of many items at once, returning one result per item (rows of an array, or a
#: list), such as an embedder's ``encode`` over questions
Batch = Callable[[list[Any]], Any]


class InferenceWorker:
    """A queue of items (batched per function) and of other calls, served by one daemon
    thread started on first use; batched items go first."""

    def __init__(self, max_batch: int = MAX_BATCH, kept: int = KEPT_BATCH_SIZES) -> None:
        self.max_batch = max_batch
        self._questions: deque[tuple[Batch, Any, Future[Any]]] = deque()
        self._calls: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._batched_last = False  # the last piece of work was a batch
        #: sizes of the latest ``kept`` batches run (for benchmarks and tests)
        self.batch_sizes: deque[int] = deque(maxlen=kept)

    def query(self, embed: Batch, text: str) -> np.ndarray:
        """``embed([text])[0]``, embedded together with the other questions waiting for the
        same ``embed``."""
        return self.batch(embed, text)  # type: ignore[no-any-return]

    def batch(self, fn: Batch, item: Any) -> Any:
        """``fn([item])[0]``, run in one call of ``fn`` with the other items waiting for the
        same ``fn``."""
        if self._on_worker():
            return fn([item])[0]
        future: Future[Any] = Future()
        with self._ready:
            self._start()
            self._questions.append((fn, item, future))
            self._ready.notify()
        return future.result()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, run on the worker when no question is waiting."""
        if self._on_worker():
            return fn(*args, **kwargs)
        future: Future[T] = Future()
        with self._ready:
            self._start()
            self._calls.append((lambda: fn(*args, **kwargs), future))
            self._ready.notify()
        return future.result()

    def waiting(self) -> int:
        """How many items and calls are queued, not yet taken by the worker."""
        with self._ready:
            return len(self._questions) + len(self._calls)

    def _on_worker(self) -> bool:
        return threading.current_thread() is self._thread

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="qa-inference",
                                            daemon=True)
            self._thread.start()

    def _next(self) -> tuple[Batch, list[tuple[Any, Future[Any]]]] | \
            tuple[None, tuple[Callable[[], Any], Future[Any]]]:
        """The next piece of work: every waiting item of the first one's function (up to
        ``max_batch``), else the oldest call; but a waiting call goes next after a batch, so
        that questions asked without pause (each now two batches: its embedding, then its
        reading) never starve a rebuild in the same process."""
        with self._ready:
            while not self._questions and not self._calls:
                self._ready.wait()
            if not self._questions or (self._calls and self._batched_last):
                self._batched_last = False
                return None, self._calls.popleft()
            self._batched_last = True
            embed = self._questions[0][0]
            batch, rest = [], deque()
            while self._questions and len(batch) < self.max_batch:
                item = self._questions.popleft()
                if item[0] == embed:
                    batch.append((item[1], item[2]))
                else:
                    rest.append(item)
            self._questions.extendleft(reversed(rest))
            return embed, batch

    def _serve(self) -> None:
        while True:
            embed, work = self._next()
            if embed is None:
                fn, future = work  # type: ignore[misc]
                _settle(future, fn)
                continue
            texts = [t for t, _ in work]  # type: ignore[union-attr]
            self.batch_sizes.append(len(texts))
            try:
                vectors = embed(texts)
            except BaseException as exc:  # every caller hears of it; the worker goes on
                for _, future in work:  # type: ignore[union-attr]
                    future.set_exception(exc)
                continue
            for row, (_, future) in enumerate(work):  # type: ignore[arg-type]
                future.set_result(vectors[row])


def _settle(future: Future[Any], fn: Callable[[], Any]) -> None:
    try:
        future.set_result(fn())
    except BaseException as exc:
        future.set_exception(exc)


_WORKER: InferenceWorker | None = None
_WORKER_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child has no worker thread: it starts its own on first use."""
    global _WORKER, _WORKER_LOCK
    _WORKER, _WORKER_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def worker() -> InferenceWorker:
    """The process's one inference worker."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = InferenceWorker()
        return _WORKER
