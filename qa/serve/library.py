"""The corpus folder as a library: its documents and how each stands with the published index,
adding uploaded files safely, deleting them. Pure Python (no gradio, no model): the app's
knowledge-base tab and the REST API (``qa.serve.api``) both use it.

An upload is never trusted. Its name is reduced to a plain base name (a name with ``..``, an
absolute path, a hidden name or characters no file name should hold is refused, not mended);
its suffix must be one qa reads and its content must match it (text that decodes, a PDF that
starts with ``%PDF``); its size is held to ``QA_MAX_FILE_BYTES``; an existing file is only
replaced when the caller says so. All of this is checked before a byte is written, and the
file is written to a hidden temp file in the corpus folder, fsynced and renamed into place, so
a half-written upload never becomes a corpus file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from qa import errors
from qa.config import Settings
from qa.errors import BadInput, Conflict, NotFound, Unsupported
from qa.ingest.chunking import paragraphs
from qa.ingest.corpus import (
    PDF_SUFFIXES,
    SUFFIXES,
    CorpusError,
    decode_text,
    file_hashes,
    list_files,
    read_document,
)

#: Name prefix of the hidden temp file an upload is written to before it is renamed.
PARTIAL_PREFIX = ".upload-"
#: Longest file name accepted (characters; and at most 240 bytes in UTF-8).
MAX_NAME_CHARS = 120
#: What each status of ``DocumentInfo`` means.
STATUSES = {
    "indexed": "in the index as it is",
    "changed": "edited since the index was built",
    "new": "not in the index yet",
    "skipped": "left out of the index",
    "removed": "deleted, still in the index until it is rebuilt",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RESERVED = re.compile(r'[<>:"|?*\\/]')
_DRIVE = re.compile(r"^[A-Za-z]:")
#: Leading bytes of formats that are no text, whatever their name says.
_MAGIC = ((b"%PDF-", "a PDF"), (b"PK\x03\x04", "a ZIP archive (docx, xlsx, …)"),
          (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"GIF8", "a GIF image"), (b"\x7fELF", "a program (ELF)"),
          (b"\x1f\x8b", "gzip data"), (b"\xd0\xcf\x11\xe0", "an old Office document"),
          (b"MZ", "a Windows program"))


class Rejected(BadInput):
    """A file that cannot be added (or deleted); ``name`` as given, ``reason`` in words."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


class UnsafeName(Rejected):
    """The name is a path, hidden, too long or holds characters no file name should."""


class UnsupportedType(Unsupported, Rejected):
    """Not a suffix qa reads, or content that does not match its suffix."""


class TooLarge(errors.TooLarge, Rejected):
    """Over ``QA_MAX_FILE_BYTES``."""


class AlreadyExists(Conflict, Rejected):
    """A document of that name exists and the caller did not ask to replace it."""


class UnknownDocument(NotFound, Rejected):
    """No document of that name in the corpus folder."""


class Refused(BadInput):
    """Files of one upload refused (``rejected``, each with its name and reason); nothing of
    that upload was written."""

    def __init__(self, rejected: list[Rejected]) -> None:
        super().__init__("; ".join(str(e) for e in rejected))
        self.rejected = rejected


@dataclass(frozen=True)
class Upload:
    """A checked upload, ready to write: a safe base name, its bytes, whether it replaces."""

    name: str
    data: bytes
    replaces: bool


@dataclass(frozen=True)
class DocumentInfo:
    """One corpus file as the knowledge base shows it (see ``STATUSES``)."""

    name: str
    status: str
    size: int | None = None  # bytes on disk; None once deleted
    encoding: str | None = None
    paragraphs: int | None = None
    chars: int | None = None
    reason: str = ""  # why it is (or will be) skipped
    modified: str | None = None  # ISO 8601, UTC

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def shown(name: object) -> str:
    """A name as it may be shown in a message: a string, control characters replaced, cut."""
    text = name if isinstance(name, str) else repr(name)
    text = _CONTROL.sub("?", text)
    return text if len(text) <= 200 else text[:200] + "…"


def safe_name(raw: object) -> str:
    """The plain base name a file given as ``raw`` is stored under, or ``UnsafeName``.

    Folders in a relative name are dropped ("docs/a.txt" -> "a.txt"); a name with ``..``, an
    absolute or drive path, a hidden name, control or reserved characters (``<>:"|?*``) or over
    ``MAX_NAME_CHARS`` is refused."""
    if not isinstance(raw, str) or not raw.strip():
        raise UnsafeName(shown(raw), "no file name")
    name = unicodedata.normalize("NFC", raw).strip()
    if _CONTROL.search(name):
        raise UnsafeName(shown(raw), "control characters in the name")
    parts = [p.strip() for p in re.split(r"[\\/]+", name)]
    if name.startswith(("/", "\\", "~")) or _DRIVE.match(name) or ".." in parts:
        raise UnsafeName(shown(raw), "a path, not a file name (absolute or with ..)")
    base = parts[-1]
    if not base:
        raise UnsafeName(shown(raw), "no file name")
    if base.startswith("."):
        raise UnsafeName(shown(raw), "a hidden file name (starts with a dot)")
    if _RESERVED.search(base):
        raise UnsafeName(shown(raw), 'characters not allowed in a file name (<>:"|?*)')
    if len(base) > MAX_NAME_CHARS or len(base.encode("utf-8")) > 240:
        raise UnsafeName(shown(raw), f"name longer than {MAX_NAME_CHARS} characters")
    return base


def check_content(name: str, data: bytes, max_bytes: int) -> None:
    """Raise ``UnsupportedType`` / ``TooLarge`` / ``Rejected`` unless ``data`` is a file qa
    can index under ``name``: a suffix it reads, at most ``max_bytes``, not empty, and content
    that matches the suffix (a PDF starts with %PDF; text decodes and is no known binary)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        allowed = " ".join(sorted(SUFFIXES))
        raise UnsupportedType(name, f"unsupported type {suffix or '(no suffix)'}; "
                                    f"qa reads {allowed}")
    if len(data) > max_bytes:
        raise TooLarge(name, f"over the {max_bytes:,}-byte limit (QA_MAX_FILE_BYTES)")
    if not data.strip():
        raise Rejected(name, "empty file")
    if suffix in PDF_SUFFIXES:
        if not data.startswith(b"%PDF-"):
            raise UnsupportedType(name, "not a PDF (a .pdf file starts with %PDF)")
        return
    from qa.ingest.uploads import CONVERTED_SUFFIXES, upload_problem

    if suffix in CONVERTED_SUFFIXES:  # Word, Excel, CSV, PowerPoint, images (issue 22)
        problem = upload_problem(name, data)
        if problem:
            raise UnsupportedType(name, problem)
        return
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise UnsupportedType(name, f"content is {what}, not text")
    try:
        decode_text(data, name)
    except CorpusError as exc:
        raise UnsupportedType(name, str(exc).split(": ", 1)[-1]) from None


def read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of ``stream``: enough to tell that it is too large."""
    chunks, size = [], 0
    while size <= max_bytes:
        block = stream.read(min(1 << 20, max_bytes + 1 - size))
        if not block:
            break
        chunks.append(block)
        size += len(block)
    return b"".join(chunks)


def _utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


class Library:
    """The documents of one corpus folder, and the published index they are compared with."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.corpus_dir
        self._read_cache: dict[tuple[str, str], tuple[str | None, int | None, int | None, str]] = {}

    # -- what is there -------------------------------------------------------------------

    def index_info(self) -> dict[str, object]:
        """The published index's generation, build time and file records (empty if none),
        from wherever ``QA_STORE`` keeps it (``StoreUnavailable`` when that cannot be reached).
        """
        from qa.store.base import IndexProblem
        from qa.store.factory import open_backend

        try:
            manifest = open_backend(self.settings).manifest()
        except IndexProblem:
            return {"generation": None, "built_at": None, "files": {}}
        return {"generation": manifest.get("generation"), "built_at": manifest.get("built_at"),
                "files": manifest["files"]}

    def documents(self) -> list[DocumentInfo]:
        """Every corpus file with its status against the published index, then the files the
        index holds that are gone from the folder (status "removed")."""
        indexed: dict[str, dict[str, object]] = self.index_info()["files"]  # type: ignore[assignment]
        hashes = file_hashes(self.root, self.settings.max_file_bytes)
        out = []
        for source, path in list_files(self.root):
            try:
                st = path.stat()
            except OSError:
                st = None
            sha = hashes.get(source, "")
            out.append(self._describe(source, sha, st, indexed.get(source)))
        present = {d.name for d in out}
        out += [DocumentInfo(s, "removed", encoding=_str(f.get("encoding")),
                             chars=_int(f.get("chars")))
                for s, f in sorted(indexed.items()) if s not in present]
        return out

    def _describe(self, source: str, sha: str, st: os.stat_result | None,
                  record: dict[str, object] | None) -> DocumentInfo:
        encoding, chars, paras, problem = self._read(source, sha)
        if record is None:
            status, reason = "new", problem
        elif record.get("sha256") != sha:
            status, reason = "changed", problem
        elif "skipped" in record:
            status, reason = "skipped", str(record["skipped"])
        else:
            status, reason = "indexed", ""
        return DocumentInfo(source, status, size=st.st_size if st else None, encoding=encoding,
                            paragraphs=paras, chars=chars,
                            reason=f"will be skipped: {reason}" if reason and status in (
                                "new", "changed") else reason,
                            modified=_utc(st.st_mtime) if st else None)

    def _read(self, source: str, sha: str) -> tuple[str | None, int | None, int | None, str]:
        """(encoding, characters, paragraphs, problem) of a file, cached by its content hash."""
        key = (source, sha)
        if key not in self._read_cache:
            try:
                doc = read_document(self.root, source, self.settings.max_file_bytes)
                value: tuple[str | None, int | None, int | None, str] = (
                    doc.encoding, len(doc.text), len(paragraphs(doc.text)), "")
            except CorpusError as exc:
                value = (None, None, None, str(exc).split(": ", 1)[-1])
            if len(self._read_cache) > 10_000:
                self._read_cache.clear()
            self._read_cache[key] = value
        return self._read_cache[key]

    def names(self) -> list[str]:
        """The names of the files in the corpus folder."""
        return [source for source, _ in list_files(self.root)]

    # -- changing it ---------------------------------------------------------------------

    def check(self, raw_name: object, data: bytes | BinaryIO,
              replace: bool = False) -> Upload:
        """Check an upload without writing anything: its name (``safe_name``), its type,
        size and content (``check_content``), and that it replaces a file only if ``replace``
        (``AlreadyExists``)."""
        name = safe_name(raw_name)
        if not isinstance(data, bytes | bytearray):
            data = read_limited(data, self.settings.max_file_bytes)
        check_content(name, bytes(data), self.settings.max_file_bytes)
        target = self.root / name
        if target.is_dir():
            raise AlreadyExists(name, "a folder of that name is in the corpus")
        exists = os.path.lexists(target)
        if exists and not replace:
            raise AlreadyExists(name, "a document of that name exists (choose replace to "
                                      "overwrite it)")
        return Upload(name, bytes(data), replaces=exists)

    def write(self, upload: Upload) -> str:
        """Write a checked upload: a hidden temp file in the corpus folder, fsynced, then
        renamed into place (replacing only when the upload says so; a file that appeared
        meanwhile under the same name is never overwritten). Returns the name."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_partial()
        fd, tmp = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=".part", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(upload.data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            target = self.root / upload.name
            if upload.replaces:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)  # fails if the name was taken since ``check``
                except FileExistsError:
                    raise AlreadyExists(upload.name, "a document of that name exists") from None
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        _fsync_folder(self.root)
        return upload.name

    def _sweep_partial(self, older_than: float = 3600.0) -> None:
        """Delete temp files of uploads killed mid-write (hidden, so never indexed)."""
        now = time.time()
        for path in self.root.glob(PARTIAL_PREFIX + "*.part"):
            with contextlib.suppress(OSError):
                if now - path.lstat().st_mtime > older_than:
                    path.unlink()

    def add(self, raw_name: object, data: bytes | BinaryIO, replace: bool = False) -> str:
        """``check`` and ``write`` one file; returns the name it is stored under."""
        return self.write(self.check(raw_name, data, replace))

    def add_all(self, files: Iterable[tuple[object, bytes | BinaryIO]],
                replace: bool = False) -> list[Upload]:
        """One upload of several files, all or none: every file is checked (and a name given
        twice refused) before any is written; ``Refused`` names every refused file. Returns
        the uploads written."""
        checked: list[Upload] = []
        refused: list[Rejected] = []
        for raw_name, data in files:
            try:
                upload = self.check(raw_name, data, replace=replace)
                if any(u.name == upload.name for u in checked):
                    raise AlreadyExists(upload.name, "twice in this upload")
                checked.append(upload)
            except Rejected as exc:
                refused.append(exc)
        if refused:
            raise Refused(refused)
        try:
            for upload in checked:
                self.write(upload)
        except Rejected as exc:  # a name taken meanwhile
            raise Refused([exc]) from None
        return checked

    def delete(self, name: str) -> None:
        """Delete the corpus file ``name`` (a symlink: the link itself); ``UnknownDocument``
        unless it is one of the folder's documents."""
        if name not in self.names():
            raise UnknownDocument(shown(name), "no such document in the corpus")
        (self.root / name).unlink()
        _fsync_folder((self.root / name).parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
