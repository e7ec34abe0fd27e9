"""Query expansion with a bilingual glossary of interchangeable names and terms.

Chinese articles name companies in Chinese (微软, 谷歌) while people type them in English, by
nickname or by description (Microsoft, 大摩, 搜索巨头), and English questions share no
characters with a Chinese text at all. ``Glossary.expand`` appends the Chinese (and English)
equivalents of the glossary terms found in a question, so BM25 and the embedding model see the
words the corpus uses.

A glossary is data, never code: the general one ships as ``qa/search/data/glossary.tsv`` (business and
technology vocabulary), and a corpus may add its own in ``<corpus>/.qa/glossary.tsv`` (same
format). ``Glossary.for_corpus`` loads both for one engine, so two engines over different
corpora never share a corpus's entries. Format: one group a line, tab-separated, its kind
(``name``: a company, product or person a question may be about; ``term``: any other word) and
then its forms, the usual Chinese form first; ``#`` starts a comment line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from functools import cached_property, lru_cache
from pathlib import Path

GENERAL = Path(__file__).resolve().parent / "data" / "glossary.tsv"
#: where a corpus keeps its own glossary, relative to the corpus folder
CORPUS_GLOSSARY = Path(".qa") / "glossary.tsv"
KINDS = ("name", "term")

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH = re.compile(rf"(?<![a-z])({'|'.join(_MONTHS)}|{'|'.join(m[:3] for m in _MONTHS)})\.?"
                    r"(?:\s+(?:of\s+)?(\d{4}))?(?![a-z])")
_ORDINAL = re.compile(r"第([一二三四五六七八九十])(?:条|点|个|项|方面|是)")
_ORDINAL_EN = re.compile(r"\b(first|second|third|fourth|fifth)\b")
_NUMERALS = {"first": "一", "second": "二", "third": "三", "fourth": "四", "fifth": "五"}


class GlossaryError(ValueError):
    """A glossary file that cannot be read; the message names the file and line."""


def read_groups(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``(kind, forms)`` of every group in a glossary file (forms lowercased)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GlossaryError(f"{path}: cannot read the glossary ({exc})") from None
    groups = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kind, *forms = [f.strip() for f in line.split("\t")]
        forms = [f.lower() for f in forms if f]
        if kind not in KINDS or not forms:
            raise GlossaryError(f"{path}:{number}: expected 'name' or 'term', then forms "
                                f"separated by tabs, not {line[:60]!r}")
        groups.append((kind, tuple(dict.fromkeys(forms))))
    return groups


@lru_cache(maxsize=1)
def _general_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(read_groups(GENERAL))


class Glossary:
    """Groups of interchangeable names (``names``) and terms, and what a question's words
    expand to. Immutable once made; hashable by identity (caches key on it)."""

    def __init__(self, groups: Iterable[tuple[str, tuple[str, ...]]] = (),
                 sources: tuple[str, ...] = ()) -> None:
        groups = list(groups)
        self.names = tuple(forms for kind, forms in groups if kind == "name")
        self.groups = self.names + tuple(forms for kind, forms in groups if kind == "term")
        self.sources = sources

    @classmethod
    def general(cls) -> Glossary:
        return cls(_general_groups(), (str(GENERAL),))

    @classmethod
    def for_corpus(cls, corpus_dir: Path) -> Glossary:
        """The general glossary plus the corpus's own ``.qa/glossary.tsv``, if it has one."""
        own = corpus_dir / CORPUS_GLOSSARY
        if not own.is_file():
            return cls.general()
        return cls([*_general_groups(), *read_groups(own)], (str(GENERAL), str(own)))

    def __len__(self) -> int:
        return len(self.groups)

    @cached_property
    def _lookup(self) -> dict[str, tuple[str, ...]]:
        lookup: dict[str, tuple[str, ...]] = {}
        for group in self.groups:
            for term in group:
                lookup.setdefault(term, group)
        return lookup

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        # English terms also match their plural and -ed/-ing forms (chatbots, acquired), except
        # short ones, where a suffix makes another word ("ai" + "d"); a number is matched whole
        # ("1 billion" is not in "1.1 billion", nor 10亿 in 110亿)
        terms = sorted(self._lookup, key=len, reverse=True)
        parts = [(rf"(?<![a-z0-9.]){re.escape(t)}{'(?:s|es|d|ed|ing)?' if len(t) >= 4 else ''}"
                  r"(?![a-z0-9])") if t.isascii()
                 else (r"(?<![\d.])" if t[0].isdigit() else "") + re.escape(t) for t in terms]
        return re.compile("|".join(parts) or r"(?!x)x")

    @cached_property
    def _name_patterns(self) -> list[tuple[tuple[str, ...], re.Pattern[str]]]:
        return [(g, re.compile("|".join(rf"(?<![a-z]){re.escape(t)}(?![a-z])" for t in g)))
                for g in self.names]

    def group_of(self, found: str) -> tuple[str, ...]:
        """The group of a term, also when it is given in an inflected form."""
        lookup = self._lookup
        if found in lookup:
            return lookup[found]
        for suffix in ("ing", "es", "ed", "s", "d"):
            if found.endswith(suffix) and found[: -len(suffix)] in lookup:
                return lookup[found[: -len(suffix)]]
        return ()

    def synonyms(self, term: str) -> tuple[str, ...]:
        """Every form of the group ``term`` belongs to (必应 -> bing, newbing, …), or ()."""
        return self.group_of(term.lower())

    def named(self, text: str) -> list[tuple[str, ...]]:
        """The name groups ``text`` mentions in any of their forms (巨硬 -> the 微软 group)."""
        q = text.lower()
        return [g for g, pattern in self._name_patterns if pattern.search(q)]

    def expansions(self, question: str) -> list[str]:
        """The usual Chinese form of each glossary term in ``question`` that it does not
        already hold (for an English term, every Chinese form before its first English one:
        "launched" -> 上线 推出), ordinals as enumeration markers (第二条 -> 二是), English
        months as 2023年8月."""
        q = question.lower()
        out: list[str] = []
        for m in self._pattern.finditer(q):
            group = self.group_of(m.group())
            forms = group[:1]
            if m.group().isascii():  # an English word: every Chinese form leading the group
                forms = tuple(itertools.takewhile(lambda t: not t.isascii(), group)) or forms
            out += [t for t in forms if t not in q and t not in out]
        # Chinese enumerations read "一是…二是…" or "其一…其二": 第二条 means the "二是" item
        numerals = [m.group(1) for m in _ORDINAL.finditer(q)]
        numerals += [_NUMERALS[m.group(1)] for m in _ORDINAL_EN.finditer(q)]
        out += [form for n in numerals for form in (f"{n}是", f"其{n}")]
        for m in _MONTH.finditer(q):
            month = [x[:3] for x in _MONTHS].index(m.group(1)[:3]) + 1
            if m.group(1) == "may" and not m.group(2):
                continue  # "may" is usually the verb
            out.append(f"{m.group(2)}年{month}月" if m.group(2) else f"{month}月")
        return out

    def expand(self, question: str) -> str:
        """``question`` followed by the Chinese equivalents of its glossary terms."""
        extra = self.expansions(question)
        return f"{question} {' '.join(extra)}" if extra else question
