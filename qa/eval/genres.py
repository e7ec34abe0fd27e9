"""``qa eval --genres DIR``: blind question sets about documents of five genres.

``DIR`` holds ``docs/`` (two .txt documents per genre: policy, manual, news, contract, forum;
``tests/data/formats-blind``: Word, slides, spreadsheets and a scan)
and ``questions/<genre>.jsonl``, one question a line: ``id``, ``doc`` (its document),
``type`` (fact, search, ordinal, followup, yesno, unanswerable, absent), ``question``,
``history`` (earlier questions, oldest first), ``answers`` (exact substrings of the document;
for a yes/no question the evidence; empty when the document does not answer) and ``yes_no``
("YES"/"NO" for a yes/no question, else null).

The corpus (``--genre-corpus``) is all the documents at once, each genre's two documents, or
every document alone; each is built and asked with the real engine, ten passages deep.
Answerable questions score hit@1, hit@3 (the first passage of the question's document holding
a gold answer), sent (the answer sentence from that document holds one), EM and F1 of the
short answer (CMRC 2018 metrics) and found; yes/no questions whether the short answer is 是/否
as the gold says (yes/no) and whether the sentence holds the evidence (evid); unanswerable and
absent questions whether they are refused. Genres policy and contract are "fit" (may be fitted
on), manual, news and forum "report" (only measured); ``--split`` picks among them.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer.answerer import Answer
from qa.config import PROJECT_ROOT, Settings
from qa.errors import BadInput
from qa.eval.metrics import first_hit, latency, render, sentence_holds, share, yes_no_right
from qa.eval.squad import SPLITS, YES_NO, cmrc_em, cmrc_f1
from qa.eval.squad_eval import DEPTH, Asker

if TYPE_CHECKING:
    from qa.service import QA

DEFAULT_FOLDER = PROJECT_ROOT / "tests" / "data" / "genres"
GENRES = ("policy", "manual", "news", "contract", "forum")
#: fit: may be fitted on; report: only ever measured (a genre not listed here is "report")
GENRE_SPLIT = {"policy": "fit", "contract": "fit", "manual": "report", "news": "report",
               "forum": "report"}
#: "table": a row and a column named, the cell the answer (the format sets)
ANSWERABLE = ("fact", "search", "ordinal", "followup", "table")
REFUSE = ("unanswerable", "absent")
TYPES = (*ANSWERABLE, "yesno", *REFUSE)
CORPORA = ("all", "genre", "doc")
COLUMNS = ("n", "hit@1", "hit@3", "sent", "EM", "F1", "found", "n y/n", "yes/no", "evid",
           "n ref", "refused", "p50 ms")


@dataclass(frozen=True)
class GenreQuestion:
    id: str
    genre: str
    doc: str  # its document's file name in docs/
    type: str
    text: str
    history: tuple[str, ...]
    answers: tuple[str, ...]
    yes_no: str | None = None

    @property
    def split(self) -> str:
        return genre_split(self.genre)


def genre_split(genre: str) -> str:
    """"fit" or "report" (``GENRE_SPLIT``; a genre it does not list is only reported)."""
    return GENRE_SPLIT.get(genre, "report")


def _question(row: dict, genre: str, where: str) -> GenreQuestion:  # type: ignore[type-arg]
    kind = str(row["type"])
    if kind not in TYPES:
        raise BadInput(f"{where}: type {kind!r} is not one of {', '.join(TYPES)}")
    yes_no = row.get("yes_no")
    if (kind == "yesno") != (yes_no is not None) or (yes_no is not None
                                                     and yes_no not in YES_NO):
        raise BadInput(f"{where}: yes_no {yes_no!r} on a {kind} question")
    return GenreQuestion(str(row["id"]), genre, str(row["doc"]), kind,
                         str(row["question"]).strip(),
                         tuple(str(h) for h in row.get("history") or []),
                         tuple(str(a) for a in row.get("answers") or [] if str(a)), yes_no)


def load_genres(folder: Path, split: str = "all") -> list[GenreQuestion]:
    """The questions of ``folder/questions/*.jsonl`` whose genre is in ``split``, genre by
    genre (the five known ones first); ``BadInput`` naming the file and line of a bad one."""
    if split not in SPLITS:
        raise BadInput(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    folder = Path(folder)
    files = sorted((folder / "questions").glob("*.jsonl"),
                   key=lambda p: (GENRES.index(p.stem) if p.stem in GENRES else len(GENRES),
                                  p.stem))
    if not files:
        raise BadInput(f"{folder}: no questions/*.jsonl")
    out = []
    for path in files:
        if split != "all" and genre_split(path.stem) != split:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                q = _question(json.loads(line), path.stem, f"{path}:{n}")
            except (ValueError, KeyError, TypeError) as exc:
                raise BadInput(f"{path}:{n}: not a genre question ({exc})") from None
            if not (folder / "docs" / q.doc).is_file():
                raise BadInput(f"{path}:{n}: no document docs/{q.doc}")
            out.append(q)
    return out


def plan(folder: Path, questions: list[GenreQuestion], mode: str
         ) -> list[tuple[str, list[str], list[GenreQuestion]]]:
    """(name, documents, questions) of each corpus: "all" documents at once (not README / PROVENANCE files), each
    "genre"'s documents, or each "doc" alone."""
    if mode == "all":
        return [("all", sorted(p.name for p in (Path(folder) / "docs").iterdir()
                               if p.is_file() and not p.stem.isupper()), questions)]
    if mode not in CORPORA:
        raise BadInput(f"--genre-corpus must be one of {', '.join(CORPORA)}, not {mode!r}")
    key = (lambda q: q.genre) if mode == "genre" else (lambda q: Path(q.doc).stem)
    groups: dict[str, list[GenreQuestion]] = {}
    for q in questions:
        groups.setdefault(key(q), []).append(q)
    return [(name, sorted({q.doc for q in qs}), qs) for name, qs in groups.items()]


@dataclass
class Result:
    question: GenreQuestion
    rank: int | None  # 1-based rank of the first passage of its document holding a gold one
    sentence_ok: bool  # the answer sentence holds a gold answer (yes/no: the evidence)
    em: float
    f1: float
    found: bool
    yes_no_ok: bool
    seconds: float
    answer: Answer

    @property
    def right(self) -> bool:
        kind = self.question.type
        if kind in REFUSE:
            return not self.found
        if kind == "yesno":
            return self.yes_no_ok and self.sentence_ok
        return self.rank == 1 and self.sentence_ok and self.em == 1.0


def judge(q: GenreQuestion, answer: Answer, seconds: float) -> Result:
    short = answer.short if answer.found else None
    return Result(q, first_hit(answer, q.doc, q.answers),
                  sentence_holds(answer, q.doc, q.answers), cmrc_em(short, q.answers),
                  cmrc_f1(short, q.answers), answer.found, yes_no_right(answer, q.yes_no),
                  seconds, answer)


def run(ask: Asker, questions: list[GenreQuestion]) -> list[Result]:
    out = []
    for q in questions:
        started = time.perf_counter()
        answer = ask(q.text, DEPTH, list(q.history))
        out.append(judge(q, answer, time.perf_counter() - started))
    return out


def scores(results: list[Result]) -> dict[str, float]:
    """``COLUMNS`` over ``results``: n … found over the answerable types, yes/no and evid over
    the yes/no questions, refused over unanswerable and absent ones (NaN: none of them)."""
    ans = [r for r in results if r.question.type in ANSWERABLE]
    yn = [r for r in results if r.question.type == "yesno"]
    ref = [r for r in results if r.question.type in REFUSE]
    return {
        "n": len(ans),
        "hit@1": share([r.rank == 1 for r in ans]),
        "hit@3": share([r.rank is not None and r.rank <= 3 for r in ans]),
        "sent": share([r.sentence_ok for r in ans]),
        "EM": share([r.em for r in ans]),
        "F1": share([r.f1 for r in ans]),
        "found": share([r.found for r in ans]),
        "n y/n": len(yn),
        "yes/no": share([r.yes_no_ok for r in yn]),
        "evid": share([r.sentence_ok for r in yn]),
        "n ref": len(ref),
        "refused": share([not r.found for r in ref]),
        "p50 ms": latency([r.seconds for r in results])["p50 ms"],
    }


def groups(results: list[Result], by: str) -> dict[str, list[Result]]:
    """``results`` by "genre" (each genre with its split, then "fit" and "report" when both
    are there, then "all") or by "type"."""
    out: dict[str, list[Result]] = {}
    if by == "type":
        for t in TYPES:
            if any(r.question.type == t for r in results):
                out[t] = [r for r in results if r.question.type == t]
        return out
    for r in results:
        out.setdefault(f"{r.question.genre} ({r.question.split})", []).append(r)
    splits = {r.question.split for r in results}
    if len(splits) > 1:
        for s in ("fit", "report"):
            out[f"{s} genres"] = [r for r in results if r.question.split == s]
    out["all"] = results
    return out


def table(named: dict[str, list[Result]], by: str = "genre") -> str:
    """One row per system and group (``groups``)."""
    rows = [((name, group), scores(rs)) for name, results in named.items()
            for group, rs in groups(results, by).items()]
    return render([("system", 24), (by, 18)], COLUMNS, rows)


def details(results: list[Result]) -> str:
    lines = []
    for r in results:
        if r.right:
            continue
        q, a = r.question, r.answer
        gold = " | ".join(q.answers) or "(none: refuse)"
        lines.append(f"{q.id:<14} {q.type} rank={r.rank} sent={r.sentence_ok} "
                     f"found={r.found} conf={a.confidence:.2f} F1={r.f1:.2f}\n"
                     f"    Q: {q.text}{'  after ' + ' / '.join(q.history) if q.history else ''}"
                     f"\n    gold: {q.yes_no + ': ' if q.yes_no else ''}{gold}\n"
                     f"    short: {a.short!r}\n    sentence: {a.text[:120]}")
    return "\n".join(lines)


def write_docs(source: Path, docs: list[str], corpus: Path) -> None:
    """Copy ``docs`` from ``source`` into ``corpus`` (other files removed, unchanged ones
    left alone so that an index over them stays fresh); any format, byte for byte."""
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.iterdir():
        if old.is_file() and old.name not in docs:
            old.unlink()
    for name in docs:
        data = (source / name).read_bytes()
        path = corpus / name
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)


def evaluate(folder: Path, questions: list[GenreQuestion], mode: str, work: Path,
             base: Settings, compare: bool = False, share: QA | None = None
             ) -> dict[str, list[Result]]:
    """Build every corpus of ``plan`` under ``work`` and ask its questions: the results of
    qa (and with ``compare`` the baselines), all corpora pooled. Engines share one embedding
    model and reader (``share``'s, if given)."""
    from qa.eval.evaluate import engine, systems

    named: dict[str, list[Result]] = {}
    shared = share
    for name, docs, qs in plan(folder, questions, mode):
        where = work / f"genres-{mode}" / name
        write_docs(Path(folder) / "docs", docs, where / "corpus")
        settings = base.with_(corpus_dir=where / "corpus", index_dir=where / "index",
                              milvus_prefix=f"{base.milvus_prefix}_genres_"
                                            f"{re.sub(r'[^0-9A-Za-z]+', '_', name)}")
        ours = engine(settings, shared)
        shared = shared or ours
        for system, ask in systems(settings, compare, build=True, ours=ours).items():
            named.setdefault(system, []).extend(run(ask, qs))
    return named


def main(args: argparse.Namespace) -> int:
    folder = Path(args.genres)
    mode = getattr(args, "genre_corpus", "genre")
    questions = load_genres(folder, args.split)
    if not questions:
        raise BadInput(f"{folder}: no questions in split {args.split}")
    base = Settings.from_env()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-genres-") as temp:
        work = Path(args.workdir) if args.workdir else Path(temp)
        named = evaluate(folder, questions, mode, work, base, args.compare)
    genres = list(dict.fromkeys(q.genre for q in questions))
    print(f"{folder}: {len(questions)} questions of {', '.join(genres)} (split {args.split}); "
          f"corpus per {mode}: {len(plan(folder, questions, mode))} corpora; model "
          f"{base.model}; built and asked in {time.perf_counter() - started:.1f} s\n")
    print(table(named, "genre"))
    print()
    print(table(named, "type"))
    if args.details:
        print("\nmisses (first system):\n" + details(next(iter(named.values()))))
    return 0
