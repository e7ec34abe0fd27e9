"""qa: cited answers over a corpus of (Chinese) articles, on a CPU, offline.

    import qa
    a = qa.ask("微软2019年向OpenAI投资了多少钱?")
    a.found, a.text, a.passages[0].citation

``ask`` and ``build`` use one shared ``QA`` object configured from the ``QA_*`` environment
variables (see ``qa.config``); make your own ``QA(settings)`` for another corpus or index.
Heavy libraries (torch, sentence-transformers, faiss) load on first use, not on import.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.answer.answerer import Answer, Passage
from qa.config import Settings

if TYPE_CHECKING:
    from qa.service import QA
    from qa.store.embedded.builder import BuildReport, Progress

__all__ = ["QA", "Answer", "Passage", "Settings", "ask", "build", "default"]
__version__ = "0.1.0"

_default: QA | None = None
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


def ask(question: str, k: int = 3, history: Sequence[str] | None = None) -> Answer:
    """Answer ``question`` from the corpus with at most ``k`` cited passages.

    ``history`` is the user's earlier questions, oldest first. Raises ``ValueError`` for an
    empty or over-long question.
    """
    return default().ask(question, k=k, history=history)


def build(full: bool = False, progress: Progress | None = None) -> BuildReport:
    """Rebuild the index from the corpus now (only changed files are re-embedded)."""
    return default().build(full=full, progress=progress)
