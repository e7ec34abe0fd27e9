"""Where the index lives, chosen by ``QA_STORE``: the object ``QA`` loads, refreshes and builds
through, whatever engine holds the index.

- ``embedded`` (default): ``EmbeddedBackend``, generations of FAISS + BM25 files under
  ``index/`` (``qa.store.embedded.generations``, built by ``qa.store.embedded.builder.build_index``);
- ``milvus://host:19530`` (any Milvus, token from ``QA_MILVUS_TOKEN``) or ``milvus-lite:PATH.db``
  (Milvus Lite in this process): ``qa.store.milvus.backend.MilvusBackend``.

A backend names the generation it serves (``current_name``, cheap: checked before every
question), loads it as a ``qa.store.base.Store`` (``load``, raising ``qa.store.base.IndexProblem`` when it
must be rebuilt), builds and publishes a new one (``build``) and keeps two builds from
interleaving (``lock``). An engine that cannot be reached raises ``StoreUnavailable`` naming
where it was looked for: nothing to rebuild, just nothing to answer from.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from qa.config import Settings
from qa.errors import BadSetting, QAError
from qa.store.base import StoreUnavailable
from qa.store.embedded.generations import IndexStore

if TYPE_CHECKING:
    from qa.models.embedding import Embedder
    from qa.store.base import BuildReport, Progress, Store


class Backend(Protocol):
    """What ``QA`` needs of the place the index lives."""

    settings: Settings

    def describe(self) -> str:
        """Where the index lives, for messages (never a secret)."""
        ...

    def current_name(self) -> str | None:
        """The generation being served, or None when there is none."""
        ...

    def manifest(self) -> dict[str, Any]:
        """The manifest of the generation being served (its generation, build time and file
        records), without loading it (``IndexProblem`` when there is none to read)."""
        ...

    def load(self) -> Store:
        """The generation being served, verified (``IndexProblem`` when it must be rebuilt)."""
        ...

    def build(self, embedder: Embedder, progress: Progress | None = None, wait: bool = True,
              full: bool = False) -> BuildReport:
        """Bring the index up to date with the corpus and publish it."""
        ...

    def lock(self, wait: bool = True, on_wait: Callable[[], None] | None = None
             ) -> AbstractContextManager[None]:
        """Hold the build lock (``BuildBusy`` when ``wait`` is False and it is taken)."""
        ...


class EmbeddedBackend(IndexStore):
    """The embedded index: generations under ``settings.index_dir``."""

    def describe(self) -> str:
        return str(self.root)

    def manifest(self) -> dict[str, Any]:
        from qa.store.embedded.index import read_manifest

        return read_manifest(self.current_path())

    def build(self, embedder: Embedder, progress: Progress | None = None, wait: bool = True,
              full: bool = False) -> BuildReport:
        from qa.store.embedded.builder import build_index

        try:
            return build_index(self.settings, embedder, progress, wait=wait, full=full)
        except QAError:
            raise
        except OSError as exc:  # the folder cannot be written: said as the store's trouble
            raise StoreUnavailable(f"cannot write the index in {self.root}: "
                                   f"{exc.strerror or exc}"
                                   f"{f' ({exc.filename})' if exc.filename else ''}") from None


def open_backend(settings: Settings) -> Backend:
    """The backend ``settings.store`` names (``BadSetting`` for a setting it cannot read)."""
    kind = settings.store.strip()
    if kind in ("", "embedded"):
        return EmbeddedBackend(settings)
    if kind.startswith("milvus"):  # its parser (``parse_target``) says what it reads
        from qa.store.milvus.backend import MilvusBackend

        return MilvusBackend(settings)
    raise BadSetting(f"QA_STORE={kind!r}: expected 'embedded', 'milvus://host:port', "
                     "'milvus+https://host:port' or 'milvus-lite:PATH.db'")

