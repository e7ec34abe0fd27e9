"""Bytes to text, or the reason they are not text; and ``CorpusError``, the reason a corpus
file cannot be indexed (shared by ``corpus`` and the converters, which ``corpus`` calls)."""

from __future__ import annotations

import codecs
import re

#: Encodings tried in order; GB18030 is a superset of GBK and GB2312.
ENCODINGS = ("utf-8", "gb18030")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class CorpusError(Exception):
    """A corpus file that cannot be indexed; the message names the file and the reason."""


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Decode bytes as UTF-8 or GB18030 (UTF-16 when it starts with its byte-order mark), with
    universal newlines; refuse binary data and bytes valid in none of these encodings."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in data and not utf16:
        raise CorpusError(f"{source}: binary data (NUL bytes), not a text file")
    for encoding in ("utf-16",) if utf16 else ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
            raise CorpusError(f"{source}: looks binary (control characters), not a text file")
        return text, encoding
    raise CorpusError(f"{source}: not valid {'UTF-16' if utf16 else 'UTF-8 or GB18030/GBK'} text")
