"""The ``qa`` command: ``qa build``, ``qa ask "问题"``, ``qa chat``, ``qa search "问题"``,
``qa eval``, ``qa serve``.

A thin shell over the ``qa`` package. Heavy imports happen inside the commands, so
``qa --help`` starts instantly. Any ``qa.errors.QAError`` a command meets is said on one line
naming the command (exit status 2 for bad input or an unknown name, else 1), never as a
traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def _bases(kb: str, every: bool = True):  # type: ignore[no-untyped-def]
    """The knowledge bases, after checking ``kb`` names one of them (or "*", if ``every``):
    ``BadKbName`` or ``UnknownKb`` when it does not."""
    from qa.bases import ALL, Bases

    bases = Bases()
    if not (every and kb == ALL):
        bases.settings_of(kb)
    return bases


def cmd_build(args: argparse.Namespace) -> int:
    from qa.errors import Busy
    from qa.models.embedding import Embedder
    from qa.progress import build_progress
    from qa.store.factory import open_backend

    bases = _bases(args.kb, every=False)
    settings = bases.settings_of(args.kb)
    embedder = None
    if args.ray:
        from qa.models.ray_embed import RayEmbedder, ray_available

        if not ray_available():
            print("qa build --ray needs Ray: pip install 'qa[ray]' (ray[data])", file=sys.stderr)
            return 1
        embedder = RayEmbedder(settings, actors=args.ray_actors)
    try:  # the builder alone: this process serves no questions, so it loads no BM25 indexes
        report = open_backend(settings).build(embedder or Embedder(settings),
                                              progress=build_progress(),
                                              wait=not args.no_wait, full=args.full)
    except Busy as exc:
        print(f"qa build: not building: {exc} (run without --no-wait to wait for it)",
              file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.search.filters import Where

    bases = _bases(args.kb)
    answer = bases.ask(args.question, kb=args.kb, k=args.k, history=args.history or None,
                       where=Where.from_pairs(args.where or []))
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        from qa.serve.chat import ANSI, PLAIN, format_report

        print(format_report(answer, ANSI if sys.stdout.isatty() else PLAIN))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.serve.chat import run_chat
    from qa.service import check_k

    check_k(args.k)
    bases = _bases(args.kb)

    def warm_up() -> None:
        for name in bases.names() if args.kb == "*" else [args.kb]:
            bases.engine(name).refresh()

    return run_chat(lambda question, history: bases.ask(question, kb=args.kb, k=args.k,
                                                        history=history),
                    sys.stdin, sys.stdout, sys.stderr, json_lines=args.json, warm_up=warm_up)


def cmd_search(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from qa.search.filters import Where

    bases = _bases(args.kb)
    passages = bases.passages(args.question, kb=args.kb, k=args.k, lexical=args.lexical,
                              where=Where.from_pairs(args.where or []))
    if args.json:
        print(json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=2))
        return 0
    for p in passages:
        print(f"{p.citation} · 分数 {p.score:.3f}\n    {p.text}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.genres and args.squad:
        print("qa eval: --genres and --squad exclude each other", file=sys.stderr)
        return 2
    if args.per_doc and not args.squad:
        print("qa eval: --per-doc goes with --squad", file=sys.stderr)
        return 2
    if args.kb != "default" and (args.genres or args.squad):
        print("qa eval: --kb goes with the question-file evaluation (--squad and --genres "
              "make corpora of their own)", file=sys.stderr)
        return 2
    _bases(args.kb, every=False)
    if args.feedback is not None:
        from qa.eval.feedback import main as feedback_main

        return feedback_main(args)
    if args.genres or args.squad:
        if args.genres:
            from qa.eval.genres import main as set_main
        else:
            from qa.eval.squad_eval import main as set_main

        return set_main(args)
    from qa.eval.evaluate import main as eval_main

    return eval_main(args)


def cmd_fit(args: argparse.Namespace) -> int:
    from qa.train.fit import main as fit_main

    return fit_main(args)


def cmd_train_reader(args: argparse.Namespace) -> int:
    from qa.train.reader_train import main as train_main

    return train_main(args)


def cmd_train_mlm(args: argparse.Namespace) -> int:
    from qa.train.mlm import main as mlm_main

    return mlm_main(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.config import Settings
    from qa.serve.app import main as serve

    settings = Settings.from_env()
    paths = {"corpus_dir": args.corpus, "index_dir": args.index}
    settings = settings.with_(**{k: Path(v).expanduser().resolve()
                                 for k, v in paths.items() if v})
    if args.port is not None:
        settings = settings.with_(server_port=args.port)
    serve(settings)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Cited answers over the corpus/ folder.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what qa does")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="rebuild the index from corpus/ (incremental)")
    b.add_argument("--full", action="store_true", help="re-embed everything")
    b.add_argument("--no-wait", action="store_true",
                   help="stop instead of waiting when another build is running")
    b.add_argument("--ray", action="store_true",
                   help="embed on a Ray cluster (RAY_ADDRESS, else a local one); needs qa[ray]")
    b.add_argument("--ray-actors", type=int, default=0, metavar="N",
                   help="--ray: embedding actors (default: one per CPU of the cluster)")
    b.add_argument("--kb", default="default", metavar="NAME",
                   help="the knowledge base (QA_KB_ROOT/NAME; default: corpus/)")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("ask", help="answer a question with citations")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=3, help="passages to return (default 3)")
    a.add_argument("--history", action="append", metavar="QUESTION",
                   help="an earlier question (repeat, oldest first)")
    a.add_argument("--json", action="store_true", help="print the Answer as JSON")
    a.add_argument("--where", action="append", metavar="KEY=VALUE",
                   help="only documents that pass (repeat): name=*合同*, folder=reports, "
                        "type=pdf, after=2023-01-01, before=2023-12-31, sources=a/b.txt")
    a.add_argument("--kb", default="default", metavar="NAME",
                   help="the knowledge base (QA_KB_ROOT/NAME; default: corpus/); '*': every one")
    a.set_defaults(func=cmd_ask)

    c = sub.add_parser("chat", help="a conversation in the terminal (follow-ups, /sources)")
    c.add_argument("-k", type=int, default=3, help="passages per answer (default 3)")
    c.add_argument("--json", action="store_true",
                   help="print each answer as one line of JSON")
    c.add_argument("--kb", default="default", metavar="NAME",
                   help="the knowledge base (QA_KB_ROOT/NAME; default: corpus/); '*': every one")
    c.set_defaults(func=cmd_chat)

    r = sub.add_parser("search", help="the best passages, cited, without an answer sentence")
    r.add_argument("question")
    r.add_argument("-k", type=int, default=3, help="passages to return (default 3)")
    r.add_argument("--lexical", action="store_true",
                   help="BM25 only: no embedding model is loaded (starts in well under 1 s)")
    r.add_argument("--json", action="store_true", help="print the passages as JSON")
    r.add_argument("--where", action="append", metavar="KEY=VALUE",
                   help="only documents that pass (repeat), as with qa ask")
    r.add_argument("--kb", default="default", metavar="NAME",
                   help="the knowledge base (QA_KB_ROOT/NAME; default: corpus/); '*': every one")
    r.set_defaults(func=cmd_search)

    e = sub.add_parser("eval", help="score retrieval and answers on a question set")
    e.add_argument("--questions", help="JSONL question file (default tests/data/questions.jsonl)")
    e.add_argument("--squad", metavar="FILE",
                   help="a SQuAD-format file: each article one corpus file, built and asked")
    e.add_argument("--genres", nargs="?", metavar="DIR",
                   const=str(Path(__file__).resolve().parent.parent / "tests" / "data"
                             / "genres"),
                   help="blind question sets about documents of five genres (default DIR: "
                        "tests/data/genres)")
    e.add_argument("--genre-corpus", choices=["all", "genre", "doc"], default="genre",
                   help="--genres: one corpus of all documents, one per genre (default) or "
                        "one per document")
    e.add_argument("--split", default="all",
                   help="questions: dev|test|all; --squad: fit|report|all (by article); "
                        "--genres: fit|report|all (by genre)")
    e.add_argument("--half", action="store_true",
                   help="--squad: index every other article; report refusals on the rest")
    e.add_argument("--articles", type=int, metavar="N", help="--squad: N articles only")
    e.add_argument("--per-doc", action="store_true",
                   help="--squad: every asked article is a corpus of its own; scores pooled")
    e.add_argument("--workdir", metavar="DIR",
                   help="--squad, --genres: keep corpora and indexes here (reused next run)")
    e.add_argument("--compare", action="store_true", help="also run the baselines")
    e.add_argument("--curve", action="store_true", help="print the found-threshold trade-off")
    e.add_argument("--details", action="store_true", help="print every miss")
    e.add_argument("--kb", default="default", metavar="NAME",
                   help="the knowledge base (QA_KB_ROOT/NAME; default: corpus/)")
    e.add_argument("--feedback", nargs="?", const="", metavar="FILE",
                   help="how the current weights agree with a base's feedback (default FILE: "
                        "its corpus/.qa/feedback.jsonl); --split fit|report|all")
    e.set_defaults(func=cmd_eval)

    f = sub.add_parser("fit", help="fit the answer layer's rankers and write rankers.json")
    f.add_argument("--squad", action="append", metavar="FILE",
                   help="SQuAD-format set (repeat; default: the two shared sets)")
    f.add_argument("--questions", action="append", metavar="FILE",
                   help="JSONL questions about corpus/ (repeat; default: tests/data's)")
    f.add_argument("--fit-splits", default="dev,fresh,blind2,blind3,blind4,blind6,blind7",
                   help="splits of the question files fitted on (the others are reported)")
    f.add_argument("--workdir", default="bench/out/fit", help="corpora and indexes (kept)")
    f.add_argument("--out", default=None, help="default: qa/answer/data/rankers.json, or "
                   "rankers-noreader.json with QA_READER=none")
    f.add_argument("--read", type=int, default=3, help="candidates the reader reads")
    f.add_argument("--curve", action="store_true", help="also record a learning curve")
    f.add_argument("--no-genres", action="store_true",
                   help="leave out the blind genre sets of tests/data/genres")
    f.add_argument("--corpus-only", action="store_true",
                   help="fit on the question files alone (a corpus's own rankers: --out "
                        "corpus/.qa/rankers.json)")
    f.add_argument("--feedback", nargs="?", const="", metavar="FILE",
                   help="with --corpus-only: fit on a base's feedback (default FILE: its "
                        "corpus/.qa/feedback.jsonl), 30%% held back; writes its .qa/rankers.json")
    f.add_argument("--kb", default="default", metavar="NAME", help="the knowledge base")
    f.set_defaults(func=cmd_fit)

    t = sub.add_parser("train-reader", help="fine-tune the reader (span, yes/no, null; torch, "
                       "resumable)")
    t.add_argument("--squad", action="append", metavar="FILE",
                   help="SQuAD-format training set (repeat; default: every shared set)")
    t.add_argument("--base", default="m3e",
                   help="m3e, e5, or a BERT folder (qa train-mlm writes one)")
    t.add_argument("--out", default=str(Path(__file__).resolve().parent / "models" / "weights"
                                        / "reader"))
    t.add_argument("--init", metavar="FOLDER",
                   help="start from this reader folder (its encoder and span head)")
    t.add_argument("--work", default="checkpoints/reader",
                   help="checkpoint folder: a run started again goes on from it")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--max-steps", type=int, default=0, help="stop after this many steps")
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--max-length", type=int, default=384, help="tokens of a window")
    t.add_argument("--stride", type=int, default=128, help="context tokens between windows")
    t.add_argument("--keep-null", type=float, default=0.3,
                   help="share of a span question's windows without the answer kept")
    t.add_argument("--others", type=float, default=0.2,
                   help="share of span questions also shown another article's paragraph")
    t.add_argument("--freeze-embeddings", action="store_true",
                   help="keep the word embeddings fixed (e5's 250k-row table)")
    t.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    t.add_argument("--eval-questions", type=int, default=400,
                   help="report questions scored per set (0: all)")
    t.add_argument("--checkpoint-every", type=int, default=100)
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--seed", type=int, default=13)
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--model-file", default="model.int8.onnx",
                   choices=["model.onnx", "model.int8.onnx"], help="the variant to keep")
    t.set_defaults(func=cmd_train_reader)

    m = sub.add_parser("train-mlm", help="continued masked-LM training of m3e-small's encoder "
                       "(a base for train-reader)")
    m.add_argument("--squad", action="append", metavar="FILE")
    m.add_argument("--out", default="checkpoints/m3e-mlm")
    m.add_argument("--steps", type=int, default=600)
    m.add_argument("--batch", type=int, default=16)
    m.add_argument("--length", type=int, default=256)
    m.add_argument("--lr", type=float, default=1e-4)
    m.add_argument("--seed", type=int, default=13)
    m.set_defaults(func=cmd_train_mlm)

    s = sub.add_parser("serve", help="serve the chat and the REST API (same as python app.py)")
    s.add_argument("--corpus", metavar="DIR", help="the corpus folder (default: QA_CORPUS_DIR, "
                   "else ./corpus)")
    s.add_argument("--index", metavar="DIR", help="the index folder (default: QA_INDEX_DIR, "
                   "else ./index)")
    s.add_argument("--port", type=int, help="the port (default: GRADIO_SERVER_PORT, else 7860)")
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from qa.errors import BadInput, NotFound, QAError

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except QAError as exc:  # said plainly: a bad question or name, a store down, no index
        print(f"qa {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, BadInput | NotFound) else 1


if __name__ == "__main__":
    sys.exit(main())
