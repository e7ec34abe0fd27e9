"""The fitted weights of the answer layer, read from a data file, never written in code.

``qa fit`` (``qa.train.fit``) writes ``rankers.json``: weights of named features for three models,
and their provenance (the question sets and splits they were fitted on, the commit, the scores
on what was held back). The general file ships as ``qa/answer/data/rankers.json``; a corpus may carry
its own in ``<corpus>/.qa/rankers.json``, fitted on questions about it, which then wins.

- ``sentence``: a linear score of each candidate sentence (a conditional logit: the softmax
  over a question's candidates is the chance that each one holds the answer);
- ``final``: the same over the few sentences the reader read, with its margin among them;
- ``found``: a logistic model of "the corpus answers this question", compared with
  ``threshold``; ``short_margin``: the reader margin under which no short answer is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

GENERAL = Path(__file__).resolve().parent / "data" / "rankers.json"
#: fitted without the reader (``QA_READER=none``): its margin is then never measured
GENERAL_NO_READER = GENERAL.with_name("rankers-noreader.json")
CORPUS_RANKERS = Path(".qa") / "rankers.json"
MODELS = ("sentence", "final", "found")


class RankersError(ValueError):
    """A rankers file that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Linear:
    """Weights of named features, plus a bias."""

    weights: Mapping[str, float]
    bias: float = 0.0

    def score(self, features: Mapping[str, float]) -> float:
        missing = [n for n in self.weights if n not in features]
        if missing:
            raise KeyError(f"features {missing} were not computed (the rankers file is "
                           "newer than this qa, or the other way round: re-run `qa fit`)")
        return self.bias + sum(w * features[n] for n, w in self.weights.items())

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.score(features)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class Rankers:
    sentence: Linear
    final: Linear
    found: Linear
    threshold: float = 0.5
    short_margin: float = 0.0
    #: how many of the best candidate sentences the reader reads
    read: int = 4
    source: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **{m: {"bias": getattr(self, m).bias, "weights": dict(getattr(self, m).weights)}
               for m in MODELS},
            "threshold": self.threshold, "short_margin": self.short_margin, "read": self.read,
            "provenance": dict(self.provenance),
        }


def parse(data: Mapping[str, Any], source: str) -> Rankers:
    """``Rankers`` of a decoded rankers file (``RankersError`` naming ``source``)."""
    try:
        models = {m: Linear({str(k): float(v) for k, v in data[m]["weights"].items()},
                            float(data[m].get("bias", 0.0))) for m in MODELS}
        return Rankers(**models, threshold=float(data.get("threshold", 0.5)),
                       short_margin=float(data.get("short_margin", 0.0)),
                       read=int(data.get("read", 4)), source=source,
                       provenance=dict(data.get("provenance", {})))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RankersError(f"{source}: not a rankers file ({type(exc).__name__}: {exc})"
                           ) from None


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> Rankers:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RankersError(f"{path}: cannot read the rankers ({exc})") from None
    return parse(data, path)


def load(path: Path) -> Rankers:
    """The rankers of one file (read once per version of the file)."""
    return _read(str(path), path.stat().st_mtime_ns if path.exists() else 0)


def general_file(reader: bool) -> Path:
    """The general rankers file for an engine with (or without) the reader."""
    return GENERAL if reader else GENERAL_NO_READER


def corpus_file(corpus_dir: Path, reader: bool) -> Path:
    """Where a corpus keeps its own rankers: ``.qa/rankers.json``, or
    ``.qa/rankers-noreader.json`` for an engine without the reader."""
    return corpus_dir / CORPUS_RANKERS.with_name(general_file(reader).name)


def for_corpus(corpus_dir: Path, reader: bool = True) -> Rankers:
    """The corpus's own rankers (``corpus_file``) when it has them, else the general file."""
    own = corpus_file(corpus_dir, reader)
    return load(own if own.is_file() else general_file(reader))
