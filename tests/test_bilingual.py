"""The English bridge (qa.search.bilingual): English words reach the corpus's own Chinese words
through CC-CEDICT, and English questions find the right passage with it."""

from __future__ import annotations

import pytest

from qa.search.bilingual import bridge


def test_english_words_translate_to_words_the_corpus_uses(shared_qa) -> None:
    index = shared_qa.refresh()
    got = bridge(index).translate("Which upstream ecosystem did they invest in, and why?")
    assert "生态系统" in got and "投资" in got
    vocabulary = {w for chunk_words in index.words for w in chunk_words}
    assert all(w in vocabulary for w in got)  # only words of this corpus, never others
    assert bridge(index) is bridge(index)  # made once per index


def test_inflected_english_words_find_their_stem(shared_qa) -> None:
    b = bridge(shared_qa.refresh())
    assert "投资" in b.translate("investments")
    assert b.translate("the of and") == []  # stop words translate to nothing


@pytest.mark.parametrize(("question", "gold", "rank"), [
    # each of these put another passage first before the bridge; with m3e-small alone (the
    # default since the two-model pair was dropped) the first ranks second
    ("Which key areas are the big tech firms positioning themselves in early?", "人工智能、芯片和云计算",
     2),
    ("According to the article, what is only one link in the complete innovation chain?",
     "完成科学研究和技术开发取得科研成果", 1),
    ("According to the article, what did the partnership help Microsoft seize an early lead in?",
     "抢占了通用人工智能(AGI)的先机", 1),
])
def test_english_questions_find_the_passage(shared_qa, question: str, gold: str,
                                            rank: int) -> None:
    passages = shared_qa.passages(question, k=3)  # the ranking itself, not the answer's order
    assert any(gold in p.text for p in passages[:rank]), [p.citation for p in passages]
