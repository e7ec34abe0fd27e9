"""A corpus qa was never tuned on: ten Wikipedia articles of the public CMRC 2018 trial and DRCD
dev sets (tests/data/squad_sample.json, articles of their "report" split, which no ranker or
reader was fitted on), built and asked with the real engine; knowledge kept per corpus; the
short answer's offsets; the article's own metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS, make_settings
from floors import floor_of

from qa.config import PROJECT_ROOT
from qa.eval.squad import load_squad, write_corpus
from qa.eval.squad_eval import run, scores

SAMPLE = PROJECT_ROOT / "tests" / "data" / "squad_sample.json"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def sample_qa(tmp_path_factory, embedder):
    from qa.service import QA

    root = tmp_path_factory.mktemp("sample")
    articles = load_squad(SAMPLE)
    write_corpus(articles, root / "corpus")
    engine = QA(make_settings(root), embedder=embedder)
    engine.build()
    return engine, articles


@pytest.fixture(scope="session")
def outcomes(sample_qa):
    engine, articles = sample_qa
    questions = [(q, True) for a in articles for q in a.questions]
    return run(lambda q, k, h: engine.ask(q, k=k, history=h), questions)


def test_floors_on_articles_never_fitted_on(outcomes) -> None:
    s = scores(outcomes)
    print("\nsample corpus:", {k: round(v, 3) for k, v in s.items()})
    assert s["n"] == 112
    assert s["hit@1"] >= HIT1_FLOOR, s
    assert s["sent"] >= SENTENCE_FLOOR, s
    assert s["F1"] >= F1_FLOOR, s


def test_short_answers_sit_inside_their_sentence_at_their_offsets(sample_qa, outcomes) -> None:
    engine, _ = sample_qa
    shorts = [o.answer for o in outcomes if o.answer.short is not None]
    assert len(shorts) >= 0.5 * len(outcomes)
    for a in shorts:
        source, start, end = a.short_span
        text = (engine.settings.corpus_dir / source).read_text(encoding="utf-8")
        assert text[start:end] == a.short
        assert a.span[0] == source and a.span[1] <= start <= end <= a.span[2]
        assert a.to_json()["short_span"] == [source, start, end]


def test_refused_answers_have_no_short_answer(outcomes) -> None:
    assert all(o.answer.short is None for o in outcomes if not o.answer.found)


def _corpus_with_glossary(root: Path, glossary: str | None) -> Path:
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "birds.txt").write_text(
        "候鸟\n\n北极燕鸥每年在南北两极之间往返迁徙，单程约两万公里。\n", encoding="utf-8")
    if glossary is not None:
        (root / "corpus" / ".qa").mkdir()
        (root / "corpus" / ".qa" / "glossary.tsv").write_text(glossary, encoding="utf-8")
    return root


def test_a_corpus_glossary_serves_only_its_own_engine(tmp_path, embedder) -> None:
    from qa.service import QA

    own = QA(make_settings(_corpus_with_glossary(tmp_path / "a", "term\t北极燕鸥\t极地小白鸟\n")),
             embedder=embedder)
    other = QA(make_settings(_corpus_with_glossary(tmp_path / "b", None)), embedder=embedder)
    assert "北极燕鸥" in own.glossary.expansions("极地小白鸟飞多远?")
    assert "北极燕鸥" not in other.glossary.expansions("极地小白鸟飞多远?")
    assert own.glossary.sources[-1].endswith("glossary.tsv")


def test_a_broken_corpus_glossary_names_its_line(tmp_path, embedder) -> None:
    from qa.search.glossary import GlossaryError
    from qa.service import QA

    engine = QA(make_settings(_corpus_with_glossary(tmp_path, "term\tok\nnonsense line\n")),
                embedder=embedder)
    with pytest.raises(GlossaryError, match=r"glossary.tsv:2"):
        engine.glossary  # noqa: B018


def test_the_article_tells_when_and_by_whom_it_was_published(shared_qa) -> None:
    when = shared_qa.ask("这篇文章是哪天发布的?")
    assert when.found and when.short == "2023-09-19 10:25"
    text = (CORPUS / "microsoft-openai.txt").read_text(encoding="utf-8")
    source, start, end = when.short_span
    assert text[start:end] == when.short and when.passages[0].source == source
    who = shared_qa.ask("这篇文章的来源机构是谁?")
    assert who.found and who.short == text[who.short_span[1]:who.short_span[2]]
    assert who.short in text.split("\n\n")[1]  # from the title block
    assert not shared_qa.ask("GPT-4是什么时候发布的?").found  # about the content, not the article


def test_no_code_names_a_fact_of_the_seed_article() -> None:
    facts = ("1750亿", "5.44亿", "70万美元", "中移智库", "从微软看", "从OpenAI看")
    for path in (PROJECT_ROOT / "qa").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".tsv", ".json"):
            body = path.read_text(encoding="utf-8")
            assert not [f for f in facts if f in body], path


#: what the sample MEASURED (112 questions; Intel Xeon, AMX / AVX-512 VNNI, 2026-12-02); the
#: floors follow by tests/floors.py (F1, a mean of per-question scores in [0, 1], like a share)
MEASURED = {"hit@1": 0.973, "sent": 0.795, "F1": 0.460}
HIT1_FLOOR, SENTENCE_FLOOR, F1_FLOOR = (floor_of(MEASURED[k], 112) for k in ("hit@1", "sent", "F1"))
