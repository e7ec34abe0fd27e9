"""Restrict a question to some documents: ``Where`` (file-name pattern, folder, file type,
date range of the article's title block) and ``FilteredStore``, the index seen through it.

    where = Where.parse({"name": "*合同*", "folder": "reports", "type": ["pdf", "md"],
                         "after": "2023-01-01", "before": "2023-12-31"})
    view = filtered(index, where)   # NoDocumentMatches when no document passes

``FilteredStore`` ranks only the chunks of the documents that pass: dense scores are computed
over their vectors alone, BM25 rankings are read in full and cut to them (the BM25 statistics
stay those of the whole base), and the title-block metadata it offers the answer layer is that
of those documents only. So neither a passage nor an answer sentence can come from outside the
filter. A document without a date in its title block does not pass a date range.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from qa.errors import BadInput
from qa.ingest import metadata
from qa.ingest.chunking import Chunk
from qa.store.base import SentenceKey, Store, top

#: the keys a filter may have
KEYS = ("name", "folder", "type", "after", "before", "sources")
_DATE = re.compile(r"((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


class BadFilter(BadInput):
    """A filter that cannot be read (unknown key, bad date, wrong type)."""


class NoDocumentMatches(BadInput):
    """No document of the knowledge base passes the filter."""


def parse_date(text: str) -> dt.date | None:
    """The date of ``2023-09-19``, ``2023/9/19``, ``2023年9月19日`` (None when there is none)."""
    m = _DATE.search(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _date_bound(key: str, value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    day = parse_date(value) if isinstance(value, str) else None
    if day is None:
        raise BadFilter(f"filter {key!r}: expected a date like 2023-09-19, not {value!r}")
    return day


def _strings(key: str, value: object) -> tuple[str, ...]:
    """A string or a list of strings, as a tuple (empty for None)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise BadFilter(f"filter {key!r}: expected a string or a list of strings, "
                        f"not {value!r}")
    return tuple(v.strip() for v in items if v.strip())


@dataclass(frozen=True)
class Where:
    """Which documents a question may cite; every condition given must hold (an empty tuple or
    None: no condition). ``name``: shell patterns over the file name (over the path when the
    pattern has a "/"); ``folder``: the folders (with their subfolders) the file may be in;
    ``type``: file extensions; ``after``/``before``: the title block's date range, inclusive;
    ``sources``: exact file paths (the chat's document picker)."""

    name: tuple[str, ...] = ()
    folder: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    after: dt.date | None = None
    before: dt.date | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | Where | None) -> Where | None:
        """A ``Where`` from a JSON object (None or {}: no filter); ``BadFilter`` names the
        key at fault."""
        if spec is None or isinstance(spec, Where):
            return spec or None
        if not isinstance(spec, Mapping):
            raise BadFilter(f"filter must be an object with keys {', '.join(KEYS)}, "
                            f"not {type(spec).__name__}")
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise BadFilter(f"unknown filter key {unknown[0]!r}; the keys are "
                            f"{', '.join(KEYS)}")
        where = cls(name=_strings("name", spec.get("name")),
                    folder=tuple(f.strip("/") for f in _strings("folder", spec.get("folder"))),
                    type=tuple(t.lower().lstrip(".") for t in _strings("type", spec.get("type"))),
                    after=_date_bound("after", spec.get("after")),
                    before=_date_bound("before", spec.get("before")),
                    sources=_strings("sources", spec.get("sources")))
        if where.after and where.before and where.after > where.before:
            raise BadFilter(f"filter: 'after' {where.after} is later than 'before' "
                            f"{where.before}")
        return where if where else None

    @classmethod
    def from_pairs(cls, pairs: Sequence[str]) -> Where | None:
        """A ``Where`` from ``key=value`` strings (the CLI's ``--where``); a key given twice
        takes both values (name, folder, type, sources)."""
        spec: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise BadFilter(f"--where {pair!r}: expected KEY=VALUE, KEY one of "
                                f"{', '.join(KEYS)}")
            key = key.strip()
            if key in ("after", "before"):
                spec[key] = value.strip()
            else:
                spec.setdefault(key, []).append(value.strip())
        return cls.parse(spec)

    def __bool__(self) -> bool:
        return bool(self.name or self.folder or self.type or self.after or self.before
                    or self.sources)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: list(getattr(self, k))
                               for k in ("name", "folder", "type", "sources") if getattr(self, k)}
        out |= {k: str(getattr(self, k)) for k in ("after", "before") if getattr(self, k)}
        return out

    def admits(self, source: str, date: dt.date | None = None) -> bool:
        """Whether the document ``source`` (a path relative to the corpus; ``date``: its
        title block's) passes."""
        path = PurePosixPath(source)
        if self.sources and source not in self.sources:
            return False
        if self.name and not any(fnmatch.fnmatchcase(source if "/" in p else path.name, p)
                                 for p in self.name):
            return False
        if self.folder and not any(source.startswith(f + "/") or (not f and "/" not in source)
                                   for f in self.folder):
            return False
        if self.type and path.suffix.lower().lstrip(".") not in self.type:
            return False
        if not (self.after or self.before):
            return True
        return date is not None and not (self.after and date < self.after) \
            and not (self.before and date > self.before)


def document_dates(store: Store) -> dict[str, dt.date]:
    """The date of each document whose title block has one (kept with the generation)."""
    known = store.derive("metadata", lambda s: metadata.by_source(s.records()))
    out = {}
    for source, fields in known.items():
        day = parse_date(fields["date"].value) if "date" in fields else None
        if day is not None:
            out[source] = day
    return out


def chunks_by_source(store: Store) -> dict[str, list[int]]:
    """The chunk ids of each document (kept with the generation)."""
    def make(s: Store) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for c in s.records():
            out.setdefault(c.source, []).append(c.id)
        return out

    return store.derive("chunks_by_source", make)


def filtered(store: Store, where: Where | None, kb: str = "default") -> Store:
    """``store`` restricted to the documents ``where`` admits (``store`` itself for no
    filter); ``NoDocumentMatches`` when none does."""
    if not where:
        return store
    by_source = chunks_by_source(store)
    dates = document_dates(store)
    sources = sorted(s for s in by_source if where.admits(s, dates.get(s)))
    if not sources:
        raise NoDocumentMatches(
            f"filter {where.to_json()} matches none of the {len(by_source)} documents of "
            f"knowledge base {kb!r}")
    return FilteredStore(store, sources, [i for s in sources for i in by_source[s]])


class FilteredStore(Store):
    """One generation of the index, seen as if it held only the chunks ``ids`` (of the
    documents ``sources``)."""

    def __init__(self, inner: Store, sources: Sequence[str], ids: Sequence[int]) -> None:
        super().__init__()
        self.inner = inner
        self.manifest = inner.manifest
        self.sources = frozenset(sources)
        self.ids = np.array(sorted(ids), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def ready(self) -> Store:
        self.inner.ready()
        return self

    def dense(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        scores = self.inner.chunk_vectors(self.ids.tolist()) @ vector
        return [(int(self.ids[row]), s) for row, s in top(scores, n)]

    def dense_sentences(self, vector: np.ndarray, n: int) -> list[tuple[SentenceKey, float]]:
        keys: list[SentenceKey] = []
        blocks = []
        for i, m in zip(self.ids.tolist(), self.inner.sentence_vectors_of(self.ids.tolist()),
                        strict=True):
            keys += [(i, j) for j in range(len(m))]
            blocks.append(m)
        if not keys:
            return []
        scores = np.concatenate(blocks) @ vector
        return [(keys[row], s) for row, s in top(scores, n)]

    def lexical(self, field: str, tokens: Sequence[str], n: int) -> list[tuple[Any, float]]:
        everything = self.inner.lexical(field, tokens, self._size(field))
        mine = set(self.ids.tolist())
        kept = [(key, s) for key, s in everything
                if (key[0] if field == "sentences" else key) in mine]
        return kept[:n]

    def _size(self, field: str) -> int:
        if field != "sentences":
            return len(self.inner)
        return self.inner.derive("sentence_count",
                                 lambda s: sum(len(c.sentences) for c in s.records()))

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        return self.inner.fetch(ids)

    def chunk_vectors(self, ids: Sequence[int]) -> np.ndarray:
        return self.inner.chunk_vectors(ids)

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        return self.inner.sentence_vectors_of(ids)

    def records(self) -> list[Chunk]:
        return self.inner.records()

    def files(self) -> dict[str, str]:
        return self.inner.files()

    def derive(self, name: str, make: Callable[[Store], Any]) -> Any:
        """The inner store's (corpus-wide statistics), except the title-block metadata,
        which is that of the admitted documents only."""
        value = self.inner.derive(name, make)
        if name == "metadata":
            return {s: f for s, f in value.items() if s in self.sources}
        return value
