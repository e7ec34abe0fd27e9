"""Feedback turned into a base's own weights: judgments made from the seed article's holdout
questions (👍 where the engine is right, 👎 with the gold sentence where it is wrong, "not in
the documents" where it answers the unanswerable), fitted by ``qa fit --corpus-only --feedback``
on their "fit" part, and reported by ``qa eval --feedback`` on the held-back part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ARTICLE

from qa.eval.evaluate import DATA, load_question_files
from qa.eval.feedback import agreement, load_feedback
from qa.ingest.corpus import read_document
from qa.ingest.text import sentence_spans
from qa.serve.viewer import append_feedback, feedback_record

pytestmark = pytest.mark.slow


def gold_sentence(text: str, answers: list[str]) -> tuple[int, int] | None:
    for g in answers:
        at = text.find(g)
        if at >= 0:
            return next(((s, e) for s, e in sentence_spans(text) if s <= at < e), None)
    return None


def make_feedback(engine, rows: list[dict]) -> Path:  # type: ignore[no-untyped-def, type-arg]
    """One judgment per question, as the chat writes them."""
    corpus = engine.settings.corpus_dir
    text = read_document(corpus, ARTICLE, engine.settings.max_file_bytes).text
    for row in rows:
        a = engine.ask(row["question"])
        span = list(a.span) if a.found and a.span else None
        gold = row["answers"]
        if not gold:
            rec = feedback_record(a.question, a.generation, span, "up" if not a.found else "down",
                                  None, a.found)
        elif a.found and any(g in a.text for g in gold):
            rec = feedback_record(a.question, a.generation, span, "up")
        else:
            where = gold_sentence(text, gold)
            if where is None:
                continue
            rec = feedback_record(a.question, a.generation, span, "down",
                                  [ARTICLE, *where])
        append_feedback(corpus, rec)
    return corpus / ".qa" / "feedback.jsonl"


def test_feedback_fits_the_bases_own_rankers(fresh_qa, monkeypatch, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from qa import cli
    from qa.service import QA

    settings = fresh_qa.settings
    rows = [r for r in load_question_files([DATA / "questions_blind5.jsonl",
                                            DATA / "questions_blind8.jsonl"])
            if not r.get("history")]
    path = make_feedback(fresh_qa, rows)
    judgments, counts = load_feedback(path, settings)
    assert len(judgments) >= 50 and counts["better"] > 0 and counts["up"] > 0
    held = [j for j in judgments if j.split == "report"]
    fitted_on = [j for j in judgments if j.split == "fit"]
    assert len(held) >= 20 and len(fitted_on) > len(held)
    before = agreement(fresh_qa, held)

    monkeypatch.setenv("QA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("QA_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("QA_KB_ROOT", str(settings.kb_root))
    assert cli.main(["fit", "--corpus-only", "--feedback", "--workdir",
                     str(tmp_path / "work")]) == 0
    out = settings.corpus_dir / ".qa" / "rankers.json"
    provenance = json.loads(out.read_text(encoding="utf-8"))["provenance"]
    assert provenance["feedback"]["file"] == str(path)
    assert provenance["feedback"]["counts"]["lines"] == counts["lines"]
    assert provenance["commit"] and provenance["cases"]["feedback:report"] == len(held)
    after = agreement(QA(settings, embedder=fresh_qa.embedder), held)  # reads the new file
    capsys.readouterr()
    assert cli.main(["eval", "--feedback", "--split", "report"]) == 0
    report = capsys.readouterr().out
    assert f"of {len(held)}" in report
    with capsys.disabled():
        print(f"\nfeedback: {dict(counts)}; held back {len(held)}, fitted on {len(fitted_on)}"
              f"\nheld-back agreement before {before}\nheld-back agreement after  {after}")
    assert after["all"] >= before["all"] - 0.1, (before, after)
