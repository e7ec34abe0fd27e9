"""``qa chat``: a conversation with the corpus in a terminal, the way ``llm chat`` works.

Each line is a question; follow-ups ("那2021年呢?") are read in the context of the earlier
questions. Commands: ``/sources`` (the last answer's passages, cited), ``/help``, ``/quit``
(or end of input). On a terminal the answer sentence is bold with the short answer highlighted
and a prompt is shown; when stdin or stdout is not a terminal the output is plain and
pipe-friendly: one line per question line (the answer and where it is, an empty line for a
question that cannot be asked, the reason on stderr), or one JSON object with ``--json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TextIO

from qa.answer.answerer import Answer
from qa.errors import QAError, title

HISTORY = 5  # earlier questions passed along with each question
PROMPT = "> "
HELP = """输入问题并回车；追问（如“那2021年呢?”）会结合之前的问题理解。
  /sources  上一个答案的出处：每段的文件 · 段落 · 字符位置 · 分数
  /help     显示本帮助
  /quit     退出（或按 Ctrl-D）"""
COMMANDS = {"/sources", "/help", "/quit", "/exit"}
_COMMAND_LIKE = re.compile(r"^/[A-Za-z]+$")

Ask = Callable[[str, Sequence[str]], Answer]


@dataclass(frozen=True)
class Style:
    """ANSI codes for a terminal, or none."""

    bold: str = ""
    mark: str = ""  # the short answer inside the bold sentence
    dim: str = ""
    reset: str = ""


PLAIN = Style()
ANSI = Style(bold="\033[1m", mark="\033[1;4;33m", dim="\033[2m", reset="\033[0m")


def _located(answer: Answer) -> str:
    """``file · 第N段 · 字符 s–e`` of the answer sentence (the paragraph from its passage)."""
    if not answer.span:
        return ""
    source, start, end = answer.span
    p = next((p for p in answer.passages if answer.span_in(p) is not None), None)
    paragraph = f" · 第{p.paragraph}段" if p else ""
    page = f" · 第{p.page}页" if p and p.page else ""
    return f"{source}{page}{paragraph} · 字符 {start}–{end}"


def highlighted(answer: Answer, style: Style) -> str:
    """The answer sentence in bold, its short answer (if any) marked."""
    from qa.serve.render import short_offsets

    where = short_offsets(answer)
    text = answer.text
    if where and style.mark:
        s, e = where
        text = (text[:s] + style.reset + style.mark + text[s:e] + style.reset + style.bold
                + text[e:])
    return f"{style.bold}{text}{style.reset}"


def format_answer(answer: Answer, style: Style = ANSI) -> str:
    """An answer for a terminal: the sentence, then a dim line saying where it is."""
    if not answer.found:
        return f"{answer.text}\n{style.dim}（/sources 查看最接近的段落）{style.reset}"
    return (f"{highlighted(answer, style)}\n{style.dim}— {_located(answer)} · "
            f"置信度 {answer.confidence:.2f}（/sources 查看出处）{style.reset}")


def format_report(answer: Answer, style: Style = ANSI) -> str:
    """An answer as ``qa ask`` prints it: the sentence (bold, its short answer marked), the
    short answer on a line of its own, then every cited passage (``format_sources``)."""
    head = highlighted(answer, style) if answer.found else answer.text
    short = [f"  答案：{answer.short}"] if answer.found and answer.short else []
    return "\n".join([head, *short, "", format_sources(answer, style)])


def format_line(answer: Answer) -> str:
    """An answer as one plain line: the sentence and ``[where it is]``, or the refusal."""
    text = " ".join(answer.text.split())
    return f"{text} [{_located(answer)}]" if answer.found else text


def format_sources(answer: Answer, style: Style = ANSI) -> str:
    """The answer's passages with their citations, the answer sentence marked in its own."""
    out = []
    for p in answer.passages:
        body = p.text
        where = answer.span_in(p)
        if where is not None:
            s, e = where
            body = body[:s] + style.bold + body[s:e] + style.reset + body[e:]
        out.append(f"{style.bold}{p.citation}{style.reset} · 分数 {p.score:.3f}")
        out.append("    " + body.replace("\n", "\n    "))
    return "\n".join(out) if out else "（没有出处）"


@dataclass
class ChatSession:
    """One conversation: the questions asked so far and the last answer."""

    ask: Ask
    out: TextIO
    err: TextIO
    style: Style = PLAIN
    interactive: bool = False
    json_lines: bool = False
    history: list[str] = field(default_factory=list)
    last: Answer | None = None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def handle(self, line: str) -> bool:
        """Act on one input line; False when the chat should end."""
        line = line.strip()
        if not line:
            return True
        word = line.split()[0].lower()
        if word in COMMANDS:
            return self.command(word)
        if _COMMAND_LIKE.match(line):
            self.say(f"未知命令 {line}；输入 /help 查看命令。")
            return True
        self.question(line)
        return True

    def command(self, word: str) -> bool:
        if word in ("/quit", "/exit"):
            return False
        if word == "/help":
            self.say(HELP)
        elif self.last is None:
            self.say("还没有答案：先提一个问题。")
        elif self.json_lines:
            self.say(json.dumps([asdict(p) for p in self.last.passages], ensure_ascii=False))
        else:
            self.say(format_sources(self.last, self.style))
        return True

    def question(self, text: str) -> None:
        try:
            answer = self.ask(text, self.history[-HISTORY:])
        except QAError as exc:  # a bad question, an unknown base, a store that is down
            print(f"qa chat: {title(exc)}：{exc}", file=self.err, flush=True)
            if not self.interactive:
                self.say(json.dumps({"question": text, "error": str(exc)}, ensure_ascii=False)
                         if self.json_lines else "")
            return
        self.history.append(text)
        self.last = answer
        if self.json_lines:
            self.say(json.dumps(answer.to_json(), ensure_ascii=False))
        elif self.interactive:
            self.say(format_answer(answer, self.style) + "\n")
        else:
            self.say(format_line(answer))


def run_chat(ask: Ask, stdin: TextIO, stdout: TextIO, stderr: TextIO,
             json_lines: bool = False, warm_up: Callable[[], object] | None = None) -> int:
    """Chat until ``/quit`` or end of input: with a prompt and colours when both ends are a
    terminal, else one output line per question line."""
    interactive = stdin.isatty() and stdout.isatty()
    session = ChatSession(ask, stdout, stderr, ANSI if interactive and not json_lines else PLAIN,
                          interactive, json_lines)
    if not interactive:
        for line in stdin:
            if not session.handle(line):
                break
        return 0
    import readline  # noqa: F401  (line editing and ↑ for earlier questions in input())

    # input() reads the process's own terminal: interactive means stdin is that terminal

    session.say("qa chat · 基于语料库的引用式问答。/help 查看命令，/quit 退出。")
    if warm_up:
        session.say(f"{ANSI.dim}正在加载索引…{ANSI.reset}")
        try:
            warm_up()
        except QAError as exc:  # each question will say it again
            print(f"qa chat: {title(exc)}：{exc}", file=stderr, flush=True)
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            session.say("")
            return 0
        except KeyboardInterrupt:
            session.say("")
            return 130
        if not session.handle(line):
            return 0
