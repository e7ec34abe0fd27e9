"""Checks every Office Open XML file (.docx .xlsx .pptx) passes before a library parses it.

An OOXML file is a zip of XML parts. Before python-docx, openpyxl or python-pptx sees it:

- an OLE compound file (``D0 CF 11 E0``) is refused: either a password-protected OOXML file
  (encrypted files are wrapped in OLE, with an ``EncryptionInfo`` stream) or an old binary
  .doc/.xls/.ppt saved under a new name;
- a file that is not a whole zip (truncated, corrupt) is refused;
- a zip whose parts would unpack to more than ``IngestLimits.max_unzipped_bytes`` is refused
  (a zip bomb): the sizes the zip declares are checked, and ``zipfile`` never inflates a part
  past its declared size;
- the part that makes it that kind of file (``word/document.xml`` …) must be there.
"""

from __future__ import annotations

import io
import zipfile

from qa.ingest.decode import CorpusError
from qa.ingest.units import ReadContext

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: the part each suffix needs, and what the file is called in messages
MAIN_PARTS = {".docx": ("word/document.xml", "Word document"),
              ".xlsx": ("xl/workbook.xml", "Excel workbook"),
              ".pptx": ("ppt/presentation.xml", "PowerPoint deck")}
MAX_PARTS = 10_000


def is_encrypted_ole(data: bytes) -> bool:
    """Whether OLE bytes hold an encrypted OOXML package (its ``EncryptionInfo`` stream)."""
    return "EncryptionInfo".encode("utf-16-le") in data


def open_package(data: bytes, suffix: str, ctx: ReadContext) -> zipfile.ZipFile:
    """The zip of an OOXML file, once it passed the checks above; ``CorpusError`` naming the
    file and the reason otherwise."""
    part, kind = MAIN_PARTS[suffix]
    if data.startswith(OLE_MAGIC):
        if is_encrypted_ole(data):
            raise CorpusError(f"{ctx.source}: password-protected (encrypted {kind}); "
                              "save a copy without a password")
        raise CorpusError(f"{ctx.source}: an old binary Office file (.doc/.xls/.ppt), not a "
                          f"{kind}; save it as {suffix}")
    if not data.startswith(b"PK"):
        raise CorpusError(f"{ctx.source}: not a {kind} (a {suffix} file is a zip)")
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        infos = package.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise CorpusError(f"{ctx.source}: corrupt or truncated {kind} ({exc})") from None
    if len(infos) > MAX_PARTS:
        raise CorpusError(f"{ctx.source}: {len(infos):,} parts in the zip, over {MAX_PARTS:,}")
    unzipped = sum(i.file_size for i in infos)
    limit = ctx.limits.max_unzipped_bytes
    if unzipped > limit:
        raise CorpusError(f"{ctx.source}: unpacks to {unzipped:,} bytes, over the "
                          f"{limit:,}-byte limit (QA_MAX_UNZIPPED_BYTES)")
    if part not in package.namelist():
        raise CorpusError(f"{ctx.source}: not a {kind} (no {part} in it)")
    bad = _first_bad_part(package)
    if bad:
        raise CorpusError(f"{ctx.source}: corrupt or truncated {kind} ({bad})")
    return package


def _first_bad_part(package: zipfile.ZipFile) -> str:
    """The first part that does not inflate to its declared bytes with a matching CRC, as a
    message; "" when every part is whole (``testzip`` reads each in 1 MiB blocks)."""
    try:
        name = package.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        return str(exc)
    except Exception as exc:  # zlib.error and friends on damaged data
        return f"{type(exc).__name__}: {exc}"
    return f"bad CRC in {name}" if name else ""


def library_error(ctx: ReadContext, kind: str, exc: Exception) -> CorpusError:
    """A parsing library's exception on a file that passed ``open_package``, as the
    ``CorpusError`` of that file."""
    return CorpusError(f"{ctx.source}: unreadable {kind} ({type(exc).__name__}: {exc})")
