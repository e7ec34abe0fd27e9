"""``qa chat``: on a terminal (a real pty: prompt, colours, follow-up, /sources, /help, /quit,
Ctrl-D) and piped (one plain line, or one JSON object, per question line), each as a real
``python -m qa chat`` process over a copy of the corpus and its index."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import qa_env

import qa
from qa.config import PROJECT_ROOT
from qa.serve.chat import ANSI, PLAIN, format_answer, format_line, format_sources

HEADLINE = "微软2019年向OpenAI投资了多少钱?"
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


def run_piped(root: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa", "chat", *args], cwd=PROJECT_ROOT,
                          env=qa_env(root), input=text, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_piped_chat_answers_one_line_per_question(prebuilt: Path) -> None:
    lines = [HEADLINE, "那2021年呢?", "", "苹果公司的总部在哪里?", "问" * 1001, "/sources",
             "/quit", "这一行不会被回答"]
    done = run_piped(prebuilt, "\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")
    assert "\x1b[" not in done.stdout, "no colours in a pipe"
    assert "10亿美元" in out[0] and re.search(r"\[microsoft-openai\.txt · 第3段 · 字符 \d+–\d+\]$",
                                             out[0])
    assert "20亿美元" in out[1], "the follow-up is read with the earlier question"
    assert out[2].startswith("未找到可靠答案")
    assert out[3] == "" and "limit" in done.stderr  # a question that cannot be asked
    assert out[4].startswith("[1] microsoft-openai.txt · 第")  # /sources: the last answer's
    assert "不会被回答" not in done.stdout and "Traceback" not in done.stderr


@pytest.mark.slow
def test_piped_chat_as_json_lines(prebuilt: Path) -> None:
    done = run_piped(prebuilt, f"{HEADLINE}\n那2021年呢?\n", "--json", "-k", "2")
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 2
    assert answers[0]["found"] and "10亿美元" in answers[0]["text"]
    assert "20亿美元" in answers[1]["text"] and len(answers[1]["passages"]) <= 2
    assert {"short", "short_span", "span"} <= set(answers[0])


class Terminal:
    """``python -m qa chat`` on a pseudo-terminal, read until the next prompt."""

    def __init__(self, root: Path) -> None:
        import pty

        self.master, slave = pty.openpty()
        env = qa_env(root) | {"TERM": "xterm"}
        self.proc = subprocess.Popen([sys.executable, "-m", "qa", "chat"], cwd=PROJECT_ROOT,
                                     env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, pattern: str, timeout: float = 180) -> str:
        """Everything printed until ``pattern`` (a regex) shows up in it."""
        deadline, got = time.monotonic() + timeout, ""
        while not re.search(pattern, ANSI_CODE.sub("", got)):
            assert time.monotonic() < deadline, f"no {pattern!r} in {got!r}"
            ready, _, _ = select.select([self.master], [], [], 1)
            if ready:
                try:
                    got += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # EIO: the child closed the terminal
                    break
        self.seen += got
        return got

    def send(self, line: str) -> str:
        """Type ``line`` and Enter; what was printed up to the next prompt."""
        os.write(self.master, line.encode() + b"\r")
        return self.read_until(r"\n> $")

    def close(self) -> int:
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code


@pytest.mark.slow
def test_chat_on_a_terminal(prebuilt: Path) -> None:
    term = Terminal(prebuilt)
    try:
        banner = term.read_until(r"\n> $")
        assert "/help" in banner and "/quit" in banner
        first = term.send(HEADLINE)
        assert "\x1b[1m" in first, "the answer sentence is bold on a terminal"
        plain = ANSI_CODE.sub("", first)
        assert "10亿美元" in plain and re.search(r"microsoft-openai\.txt · 第3段 · 字符 \d+–\d+",
                                                 plain)
        follow = ANSI_CODE.sub("", term.send("那2021年呢?"))
        assert "20亿美元" in follow
        sources = ANSI_CODE.sub("", term.send("/sources"))
        assert re.search(r"\[1\] microsoft-openai\.txt · 第\d+段 · 字符 \d+–\d+ · 分数", sources)
        assert "20亿美元" in sources and "[3]" in sources
        assert "/sources" in ANSI_CODE.sub("", term.send("/help"))
        os.write(term.master, b"/quit\r")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert "Traceback" not in term.seen


@pytest.mark.slow
def test_chat_on_a_terminal_ends_at_ctrl_d(prebuilt: Path) -> None:
    term = Terminal(prebuilt)
    try:
        term.read_until(r"\n> $")
        os.write(term.master, b"\x04")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


# -- formatting, without a model ---------------------------------------------------------------


def sample_answer(found: bool = True) -> qa.Answer:
    text = "同年7月,微软宣布将向OpenAI投资10亿美元。"
    p = qa.Passage(text="前文。" + text, source="a.txt", start=10, end=10 + 3 + len(text),
                   score=0.9, citation=f"[1] a.txt · 第2段 · 字符 10–{13 + len(text)}",
                   paragraph=2)
    return qa.Answer(question="多少钱?", found=found, text=text if found else "未找到可靠答案。",
                     passages=[p], confidence=0.7, span=("a.txt", 13, 13 + len(text)),
                     short="10亿美元", short_span=("a.txt", 13 + text.index("10亿"),
                                                 13 + text.index("10亿") + 5))


def test_terminal_answer_marks_the_short_answer_in_the_bold_sentence() -> None:
    out = format_answer(sample_answer())
    assert out.startswith(ANSI.bold + "同年7月")
    assert f"{ANSI.mark}10亿美元{ANSI.reset}{ANSI.bold}。" in out
    assert "a.txt · 第2段 · 字符 13–" in ANSI_CODE.sub("", out)
    assert ANSI_CODE.sub("", format_answer(sample_answer(), PLAIN)).startswith("同年7月")


def test_plain_line_and_sources() -> None:
    assert format_line(sample_answer()) == "同年7月,微软宣布将向OpenAI投资10亿美元。 [a.txt · 第2段 · 字符 13–38]"
    assert format_line(sample_answer(found=False)) == "未找到可靠答案。"
    sources = format_sources(sample_answer(), PLAIN)
    assert sources.splitlines()[0] == "[1] a.txt · 第2段 · 字符 10–38 · 分数 0.900"
    assert sources.splitlines()[1] == "    前文。同年7月,微软宣布将向OpenAI投资10亿美元。"
