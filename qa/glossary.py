"""Query expansion with a small bilingual glossary of business and technology terms.

Chinese articles name companies in Chinese (微软, 谷歌, 摩根斯坦利) while people type them in
English or by nickname (Microsoft, Google, 大摩), and English questions share no characters
with a Chinese text at all. ``expand`` appends the Chinese (and English) equivalents of the
glossary terms found in a question, so BM25 and the embedding model see the words the corpus
uses. The glossary is general vocabulary of the domain, not tuned to one article; extend it
for other corpora.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

#: groups of interchangeable names (``NAMES``: companies, products, places) and terms; the
#: first entry of a group is the usual Chinese form, and the Chinese entries before its first
#: English one are all formal equivalents (English terms expand to all of them); later Chinese
#: entries are colloquial synonyms.
NAMES: tuple[tuple[str, ...], ...] = (
    # companies, products, people
    ("微软", "microsoft", "msft", "巨硬"),
    ("谷歌", "google", "alphabet", "狗家"),
    ("必应", "bing", "newbing", "new bing", "新必应"),
    ("苹果公司", "apple"),
    ("亚马逊", "amazon", "aws"),
    ("英伟达", "nvidia"),
    ("meta", "facebook", "脸书"),
    ("摩根斯坦利", "摩根士丹利", "morgan stanley", "大摩"),
    ("摩根大通", "jpmorgan", "小摩"),
    ("高盛", "goldman sachs"),
    ("deepmind", "深度思维"),
    ("alphago", "阿尔法狗", "阿尔法围棋"),
    ("小冰", "xiaoice"),
    ("cortana", "小娜"),
    ("skype", "斯盖普"),
    ("tensorflow", "张量流"),
    ("azure", "微软云"),
    ("谷歌云", "google cloud", "gcp"),
    ("硅谷", "silicon valley"),
)
TERMS: tuple[tuple[str, ...], ...] = (
    # the field
    ("独角兽", "unicorn"),
    ("人工智能", "ai", "artificial intelligence"),
    ("通用人工智能", "agi"),
    ("生成式ai", "generative ai", "aigc"),
    ("大模型", "large model", "llm", "大语言模型"),
    # money and markets
    ("投资", "invest", "invested", "investment", "砸钱", "注资", "入股"),
    ("追加投资", "additional investment", "invest more", "加码"),
    ("市值", "market value", "market cap", "market capitalization", "身价"),
    ("股价", "share price", "stock price", "股票价格"),
    ("估值", "valuation", "valued", "worth", "值多少钱", "值多少", "值几个钱"),
    ("营收", "revenue", "sales", "销售额", "收入"),
    ("利润", "profit", "盈利", "earnings"),
    ("净利润", "net profit", "net income"),
    ("分红权", "分红", "dividend", "profit share", "share of profits"),
    ("季报", "quarterly report", "财报", "earnings report"),
    ("融资", "financing", "funding", "funding rounds", "raised"),
    ("并购", "收购", "acquire", "acquired", "acquisition", "merger", "买下", "买了", "吞并"),
    ("初创企业", "初创公司", "startup", "startups", "start-up"),
    ("成本", "cost", "costs", "花费", "开销", "烧钱"),
    ("研发投入", "r&d", "research and development", "研发"),
    # technology and operations
    ("算力", "computing power", "compute", "计算能力", "计算资源"),
    ("参数", "parameters", "parameter"),
    ("云计算", "cloud computing", "cloud"),
    ("超级计算", "supercomputing", "supercomputer", "超算"),
    ("搜索流量", "search traffic", "访问量"),
    ("聊天机器人", "chatbot", "chat bot"),
    ("知识产权", "intellectual property", "ip"),
    ("商业化", "commercialization", "commercialize", "monetize"),
    ("用户规模", "user base", "number of users"),
    ("虚拟助理", "virtual assistant"),
    ("即时翻译", "real-time translation", "instant translation"),
    ("迁移", "migrate", "migrated", "move", "moved", "搬迁"),
    # common English words of business news
    ("股价", "stock", "shares"),
    ("历史高点", "record high", "all-time high", "highest"),
    ("上涨", "rise", "rose", "increase", "increased", "grew", "gain"),
    ("下降", "decline", "declined", "drop", "dropped", "fall", "fell", "decrease"),
    ("增长", "growth", "grow", "growing"),
    ("流量", "traffic"),
    ("搜索", "search"),
    ("预计", "expected", "estimated", "estimate", "forecast", "predicted"),
    ("每天", "per day", "daily", "a day", "each day"),
    ("上线", "推出", "launch", "launched", "went live", "release", "released", "introduce",
     "introduced", "roll out", "rolled out"),
    ("开发", "develop", "developed", "developing", "development", "build", "built"),
    ("支持", "support", "supported", "backing"),
    ("转型", "transform", "transformation", "transition", "became"),
    ("技术", "technology", "technologies", "tech"),
    ("产品", "product", "products"),
    ("企业", "company", "companies", "enterprise", "firm"),
    ("用户", "users", "user", "customers"),
    ("服务", "service", "services"),
    # reasons, lessons
    ("原因", "reason", "reasons", "why", "为什么", "为啥"),
    ("启示", "lesson", "lessons", "insight", "insights", "takeaway", "takeaways"),
    ("合作", "cooperation", "partnership", "partner", "collaboration"),
    ("竞争优势", "competitive advantage", "edge"),
    ("互惠", "mutual benefit", "win-win", "双赢", "共赢"),
    ("愿景", "vision"),
    ("非盈利", "non-profit", "nonprofit"),
    ("有限盈利", "capped-profit", "capped profit"),
    ("对抗", "compete with", "rival", "对手"),
)
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
    parts = [(rf"(?<![a-z0-9]){re.escape(t)}{'(?:s|es|d|ed|ing)?' if len(t) >= 4 else ''}"
              r"(?![a-z0-9])") if t.isascii() else re.escape(t) for t in terms]
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


def expand(question: str) -> str:
    """``question`` followed by the Chinese equivalents of its glossary terms."""
    extra = expansions(question)
    return f"{question} {' '.join(extra)}" if extra else question
