"""The ``qa`` command: ``qa build``, ``qa ask "问题"``, ``qa eval``, ``qa serve``.

A thin shell over the ``qa`` package. Heavy imports happen inside the commands, so
``qa --help`` starts instantly.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence


def _progress_bar():  # type: ignore[no-untyped-def]
    """A progress callback drawing one tqdm bar per build stage (on stderr)."""
    from tqdm import tqdm

    state: dict[str, object] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = state.get("bar")
        if state.get("stage") != stage:
            if bar is not None:
                bar.close()  # type: ignore[attr-defined]
            state["stage"] = stage
            state["bar"] = bar = tqdm(total=total, desc=stage, unit="item", leave=False,
                                      disable=not sys.stderr.isatty() and total < 1000)
        bar.total = total  # type: ignore[attr-defined]
        bar.n = done  # type: ignore[attr-defined]
        bar.refresh()  # type: ignore[attr-defined]
        if stage == "done":
            bar.close()  # type: ignore[attr-defined]

    return progress


def cmd_build(args: argparse.Namespace) -> int:
    from .build import CorpusEmpty
    from .service import QA
    from .store import BuildBusy

    try:
        report = QA().build(full=args.full, progress=_progress_bar(), wait=not args.no_wait)
    except (CorpusEmpty, BuildBusy) as exc:
        print(f"qa build: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def format_answer(answer) -> str:  # type: ignore[no-untyped-def]
    head = answer.text if answer.found else f"{answer.text}"
    lines = [head, ""]
    for p in answer.passages:
        lines.append(f"{p.citation} · 分数 {p.score:.3f}")
        lines.append(f"    {p.text}")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    import qa

    try:
        answer = qa.ask(args.question, k=args.k, history=args.history or None)
    except ValueError as exc:
        print(f"qa ask: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import main as eval_main

    return eval_main(args)


def cmd_serve(args: argparse.Namespace) -> int:
    import runpy
    from pathlib import Path

    app = Path(__file__).resolve().parent.parent / "app.py"
    sys.argv = [str(app)]
    runpy.run_path(str(app), run_name="__main__")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Cited answers over the corpus/ folder.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what qa does")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="rebuild the index from corpus/ (incremental)")
    b.add_argument("--full", action="store_true", help="re-embed everything")
    b.add_argument("--no-wait", action="store_true",
                   help="stop instead of waiting when another build is running")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("ask", help="answer a question with citations")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=3, help="passages to return (default 3)")
    a.add_argument("--history", action="append", metavar="QUESTION",
                   help="an earlier question (repeat, oldest first)")
    a.add_argument("--json", action="store_true", help="print the Answer as JSON")
    a.set_defaults(func=cmd_ask)

    e = sub.add_parser("eval", help="score retrieval and answers on a question set")
    e.add_argument("--questions", help="JSONL question file (default tests/data/questions.jsonl)")
    e.add_argument("--split", choices=["dev", "test", "all"], default="all")
    e.add_argument("--compare", action="store_true", help="also run the baselines")
    e.add_argument("--curve", action="store_true", help="print the found-threshold trade-off")
    e.add_argument("--details", action="store_true", help="print every miss")
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser("serve", help="serve the Gradio chat (same as python app.py)")
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
