"""The questions ``qa fit`` learns from, each searched as ``qa.ask`` would: SQuAD-format sets
as corpora (SQuAD 2.0's unanswerable questions as refusals; yes/no questions, which have no
answer span, left out), their questions also asked search-style (without question words), the
seed article's question files, and the blind genre sets of ``tests/data/genres``."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.answer.candidates import Candidate, candidates
from qa.config import Settings
from qa.eval.squad import load_squad, write_corpus
from qa.eval.squad_eval import corpus_plan
from qa.search.followup import search_context

#: the genres of ``tests/data/genres`` fitted on; the others are only reported
FIT_GENRES = ("policy", "contract")
#: the share of a set's questions also asked search-style
SEARCH_SHARE = 0.34
#: question words and particles a search-style query leaves out
_QUESTION_WORDS = re.compile(r"请问|是什么|是多少|是哪[一个家位些里年天]*|什么|多少|哪[一个家位些里年天种]*|几[个年月日号次岁]?|"
                             r"谁|何时|何地|何处|因何|为何|如何|怎么样?|怎样|为什么|有?多[长大高久远重]|"
                             r"吗|呢|[?？!！。]")


def search_style(question: str) -> str:
    """``question`` as a search box query: its question words and particles dropped, the words
    around them kept in order ("微软哪一年投资了OpenAI?" -> "微软 投资了OpenAI")."""
    return " ".join(w for w in _QUESTION_WORDS.split(question) if w.strip()).strip()


def _sampled(key: str, share: float) -> bool:
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:4], "big") / 2**32 < share


@dataclass
class Case:
    """One question as the fit sees it."""

    group: str  # "<set>:<split>"
    text: str
    gold: tuple[str, ...]  # empty: unanswerable
    source: str | None  # the file holding the answer (None: any)
    article: str = ""  # the article it is about (SQuAD sets), for learning curves
    cands: list[Candidate] = field(default_factory=list)
    found_x: dict[str, float] = field(default_factory=dict)
    context: tuple[Any, ...] = ()  # (engine, index, query, hits) of its search

    def holds(self, c: Candidate) -> bool:
        return bool(self.gold) and (self.source is None or c.hit.chunk.source == self.source) \
            and any(g in c.text for g in self.gold)


def _engine(settings: Settings, corpus: Path, index: Path) -> Any:
    """A built engine over ``corpus`` (with a Milvus store: collections of its own)."""
    from qa.service import QA

    tag = "".join(ch if ch.isalnum() else "_" for ch in corpus.parent.name)
    engine = QA(settings.with_(corpus_dir=corpus, index_dir=index,
                               milvus_prefix=f"{settings.milvus_prefix}_fit_{tag}"))
    engine.build()
    return engine


def measure(engine: Any, case: Case, history: list[str] | None = None) -> None:
    """Search ``case`` as ``qa.ask`` does and measure its candidates (the reader reads them
    later, once the sentence model is fitted)."""
    index = engine.refresh()
    query, hits = engine.search(index, case.text, 10, search_context(case.text, history or []))
    case.cands = candidates(query, hits[:3], case.text, engine.glossary)
    case.context = (engine, index, query, hits)


def squad_cases(path: Path, settings: Settings, work: Path, half: bool) -> list[Case]:
    articles = load_squad(path)
    indexed, questions = corpus_plan(articles, articles, half)
    tag = f"{path.stem}{'-half' if half else ''}"
    write_corpus(indexed, work / tag / "corpus")
    engine = _engine(settings, work / tag / "corpus", work / tag / "index")
    by_source = {a.source: a.split for a in articles}
    cases = []
    for q, is_indexed in questions:
        if half and is_indexed:
            continue  # --half only adds the refusals; the indexed ones are in the full corpus
        if q.yes_no:
            continue  # no span to find
        case = Case(f"{path.stem}:{by_source[q.source]}", q.text, q.answers if is_indexed
                    else (), q.source, q.source)
        twin = None if half else _search_variant(case, q.id)
        for c in (case, twin) if twin else (case,):
            measure(engine, c)
            cases.append(c)
    return cases


def question_file_cases(paths: list[Path], settings: Settings, splits: set[str]
                        ) -> list[Case]:
    from qa.eval.evaluate import load_question_files

    engine = _engine(settings, settings.corpus_dir, settings.index_dir)
    cases = []
    for row in load_question_files(paths):
        split = row.get("split", "")
        group = f"corpus:{'fit' if split in splits else 'report'}"
        case = Case(group, row["question"], tuple(row.get("answers", [])), None)
        measure(engine, case, list(row.get("history") or []))
        cases.append(case)
    return cases




def _search_variant(case: Case, key: str) -> Case | None:
    """The search-style twin of an answerable ``case`` for a share of questions, in a group of
    its own (so it counts as one more set, not as more of the same)."""
    text = search_style(case.text)
    if not case.gold or not _sampled(key, SEARCH_SHARE) or not text or text == case.text:
        return None
    name, split = case.group.split(":")
    return Case(f"{name}-search:{split}", text, case.gold, case.source, case.article)


def genre_cases(folder: Path, settings: Settings, work: Path) -> list[Case]:
    """The blind genre sets: each genre's documents one corpus, its questions cases (yes/no
    questions with their evidence as the sentence to find), fitted for ``FIT_GENRES``."""
    cases = []
    for path in sorted((folder / "questions").glob("*.jsonl")):
        genre = path.stem
        corpus = work / f"genre-{genre}" / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        for doc in (folder / "docs").glob(f"{genre}-*.txt"):
            if not (corpus / doc.name).is_file() or (corpus / doc.name).read_bytes() != doc.read_bytes():
                (corpus / doc.name).write_bytes(doc.read_bytes())
        engine = _engine(settings, corpus, corpus.parent / "index")
        split = "fit" if genre in FIT_GENRES else "report"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            case = Case(f"genres-{genre}:{split}", row["question"], tuple(row["answers"]),
                        row["doc"])
            measure(engine, case, list(row.get("history") or []))
            cases.append(case)
    return cases


def feedback_cases(path: Path, settings: Settings) -> tuple[list[Case], dict[str, int]]:
    """The judgments of a base's feedback file (``qa.eval.feedback``) as cases over its own
    corpus, in the group ``feedback:fit`` or ``feedback:report`` (held back), and their counts."""
    from qa.eval.feedback import load_feedback

    judgments, counts = load_feedback(path, settings)
    engine = _engine(settings, settings.corpus_dir, settings.index_dir)
    cases = []
    for j in judgments:
        case = Case(f"feedback:{j.split}", j.question, j.gold, j.source)
        measure(engine, case)
        cases.append(case)
    return cases, dict(counts)
