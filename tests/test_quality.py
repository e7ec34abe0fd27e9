"""Quality floors on the question set, with the real model and index.

The floors sit a little below what qa reaches (README, "Quality"), so a regression fails
them. Figures are printed (run with -s to see them).
"""

from __future__ import annotations

import pytest
from floors import floor_of

from qa.eval.evaluate import DEFAULT_QUESTIONS, evaluate, load_questions, score, table
from qa.search.retrieve import Weights

pytestmark = pytest.mark.slow

#: what the default engine MEASURED on tests/data/questions.jsonl (Intel Xeon, AMX / AVX-512
#: VNNI, 2026-12-02): all of it, and its test split; floors follow by tests/floors.py
MEASURED_ALL = {"hit1": 0.957, "hit3": 0.983, "mrr": 0.973, "sentence": 0.878, "found": 0.983,
                "abstain": 0.941}
MEASURED_TEST = {"hit1": 0.957, "hit3": 1.0, "mrr": 0.978, "sentence": 0.913, "found": 1.0,
                 "abstain": 1.0}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_questions(DEFAULT_QUESTIONS)


@pytest.fixture(scope="module")
def results(shared_qa, rows):
    return evaluate(lambda q, k, h: shared_qa.ask(q, k=k, history=h), rows, shared_qa.settings)


def test_question_set_is_well_formed(rows) -> None:
    text = (DEFAULT_QUESTIONS.parent.parent.parent / "corpus" / "microsoft-openai.txt"
            ).read_text(encoding="utf-8")
    assert len(rows) >= 80
    assert len({r["id"] for r in rows}) == len(rows)
    assert sum(not r["answers"] for r in rows) >= 5
    kinds = {r["type"] for r in rows}
    assert {"fact", "number", "why", "paraphrase", "followup", "unanswerable", "english"} <= kinds
    for r in rows:
        for gold in r["answers"]:
            assert gold in text, (r["id"], gold)
        assert r["split"] in {"dev", "test"}


def test_core_floors(results) -> None:
    """Issue 'core': the right passage in the top 3 for >= 90% of answerable questions."""
    s = score(results)
    print("\n" + table({"qa (hybrid)": results}))
    n = sum(r.answerable for r in results)
    assert s.hit3 >= floor_of(MEASURED_ALL["hit3"], n)
    assert s.hit1 >= floor_of(MEASURED_ALL["hit1"], n)
    assert s.mrr >= floor_of(MEASURED_ALL["mrr"], n)


def test_answer_floors(results) -> None:
    s = score(results)
    unanswerable = [r for r in results if not r.answerable]
    answerable = [r for r in results if r.answerable]
    assert s.sentence >= floor_of(MEASURED_ALL["sentence"], len(answerable))
    assert s.found >= floor_of(MEASURED_ALL["found"], len(answerable))
    assert s.abstain >= floor_of(MEASURED_ALL["abstain"], len(unanswerable))
    # confidence separates the two kinds on average even where the threshold cannot
    mean = lambda rs: sum(r.confidence for r in rs) / len(rs)  # noqa: E731
    assert mean(unanswerable) < mean(answerable)


def test_test_split_floors(results, rows) -> None:
    """The quality issue's targets are judged on the test split (never tuned on)."""
    test_ids = {r["id"] for r in rows if r["split"] == "test"}
    test = [r for r in results if r.id in test_ids]
    s = score(test)
    n, m = sum(r.answerable for r in test), sum(not r.answerable for r in test)
    measured = MEASURED_TEST
    assert s.hit1 >= floor_of(measured["hit1"], n) and s.hit3 >= floor_of(measured["hit3"], n)
    assert s.mrr >= floor_of(measured["mrr"], n)
    assert s.sentence >= floor_of(measured["sentence"], n)
    assert s.found >= floor_of(measured["found"], n)
    assert s.abstain >= floor_of(measured["abstain"], m)


def test_followups_floor(results) -> None:
    followups = [r for r in results if r.type == "followup"]
    assert score(followups).hit3 >= floor_of(1.0, len(followups))  # measured: 17 of 17


def test_history_does_not_drown_a_self_contained_question(shared_qa) -> None:
    alone = shared_qa.ask("ChatGPT服务每天的成本是多少?")
    with_history = shared_qa.ask("ChatGPT服务每天的成本是多少?",
                                 history=["微软2019年向OpenAI投资了多少钱?"])
    assert alone.passages[0].start == with_history.passages[0].start
    assert "70万美元" in with_history.text


def test_beats_baselines(shared_qa, rows, results) -> None:
    from qa.eval.baselines import PlainRecipe
    from qa.service import QA

    ours = score(results)
    named = {"qa (hybrid)": results}
    for name, w in (("bm25 only", Weights(dense=0, sentence=0)),
                    ("dense only", Weights(sentence=0, words=0, bigrams=0, sentence_bigrams=0))):
        other = QA(shared_qa.settings, weights=w, embedder=shared_qa.embedder)
        named[name] = evaluate(lambda q, k, h, o=other: o.ask(q, k=k, history=h), rows,
                               shared_qa.settings)
    plain = PlainRecipe(shared_qa.settings, shared_qa.embedder.model)
    named["langchain plain recipe"] = evaluate(lambda q, k, h: plain.ask(q, k=k), rows,
                                               shared_qa.settings)
    print("\n" + table(named, by_type=False))
    for name, res in list(named.items())[1:]:
        theirs = score(res)
        assert ours.hit1 > theirs.hit1, name
        assert ours.mrr > theirs.mrr, name


@pytest.mark.parametrize(("question", "found"), [
    ("OpenAI的创始人是谁?", False),  # 创始人: the thing asked about is never mentioned
    ("微软的总部在哪个城市?", False),
    ("OpenAI有多少员工?", False),
    ("谷歌收购了哪家公司?", True),  # the same shapes, about something the article says
    ("微软与OpenAI的合作历史可以追溯到哪一年?", True),
    ("ChatGPT每天的成本是多少?", True),
    ("微软2023年Q2季报的净利润具体是多少?", False),  # 净利润: never beside an amount
    ("谷歌是哪一年收购DeepMind的?", False),  # 收购: never beside a year
    ("ChatGPT有多少用户?", False),  # a sum of money does not count users
    ("Who is the CEO of OpenAI?", False),  # an acronym the corpus never writes
    ("When was GPT-4 released?", False),
    ("OpenAI的估值是多少?", True),
    ("谷歌收购DeepMind以后推出了哪些产品?", True),
    ("硅谷在人工智能领域完成了多少起融资?", True),
    ("Why did OpenAI need to partner with Microsoft?", True),
    ("Microsoft向OpenAI投资了多少钱?", True),  # a Latin name known through the glossary
    ("Google收购了哪家公司?", True),
    ("特斯拉投资了OpenAI多少钱?", False),  # a company the article never names
    ("苹果为什么没有投资OpenAI?", False),
    ("hello", False),  # English words that reach nothing in the corpus
    ("asdfgh", False),
    ("The weather is nice today", False),
    ("OpenAI早先的服务器托管在哪家搜索巨头的云上?", True),  # 在哪家 asks which company
    ("经济不景气那年,几家硅谷巨头是砍了研发预算还是加码了?", True),  # 硅谷 only describes
    ("How much compute does GPT-3 need to generate a 1,000-word answer?", True),  # 1,000 = 1000
    ("微软设立的新人工智能实验室名字是什么?", False),  # mentioned, never named
    ("硅谷那8家明星独角兽都叫什么?", False),
    ("谷歌收购的那家公司叫什么?", True),  # DeepMind
    ("哪家机构预测AI能给微软带来900亿美元增量机会?", True),  # 摩根斯坦利
    ("微软2021年追加的那笔投资是几月份宣布的?", False),  # only its year is given
    ("Azure OpenAI企业版服务的价格是多少?", False),  # 价格: never in the article
    ("训练一个1750亿参数的模型要花多少钱?", False),  # 1750亿 counts parameters, not money
    ("OpenAI是由哪几位创始人创办的?", False),
])
def test_questions_about_what_the_corpus_never_mentions_are_refused(shared_qa, question,
                                                                     found) -> None:
    a = shared_qa.ask(question)
    assert a.found is found, (a.confidence, a.text)


@pytest.mark.parametrize(("question", "gold"), [
    ("2019年以后微软什么时候追加投资100亿美元?", "追加投资100亿美元"),  # 2019 is counted from
    ("微软2021年那笔投资投了多少钱?", "投资20亿美元"),  # the year asked about
])
def test_a_year_the_question_counts_from_is_not_the_year_asked_about(shared_qa, question,
                                                                      gold) -> None:
    a = shared_qa.ask(question)
    assert a.found and gold in a.text, a.text


def test_both_parties_together_are_not_one_party(shared_qa) -> None:
    a = shared_qa.ask("为什么说微软和OpenAI的合作是产研协同的典范?")
    assert "产研协同推动创新转化的成功典范" in a.text


#: the blind question sets, each written by a helper who saw neither qa nor the other sets:
#: hit@1, hit@3, MRR, answer sentence, found, abstain as MEASURED (Intel Xeon, AMX / AVX-512
#: VNNI, 2026-12-02); the floors follow from them by the rule of tests/floors.py
BLIND_SETS = {
    "questions_fresh.jsonl": (0.942, 1.000, 0.965, 0.904, 0.981, 1.000),
    "questions_blind2.jsonl": (0.952, 0.984, 0.970, 0.903, 1.000, 0.889),
    "questions_blind3.jsonl": (0.887, 0.919, 0.919, 0.823, 0.903, 0.944),
    "questions_blind4.jsonl": (0.912, 0.971, 0.944, 0.868, 0.985, 0.864),
    "questions_blind5.jsonl": (0.905, 0.973, 0.939, 0.878, 0.946, 0.923),  # a holdout
    "questions_blind6.jsonl": (0.878, 0.946, 0.918, 0.784, 0.932, 0.692),
    "questions_blind7.jsonl": (0.959, 0.973, 0.968, 0.851, 0.959, 0.846),
    "questions_blind8.jsonl": (0.864, 0.977, 0.918, 0.727, 0.909, 0.750),  # a holdout
    "questions_blind9.jsonl": (0.875, 0.932, 0.909, 0.818, 0.886, 0.688),  # a holdout
    "questions_blind10.jsonl": (0.875, 0.943, 0.918, 0.830, 0.920, 0.875),  # the last holdout
}


@pytest.mark.parametrize("name", sorted(BLIND_SETS))
def test_blind_question_set_floors(shared_qa, name) -> None:
    """A blind question set: well formed, and above its floors."""
    rows = load_questions(DEFAULT_QUESTIONS.parent / name)
    text = (DEFAULT_QUESTIONS.parent.parent.parent / "corpus" / "microsoft-openai.txt"
            ).read_text(encoding="utf-8")
    assert len(rows) >= 50 and len({r["id"] for r in rows}) == len(rows)
    assert all(gold in text for r in rows for gold in r["answers"])
    s = score(evaluate(lambda q, k, h: shared_qa.ask(q, k=k, history=h), rows,
                       shared_qa.settings))
    answerable = sum(bool(r["answers"]) for r in rows)
    sizes = (answerable,) * 5 + (len(rows) - answerable,)
    floors = tuple(floor_of(m, n) for m, n in zip(BLIND_SETS[name], sizes, strict=True))
    got = (s.hit1, s.hit3, s.mrr, s.sentence, s.found, s.abstain)
    print(f"\n{name} measured", tuple(round(g, 3) for g in got))
    assert all(g >= f for g, f in zip(got, floors, strict=True)), (got, floors)
