"""What ``qa build`` shows while it works: plain lines in a log (each stage, then a counted
stage's share, rate and time left), a bar with rate and time left on a terminal."""

from __future__ import annotations

import io

from qa.progress import LogProgress, TerminalProgress, build_progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_with_rate_and_time_left() -> None:
    out = io.StringIO()
    say = LogProgress(out, every=0.0)
    say("reading corpus", 0, 3)
    for n in (1, 2, 3):
        say("reading corpus", n, 3)
    say("chunking", 0, 1)
    say("embedding", 0, 120_000)
    say("embedding", 60_000, 120_000)
    say("embedding", 120_000, 120_000)
    say("saving", 0, 1)
    say("done", 1, 1)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and all(x.startswith("qa build: ") for x in lines)
    assert lines[0] == "qa build: reading corpus (3 files)"
    assert "qa build: chunking" in lines and "qa build: saving" in lines
    assert "qa build: embedding (120,000 chars)" in lines
    half = next(x for x in lines if "embedding 50%" in x)
    assert "(60,000 of 120,000 chars)" in half and "chars/s" in half and "s left" in half
    last = next(x for x in lines if "embedding 100%" in x)
    assert "s left" not in last


def test_a_log_hears_of_a_long_stage_only_every_so_often() -> None:
    out = io.StringIO()
    say = LogProgress(out, every=3600.0)
    say("embedding", 0, 1000)
    for n in range(1, 1000):
        say("embedding", n, 1000)
    say("embedding", 1000, 1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "100%" in lines[1]  # the start and the end, nothing between


def test_a_terminal_gets_a_bar_with_rate_and_time_left() -> None:
    out = FakeTerminal()
    say = build_progress(out)
    assert isinstance(say, TerminalProgress)
    say("embedding", 0, 50_000)
    for n in range(5_000, 50_001, 5_000):
        say("embedding", n, 50_000)
    say("tokenizing", 0, 10)
    say("done", 1, 1)
    shown = out.getvalue()
    assert "embedding" in shown and "%|" in shown and "chars/s" in shown
    assert "50.0k/50.0k chars" in shown and "<" in shown  # the time spent, "<", the time left
    assert "tokenizing" in shown
    assert isinstance(build_progress(io.StringIO()), LogProgress)


def test_ocr_is_counted_in_pages_per_file() -> None:
    out = io.StringIO()
    say = LogProgress(out, every=0.0)
    say("reading corpus", 0, 2)
    for n in (0, 1, 2, 3):
        say("OCR 合同扫描件.pdf", n, 3)
    say("reading corpus", 1, 2)
    lines = out.getvalue().splitlines()
    assert "qa build: OCR 合同扫描件.pdf (3 pages)" in lines
    assert any("OCR 合同扫描件.pdf 67% (2 of 3 pages)" in x and "pages/s" in x for x in lines)
