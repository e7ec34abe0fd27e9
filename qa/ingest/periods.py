"""Quarters written two ways: tables name them "2023Q2" where questions say "2023年第二季度"
(or "2023年二季度", "2023年Q2"). ``aliases`` gives the other spelling of each quarter a text
names, so that lexical search matches a row labelled either way."""

from __future__ import annotations

import re

_NUMERAL = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_SPOKEN = re.compile(r"((?:19|20)\d\d)\s*年?\s*(?:第?([一二三四1-4])季度|[Qq]([1-4]))")
_CODED = re.compile(r"(?<![0-9A-Za-z])((?:19|20)\d\d)\s*[Qq]([1-4])(?![0-9])")
_WORD = "一二三四"


def aliases(text: str) -> list[str]:
    """The other spellings of the quarters ``text`` names, not already in it."""
    out: list[str] = []
    for m in _SPOKEN.finditer(text):
        year, q = m.group(1), _NUMERAL[m.group(2) or m.group(3)]
        out += [f"{year}Q{q}", f"{year}年第{_WORD[q - 1]}季度"]
    for m in _CODED.finditer(text):
        year, q = m.group(1), int(m.group(2))
        out.append(f"{year}年第{_WORD[q - 1]}季度")
    return [a for a in dict.fromkeys(out) if a not in text]
