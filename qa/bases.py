"""Several knowledge bases: ``Bases`` keeps one ``QA`` engine per base, sharing the model,
and asks one base or every base at once (``"*"``).

A knowledge base is a folder: "default" is ``QA_CORPUS_DIR`` / ``QA_INDEX_DIR`` as always;
any other base ``name`` is ``QA_KB_ROOT/name/corpus`` (its files, and its ``.qa/`` data:
glossary, rankers, settings, feedback) and ``QA_KB_ROOT/name/index`` (its own generations and
build lock; with Milvus its own collection prefix). A build of one base never holds another's
lock, so asking another base never waits for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from qa.answer.answerer import Answer, Passage
from qa.answer.merge import merge_answers, merge_passages
from qa.config import DEFAULT_KB, BadKbName, Settings, UnknownKb, check_kb_name
from qa.errors import Busy, Conflict
from qa.search.filters import NoDocumentMatches, Where
from qa.service import QA

#: The name that asks every knowledge base at once.
ALL = "*"
#: A base's own settings, beside its glossary: ``{"read_token": "…"}``.
KB_SETTINGS = Path(".qa") / "settings.json"
T = TypeVar("T")


class KbExists(Conflict, FileExistsError):
    """A knowledge base of that name exists already."""


class KbBusy(Busy, RuntimeError):
    """A build of the knowledge base is running: it cannot be deleted now."""


def kb_settings(settings: Settings) -> dict[str, object]:
    """The base's own ``corpus/.qa/settings.json`` (empty when absent or unreadable)."""
    try:
        data = json.loads((settings.corpus_dir / KB_SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Bases:
    """Every knowledge base under one set of settings (those of "default")."""

    def __init__(self, settings: Settings | None = None, default: QA | None = None) -> None:
        self.settings = default.settings if default else settings or Settings.from_env()
        self._engines: dict[str, QA] = {DEFAULT_KB: default} if default else {}
        self._kept: dict[tuple[str, Callable[[Settings], Any]], Any] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """"default", then every other base in ``kb_root`` by name."""
        root = self.settings.kb_root
        others: list[str] = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(root):
                with contextlib.suppress(BadKbName):
                    if entry.is_dir(follow_symlinks=False) and check_kb_name(entry.name) \
                            and entry.name != DEFAULT_KB and Path(entry.path, "corpus").is_dir():
                        others.append(entry.name)
        return [DEFAULT_KB, *sorted(others)]

    def settings_of(self, name: str) -> Settings:
        """The settings of base ``name`` (``BadKbName``, ``UnknownKb``)."""
        mine = self.settings.for_kb(name)
        if name != DEFAULT_KB and not mine.corpus_dir.is_dir():
            raise UnknownKb(f"no knowledge base {name!r}")
        return mine

    def engine(self, name: str) -> QA:
        """The engine of base ``name``, made once (``BadKbName``, ``UnknownKb``)."""
        mine = self.settings_of(name)
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                share = next(iter(self._engines.values()), None)
                engine = QA(mine, embedder=share.embedder if share else None,  # loaded once
                            reader=share.reader if share and mine.reader != "none" else None)
                self._engines[name] = engine
            return engine

    def kept(self, name: str, make: Callable[[Settings], T]) -> T:
        """The one ``make(settings of base name)`` this process keeps, such as the base's
        ``qa.serve.library.Library`` that the REST API and the app share: made on first use,
        forgotten when the base is deleted (``BadKbName``, ``UnknownKb``)."""
        mine = self.settings_of(name)
        with self._lock:
            if (name, make) not in self._kept:
                self._kept[(name, make)] = make(mine)
            return self._kept[(name, make)]  # type: ignore[no-any-return]

    def read_token(self, name: str) -> str:
        """The token reads of base ``name`` need: its own, else ``QA_READ_TOKEN`` ("": none)."""
        own = kb_settings(self.settings_of(name)).get("read_token")
        return own.strip() if isinstance(own, str) and own.strip() else self.settings.read_token

    # -- questions -----------------------------------------------------------------------

    def ask(self, question: str, kb: str = DEFAULT_KB, k: int = 3,
            history: Sequence[str] | None = None, where: Where | dict | None = None) -> Answer:
        """Ask base ``kb``, or with ``"*"`` every base and merge (``qa.answer.merge``);
        ``where``: only the documents that pass it (``qa.search.filters``)."""
        where = Where.parse(where)
        if kb != ALL:
            return self.engine(kb).ask(question, k=k, history=history, where=where)
        answers = {}
        for name in self._askable():
            try:
                answers[name] = self.engine(name).ask(question, k=k, history=history,
                                                      where=where)
            except NoDocumentMatches:
                continue  # another base may hold documents that pass
        if where and not answers:
            raise NoDocumentMatches(f"filter {where.to_json()} matches no document of any "
                                    "knowledge base")
        return merge_answers(answers, k)

    def passages(self, question: str, kb: str = DEFAULT_KB, k: int = 3,
                 lexical: bool = False, where: Where | dict | None = None) -> list[Passage]:
        """The best passages of base ``kb``, or with ``"*"`` of every base by score."""
        where = Where.parse(where)
        if kb != ALL:
            return self.engine(kb).passages(question, k=k, lexical=lexical, where=where)
        found = {}
        for name in self._askable():
            try:
                found[name] = self.engine(name).passages(question, k=k, lexical=lexical,
                                                         where=where)
            except NoDocumentMatches:
                continue
        if where and not found:
            raise NoDocumentMatches(f"filter {where.to_json()} matches no document of any "
                                    "knowledge base")
        return merge_passages(found, k)

    def _askable(self) -> list[str]:
        """The bases with files in them (an empty new base has nothing to answer from)."""
        from qa.ingest.corpus import list_files

        return [n for n in self.names()
                if next(list_files(self.settings_of(n).corpus_dir), None) is not None]

    # -- creating and deleting -----------------------------------------------------------

    def create(self, name: str) -> Settings:
        """Make the empty base ``name`` (``BadKbName``; ``KbExists``, also for "default")."""
        mine = self.settings.for_kb(name)
        if name == DEFAULT_KB:
            raise KbExists(f"knowledge base {name!r} exists")
        folder = mine.corpus_dir.parent
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:
            raise KbExists(f"knowledge base {name!r} exists") from None
        (mine.corpus_dir / ".qa").mkdir(parents=True)
        mine.index_dir.mkdir()
        return mine

    def delete(self, name: str) -> None:
        """Delete base ``name`` with its files and index (``UnknownKb``; ``BadKbName`` for
        "default", which cannot be deleted; ``KbBusy`` while it builds). The folder is first
        renamed to a hidden name, so it vanishes at once, then removed."""
        if name == DEFAULT_KB:
            raise BadKbName(f"knowledge base {name!r} cannot be deleted")
        mine = self.settings_of(name)
        from qa.store.base import BuildBusy
        from qa.store.factory import open_backend

        folder = mine.corpus_dir.parent
        gone = folder.with_name(f".deleting-{uuid.uuid4().hex}")
        try:
            with open_backend(mine).lock(wait=False):
                os.rename(folder, gone)
        except BuildBusy as exc:
            raise KbBusy(f"knowledge base {name!r}: {exc}") from None
        with self._lock:
            self._engines.pop(name, None)
            for key in [k for k in self._kept if k[0] == name]:
                del self._kept[key]
        shutil.rmtree(gone, ignore_errors=True)
