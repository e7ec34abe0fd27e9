"""The questions of ``bench/load.py``: every question asked in a load test is distinct, so
nothing kept from an earlier question (jieba's parse of it, its entities, its expansions) helps
a later one, and no answer could come from a cache.

The 132 questions of tests/data/questions.jsonl are each asked in up to 24 wordings: as
written, or after a polite opening that does not change what is asked ("请问", "我想知道",
"Could you tell me"...), so 3168 distinct questions. ``Source`` hands them out across runs and
counts any repeat (only when a run asks more than that).
"""

from __future__ import annotations

import random
import threading
from typing import Any

from common import questions

OPENINGS_ZH = ("", "请问", "我想知道", "想问一下，", "请告诉我", "麻烦问下，", "能否告诉我",
               "打听一下，", "问一下，", "我想了解", "请帮我查一下：", "劳驾问下，", "想请教，",
               "请回答：", "你好，", "您好，请问", "同事问我：", "帮我看看：", "有个问题：",
               "我很好奇：", "查一下：", "请简要回答：", "考考你：", "求助：")
OPENINGS_EN = ("", "Please tell me: ", "I'd like to know: ", "Question: ", "Quick question: ",
               "Could you tell me: ", "Do you know: ", "Tell me: ", "Help me find out: ",
               "I wonder: ", "Briefly: ", "Hi, ", "Hello, ", "Can you answer this: ",
               "Look up: ", "A colleague asks: ", "Out of curiosity: ", "Please answer: ",
               "One question: ", "Check for me: ", "I need to know: ", "Quiz: ", "Help: ",
               "Hey, ")


def worded(item: dict[str, Any], n: int) -> dict[str, Any]:
    """``item`` asked in its ``n``-th wording (0: as written)."""
    q = item["question"]
    openings = OPENINGS_EN if q[:1].isascii() else OPENINGS_ZH
    return {**item, "question": openings[n % len(openings)] + q, "id": f"{item['id']}~{n}"}


class Source:
    """Distinct questions, shuffled, handed out one at a time from any thread."""

    def __init__(self, seed: int) -> None:
        bank = questions()
        self.items = [worded(item, n) for n in range(len(OPENINGS_ZH)) for item in bank]
        random.Random(seed).shuffle(self.items)
        self.given = 0
        self._lock = threading.Lock()

    @property
    def repeats(self) -> int:
        """How many questions handed out so far were handed out before."""
        return max(0, self.given - len(self.items))

    def next(self) -> dict[str, Any]:
        with self._lock:
            item = self.items[self.given % len(self.items)]
            self.given += 1
            return item
