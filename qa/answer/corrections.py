"""Corrections remembered per knowledge base: a later question that is the same as a corrected
one, or a close paraphrase of it, gets the corrected answer, marked "已按反馈更正" with its date.

Where corrections come from (all in the base's ``corpus/.qa/``):

- ``feedback.jsonl`` (the chat's 👎 and ``POST …/feedback``): a 👎 with ``better_span`` (that
  sentence answers) or ``not_in_documents`` (the documents do not answer it); the latest line
  on a question wins.
- ``faq.jsonl``: FAQ pairs, one JSON object a line, ``{"问题": …, "答案": …}`` (or
  ``question``/``answer``). An answer found word for word in the base's passages is cited
  there (a span of the corpus); any other answer is a text of its own, shown as such.

``corrections.json`` keeps, for each correction, the text its span cited when it was first
seen, and the corrections deleted (over REST) or dropped: when a rebuild changes the text at a
correction's span, the correction is dropped, with a log line, and stays dropped.

A question matches a correction when ``similarity`` (the cosine of their embeddings plus
``LEXICAL_WEIGHT`` times the Jaccard overlap of their character bigrams) reaches the fitted
threshold (``QA_CORRECTION_THRESHOLD``; ``bench/corrections.py`` fits and measures it). A
question less close, down to ``QA_CORRECTION_SAME_ANSWER``, gets the correction only when its
own answer is the one the 👎 was given on (``Correction.answered``): asked the same way wrongly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import NotFound
from qa.ingest import text as textmod
from qa.ingest.chunking import Chunk
from qa.store.base import Store

log = logging.getLogger("qa.corrections")
FEEDBACK = Path(".qa") / "feedback.jsonl"
FAQ = Path(".qa") / "faq.jsonl"
STATE = Path(".qa") / "corrections.json"
#: the weight of the character-bigram overlap in ``similarity`` (bench/corrections.py)
LEXICAL_WEIGHT = 0.5
#: the marker of a corrected answer
MARK = "已按反馈更正"
FAQ_KEYS = (("问题", "答案"), ("question", "answer"))


@dataclass(frozen=True)
class Correction:
    """One remembered correction: ``kind`` "span" (the answer is ``text``, at ``source``
    ``start``–``end``), "unanswerable" (the documents do not answer it) or "text" (an FAQ
    answer of its own, ``text``)."""

    id: str
    question: str
    kind: str
    origin: str  # "feedback" or "faq"
    date: str  # YYYY-MM-DD
    source: str | None = None
    start: int | None = None
    end: int | None = None
    text: str = ""
    status: str = "live"  # "live", "deleted", or why it was dropped
    #: the answer the 👎 was given on (source, start, end), if it named one
    answered: tuple[str, int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def span(self) -> tuple[str, int, int] | None:
        if self.source is None or self.start is None or self.end is None:
            return None
        return self.source, self.start, self.end


@dataclass
class Match:
    """The corrected question closest to a question: ``sure`` when their similarity reaches
    the threshold, else it applies only if the question's own answer is ``answered``."""

    correction: Correction
    score: float
    sure: bool = True


def correction_id(origin: str, question: str) -> str:
    return hashlib.sha1(f"{origin}\0{question}".encode()).hexdigest()[:12]


def _bigrams(text: str) -> set[str]:
    return set(textmod.bigrams(text))


def similarity(cosine: float, a: set[str], b: set[str]) -> float:
    """How close two questions are: cosine of their vectors + ``LEXICAL_WEIGHT`` x the
    Jaccard overlap of their character bigrams ``a`` and ``b``."""
    overlap = len(a & b) / len(a | b) if a or b else 0.0
    return cosine + LEXICAL_WEIGHT * overlap


def _lines(path: Path) -> Iterable[dict[str, Any]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    for line in raw.splitlines():
        try:
            row = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(row, dict):
            yield row


def from_feedback(path: Path) -> list[Correction]:
    """The corrections of a feedback file: 👎 with a better sentence or "not in the
    documents"; the latest line on a question wins (a later 👍 or bare 👎 leaves it)."""
    latest: dict[str, Correction] = {}
    for row in _lines(path):
        question = str(row.get("question", "")).strip()
        span = row.get("better_span")
        if not question or row.get("verdict") != "down":
            continue
        day = str(row.get("time", ""))[:10]
        ident = correction_id("feedback", question)
        answered = _span(row.get("answer_span"))
        if row.get("not_in_documents"):
            latest[question] = Correction(ident, question, "unanswerable", "feedback", day,
                                          answered=answered)
        elif (better := _span(span)) is not None:
            latest[question] = Correction(ident, question, "span", "feedback", day, *better,
                                          answered=answered)
    return list(latest.values())


def _span(value: object) -> tuple[str, int, int] | None:
    """``[source, start, end]`` as a tuple, if it is one."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) \
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value[1:]) \
            and 0 <= value[1] < value[2]:
        return value[0], value[1], value[2]
    return None


def faq_pairs(rows: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) of FAQ rows (问题/答案 or question/answer; others skipped)."""
    out = []
    for row in rows:
        for q, a in FAQ_KEYS:
            if isinstance(row.get(q), str) and isinstance(row.get(a), str) \
                    and row[q].strip() and row[a].strip():
                out.append((row[q].strip(), row[a].strip()))
                break
    return out


def locate(answer: str, chunks: list[Chunk]) -> tuple[str, int, int] | None:
    """Where ``answer`` occurs word for word in a passage of the base, if it does."""
    for c in chunks:
        at = c.text.find(answer)
        if at >= 0:
            return c.source, c.start + at, c.start + at + len(answer)
    return None


def text_at(chunks_of: dict[str, list[Chunk]], source: str, start: int, end: int) -> str | None:
    """The base's text at ``source`` ``start``–``end`` as its index holds it (None: no such
    file, or the span is not inside one passage)."""
    for c in chunks_of.get(source, []):
        if c.start <= start and end <= c.end:
            return c.text[start - c.start : end - c.start]
    return None


@dataclass
class Corrections:
    """The corrections of one knowledge base (its ``corpus_dir``), re-read when their files
    change and checked against each new index generation."""

    corpus_dir: Path
    threshold: float
    #: the lower similarity at which a question answered as the corrected one was gets it
    same_answer: float = math.inf
    _stamp: tuple[Any, ...] = ()
    _live: list[Correction] = field(default_factory=list)
    _all: list[Correction] = field(default_factory=list)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _files_stamp(self, generation: str) -> tuple[Any, ...]:
        stats = []
        for rel in (FEEDBACK, FAQ, STATE):
            try:
                st = os.stat(self.corpus_dir / rel)
                stats.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stats.append(None)
        return (generation, *stats)

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.corpus_dir / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"seen": {}, "gone": {}}
        return data if isinstance(data, dict) else {"seen": {}, "gone": {}}

    def _save(self, state: dict[str, Any]) -> None:
        """Write ``corrections.json`` (a read-only corpus: logged, kept in memory only)."""
        path = self.corpus_dir / STATE
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)

    def live(self, store: Store) -> list[Correction]:
        """The corrections in force over ``store`` (cheap when nothing changed)."""
        stamp = self._files_stamp(store.generation)
        if stamp == self._stamp:
            return self._live
        with self._lock:
            if stamp != self._stamp:
                self._all = self._check(store)
                self._live = [c for c in self._all if c.status == "live"]
                self._stamp = self._files_stamp(store.generation)
        return self._live

    def listing(self, store: Store) -> list[Correction]:
        """Every correction, the deleted and dropped ones with their status."""
        self.live(store)
        return list(self._all)

    def _check(self, store: Store) -> list[Correction]:
        """Read every correction, resolve FAQ answers, and drop those whose cited text
        changed since it was first seen (logged, and recorded in ``corrections.json``)."""
        if not any((self.corpus_dir / rel).is_file() for rel in (FEEDBACK, FAQ)):
            return []  # nothing to remember: the corpus is not read
        chunks_of: dict[str, list[Chunk]] = {}
        for c in store.records():
            chunks_of.setdefault(c.source, []).append(c)
        state = self.state()
        seen, gone = state.setdefault("seen", {}), state.setdefault("gone", {})
        found = from_feedback(self.corpus_dir / FEEDBACK)
        for question, answer in dict(faq_pairs(_lines(self.corpus_dir / FAQ))).items():
            where = locate(answer, store.records())
            ident = correction_id("faq", question)
            day = seen.get(ident, {}).get("date", "") if isinstance(seen.get(ident), dict) else ""
            found.append(Correction(ident, question, "span" if where else "text", "faq",
                                    day or _today(), *(where or (None, None, None)),
                                    text=answer))
        out, changed = [], False
        for c in found:
            if c.id in gone:
                out.append(_with(c, status=str(gone[c.id])))
                continue
            if c.kind == "span" and c.origin == "feedback":
                now = text_at(chunks_of, *c.span) if c.span else None
                first = seen.get(c.id, {}).get("text") if isinstance(seen.get(c.id), dict) \
                    else None
                if first is None and now is not None:
                    seen[c.id] = {"text": now, "date": c.date}
                    first, changed = now, True
                if now is None or now != first:
                    why = f"dropped: the cited text of {c.source} changed in {store.generation}"
                    log.warning("correction %s (%r) %s", c.id, c.question, why)
                    gone[c.id], changed = why, True
                    out.append(_with(c, status=why, text=first or ""))
                    continue
                c = _with(c, text=now)
            elif c.origin == "faq" and c.id not in seen:
                seen[c.id], changed = {"date": c.date}, True
            out.append(c)
        if changed:
            self._save(state)
        return out

    def delete(self, ident: str, store: Store) -> Correction:
        """Delete a correction (``NotFound`` when there is none of that id)."""
        known = {c.id: c for c in self.listing(store)}
        if ident not in known or known[ident].status != "live":
            raise NotFound(f"no correction {ident!r} in force")
        with self._lock:
            state = self.state()
            state.setdefault("gone", {})[ident] = "deleted"
            self._save(state)
            self._stamp = ()
        return known[ident]

    def match(self, question: str, store: Store, encode: Callable[[str], np.ndarray],
              admits: Callable[[Correction], bool] = lambda c: True) -> Match | None:
        """The correction ``question`` is the same as or a close paraphrase of, if any."""
        if math.isinf(self.threshold):  # turned off (qa eval --feedback)
            return None
        live = [c for c in self.live(store) if admits(c)]
        if not live:
            return None
        exact = next((c for c in live if c.question == question), None)
        if exact is not None:
            return Match(exact, 2.0)
        vector = encode(question)
        words = _bigrams(question)
        best = max(live, key=lambda c: self.score(c, vector, words, encode))
        score = self.score(best, vector, words, encode)
        if score >= self.threshold:
            return Match(best, score)
        if score >= self.same_answer and best.answered is not None:
            return Match(best, score, sure=False)
        return None

    def score(self, c: Correction, vector: np.ndarray, words: set[str],
              encode: Callable[[str], np.ndarray]) -> float:
        if c.question not in self._vectors:
            self._vectors[c.question] = encode(c.question)
        return similarity(float(self._vectors[c.question] @ vector), words,
                          _bigrams(c.question))


def _with(c: Correction, **changes: Any) -> Correction:
    from dataclasses import replace

    return replace(c, **changes)


def _today() -> str:
    import datetime as dt

    return dt.date.today().isoformat()
