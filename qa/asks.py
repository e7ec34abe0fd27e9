"""What a question asks for, read from its wording: the kind of answer (a reason, a time, a
share, an amount, a count of people or things) and the words that name what it is about.
"""

from __future__ import annotations

import re

from . import text as textmod

#: What a question asks for, recognised from its wording, and what a sentence answering it holds.
ANSWER_TYPES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    # first: "为什么/靠什么…收入" asks for a reason or a means, not for the amount it names
    ("reason", textmod.ASKS_REASON,
     re.compile(r"因为|由于|为了|需要|亟需|旨在|从而|原因|因此|所以|导致|目的|是.{0,6}的结果")),
    ("time", re.compile(r"什么时候|啥时候?|几时|何时|哪年|哪一年|几月|哪个月|哪天|日期|\bwhen\b|what year|which year"),
     re.compile(r"\d{4}年|\d{1,2}月|\d{4}-\d{2}|年底|年初|上半年|下半年")),
    ("share", re.compile(r"比例|百分之|多少%|几成|percent|percentage|\bshare of\b"),
     re.compile(r"\d+(?:\.\d+)?%|百分之|[\d一二三四五六七八九十两几]成(?![为功本立长熟])")),
    ("amount", re.compile(r"多少钱|多少(?:万亿|亿|万|千)?(?:美元|元|人民币)|多少资金|金额|估值|市值|成本|"
                          r"花费|开销|营收|收入|利润|销售额|"
                          r"how much|\bcost\b|\bworth\b|valuation|revenue"),
     re.compile(r"\d[\d.,]*\s*(?:万亿|亿|万|千)?(?:美元|元|人民币)|\d[\d.,]*\s*(?:万亿|亿)")),
    # a count of people is not answered by a sum of money or a share ("多少用户")
    ("people", re.compile(r"多少(?:名|位|个)?(?:用户|人|员工|客户|会员|开发者|访客)|(?:用户|员工|人)(?:数|数量|规模)|"
                          r"几(?:个|名|位)?人|月活|日活|how many (?:users|people|employees|customers)"),
     re.compile(r"[\d一二三四五六七八九十两几]+(?:\.\d+)?\s*(?:万|亿)?\s*(?:名|位|个)?"
                r"(?:人|用户|员工|客户|会员|开发者|访客)")),
    ("count", re.compile(r"多少|几[家个起次项种款位名条]|how many|number of"),
     # a number that is not a year or a date ("42起", "1750亿参数", "近1%", "360美元")
     re.compile(r"(?<![\d.a-z])\d+(?:\.\d+)?(?![\d.]|\s*(?:年|月|日))"
                r"|[一二三四五六七八九十两几]+[家个起次项种款位名条]")),
)


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for (time, share, amount, count, reason) or None."""
    q = question.lower()
    for name, asks, _ in ANSWER_TYPES:
        if name in ("amount", "share") and _THING.search(q) and not _HOW_MUCH.search(q):
            continue  # "营收上涨的推动因素是什么?" names revenue but asks for a thing
        if asks.search(q):
            return name
    return None


_THING = re.compile(r"什么|哪些|哪个|哪家|哪方面|\bwhat\b|\bwhich\b")
_HOW_MUCH = re.compile(r"多少|几|多高|多大|多贵|how much|how many|what share|percent")


def type_match(kind: str | None, sentence: str) -> bool:
    """Whether ``sentence`` holds the kind of answer ``kind`` asks for."""
    for name, _, holds in ANSWER_TYPES:
        if name == kind:
            return bool(holds.search(sentence))
    return False


_ASKS = re.compile(r"^(?:是谁|是哪位|有多少|是多少|有几|在哪|在什么地方|是什么|是哪)")
#: words after which a question names what it asks about ("哪家公司", "什么产品", "咋收费");
#: a measure word between them is skipped ("哪几位创始人")
_WHICH = frozenset(["多少", "哪", "哪个", "哪家", "哪些", "哪位", "什么", "几个", "哪种", "怎么",
                    "怎样", "如何", "咋", "怎么样"])
_MEASURE = re.compile(r"^[几一]?[个家位名些种款项条类样]$")
_VAGUE = frozenset(["时候", "东西", "地方", "情况", "问题", "方面", "内容", "意思", "样子", "具体"])


_ASKING = re.compile(r"多少|几|哪|什么|何|时候|how|when|what|which")


def typed_focus(question: str, kind: str | None) -> list[str]:
    """What a question asking for a ``kind`` of value measures: its words that name the kind
    (净利润 for an amount) and the first word after its question word (多少起融资 -> 融资,
    哪一年收购 -> 收购), without stop words."""
    if kind in (None, "reason"):
        return []
    asks = next(a for name, a, _ in ANSWER_TYPES if name == kind)
    words = textmod.jieba_words(textmod.normalize(question))
    focus = [w for w in words if asks.search(w) and not _ASKING.search(w)]
    focus += [next((x for x in words[i + 1 : i + 3] if len(x) >= 2 and not _MEASURE.match(x)
                    and not _ASKING.search(x)), "")
              for i, w in enumerate(words) if _ASKING.search(w)]
    return [w for w in dict.fromkeys(focus) if len(w) >= 2 and w not in textmod.STOP_WORDS
            and w not in _VAGUE and not _UNIT.match(w)]


_UNIT = re.compile(r"^(?:万亿|亿|万|千|百)?(?:美元|元|人民币|美金|块)?$")


def asked_about(question: str) -> list[str]:
    """The words naming what a Chinese question asks about: the word just before
    是谁/有多少/在哪, and the first word of two characters or more just after 多少/哪家/什么/咋
    ("OpenAI的创始人是谁?" -> 创始人, "哪几位创始人" -> 创始人, "咋收费" -> 收费)."""
    words = textmod.jieba_words(textmod.normalize(question))
    focus = [w for i, w in enumerate(words) if _ASKS.match("".join(words[i + 1 :]))]
    focus += [next((x for x in words[i + 1 : i + 3] if len(x) >= 2 and not _MEASURE.match(x)),
                   "") for i, w in enumerate(words) if w in _WHICH]
    return [w for w in focus if len(w) >= 2 and w not in textmod.STOP_WORDS
            and w not in _VAGUE and not w.isascii()]
