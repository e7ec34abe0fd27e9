"""``QA``: the long-lived object behind ``qa.ask``, the CLI and the app.

It loads the index lazily once and keeps it in memory. Before each question it checks, cheaply,
whether the index is still the right one: another process may have published a new generation
(``CURRENT`` moved: reload it), or the corpus may have changed since the build (file sizes or
times moved and the content hashes differ from the manifest: rebuild, and log it). A missing,
corrupt or mismatched index is rebuilt too. Each answer is computed from one ``Store`` object,
so a rebuild running alongside never mixes generations into one answer.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from qa.answer import rankers as rankersmod
from qa.answer.answerer import Answer, Answerer, Passage, make_passages
from qa.answer.corrected import corrected_answer
from qa.answer.corrections import Correction, Corrections, Match
from qa.config import DEFAULT_KB, Settings, UnknownKb, cos_range
from qa.errors import BadInput
from qa.ingest import periods
from qa.ingest import text as textmod
from qa.ingest.corpus import file_hashes, stat_signature
from qa.models.embedding import Embedder
from qa.search.bilingual import bridge
from qa.search.filters import Where, filtered
from qa.search.followup import in_context, search_context
from qa.search.glossary import CORPUS_GLOSSARY, Glossary
from qa.search.retrieve import Hit, Query, Weights, make_query, search
from qa.store.base import (
    BuildBusy,
    BuildReport,
    CorpusEmpty,
    IndexProblem,
    Progress,
    Store,
    spot_check,
)
from qa.store.factory import open_backend

log = logging.getLogger("qa")
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
MAX_K = 20


def clean_question(question: object, limit: int) -> str:
    """The question without control characters or lone surrogates, stripped.

    Raises ``BadInput`` naming the problem: not a string, empty, or over ``limit`` characters.
    """
    if not isinstance(question, str):
        raise BadInput(f"question must be a string, not {type(question).__name__}")
    text = _UNSAFE.sub(" ", question).strip()
    if not text:
        raise BadInput("question is empty")
    if len(text) > limit:
        raise BadInput(f"question is {len(text):,} characters; the limit is {limit:,} "
                         "(QA_MAX_QUESTION_CHARS)")
    return text


def check_k(k: object) -> None:
    """Raise ``BadInput`` unless ``k`` is a whole number of passages from 1 to ``MAX_K``."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise BadInput(f"k must be an integer from 1 to {MAX_K}, not {k!r}")


class QA:
    """Questions in, cited ``Answer``s out, over the index of one corpus folder."""

    def __init__(self, settings: Settings | None = None, weights: Weights = Weights(),
                 embedder: Embedder | None = None, reader: Any = None) -> None:
        """``embedder`` and ``reader``: models already loaded (by another engine) to share;
        by default each is made from ``settings`` (the reader on first use)."""
        self.settings = settings or Settings.from_env()
        self.weights = weights
        self.embedder = embedder or Embedder(self.settings)
        self.store = open_backend(self.settings)  # where the index lives (QA_STORE)
        self._knowledge: tuple[tuple[int, ...], Glossary, rankersmod.Rankers] | None = None
        self._reader: Any = reader
        self._index: Store | None = None
        self._signature: dict[str, tuple[int, int]] | None = None
        self._lock = threading.RLock()  # guards _index and _signature
        self._loading = threading.Lock()  # one thread loads or rebuilds at a time
        #: the corpus changed while another build held the lock: build at the next question
        self._stale = False
        #: the base's remembered corrections (``qa.answer.corrections``)
        self.corrections = Corrections(self.settings.corpus_dir,
                                       self.settings.correction_threshold,
                                       self.settings.correction_same_answer)

    @classmethod
    def for_kb(cls, name: str, settings: Settings | None = None,
               embedder: Embedder | None = None) -> QA:
        """The engine of knowledge base ``name`` (``settings``: the default base's, from the
        environment unless given); ``BadKbName`` for a name that is no plain folder name,
        ``UnknownKb`` when there is no such base."""
        mine = (settings or Settings.from_env()).for_kb(name)
        if name != DEFAULT_KB and not mine.corpus_dir.is_dir():
            raise UnknownKb(f"no knowledge base {name!r} (in {mine.kb_root})")
        return cls(mine, embedder=embedder)

    def _mine(self, passages: list[Passage]) -> list[Passage]:
        return [replace(p, kb=self.settings.kb) for p in passages]

    # -- lifecycle -----------------------------------------------------------------------

    def build(self, full: bool = False, progress: Progress | None = None,
              wait: bool = True) -> BuildReport:
        """Rebuild the index from the corpus (incrementally unless ``full``) and serve it;
        questions asked meanwhile are answered from the index already in memory, and the new
        one is swapped in once it is published and loaded."""
        signature = stat_signature(self.settings.corpus_dir)
        report = self.store.build(self.embedder, progress, wait=wait, full=full)
        log.info("index built: %s", report.summary().replace("\n", "; "))
        index = report.index if report.index is not None \
            and report.generation == self.store.current_name() else self.store.load()
        index.ready()  # its BM25 indexes, made here rather than by the next question
        with self._lock:
            self._index = index
            self._signature = signature if index.generation == report.generation else None
            self._stale = False
        log.info("serving index generation %s (%d chunks)", index.generation, len(index))
        return report

    @property
    def serving(self) -> Store | None:
        """The index in memory as it is (no checks, no rebuild); None before the first load."""
        return self._index

    @property
    def index(self) -> Store:
        """The current index, loaded, rebuilt or refreshed as needed."""
        return self.refresh()

    def refresh(self) -> Store:
        """Return the index to answer from, after making sure it is current: cheap when nothing
        moved (one read of ``CURRENT``, a ``stat`` of the corpus files); a generation published
        by another process is loaded, a missing, corrupt or mismatched index is rebuilt (and
        logged), a changed corpus is rebuilt incrementally, and while one thread loads or
        rebuilds the others keep answering from the index in memory, if there is one."""
        current = self._index
        if current is None or self.store.current_name() != current.generation:
            current = self._load_or_build(current)
        if self._stale or self._corpus_changed(current):
            if not self._stale:
                log.warning("corpus in %s changed since the index was built: rebuilding",
                            self.settings.corpus_dir)
            try:
                self.build(wait=False)
            except BuildBusy:  # answer from the index in memory; try again next question
                if not self._stale:
                    log.info("another build is running: answering from %s meanwhile",
                             current.generation)
                self._stale = True
            except CorpusEmpty as exc:
                log.error("%s", exc)
            current = self._index or current
        return current

    def _load_or_build(self, serving: Store | None) -> Store:
        """Load (and spot-check) the generation ``CURRENT`` names, or make a full build if it
        cannot be used; one thread does the work, and with an index already serving the others
        do not wait for it."""
        if not self._loading.acquire(blocking=serving is None):
            return serving  # type: ignore[return-value]  # another thread is loading
        try:
            current = self._index
            if current is not None and self.store.current_name() == current.generation:
                return current  # loaded by another thread meanwhile
            try:
                index = self.store.load()
                spot_check(index, self.embedder.encode,
                           min_cosine=self.embedder.spot_check_cosine)
                index.ready()
            except IndexProblem as exc:
                log.warning("%s: rebuilding the index", exc)
                try:  # full: the damaged generation must not be trusted as a cache
                    self.build(full=True)
                except CorpusEmpty as empty:
                    if current is None:
                        raise
                    log.error("%s", empty)
                    return current
                assert self._index is not None
                return self._index
            with self._lock:
                self._index, self._signature = index, None
            log.info("serving index generation %s (%d chunks)", index.generation, len(index))
            return index
        finally:
            self._loading.release()

    def _corpus_changed(self, index: Store) -> bool:
        """Whether the corpus differs from what ``index`` was built from (by content hash,
        checked only when a file's size or time moved; each change is reported once)."""
        signature = stat_signature(self.settings.corpus_dir)
        with self._lock:
            if signature == self._signature:
                return False
            self._signature = signature
        return file_hashes(self.settings.corpus_dir, self.settings.max_file_bytes) \
            != index.files()

    # -- questions -----------------------------------------------------------------------

    def ask(self, question: str, k: int = 3, history: Sequence[str] | None = None,
            where: Where | dict[str, Any] | None = None) -> Answer:
        """Answer ``question`` with at most ``k`` cited passages, best first.

        ``history`` is the user's earlier questions, oldest first; a follow-up that leans on
        them ("那2021年呢?") is read in their context. ``where`` restricts it to some documents
        (``qa.search.filters``). Raises ``ValueError`` for an empty or over-long question, a
        bad ``k`` or filter, or a filter no document passes (``NoDocumentMatches``).
        """
        text = clean_question(question, self.settings.max_question_chars)
        check_k(k)
        where = Where.parse(where)
        earlier = [clean_question(h, self.settings.max_question_chars)
                   for h in (history or []) if isinstance(h, str) and h.strip()]
        served = self.refresh()
        index = filtered(served, where, self.settings.kb)
        match = None if earlier else self._correction(text, served, index)
        if match is not None and match.sure:
            return self._corrected(text, k, index, match)
        context = search_context(text, earlier)
        answer = self._answer(index, text, k, context)
        if earlier and not context and not answer.found:  # it may lean on them after all
            other = self._answer(index, text, k, in_context(text, earlier))
            if other.confidence > answer.confidence:
                answer = other
        if match is not None and answer.span == match.correction.answered:
            return self._corrected(text, k, index, match)  # asked as wrongly as the corrected
        return replace(answer, kb=self.settings.kb, passages=self._mine(answer.passages))

    def _correction(self, text: str, served: Store, index: Store) -> Match | None:
        """The correction ``text`` is close to, if any (over ``index``, the served index or
        its filtered view: a correction citing outside the filter does not apply)."""
        sources = getattr(index, "sources", None)

        def admits(c: Correction) -> bool:
            return sources is None or (c.kind == "span" and c.source in sources)

        return self.corrections.match(text, served, self.embedder.encode_query, admits)

    def _corrected(self, text: str, k: int, index: Store, match: Match) -> Answer:
        """The answer ``match``'s correction gives, over ``text``'s own search hits."""
        log.info("correction %s answers %r (similarity %.3f%s)", match.correction.id, text,
                 match.score, "" if match.sure else ", the same answer as the corrected")
        answer = corrected_answer(text, match, index, self.search(index, text, k)[1],
                                  self.weights)
        return replace(answer, kb=self.settings.kb, passages=self._mine(answer.passages))

    def passages(self, question: str, k: int = 3, lexical: bool = False,
                 where: Where | dict[str, Any] | None = None) -> list[Passage]:
        """The ``k`` best passages for ``question``, cited, without an answer sentence, of
        the documents ``where`` admits (all without it). ``lexical`` ranks by BM25 alone and
        never loads the embedding model: the fast path of a fresh process (``qa search
        --lexical``). It reads the published index as it is, without the checks and rebuilds
        of ``refresh`` (``IndexProblem`` if there is none)."""
        text = clean_question(question, self.settings.max_question_chars)
        check_k(k)
        where = Where.parse(where)
        if not lexical:
            index = filtered(self.refresh(), where, self.settings.kb)
            return self._mine(make_passages(self.search(index, text, k)[1], self.weights))
        index = filtered(self._index or self.store.load(), where, self.settings.kb)
        hits = search(index, make_query(self._expand(index, text), None), k, self.weights)
        return self._mine(make_passages(hits, self.weights, lexical=True))

    def search(self, index: Store, text: str, k: int,
               in_context: str | None = None) -> tuple[Query, list[Hit]]:
        """The prepared query and ranked hits for ``text`` (or for ``in_context``, the question
        with the one before it, counting the new question's words twice)."""
        query_text = self._expand(index, in_context or text)
        focus = self._expand(index, text) if in_context else None
        query = make_query(query_text, self.embedder.encode_query(query_text), focus,
                           cos_range(self.settings.model))
        return query, search(index, query, k, self.weights)

    def _corpus_knowledge(self) -> tuple[Glossary, rankersmod.Rankers]:
        """The corpus's glossary and rankers, re-read when their files change."""
        corpus = self.settings.corpus_dir
        with_reader = self.settings.reader != "none"
        files = (corpus / CORPUS_GLOSSARY, rankersmod.corpus_file(corpus, with_reader))
        stamp = tuple(p.stat().st_mtime_ns if p.is_file() else 0 for p in files)
        known = self._knowledge
        if known is None or known[0] != stamp:
            known = (stamp, Glossary.for_corpus(corpus), rankersmod.for_corpus(corpus, with_reader))
            self._knowledge = known
        return known[1], known[2]

    @property
    def glossary(self) -> Glossary:
        """The general glossary plus the corpus's own (``corpus/.qa/glossary.tsv``)."""
        return self._corpus_knowledge()[0]

    @property
    def answerer(self) -> Answerer:
        """The answer layer: the corpus's glossary and rankers and the reader (loaded once,
        on the first question that needs it)."""
        glossary, rankers = self._corpus_knowledge()
        return Answerer(glossary, rankers, self.reader, self.settings.found_threshold)

    @property
    def reader(self) -> Any:
        """The short-answer reader (``QA_READER``), or None when it is turned off."""
        if self._reader is None and self.settings.reader != "none":
            from qa.models.reader import Reader, default_folder

            folder = default_folder() if self.settings.reader == "default" \
                else Path(self.settings.reader)
            self._reader = Reader(folder, threads=self.settings.thread_count,
                                  cache=self.settings.model_cache,
                                  fp32=self.settings.reader_quantize == "none")
        return self._reader

    def _expand(self, index: Store, text: str) -> str:
        """``text`` with its glossary terms in Chinese and, for an English question, the corpus
        words its other English words translate (``qa.search.bilingual``)."""
        expanded = self.glossary.expand(text)
        if quarters := periods.aliases(text):  # 2023年第二季度 <-> 2023Q2
            expanded = f"{expanded} {' '.join(quarters)}"
        if textmod.is_chinese(text):
            return expanded
        extra = [w for w in bridge(index).translate(text) if w not in expanded]
        return f"{expanded} {' '.join(extra)}" if extra else expanded

    def _answer(self, index: Store, text: str, k: int, in_context: str | None = None) -> Answer:
        """Search for ``text`` (see ``search``) and build the answer."""
        query, hits = self.search(index, text, k, in_context)
        return self.answerer.answer(text, index, query, hits, self.weights)
