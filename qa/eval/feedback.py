"""Feedback as judgments: a knowledge base's ``corpus/.qa/feedback.jsonl`` (written by the chat's
👍/👎 and ``POST …/feedback``) read as questions with gold answers, for ``qa fit --feedback``
and ``qa eval --feedback``.

Each line becomes one judgment: 👎 with ``better_span`` -> that sentence is the gold answer;
👍 on an answer -> the answer's sentence (``answer_span``) is gold; "not in the documents"
(or 👍 on a refusal) -> unanswerable. A 👎 naming nothing, or a span outside its file, teaches
nothing and is counted as skipped. Judgments are split by a hash of the question: ``REPORT_SHARE``
of them are held back ("report"), never fitted on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qa.answer.answerer import Answer
from qa.config import Settings
from qa.errors import BadInput
from qa.ingest.corpus import CorpusError, read_document

#: the share of judgments held back from fitting (by a hash of the question)
REPORT_SHARE = 0.3


@dataclass(frozen=True)
class Judgment:
    """One feedback line as a question with its gold answer."""

    question: str
    gold: tuple[str, ...]  # the gold sentence; empty: the documents do not answer it
    source: str | None
    span: tuple[int, int] | None
    kind: str  # "up", "better" or "unanswerable"
    split: str  # "fit" or "report"


def split_of(question: str) -> str:
    h = int.from_bytes(hashlib.sha1(question.encode("utf-8")).digest()[:4], "big") / 2**32
    return "report" if h < REPORT_SHARE else "fit"


def load_feedback(path: Path, settings: Settings) -> tuple[list[Judgment], Counter[str]]:
    """The judgments of ``path`` (a base's feedback.jsonl) over ``settings.corpus_dir``, and
    counts: lines, each kind, skipped. A later line on the same question replaces an earlier."""
    texts: dict[str, str | None] = {}
    counts: Counter[str] = Counter()
    latest: dict[str, Judgment] = {}

    def text_of(source: str) -> str | None:
        if source not in texts:
            try:
                texts[source] = read_document(settings.corpus_dir, source,
                                              settings.max_file_bytes).text
            except (CorpusError, OSError, ValueError):
                texts[source] = None
        return texts[source]

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        counts["lines"] += 1
        try:
            row = json.loads(line)
            question = str(row["question"])
        except (ValueError, KeyError, TypeError):
            counts["skipped"] += 1
            continue
        up, span = row.get("verdict") == "up", row.get("better_span")
        if row.get("not_in_documents") or (up and not row.get("answer_span")):
            latest[question] = Judgment(question, (), None, None, "unanswerable",
                                        split_of(question))
            continue
        kind = "better" if span else "up" if up else ""
        span = span or (row.get("answer_span") if up else None)
        text = text_of(span[0]) if kind and isinstance(span, list) and len(span) == 3 else None
        if text is None or not (0 <= span[1] < span[2] <= len(text)):
            counts["skipped"] += 1
            continue
        gold = text[span[1]:span[2]].strip()
        latest[question] = Judgment(question, (gold,), span[0], (span[1], span[2]), kind,
                                    split_of(question))
    for j in latest.values():
        counts[j.kind] += 1
    return list(latest.values()), counts


def agrees(answer: Answer, j: Judgment) -> bool:
    """Whether ``answer`` is what the judgment says: a refusal for an unanswerable one, else
    a found answer in the gold sentence's file that holds or overlaps it."""
    if not j.gold:
        return not answer.found
    if not answer.found or not answer.span or answer.span[0] != j.source or j.span is None:
        return False
    start, end = answer.span[1], answer.span[2]
    return j.gold[0] in answer.text or (start < j.span[1] and j.span[0] < end)


def agreement(engine: object, judgments: list[Judgment]) -> dict[str, float]:
    """The share of ``judgments`` the engine's current answers agree with, overall and by
    kind (each with its count), its remembered corrections turned off meanwhile (each
    judgment would otherwise be answered by its own: ``qa.answer.corrections``)."""
    from qa.answer.corrections import Corrections

    memory = getattr(engine, "corrections", None)
    if memory is not None:
        engine.corrections = Corrections(memory.corpus_dir, math.inf)  # type: ignore[attr-defined]
    kinds: dict[str, list[bool]] = {}
    try:
        for j in judgments:
            ok = agrees(engine.ask(j.question), j)  # type: ignore[attr-defined]
            kinds.setdefault("all", []).append(ok)
            kinds.setdefault(j.kind, []).append(ok)
    finally:
        if memory is not None:
            engine.corrections = memory  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for kind, oks in kinds.items():
        out[kind] = round(sum(oks) / len(oks), 4)
        out[f"{kind}_n"] = len(oks)
    return out


def main(args: argparse.Namespace) -> int:
    """``qa eval --feedback [FILE] [--split fit|report|all] [--kb NAME]``."""
    from qa.service import QA

    settings = Settings.from_env().for_kb(getattr(args, "kb", None) or "default")
    path = Path(args.feedback) if args.feedback else settings.corpus_dir / ".qa" / "feedback.jsonl"
    if not path.is_file():
        raise BadInput(f"{path}: no such feedback file")
    judgments, counts = load_feedback(path, settings)
    if args.split in ("fit", "report"):
        judgments = [j for j in judgments if j.split == args.split]
    if not judgments:
        raise BadInput(f"{path}: no judgments ({args.split} split)")
    scores = agreement(QA(settings), judgments)
    print(f"feedback: {path} ({dict(counts)}); {len(judgments)} judgments, {args.split} split")
    print(f"agreement: {scores['all']:.3f} of {scores['all_n']}")
    for kind in ("up", "better", "unanswerable"):
        if kind in scores:
            print(f"  {kind:<13} {scores[kind]:.3f} of {scores[f'{kind}_n']}")
    return 0
