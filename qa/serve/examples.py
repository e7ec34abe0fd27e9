"""Example questions drawn from the corpus itself, so the chat offers prompts about whatever
articles it holds: "《标题》讲了什么?" for the documents' titles, then their section headings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, zip_longest
from pathlib import PurePosixPath

from qa.ingest.chunking import Chunk


def _round_robin(lists: Iterable[list[str]]) -> list[str]:
    """The first of every list, then the second of every list, and so on."""
    return [x for x in chain.from_iterable(zip_longest(*lists)) if x is not None]


def example_questions(chunks: Sequence[Chunk], n: int = 4) -> list[str]:
    """Up to ``n`` distinct prompts, taken in turn: "《title》讲了什么?" for each document that
    opens with a title (the heading of its first passage), and the other headings of every
    document; a corpus without headings gets "《file name》讲了什么?" for its first files."""
    titles: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    for c in chunks:
        if c.source not in titles:
            titles[c.source], sections[c.source] = c.heading, []
        elif c.heading and c.heading != titles[c.source] and c.heading not in sections[c.source]:
            sections[c.source].append(c.heading)
    title_prompts = [f"《{t}》讲了什么?" for t in titles.values() if t]
    prompts = _round_robin([title_prompts, _round_robin(sections.values())])
    if not prompts:
        prompts = [f"《{PurePosixPath(s).stem}》讲了什么?" for s in titles]
    return list(dict.fromkeys(prompts))[:n]
