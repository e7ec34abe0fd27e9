"""What a question asks for (qa.answer.asks): answer types, the words it is about. jieba only, no
model: these run in well under a second."""

from __future__ import annotations

import pytest

from qa.answer.asks import asked_about, expected_type, measures, type_match, typed_focus
from qa.search.glossary import Glossary

GLOSSARY = Glossary.general()


@pytest.mark.parametrize(("question", "kind"), [
    ("ChatGPT有多少用户?", "people"),
    ("ChatGPT的月活用户有多少?", "people"),
    ("微软2023年Q2季度总销售额具体是多少亿美元?", "amount"),
    ("OpenAI的估值是多少?", "amount"),
    ("微软投资了多少?", "count"),  # a bare 多少: any number but a year
    ("硅谷完成了多少起融资?", "count"),
    ("巨硬头一回给OpenAI掏钱是啥时候?", "time"),
    ("微软为什么要和OpenAI合作?", "reason"),
    ("谷歌靠什么赚钱?", "reason"),
    # names revenue, asks for a thing: not an amount
    ("微软服务器产品和云服务营收上涨的主要推动因素是什么?", None),
    ("谷歌推出了哪些标志性产品?", None),
    ("微软任何时候投资了多少?", "count"),  # 任何时候 is not 何时
    ("多少人工智能公司拿到了融资?", "count"),  # 人工智能 is not 人
    ("微软的利润率是多少?", "count"),  # a rate is not an amount
    ("股价达到高点具体是哪一天?", "day"),
    ("2019年OpenAI那边是谁牵头的?", "person"),
    ("搞大模型主要有哪几块开销?", None),  # which parts, not how much
    ("微软投了几亿美元?", "amount"),
    ("Who is Microsoft's main rival in AI?", None),  # a rival is not a person with a title
    ("Who is the CEO of OpenAI?", "person"),
    ("OpenAI最初是由哪几位创始人创办的?", "person"),
    ("2021年那笔投资是几月份宣布的?", "month"),  # a year does not answer it
    ("In which month of 2019 did Microsoft invest?", "month"),
    ("微软新设立的人工智能实验室叫什么名字?", "name"),
    ("那8家独角兽分别是哪几家?", "name"),  # which ones, not how many
    ("哪家机构预测了900亿美元的增量机会?", "name"),
    ("How much compute does GPT-3 need?", "count"),  # a quantity, not money
    ("How much did Microsoft invest in OpenAI?", "amount"),
    ("ChatGPT现在每个月有多少活跃用户", "people"),
    ("Azure OpenAI企业版服务怎么收费?", "amount"),
    ("ChatGPT每日成本的数据来自哪份报告?", "name"),  # a source, not the cost
    ("今年头六个月冒出了几家估值超十亿美元的初创公司?", "count"),  # counts companies
])
def test_expected_type(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


@pytest.mark.parametrize(("kind", "sentence", "holds"), [
    ("count", "硅谷在人工智能领域共完成了42起融资", True),
    ("count", "以1750亿参数的GPT-3为例", True),
    ("count", "谷歌搜索流量下降了接近1%", True),
    ("count", "微软与OpenAI的合作历史可以追溯到2019年", False),  # a year is not a count
    ("count", "微软2023年q2季报显示,公司季度总销售额和净利润均创下历史新高", False),
    ("people", "ChatGPT服务每天就要消耗70万美元左右的成本", False),  # money is not people
    ("people", "月活跃用户突破1亿人", True),
    ("amount", "OpenAI估值预计接近300亿美元", True),
    ("amount", "投入增速达15%以上", False),
    ("amount", "投入了数十亿美元", True),
    ("share", "格局一成不变", False),
    ("people", "全球第一人工智能公司", False),
    ("day", "三分之一,即1/3", False),
    ("day", "2023年1月23日", True),
    ("amount", "以1750亿参数的GPT-3为例", False),  # 亿 counting parameters is no money
    ("amount", "上涨近7000亿美元", True),
    ("month", "2021年,微软再次向OpenAI投资20亿美元", False),
    ("month", "同年7月,微软宣布将向OpenAI投资10亿美元", True),
    ("name", "并通过收购DeepMind", True),
    ("name", "OpenAI获得了来自微软的全方位支持", True),  # a glossary name
    ("name", "8家人工智能明星独角兽公司拔地而起", False),
    ("name", "美国AIGC一级市场中", False),  # a term of the field is no name
    ("name", "首任店长名叫李四", True),  # words that give a name
    ("name", "根据similarweb数据", True),  # a name the glossary holds among its terms
])
def test_type_match(kind: str, sentence: str, holds: bool) -> None:
    assert type_match(kind, sentence.lower(), GLOSSARY) is holds


def test_asked_about_names_the_thing_asked_for() -> None:
    assert asked_about("OpenAI的创始人是谁?") == ["创始人"]
    assert asked_about("OpenAI的总部在哪里?") == ["总部"]
    assert asked_about("OpenAI有多少员工?") == []  # 员工 is what is counted, not asked about
    assert asked_about("微软的总部在哪个城市?") == ["总部"]
    assert asked_about("OpenAI的服务器托管在哪家公司的云上?") == []  # 在哪家: which company
    # a category the answer is an instance of: the corpus need not name it
    assert asked_about("文中搜索流量变化的数据来源是什么?") == []
    assert asked_about("是哪家机构预测AI能给微软带来900亿美元的增量机会?") == []


def test_typed_focus_is_what_a_value_question_measures() -> None:
    assert typed_focus("微软2023年Q2季度净利润具体是多少亿美元?", "amount", GLOSSARY) == ["净利润"]
    assert typed_focus("谷歌是哪一年收购DeepMind的?", "time", GLOSSARY) == ["收购"]
    assert typed_focus("硅谷完成了多少起融资?", "count", GLOSSARY) == ["融资", "完成"]
    assert typed_focus("微软2022年的研发投入具体是多少亿美元?", "amount", GLOSSARY) == ["投入"]
    assert typed_focus("微软为什么要和OpenAI合作?", "reason", GLOSSARY) == []


def test_measures_are_what_an_amount_question_asks_the_value_of() -> None:
    assert measures("Azure OpenAI企业版服务怎么收费?", "amount") == ["收费"]
    assert measures("微软打算怎么靠NewBing增加收入?", "amount") == ["收入"]  # inside a word
    assert measures("微软投资金额是多少?", "amount") == []  # any amount
    assert measures("微软能拿多大比例的分红?", "share") == []  # only amounts name a measure


def test_name_questions_focus_on_what_is_named_not_its_kind() -> None:
    assert typed_focus("微软新设立的人工智能实验室叫什么名字?", "name", GLOSSARY) == ["实验室"]
    assert typed_focus("那家搜索巨头买下的AI研究公司叫什么?", "name", GLOSSARY) == []  # 公司: a kind


def test_a_name_answers_only_if_the_question_does_not_name_it() -> None:
    from qa.answer.asks import holds_name

    sentence = "在该领域谷歌一直处于技术领先地位,并通过收购deepmind"
    assert holds_name(sentence, GLOSSARY, "谷歌是靠收购哪家公司提升能力的?")  # deepmind
    assert not holds_name("谷歌一直处于技术领先地位", GLOSSARY, "谷歌是靠收购哪家公司提升能力的?")
    assert holds_name("谷歌一直处于技术领先地位", GLOSSARY, "微软的老对手是哪家公司?")
    assert expected_type("这个名称是什么意思?") is None  # a meaning, not a name
    assert expected_type("Which companies invested in OpenAI?") == "name"
