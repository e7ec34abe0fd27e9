"""The content check an upload of a converted format passes before it is written (the REST
API and the knowledge-base tab, ``qa.serve.library.check_content``): the same checks reading
it would make first, so a bad file is refused at the door with the reason the build would
give (corrupt or truncated, password-protected, a zip bomb, not the image it says it is)."""

from __future__ import annotations

from qa.config import IngestLimits
from qa.ingest.corpus import IMAGE_SUFFIXES, OFFICE_SUFFIXES, TABLE_SUFFIXES, CorpusError
from qa.ingest.units import ReadContext

#: Suffixes checked here rather than as text or PDF.
CONVERTED_SUFFIXES = OFFICE_SUFFIXES | TABLE_SUFFIXES | IMAGE_SUFFIXES
_IMAGE_MAGIC = {".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",),
                ".jpeg": (b"\xff\xd8\xff",)}


def upload_problem(name: str, data: bytes) -> str | None:
    """Why ``data`` cannot be a file named ``name`` (a suffix in ``CONVERTED_SUFFIXES``), in
    words, or None when it passes."""
    suffix = "." + name.rsplit(".", 1)[-1].lower()
    try:
        if suffix in OFFICE_SUFFIXES:
            from qa.ingest.office import open_package

            open_package(data, suffix, ReadContext(name, IngestLimits.from_env())).close()
        elif suffix in IMAGE_SUFFIXES:
            if not data.startswith(_IMAGE_MAGIC[suffix]):
                return f"not a {suffix[1:].upper()} image"
            from qa.ingest.scans import open_image

            open_image(data, name)
        elif suffix in TABLE_SUFFIXES:
            from qa.ingest.decode import decode_text

            decode_text(data, name)
    except CorpusError as exc:
        return str(exc).split(": ", 1)[-1]
    return None
