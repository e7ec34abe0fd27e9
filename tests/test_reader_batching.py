"""The reader's cross-question batches (``Reader._run_by_length``): questions of about the same
longest window share a model call, each question's windows stay in one call, and every window
gets its own scores back in order."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from qa.models import reader as R


def test_calls_group_questions_by_length_and_keep_the_order(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[list[int]] = []

    def run(session, encs):  # type: ignore[no-untyped-def]
        calls.append([e.tag for e in encs])
        width = max(len(e.ids) for e in encs)
        starts = np.array([[e.tag] * width for e in encs], dtype=float)
        return starts, -starts, None

    monkeypatch.setattr(R.Reader, "_run", staticmethod(run))
    reader = R.Reader.__new__(R.Reader)
    reader.session = None
    lengths = [[40, 100], [30], [200, 210], [98, 60, 20], [205]]
    encs, tag = [], 0
    for mine in lengths:
        encs.append([])
        for n in mine:
            encs[-1].append(SimpleNamespace(ids=[0] * n, tag=tag))
            tag += 1
    starts, ends, kinds = reader._run_by_length(encs)
    assert [int(s[0]) for s in starts] == list(range(tag)) and kinds is None
    assert [int(-e[0]) for e in ends] == list(range(tag))
    # question 1 (longest 30) alone; 3 and 0 (98, 100) together; 4 and 2 (205, 210) together
    assert sorted(calls) == [[0, 1, 5, 6, 7], [2], [3, 4, 8]]
    assert len(starts[2]) == 30  # padded only to its own call's longest


def test_one_question_is_read_in_one_call(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    monkeypatch.setattr(R.Reader, "_run", staticmethod(
        lambda session, encs: (calls.append(len(encs)),
                               np.zeros((len(encs), 8)), np.zeros((len(encs), 8)), None)[1:]))
    reader = R.Reader.__new__(R.Reader)
    reader.session = None
    reader._run_by_length([[SimpleNamespace(ids=[0] * n) for n in (10, 200, 60)]])
    assert calls == [3]
