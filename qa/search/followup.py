"""Follow-up questions: read a question that leans on earlier turns in their context.

"那2021年呢?" after "微软2019年向OpenAI投资了多少钱?" means "微软2021年向OpenAI投资了多少钱?".
Without a language model we do what works for retrieval: when the new question looks like a
follow-up (short, starts with 那/它/这/第N条…, ends with 呢, or has no content words of its
own), the earlier question is put in front of it so the search sees both. A self-contained
question is left alone, so history never drowns it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.ingest import text as textmod

_LEANING = re.compile(
    r"^(那|那么|那个|那些|那它|它|它们|它的|他|他们|她|其|这|这个|这些|该|此|还有|另外|再|又|"
    r"然后|and|what about|how about|and what|it|its|they|their|that|this|those)"
    r"|^.{0,6}?[又还再](?:[加投涨跌降花推有])"
    r"|^第[一二三四五六七八九十两\d]+(条|个|点|项|次|轮|是)|呢[?？]?$|[?？]?\s*then[?？]?$",
    re.IGNORECASE)
SHORT = 5  # distinct content bigrams: a question with fewer than this is probably a follow-up


def in_context(question: str, history: Sequence[str]) -> str:
    """``question`` read after the newest earlier question: what the search sees."""
    return f"{history[-1]} {question}"


def search_context(question: str, history: Sequence[str]) -> str | None:
    """``in_context`` when ``question`` is a follow-up of a non-empty ``history``, else None:
    how ``QA.ask`` first searches (it may retry a refused question in context)."""
    return in_context(question, history) if history and is_followup(question) else None


def is_followup(question: str) -> bool:
    """Whether ``question`` probably leans on the conversation before it."""
    q = question.strip()
    if _LEANING.search(q):
        return True
    return textmod.is_chinese(q) and len(set(textmod.bigrams(q))) < SHORT
