"""The documented surface of ``import qa``: cheap to import, stable fields, working ask/build."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import qa_env

import qa
from qa.config import PROJECT_ROOT

HEAVY = ("torch", "sentence_transformers", "gradio", "faiss", "transformers", "jieba", "bm25s",
         "langchain_text_splitters")


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 300
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=timeout)


def test_import_qa_loads_no_heavy_library() -> None:
    proc = run_python(f"""
        import json, sys
        import qa
        qa.Answer, qa.Passage, qa.Settings, qa.ask, qa.build, qa.default
        print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))
    """)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_qa_attribute_does_not_load_the_model_either() -> None:
    """``qa.QA`` and ``qa.default()`` are lazy too: the model loads on the first question."""
    proc = run_python("""
        import json, sys
        import qa
        engine = qa.default()
        assert isinstance(engine, qa.QA)
        print(json.dumps([m for m in ("torch", "sentence_transformers") if m in sys.modules]))
    """)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_public_names() -> None:
    assert set(qa.__all__) >= {"QA", "Answer", "Passage", "Settings", "ask", "build", "default"}
    assert callable(qa.ask) and callable(qa.build) and callable(qa.default)
    assert isinstance(qa.QA, type) and isinstance(qa.Settings, type)
    assert {f for f in ("found", "text", "short", "short_span", "passages")} <= set(
        qa.Answer.__dataclass_fields__)
    with pytest.raises(AttributeError):
        qa.no_such_name  # noqa: B018
    assert isinstance(qa.__version__, str)


def test_answer_and_passage_fields() -> None:
    answer_fields = {f.name for f in dataclasses.fields(qa.Answer)}
    passage_fields = {f.name for f in dataclasses.fields(qa.Passage)}
    assert {"found", "text", "passages", "question", "span", "confidence"} <= answer_fields
    assert {"text", "source", "start", "end", "score", "citation", "paragraph"} <= passage_fields
    p = qa.Passage(text="b", source="f.txt", start=1, end=2, score=0.5,
                   citation="[1] f.txt · 第1段 · 字符 1–2", paragraph=1)
    a = qa.Answer(question="q", found=False, text="t", passages=[p])
    d = a.to_json()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["passages"][0]["citation"] == p.citation
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.text = "changed"  # type: ignore[misc]


def test_qa_build_stays_callable_after_first_use() -> None:
    """``qa.build`` is documented as a function; using qa first must not turn it into a module."""
    proc = run_python("""
        import qa
        before = callable(qa.build)
        qa.default()  # what qa.ask and the app do first
        after_default = callable(qa.build)
        import qa.store.embedded.builder as _b  # what `from qa.store.embedded.builder import CorpusEmpty` does
        print(before, after_default, callable(qa.build))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]


@pytest.mark.slow
def test_headline_question(shared_qa) -> None:
    a = shared_qa.ask("微软2019年向OpenAI投资了多少钱?")
    assert isinstance(a, qa.Answer)
    assert a.found is True
    assert isinstance(a.text, str) and a.text
    assert 1 <= len(a.passages) <= 3
    assert any("10亿美元" in p.text for p in a.passages[:3]), [p.text for p in a.passages]
    for p in a.passages:
        assert isinstance(p, qa.Passage)
        assert isinstance(p.text, str) and isinstance(p.source, str)
        assert isinstance(p.start, int) and isinstance(p.end, int)
        assert isinstance(p.score, float) and isinstance(p.citation, str)
        assert p.source == "microsoft-openai.txt"


@pytest.mark.slow
def test_headline_answer_sentence_names_the_first_investment(shared_qa) -> None:
    a = shared_qa.ask("微软2019年向OpenAI投资了多少钱?")
    assert "10亿美元" in a.text, a.text


@pytest.mark.slow
def test_unanswerable_question_is_not_found(shared_qa) -> None:
    a = shared_qa.ask("2022年世界杯冠军是哪个国家?")
    assert a.found is False
    assert a.span is None
    assert a.passages, "the closest passages are still shown"


@pytest.mark.slow
def test_module_level_build_and_ask_in_a_subprocess(project: Path) -> None:
    """``qa.build`` and ``qa.ask`` use the QA_* environment, never the project's own index."""
    own_index = PROJECT_ROOT / "index"
    before = sorted(p.name for p in own_index.iterdir()) if own_index.exists() else []
    proc = run_python("""
        import json
        import qa
        report = qa.build()
        first = {"generation": report.generation, "added": report.added,
                 "chunks": report.chunks, "embedded": report.embedded,
                 "summary": report.summary()}
        again = qa.default().build()
        a = qa.ask("微软2019年向OpenAI投资了多少钱?", k=3)
        follow = qa.ask("那2021年呢?", history=["微软2019年向OpenAI投资了多少钱?"])
        print(json.dumps({"first": first, "again_up_to_date": again.up_to_date,
                          "again_generation": again.generation,
                          "settings": [str(qa.default().settings.corpus_dir),
                                       str(qa.default().settings.index_dir)],
                          "answer": a.to_json(), "follow": follow.to_json()},
                         ensure_ascii=False))
    """, env=qa_env(project))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["settings"] == [str((project / "corpus").resolve()),
                               str((project / "index").resolve())]
    first = out["first"]
    assert first["added"] == ["microsoft-openai.txt"]
    assert first["chunks"] > 5 and first["embedded"] == first["chunks"]
    assert "1 added" in first["summary"]
    assert out["again_up_to_date"] is True
    assert out["again_generation"] == first["generation"]
    assert (project / "index" / first["generation"]).is_dir()
    answer = out["answer"]
    assert answer["found"] is True
    assert any("10亿美元" in p["text"] for p in answer["passages"])
    text = (project / "corpus" / "microsoft-openai.txt").read_text(encoding="utf-8")
    for p in answer["passages"]:
        assert text[p["start"]:p["end"]] == p["text"]
    assert any("20亿美元" in p["text"] for p in out["follow"]["passages"])
    after = sorted(p.name for p in own_index.iterdir()) if own_index.exists() else []
    assert after == before, "the project's own index/ was touched"
