"""Query expansion: English and colloquial terms gain the Chinese words the corpus uses."""

from __future__ import annotations

from collections import Counter

import pytest

from qa.search.glossary import Glossary, read_groups

GENERAL = Glossary.general()
expand, expansions, named = GENERAL.expand, GENERAL.expansions, GENERAL.named
GROUPS = GENERAL.groups


@pytest.mark.parametrize(("question", "wanted"), [
    ("In what year did Microsoft start developing chatbots?", ["微软", "开发", "聊天机器人"]),
    ("In which year did OpenAI launch ChatGPT?", ["上线", "推出"]),  # every formal form
    ("Which company did Google acquire?", ["谷歌", "并购", "收购"]),
    ("Google acquired DeepMind", ["谷歌", "并购"]),  # -ed form
    ("What were the main reasons?", ["原因"]),  # plural
    ("微软砸钱了多少?", ["投资"]),  # colloquial Chinese -> the usual form
    ("文章说的第二条启示是什么?", ["二是", "其二"]),
    ("What was the market value in August 2023?", ["市值", "2023年8月"]),
])
def test_expansions(question: str, wanted: list[str]) -> None:
    got = expansions(question)
    assert all(w in got for w in wanted), got


def test_english_terms_do_not_pull_in_slang() -> None:
    got = expansions("How much did Microsoft invest?")
    assert "微软" in got and "投资" in got
    assert "巨硬" not in got and "砸钱" not in got


def test_short_terms_take_no_suffix_and_words_stay_whole() -> None:
    assert "人工智能" not in expansions("Is there any aid?")  # "aid" is not "ai" + "d"
    assert "人工智能" in expansions("What about AI?")
    assert expansions("cloudy weather") == []  # "cloudy" is not "cloud" + suffix
    assert expansions("May I ask something?") == []  # the verb, not the month


def test_expand_keeps_the_question_first() -> None:
    q = "微软2019年向OpenAI投资了多少钱?"
    assert expand(q) == q  # nothing to add: all its terms are already Chinese
    assert expand("Microsoft?").startswith("Microsoft? ")


@pytest.mark.parametrize(("question", "wanted"), [
    ("巨硬头一回给OpenAI掏钱是啥时候?", ["微软", "投资"]),
    ("微软早年自己捣鼓过的那个陪聊机器人叫啥?", ["开发", "聊天机器人"]),
    ("大厂为什么愿意给小公司砸钱?", ["科技巨头", "初创企业", "投资"]),
    ("What is Microsoft building with upstream and downstream partners?", ["上下游", "合作"]),
])
def test_colloquial_chinese_and_english_reach_the_written_forms(question: str,
                                                              wanted: list[str]) -> None:
    got = expansions(question)
    assert all(w in got for w in wanted), got


def test_every_term_belongs_to_one_group() -> None:
    counts = Counter(t for g in GROUPS for t in g)
    assert [t for t, n in counts.items() if n > 1] == []
    assert all(len(t) >= 2 for g in GROUPS for t in g)  # no single characters


def test_named_finds_a_company_by_any_form() -> None:
    assert named("巨硬和狗家谁更强?")[0][0] == "微软"
    assert [g[0] for g in named("Amazon and Meta")] == ["亚马逊", "meta"]


def test_numbers_are_matched_whole(tmp_path) -> None:
    (tmp_path / ".qa").mkdir()
    (tmp_path / ".qa" / "glossary.tsv").write_text(
        "term\t10亿美元\t1 billion\nterm\t100亿美元\t10 billion\n", encoding="utf-8")
    own = Glossary.for_corpus(tmp_path)
    assert "100亿美元" in own.expansions("They invested $10 billion in 2023")
    assert "100亿美元" not in own.expansions("They invested $10.10 billion")
    assert "10亿美元" not in own.expansions("They raised 1.1 billion")
    assert "10亿美元" in own.expansions("They raised 1 billion")
    assert "10亿美元" not in expansions("They raised 1 billion")  # not in the general one


def test_the_general_glossary_is_a_well_formed_data_file() -> None:
    from qa.search.glossary import GENERAL as path

    groups = read_groups(path)
    assert len(groups) == len(GROUPS) > 150
    assert {kind for kind, _ in groups} == {"name", "term"}
