"""qa: cited answers over a corpus of (Chinese) articles, on a CPU, offline.

    import qa
    a = qa.ask("微软2019年向OpenAI投资了多少钱?")
    a.found, a.text, a.passages[0].citation

``ask`` and ``build`` use one shared ``QA`` object configured from the ``QA_*`` environment
variables (see ``qa.config``); make your own ``QA(settings)`` for another corpus or index.
``kb="legal"`` asks another knowledge base (``qa.bases``), ``kb="*"`` every one at once.
Heavy libraries (torch, sentence-transformers, faiss) load on first use, not on import.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.answer.answerer import Answer, Passage
from qa.config import Settings

if TYPE_CHECKING:
    from qa.bases import Bases
    from qa.service import QA
    from qa.store.base import BuildReport, Progress

__all__ = ["QA", "Answer", "Passage", "Settings", "ask", "bases", "build", "default"]
__version__ = "0.1.0"

_default: QA | None = None
_bases: Bases | None = None
_default_lock = threading.Lock()


def __getattr__(name: str) -> object:
    if name == "QA":
        from qa.service import QA

        return QA
    raise AttributeError(f"module 'qa' has no attribute {name!r}")


def default() -> QA:
    """The shared ``QA`` behind ``qa.ask`` and ``qa.build`` (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            from qa.service import QA

            _default = QA(Settings.from_env())
        return _default


def bases() -> Bases:
    """Every knowledge base, the default one being ``default()`` (created on first use)."""
    global _bases
    engine = default()
    with _default_lock:
        if _bases is None:
            from qa.bases import Bases

            _bases = Bases(default=engine)
        return _bases


def ask(question: str, k: int = 3, history: Sequence[str] | None = None,
        kb: str = "default", where: dict[str, object] | None = None) -> Answer:
    """Answer ``question`` from the corpus with at most ``k`` cited passages.

    ``history`` is the user's earlier questions, oldest first; ``kb`` the knowledge base
    ("*": every one, the citations naming their base); ``where`` only the documents that pass
    it, e.g. ``{"folder": "reports", "type": "pdf", "after": "2023-01-01"}`` (keys: name,
    folder, type, after, before, sources; ``qa.search.filters``). Raises a
    ``qa.errors.QAError``: ``BadInput`` (a ``ValueError``) for an empty or over-long question,
    a bad base name or filter, or a filter no document passes; ``NotFound`` (a ``LookupError``)
    for an unknown base; ``Unavailable`` when the index cannot answer (its store down, or it
    must be rebuilt).
    """
    if kb == "default":
        return default().ask(question, k=k, history=history, where=where)
    return bases().ask(question, kb=kb, k=k, history=history, where=where)


def build(full: bool = False, progress: Progress | None = None,
          kb: str = "default") -> BuildReport:
    """Rebuild the index of knowledge base ``kb`` now (only changed files are re-embedded)."""
    return bases().engine(kb).build(full=full, progress=progress)
