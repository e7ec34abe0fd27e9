"""The ``index/`` folder: generations, the ``CURRENT`` pointer, and the build lock.

Each build writes a complete generation into a fresh ``gen-*.tmp`` folder, verifies it, renames
it to ``gen-*`` and only then points ``CURRENT`` at it with an atomic ``os.replace``. Readers
follow ``CURRENT``, so they see the old generation or the new one, never a half-written one;
a build killed at any point leaves ``CURRENT`` as it was, and its ``.tmp`` folder is swept by
the next build. ``lock()`` (an ``flock`` on ``index/.lock``) keeps two builds from interleaving.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.config import Settings
from qa.store.base import BuildBusy, IndexMissing, IndexProblem, hold_lock  # noqa: F401
from qa.store.embedded.index import Index

POINTER = "CURRENT"
LOCK = ".lock"
KEEP = 2  # generations kept on disk: the current one and the one before it


class IndexStore:
    """Generations of the index under one folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index_dir

    def current_name(self) -> str | None:
        """Name of the generation ``CURRENT`` points at, or None."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, UnicodeDecodeError):
            return ""
        return name if name.startswith("gen-") and "/" not in name else ""

    def current_path(self) -> Path:
        name = self.current_name()
        if name is None:
            raise IndexMissing(f"no index in {self.root} (run `qa build`)")
        if not name:
            raise IndexMissing(f"{self.root / POINTER} is unreadable")
        return self.root / name

    def load(self) -> Index:
        """Load and verify the current generation (``IndexProblem`` if it cannot be used); if
        it was swept by another process's build while being read, ``CURRENT`` has moved on and
        the new current generation is loaded instead."""
        for _ in range(5):
            name = self.current_name()
            try:
                return Index.load(self.current_path(), self.settings)
            except IndexProblem:
                if self.current_name() == name:
                    raise
        return Index.load(self.current_path(), self.settings)

    @contextmanager
    def lock(self, wait: bool = True,
             on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the build lock; wait for it, or raise ``BuildBusy`` when ``wait`` is False."""
        with hold_lock(self.root / LOCK, wait, on_wait):
            yield

    def new_folder(self) -> Path:
        """A fresh folder for a generation being built (call with the lock held)."""
        self.sweep()
        now = time.time_ns()  # one reading, so names sort in build order
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now // 10**9))
        name = f"gen-{stamp}-{now % 10**9:09d}.tmp"
        path = self.root / name
        path.mkdir(parents=True)
        return path

    def publish(self, folder: Path) -> str:
        """Rename a finished ``.tmp`` generation into place and point ``CURRENT`` at it."""
        final = folder.with_name(folder.name.removesuffix(".tmp"))
        os.replace(folder, final)
        tmp = self.root / (POINTER + ".tmp")
        tmp.write_text(final.name + "\n", encoding="utf-8")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.sweep()
        return final.name

    def sweep(self) -> None:
        """Delete unfinished ``.tmp`` generations and all but the newest ``KEEP`` finished ones
        (never the current one). Call with the lock held."""
        current = self.current_name()
        gens = sorted(p for p in self.root.glob("gen-*") if p.is_dir())
        finished = [p for p in gens if not p.name.endswith(".tmp")]
        old = [p for p in finished[:-KEEP] if p.name != current]
        for path in [p for p in gens if p.name.endswith(".tmp")] + old:
            shutil.rmtree(path, ignore_errors=True)
