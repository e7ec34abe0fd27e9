"""Public reading-comprehension sets in SQuAD format, as corpora ``qa`` has never seen.

``load_squad`` reads ``data[].title``, ``paragraphs[].context``, ``qas[].question`` and
``answers[].text`` into ``Article``s, and SQuAD 2.0's ``is_impossible`` and CAIL2019's
``yes_no`` ("YES"/"NO") when a question has them; ``write_corpus`` writes one corpus file per article (its
title line, then its paragraphs separated by blank lines), which is how a user would drop such
articles into ``corpus/``. ``split_of`` sorts articles, never questions, into what rankers are
fitted on ("fit") and what is only reported ("report"). ``cmrc_em`` / ``cmrc_f1`` are the CMRC
2018 metrics of a short answer against its gold answers.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import BadInput

#: the share of articles whose questions are only reported, never fitted on
REPORT_SHARE = 0.3
SPLITS = ("fit", "report", "all")
#: the values of a yes/no question's ``yes_no``
YES_NO = ("YES", "NO")


@dataclass(frozen=True)
class Question:
    """One question of a SQuAD set, with the corpus file of its article."""

    id: str
    text: str
    answers: tuple[str, ...]
    source: str  # the corpus file of its article
    paragraph: int  # 0-based paragraph of its article
    answer_start: int = -1  # first answer's offset into its paragraph (-1: none given)
    impossible: bool = False  # SQuAD 2.0 ``is_impossible``: its article does not answer it
    yes_no: str | None = None  # "YES" or "NO" for a yes/no question (CAIL2019), else None

    @property
    def kind(self) -> str:
        """"impossible", "yes/no" or "span" (a question with neither answers nor a flag
        counts as a span question, as it always did)."""
        return "impossible" if self.impossible else "yes/no" if self.yes_no else "span"


@dataclass(frozen=True)
class Article:
    """One article: its title, paragraphs, questions, and the corpus file written for it."""

    number: int
    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[Question, ...]
    source: str

    @property
    def split(self) -> str:
        return split_of(self.title)

    def text(self) -> str:
        """The corpus file's text: the title line, then the paragraphs, blank lines between."""
        return "\n\n".join([self.title, *self.paragraphs]) + "\n"


def _flag(value: object) -> bool:
    """``is_impossible`` as written: a JSON boolean, or now and then the string "true"."""
    return value is True or str(value).strip().lower() == "true"


def split_of(title: str) -> str:
    """"report" for about ``REPORT_SHARE`` of articles (by a hash of the title, so the same
    article always lands in the same split), else "fit"."""
    h = int.from_bytes(hashlib.sha1(title.encode("utf-8")).digest()[:4], "big")
    return "report" if h / 2**32 < REPORT_SHARE else "fit"


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w\u3400-\u9fff]+", "_", title).strip("_")[:40]
    return slug or "article"


def load_squad(path: Path) -> list[Article]:
    """The articles of a SQuAD-format file; ``BadInput`` naming the file if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
        articles = []
        for n, raw in enumerate(data):
            title = " ".join(str(raw.get("title") or f"article {n + 1}").split())
            source = f"{n + 1:04d}-{_slug(title)}.txt"
            paragraphs, questions = [], []
            for p, para in enumerate(raw["paragraphs"]):
                paragraphs.append(" ".join(str(para["context"]).split("\n")).strip())
                for q in para.get("qas", []):
                    answers = tuple(dict.fromkeys(str(a["text"]) for a in q.get("answers", [])
                                                  if str(a["text"]).strip()))
                    starts = [int(a.get("answer_start", -1)) for a in q.get("answers", [])]
                    yes_no = str(q.get("yes_no") or "").strip().upper()
                    questions.append(Question(
                        str(q["id"]), str(q["question"]).strip(), answers, source, p,
                        starts[0] if starts else -1, impossible=_flag(q.get("is_impossible")),
                        yes_no=yes_no if yes_no in YES_NO else None))
            articles.append(Article(n, title, tuple(paragraphs), tuple(questions), source))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a SQuAD-format file ({type(exc).__name__}: {exc})"
                         ) from None
    return articles


def choose(articles: list[Article], split: str = "all", limit: int | None = None
           ) -> list[Article]:
    """The articles of ``split`` ("fit", "report" or "all"), at most ``limit`` of them spread
    evenly over the file."""
    if split not in SPLITS:
        raise BadInput(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    picked = [a for a in articles if split == "all" or a.split == split]
    if limit is not None and 0 < limit < len(picked):
        step = len(picked) / limit
        picked = [picked[int(i * step)] for i in range(limit)]
    return picked


def write_corpus(articles: list[Article], folder: Path) -> None:
    """One ``.txt`` file per article in ``folder`` (created; files of other articles removed,
    files already holding the same text left untouched so an index over them stays fresh)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {a.source: a.text() for a in articles}
    for old in folder.glob("*.txt"):
        if old.name not in wanted:
            old.unlink()
    for source, text in wanted.items():
        path = folder / source
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


# -- the CMRC 2018 metrics (after its official cmrc2018_evaluate.py) -------------------------

_CMRC_PUNCT = frozenset("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_LATIN = re.compile(r"\w+(?:[.'’]\w+)*|[^\w\s]")


def _segments(text: str, drop_punctuation: bool = True) -> list[str]:
    """CJK characters one by one, other runs split into words (nltk's word_tokenize in the
    official script), lowercased, with its punctuation list dropped."""
    out: list[str] = []
    run = ""
    for ch in text.lower().strip():
        if drop_punctuation and ch in _CMRC_PUNCT:
            continue
        if "\u4e00" <= ch <= "\u9fa5" or ch in _CMRC_PUNCT:
            out += _LATIN.findall(run)
            run = ""
            out.append(ch)
        else:
            run += ch
    return out + _LATIN.findall(run)


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                row[j] = prev[j - 1] + 1
                best = max(best, row[j])
        prev = row
    return best


def cmrc_f1(prediction: str | None, answers: tuple[str, ...] | list[str]) -> float:
    """The best F1 of ``prediction`` over ``answers`` by their longest common run of segments
    (0 for no prediction)."""
    if not prediction or not answers:
        return 0.0
    pred = _segments(prediction)
    best = 0.0
    for answer in answers:
        gold = _segments(answer)
        common = _longest_common_run(gold, pred)
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def cmrc_em(prediction: str | None, answers: tuple[str, ...] | list[str]) -> float:
    """1.0 when ``prediction`` equals a gold answer, punctuation and spaces ignored."""
    if not prediction:
        return 0.0
    def bare(s: str) -> str:
        return "".join(c for c in s.lower().strip() if c not in _CMRC_PUNCT and not c.isspace())
    return float(any(bare(prediction) == bare(a) for a in answers))
