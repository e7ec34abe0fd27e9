"""What a question asks for, read from its wording: the kind of answer (a reason, a time, a
share, an amount, a count of people or things) and the words that name what it is about.
"""

from __future__ import annotations

import re
from functools import lru_cache

from qa.ingest import text as textmod
from qa.search.glossary import Glossary

_THING = re.compile(r"什么|哪些|哪个|哪家|哪几|哪种|哪类|哪方面|哪[份篇项款部]|咋样|怎么样|怎样|如何")  # English "what" asks for amounts too
_HOW_MUCH = re.compile(r"多少|(?<!哪)几|多高|多大|多贵|how much|how many|what share|percent")
#: a count of things asked for ("几家", "多少起"), and a sum of money asked for ("几亿美元")
_COUNTED = re.compile(r"(?:(?<!哪)几|多少)[家个起次项种款位名条]")
_MONEY = re.compile(r"多少钱|(?:多少|几)(?:万亿|亿|万|千)?(?:美元|元|人民币)|how much")
_UNIT = re.compile(r"^(?:万亿|亿|万|千|百)?(?:美元|元|人民币|美金|块)?$")

#: What a question asks for, recognised from its wording, and what a sentence answering it holds.
ANSWER_TYPES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    # first: "为什么/靠什么…收入" asks for a reason or a means, not for the amount it names
    ("reason", textmod.ASKS_REASON,
     re.compile(r"因为|由于|为了|需要|亟需|旨在|从而|原因|因此|所以|导致|目的|是.{0,6}的结果")),
    # a day is not answered by a month ("股价达到高点具体是哪一天?")
    ("day", re.compile(r"哪一?天|几号|几月几[日号]|日期|\bwhat day\b|\bwhich day\b|\bwhat date\b|"
                       r"\bexact date\b"),
     re.compile(r"\d{1,2}\s*[日号]|\d{4}-\d{1,2}-\d{1,2}")),
    # who holds a role, or who did something: a title or a transliterated name answers it
    ("person", re.compile(r"(?:创始人|创办人|首席执行官|ceo|总裁|董事长|负责人|老板|掌门人|领导|高管|作者)"
                          r"(?:是谁|是哪位)|谁(?:牵头|领导|创立|创办|发明|提出|负责|执掌|掌舵)|哪几?位|哪些人|什么人|"
                          r"\bwho (?:is|was) (?:the )?(?:ceo|founder|head|leader|chief|president|"
                          r"chairman)\b|\bwho (?:led|leads|founded|runs|ran)\b"),
     re.compile(r"首席执行官|\bceo\b|总裁|董事长|创始人|负责人|科学家|教授|先生|女士|\w·\w")),
    # a month is not answered by a year alone ("2021年那笔投资是几月份宣布的?")
    ("month", re.compile(r"几月|哪个月|哪一个月|什么月份|\b(?:which|what) month\b"),
     re.compile(r"\d{1,2}\s*月(?!份?以来)")),
    ("time", re.compile(r"什么时候|啥时候?|几时|(?<!任)何时|哪年|哪一年|\bwhen\b|what year|which year"),
     re.compile(r"\d{4}年|\d{1,2}月|\d{4}-\d{2}|年底|年初|上半年|下半年")),
    ("share", re.compile(r"比例|百分之|多少%|几成|percent|percentage|\bshare of\b"),
     re.compile(r"\d+(?:\.\d+)?%|百分之|[\d一二三四五六七八九十两几]成(?![为功本立长熟不])")),
    ("amount", re.compile(r"多少钱|(?:多少|几)(?:万亿|亿|万|千)?(?:美元|元|人民币)|多少资金|金额|估值|市值|成本|"
                          r"花费|开销|营收(?!占比|增速)|收入|利润(?!率)|销售额|收费|定价|价格|售价|费用|"
                          r"资费|工资|薪酬|年薪|"
                          r"how much (?:money|cash|did|does|do|was|is|were|will|has|had|would)\b|"
                          r"\bcost\b|\bworth\b|valuation|revenue"),
     # a bare 亿 is money unless it counts something else ("3000亿参数")
     re.compile(r"\d[\d.,]*\s*(?:万亿|亿|万|千)?(?:美元|元|人民币)"
                r"|\d[\d.,]*\s*(?:万亿|亿)(?!个|次|名|位|人|用户|参数|字|条|家|起|台|张|token)"
                r"|[数几十百千]+(?:万亿|亿|万)(?:美元|元)")),
    # a count of people is not answered by a sum of money or a share ("多少用户")
    ("people", re.compile(r"多少(?:名|位|个)?(?:活跃|注册|付费|日活|月活)?(?:用户|人(?![工民类])|员工|客户|会员|开发者|访客)|"
                          r"(?:用户|员工|人)(?:数|数量|规模)|"
                          r"几(?:个|名|位)?人|月活|日活|how many (?:users|people|employees|customers)"),
     re.compile(r"(?<!第)[\d一二三四五六七八九十两几]+(?:\.\d+)?\s*(?:万|亿)?\s*(?:名|位|个)?"
                r"(?:人(?![工民类])|用户|员工|客户|会员|开发者|访客)")),
    # "how much compute": a quantity, not a sum of money
    ("count", re.compile(r"多少|(?<!哪)几[家个起次项种款位名条]|how many|how much|number of"),
     # a number that is not a year or a date ("42起", "3000亿参数", "近2%", "99美元")
     re.compile(r"(?<![\d.a-z])\d+(?:\.\d+)?(?![\d.]|\s*(?:年|月|日))"
                r"|[一二三四五六七八九十两几]+[家个起次项种款位名条]")),
)


#: a question asking what something is called, or which company or body did something
_ASKS_NAME = re.compile(r"叫什么|叫啥|哪几家|哪些(?:公司|企业|机构)|哪[份篇](?:报告|文章|研究|数据)|"
                        r"什么名字|啥名|名字是(?:什么|啥)(?!意思)|名称是(?:什么|啥)(?!意思)|叫做什么|"
                        r"哪家(?:公司|机构|企业|投行|媒体|智库|咨询公司)|"
                        r"\bwhat (?:is|was) (?:it|the \w+(?: \w+)?) called\b|\bname of\b|"
                        r"\bwhich (?:compan(?:y|ies)|firms?|organi[sz]ations?|institutions?|banks?)\b")
#: a name in Latin letters (DeepMind, Cortana, similarweb), or a quoted term
_LATIN_NAME = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9.&-]*[a-z0-9](?![a-z0-9])|“[^”]{1,20}”")
#: a text giving a name in Chinese ("首任店长名叫李四", "简称小冰")
_NAMING = re.compile(r"名叫|叫做|叫作|名为|称为|称作|简称|命名为|取名|代号")


def holds_name(text: str, glossary: Glossary, question: str = "") -> bool:
    """Whether normalised ``text`` names a company, product, body or person that ``question``
    does not (谷歌 answers "微软靠收购哪家公司…", not "谷歌靠收购哪家公司…"): a glossary name
    (谷歌, 小冰), a quoted term, a Latin word that is no glossary term of the field (ai, aigc),
    or words that give a name (名叫, 简称). Other Chinese names go unseen."""
    if _NAMING.search(text):
        return True
    q, asked = _names_of(question, glossary)
    if any(g not in asked for g in glossary.named(text)):
        return True
    return any(m.startswith("“") or (not _field_term(m, glossary) and m not in q
                                     and not any(m in g for g in asked))
               for m in _LATIN_NAME.findall(text))


@lru_cache(maxsize=1024)
def _names_of(question: str, glossary: Glossary) -> tuple[str, tuple[tuple[str, ...], ...]]:
    """The normalised ``question`` and the glossary names it holds (``holds_name`` asks for
    them once per sentence of an answer's passages)."""
    q = textmod.normalize(question)
    return q, tuple(glossary.named(q))


def _field_term(word: str, glossary: Glossary) -> bool:
    """Whether a Latin word is a term of the field (ai, aigc: its glossary group leads with
    a Chinese word), not a name (similarweb, azure)."""
    group = glossary.synonyms(word)
    return bool(group) and not group[0].isascii()


def _asks(kind: str) -> re.Pattern[str]:
    """The pattern of a question asking for ``kind`` (an answer type or "name")."""
    return _ASKS_NAME if kind == "name" else next(a for n, a, _ in ANSWER_TYPES if n == kind)


@lru_cache(maxsize=4096)
def _words(question: str) -> tuple[str, ...]:
    """The jieba words of the normalised ``question`` (asked for several times an answer)."""
    return tuple(textmod.jieba_words(textmod.normalize(question)))


@lru_cache(maxsize=4096)
def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for (reason, day, person, month, time, share,
    amount, people, count, name) or None."""
    q = question.lower()
    for name, asks, _ in ANSWER_TYPES:
        if name in ("amount", "share") and _THING.search(q) and not _HOW_MUCH.search(q):
            continue  # "营收上涨的推动因素是什么?" names revenue but asks for a thing
        if name == "amount" and _COUNTED.search(q) and not _MONEY.search(q):
            continue  # "冒出了几家估值超十亿美元的公司?" counts companies
        if asks.search(q):
            return name
    return "name" if _ASKS_NAME.search(q) else None


def type_match(kind: str | None, sentence: str, glossary: Glossary, question: str = "") -> bool:
    """Whether ``sentence`` holds the kind of answer ``kind`` asks for (for a name: one that
    ``question`` does not name itself)."""
    if kind == "name":
        return holds_name(sentence, glossary, question)
    for name, _, holds in ANSWER_TYPES:
        if name == kind:
            return bool(holds.search(sentence))
    return False


def typed_span(kind: str | None, sentence: str) -> tuple[int, int] | None:
    """Where ``sentence`` first holds the kind of answer ``kind`` asks for (a date, an amount,
    a count, a quoted or Latin name), as (start, end) within it, or None: the short answer by
    pattern, the way to compare the reader with (``QA_READER=none``)."""
    if kind is None or kind == "reason":
        return None
    pattern = _LATIN_NAME if kind == "name" else next(
        (holds for name, _, holds in ANSWER_TYPES if name == kind), None)
    m = pattern.search(sentence.lower()) if pattern else None
    return (m.start(), m.end()) if m else None


#: what follows the word naming what a question asks about ("创始人是谁", "总部在哪"); not
#: 是什么/哪家 X, whose X is often a category the answer is an instance of ("数据来源是什么",
#: "哪家机构": the corpus need not hold 来源 or 机构)
_ASKED_BEFORE = re.compile(r"^(?:是谁|是哪位|有多少|是多少|有几|在哪(?!家)|在什么地方)")
_MEASURE = re.compile(r"^[几一]?[个家位名些种款项条类样]$")
_VAGUE = frozenset(["时候", "东西", "地方", "情况", "问题", "方面", "内容", "意思", "样子", "具体", "一共",
                    "总共", "大概", "大约", "达到", "分别", "需要", "能够", "算是", "一次", "名字",
                    "名称"])


#: what a named thing is one of ("那家AI研究公司叫什么?"): not what a name question is about
_KINDS_OF_NAMED = frozenset(["公司", "企业", "机构", "产品", "服务", "平台", "项目", "团队", "组织",
                             "软件", "工具", "东西", "玩意", "程序", "应用"])


_QUESTION_WORD = re.compile(r"多少|几(?!乎)|哪|什么|(?<!任)何|时候|\b(?:how|when|what|which)\b")


#: words that ask for any value of a kind, not for a measure the corpus must name
_ANY_VALUE = frozenset(["金额", "多少钱", "多少资金", "价格"])


def measures(question: str, kind: str | None) -> list[str]:
    """The words of a question asking for an amount that name what it measures (收费 in
    "Azure OpenAI企业版服务怎么收费?", 估值 in "OpenAI估值多少?"); not words asking for any
    amount (金额, 多少钱)."""
    if kind != "amount":  # 比例, 百分之, 几月: any value of the kind
        return []
    asks = _asks(kind)
    found = [m.group() for w in _words(question) if not _QUESTION_WORD.search(w)
             for m in [asks.search(w)] if m]  # 增加收入 -> 收入
    return [w for w in found if len(w) >= 2 and w not in _ANY_VALUE]


def typed_focus(question: str, kind: str | None, glossary: Glossary) -> list[str]:
    """What a question asking for a ``kind`` of value measures: its words that name the kind
    (净利润 for an amount), the first word after its question word (多少起融资 -> 融资,
    哪一年收购 -> 收购) and the last content word before it that is not a name (研发投入具体是
    多少 -> 投入), without stop words."""
    if kind in (None, "reason"):
        return []
    asks = _asks(kind)
    words = _words(question)
    asking = [i for i, w in enumerate(words) if _QUESTION_WORD.search(w)]
    focus = [w for w in words if asks.search(w) and not _QUESTION_WORD.search(w)]
    if kind != "name":  # after 哪家/叫什么 comes what the answer is one of (公司, 名字)
        focus += [next((x for x in words[i + 1 : i + 3] if len(x) >= 2
                        and not _MEASURE.match(x) and not _QUESTION_WORD.search(x)), "")
                  for i in asking]
    if asking:  # the word before the question word: "研发投入具体是多少" -> 投入
        focus += [next((x for x in reversed(words[: asking[0]]) if len(x) >= 2
                        and x not in textmod.STOP_WORDS and x not in _VAGUE
                        and not x.isascii() and not glossary.named(x) and not x[0].isdigit()), "")]
    return [w for w in dict.fromkeys(focus) if len(w) >= 2 and w not in textmod.STOP_WORDS
            and w not in _VAGUE and not _UNIT.match(w)
            and not (kind == "name" and w in _KINDS_OF_NAMED)]


def asked_about(question: str) -> list[str]:
    """The words naming what a Chinese question asks about: the word just before
    是谁/有多少/在哪 ("OpenAI的创始人是谁?" -> 创始人, "OpenAI的总部在哪里?" -> 总部)."""
    words = _words(question)
    focus = [w for i, w in enumerate(words) if _ASKED_BEFORE.match("".join(words[i + 1 :]))]
    return [w for w in focus if len(w) >= 2 and w not in textmod.STOP_WORDS
            and w not in _VAGUE and not w.isascii()]


#: words that end like a name of an organisation ("苹果公司", "华西医院")
_ORG_SUFFIXES = ("公司", "集团", "银行", "大学", "学院", "医院", "研究院", "研究所", "基金会", "协会")
#: what stands before such a suffix without naming anyone ("保险公司", "初创公司")
_GENERIC_ORG = frozenset(
    ["软件", "科技", "保险", "投资", "上市", "互联网", "技术", "网络", "贸易", "房地产", "物业", "经纪", "管理", "服务", "发展", "控股", "实业", "建设", "工程", "电子", "信息", "咨询", "传媒", "文化", "医药", "汽车", "食品", "电器", "能源", "环保", "物流", "金融", "证券", "基金", "信托", "财产", "人寿", "商业", "农业", "教育", "中介", "担保", "律师", "会计师", "评估", "拍卖", "初创", "创业", "新创", "母", "子", "分", "总", "大", "小", "这家", "那家", "哪家", "该", "本", "其", "一家", "某",
     "两家", "几家", "多家", "各家", "每家", "这个", "那个", "哪个", "这所", "那所", "哪所", "本案", "涉案",
     "双方", "对方", "当地"])
#: jieba's tags of proper nouns: people, places, organisations, other names
_PROPER_TAGS = frozenset({"nr", "ns", "nt", "nz", "nrt"})
_MODEL_NUMBER = re.compile(r"(?<![a-z0-9])(?=[a-z0-9.-]*\d)(?=[a-z0-9.-]*[a-z])[a-z0-9][a-z0-9.-]*"
                           r"[a-z0-9](?![a-z0-9])")


@lru_cache(maxsize=4096)
def question_entities(question: str) -> tuple[str, ...]:
    """The names a Chinese question is about, as the corpus would write them: proper nouns by
    jieba's dictionary (people, places, organisations), the name before an organisation's
    suffix (``organisation_names``) and model numbers ("x5", "gpt-4"); normalised."""
    import jieba.posseg as pseg

    q = textmod.normalize(question)
    if not textmod.is_chinese(q):
        return ()
    out = dict.fromkeys(m for m in _MODEL_NUMBER.findall(q))
    for word, tag in pseg.lcut(q, HMM=False):
        if tag in _PROPER_TAGS and len(word) >= 2 and word not in _GENERIC_ORG:
            out[word] = None
    out.update(dict.fromkeys(organisation_names(question)))
    return tuple(out)


@lru_cache(maxsize=4096)
def organisation_names(question: str) -> tuple[str, ...]:
    """The names of organisations a Chinese question names by their suffix: "苹果" of
    "苹果公司", "华西" of "华西医院"; not kinds of organisation ("保险公司", "初创公司")."""
    import jieba

    q = textmod.normalize(question)
    if not textmod.is_chinese(q):
        return ()
    out = []
    words = jieba.lcut(q, HMM=False)
    for i, word in enumerate(words):
        for suffix in _ORG_SUFFIXES:
            if word == suffix and i and len(words[i - 1]) >= 2:
                name = words[i - 1]
            elif word.endswith(suffix) and len(word) >= len(suffix) + 2:
                name = word[: -len(suffix)]
            else:
                continue
            if name not in _GENERIC_ORG and not _QUESTION_WORD.search(name):
                out.append(name)
    return tuple(dict.fromkeys(out))


#: a question answered by yes or no: by its words ("是否…", "能不能…", "有无…") or by a final 吗
_YES_NO_WORDS = re.compile(r"是否|是不是|能否|可否|能不能|可不可以|会不会|有没有|有无|要不要|对不对|"
                           r"算不算|需不需要")
_FINAL_MA = re.compile(r"吗\s*[?？]?\s*$")
#: words that deny what follows them
NEGATION = re.compile(r"不|没有|没|未|无|非|否|禁止|不得|不能|不可|不予|拒绝|无需|无须|免")


def asks_yes_no(question: str) -> bool:
    """Whether ``question`` asks to be answered yes or no: it says "是否/能不能/有无…", or ends in
    吗 without asking what, which or how much ("有什么优惠吗?" asks what); never "是A还是B"."""
    q = textmod.normalize(question)
    if "还是" in q:
        return False
    if _YES_NO_WORDS.search(q):
        return True
    return bool(_FINAL_MA.search(q)) and not _QUESTION_WORD.search(_FINAL_MA.sub("", q))


def verdict(question: str, evidence: str) -> str:
    """"是" or "否": whether ``evidence`` (the sentence that answers) affirms ``question``. A
    negation the evidence holds near the question's words and the question does not (or the
    other way round) makes it "否"."""
    q = _YES_NO_WORDS.sub("", _FINAL_MA.sub("", textmod.normalize(question)))
    e = textmod.normalize(evidence)
    denied_q = bool(NEGATION.search(q))
    near = [e[max(0, i - 6): i + len(w) + 6] for w in textmod.words(q) if len(w) >= 2
            for i in [e.find(w)] if i >= 0]
    denied_e = any(NEGATION.search(x) for x in near) if near else bool(NEGATION.search(e))
    return "否" if denied_q != denied_e else "是"
