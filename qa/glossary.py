"""Query expansion with a small bilingual glossary of business and technology terms.

Chinese articles name companies in Chinese (微软, 谷歌, 摩根斯坦利) while people type them in
English, by nickname or by description (Microsoft, Google, 大摩, 做Windows的那家, 搜索巨头),
and English questions share no characters with a Chinese text at all. ``expand`` appends the Chinese (and English) equivalents of the
glossary terms found in a question, so BM25 and the embedding model see the words the corpus
uses. The groups live in ``qa.glossary_terms``: mostly general vocabulary of the domain, plus
paraphrases of the article's own words drafted from the article alone; extend them for other
corpora.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from .glossary_terms import NAMES, TERMS

#: named things (companies, products) and then terms
GROUPS = NAMES + TERMS


@lru_cache(maxsize=1)
def _index() -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    lookup: dict[str, tuple[str, ...]] = {}
    for group in GROUPS:
        for term in group:
            lookup[term] = group
    terms = sorted(lookup, key=len, reverse=True)
    # English terms also match their plural and -ed/-ing forms (chatbots, acquired), except
    # short ones, where a suffix makes another word ("ai" + "d")
    # and a number is matched whole ("1 billion" is not in "1.1 billion", nor 10亿 in 110亿)
    parts = [(rf"(?<![a-z0-9.]){re.escape(t)}{'(?:s|es|d|ed|ing)?' if len(t) >= 4 else ''}"
              r"(?![a-z0-9])") if t.isascii()
             else (r"(?<![\d.])" if t[0].isdigit() else "") + re.escape(t) for t in terms]
    return re.compile("|".join(parts)), lookup


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH = re.compile(rf"(?<![a-z])({'|'.join(_MONTHS)}|{'|'.join(m[:3] for m in _MONTHS)})\.?"
                    r"(?:\s+(?:of\s+)?(\d{4}))?(?![a-z])")


_ORDINAL = re.compile(r"第([一二三四五六七八九十])(?:条|点|个|项|方面|是)")
_ORDINAL_EN = re.compile(r"\b(first|second|third|fourth|fifth)\b")
_NUMERALS = {"first": "一", "second": "二", "third": "三", "fourth": "四", "fifth": "五"}


def _lookup(found: str, lookup: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The group of a matched term, also when it matched in an inflected form."""
    if found in lookup:
        return lookup[found]
    for suffix in ("ing", "es", "ed", "s", "d"):
        if found.endswith(suffix) and found[: -len(suffix)] in lookup:
            return lookup[found[: -len(suffix)]]
    return ()


def expansions(question: str) -> list[str]:
    """The usual Chinese form of each glossary term in ``question`` that it does not already
    hold (for an English term, every Chinese form before its first English one: "launched" ->
    上线 推出), ordinals as
    enumeration markers (第二条 -> 二是), English months as 2023年8月."""
    pattern, lookup = _index()
    q = question.lower()
    out: list[str] = []
    for m in pattern.finditer(q):
        group = _lookup(m.group(), lookup)
        forms = group[:1]
        if m.group().isascii():  # an English word: every Chinese form leading the group
            forms = tuple(itertools.takewhile(lambda t: not t.isascii(), group)) or forms
        for term in forms:
            if term not in q and term not in out:
                out.append(term)
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


def synonyms(term: str) -> tuple[str, ...]:
    """Every form of the glossary group ``term`` belongs to (必应 -> bing, newbing, …), or ()."""
    return _lookup(term.lower(), _index()[1])


@lru_cache(maxsize=1)
def _name_patterns() -> list[tuple[tuple[str, ...], re.Pattern[str]]]:
    """Each ``NAMES`` group with one pattern matching any of its forms as a whole word."""
    return [(g, re.compile("|".join(rf"(?<![a-z]){re.escape(t)}(?![a-z])" for t in g)))
            for g in NAMES]


def named(question: str) -> list[tuple[str, ...]]:
    """The ``NAMES`` groups ``question`` mentions in any of their forms (巨硬 -> the 微软 group)."""
    q = question.lower()
    return [g for g, pattern in _name_patterns() if pattern.search(q)]


def expand(question: str) -> str:
    """``question`` followed by the Chinese equivalents of its glossary terms."""
    extra = expansions(question)
    return f"{question} {' '.join(extra)}" if extra else question
