"""Chinese-aware text helpers: normalising, sentence spans and the two BM25 tokenisations.

Two tokenisers feed BM25: ``words`` (jieba segmentation, stop words dropped) and ``bigrams``
(overlapping CJK character pairs plus whole Latin/number tokens). They fail differently —
jieba misses unusual compounds, bigrams over-match short words — so the retriever uses both.
jieba is imported on first use, not at import time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

#: Sentence ends: Chinese and Western full stops, question and exclamation marks, semicolons.
SENTENCE_END = "。！？；!?;"
_SENTENCE = re.compile(rf"[^{SENTENCE_END}\n]*(?:[{SENTENCE_END}]+[”’」』)）\"']*|\n|$)")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:[.%][a-z0-9]+)*%?")
_SPACE = re.compile(r"\s+")
#: a question asking for a reason or a means ("为什么/靠什么…收入" asks why, not how much)
ASKS_REASON = re.compile(r"为什么|为何|为啥|原因|怎么会|凭什么|靠什么|凭借什么|\bwhy\b")

STOP_WORDS = frozenset(
    ["的", "了", "是", "在", "和", "与", "及", "也", "都", "就", "而", "等", "对", "为", "将", "从", "向", "被", "把", "呢", "吗", "吧", "啊", "呀", "么", "嘛", "哦", "之", "其", "该", "这", "那", "这个", "那个", "这些", "那些", "这样", "那样", "一个", "一些", "有", "有的", "没有", "个", "些", "又", "还", "再", "并", "或", "或者", "以及", "因为", "所以", "什么", "多少", "哪", "哪里", "哪些", "哪个", "哪年", "哪一年", "几", "几个", "怎么", "怎样", "怎么样", "如何", "为什么", "为何", "是否", "是不是", "请问", "请", "告诉", "我", "你", "他", "她", "它", "我们", "你们", "他们", "它们", "谁", "吗", "能", "会", "可以", "到底", "究竟", "文章", "文中", "本文", "提到", "说", "讲", "一下", "当时", "当年", "时候", "年份", "哪一", "多", "少", "大概", "大约", "约", "左右", "the", "a", "an", "of", "to", "in", "is", "was", "are", "were", "what", "how", "why", "which", "who", "when", "does", "did", "do", "for", "on", "by", "and", "or", "with", "about", "much", "many"]
)


def normalize(text: str, lowercase: bool = True) -> str:
    """Text as the models see it: NFKC (full-width to half-width), lowercased, spaces folded."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE.sub(" ", text)
    return text.lower() if lowercase else text


def is_chinese(text: str) -> bool:
    """Whether ``text`` is written in Chinese (Latin names inside it allowed): it holds at
    least two CJK characters and at least as many CJK characters as Latin words."""
    cjk = sum("\u3400" <= ch <= "\ufaff" for ch in text)
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    return cjk >= 2 and cjk >= latin_words


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of each sentence in ``text[start:end]``, trimmed of whitespace.

    A sentence ends at 。！？；!?; (with any closing quotes) or at a line end.
    """
    end = len(text) if end is None else end
    for m in _SENTENCE.finditer(text, start, end):
        s, e = m.start(), m.end()
        while s < e and (text[s].isspace() or text[s] == "\ufeff"):
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            yield s, e


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def jieba_words(text: str) -> list[str]:
    """Every jieba word of ``text`` as given (stop words and punctuation included)."""
    return [w for w in _jieba().lcut(text) if w.strip()]


def words(text: str) -> list[str]:
    """jieba words of the normalised text, without stop words and punctuation."""
    text = normalize(text)
    out = []
    for w in _jieba().lcut(text):
        w = w.strip()
        if w and w not in STOP_WORDS and _TOKEN.search(w):
            out.append(w)
    return out


@lru_cache(maxsize=1)
def _stop_phrases() -> re.Pattern[str]:
    cjk = sorted((w for w in STOP_WORDS if len(w) > 1 and not w.isascii()), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, cjk)))


def bigrams(text: str) -> list[str]:
    """Overlapping CJK character bigrams (single characters for one-character runs) plus
    whole Latin/number tokens, from the normalised text with multi-character stop words
    (什么, 多少, 为什么 …) cut out and single-character ones dropped."""
    out: list[str] = []
    for m in _TOKEN.finditer(_stop_phrases().sub(" ", normalize(text))):
        run = m.group()
        if not ("\u3400" <= run[0] <= "\ufaff") or len(run) == 1:
            if run not in STOP_WORDS:
                out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out
