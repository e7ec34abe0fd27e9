"""What ``qa build`` shows while it works: a progress bar with throughput and time left on a
terminal, plain lines in a log.

The builder reports ``progress(stage, done, total)``; ``embedding`` counts characters (texts
are embedded longest first, so characters, not texts, move at a steady rate), ``reading
corpus`` counts files, ``OCR <file>`` the pages of a scan OCR reads, and the other stages
report only that they started.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

#: the unit each counted stage reports in; other stages are announced, not counted
UNITS = {"embedding": "chars", "reading corpus": "files"}
#: In a log, a stage's progress line at most this often (seconds), besides its first and last.
LOG_EVERY = 10.0
WAITING = "waiting for another build"
TERMINAL_FORMAT = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
                   "[{elapsed}<{remaining}, {rate_fmt}]")


def unit_of(stage: str) -> str:
    """The unit ``stage`` counts in ("" for a stage that is only announced)."""
    return "pages" if stage.startswith("OCR ") else UNITS.get(stage, "")


class TerminalProgress:
    """One tqdm bar per counted stage, with its rate and the time left; stages that are not
    counted show their name on a bar of one step."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        try:  # a terminal reporting no size (a bare pty) would get no bar at all
            size = os.get_terminal_size(out.fileno())
            self.ncols, self.nrows = size.columns or 100, size.lines or 24
        except (OSError, ValueError, AttributeError):
            self.ncols, self.nrows = 100, 24
        self.stage = ""
        self.bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            if stage == WAITING:
                print("qa build: another build is running; waiting for it to finish",
                      file=self.out, flush=True)
            if stage == "done":
                return
            unit = unit_of(stage)
            self.bar = tqdm(total=total, desc=stage, leave=False, file=self.out,
                            mininterval=0.2, ncols=self.ncols, nrows=self.nrows,
                            unit=f" {unit}", unit_scale=unit == "chars", smoothing=0.1,
                            bar_format=TERMINAL_FORMAT if unit else "{desc} …")
        if self.bar is None:
            return
        self.bar.total = total
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
            if done >= total:
                self.bar.refresh()  # the end of a stage is shown, however soon it came

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LogProgress:
    """Plain lines: each stage as it starts, and a counted stage's progress, rate and time left
    every ``LOG_EVERY`` seconds and when it ends."""

    def __init__(self, out: TextIO, every: float = LOG_EVERY) -> None:
        self.out, self.every = out, every
        self.stage, self.started, self.last = "", 0.0, 0.0

    def say(self, text: str) -> None:
        print(f"qa build: {text}", file=self.out, flush=True)

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.started, self.last = stage, now, now
            if stage == WAITING:
                self.say("another build is running; waiting for it to finish")
            elif stage != "done":
                self.say(f"{stage}" + (f" ({total:,} {unit_of(stage)})"
                                       if unit_of(stage) and total > 1 else ""))
            return
        unit = unit_of(stage)
        if not unit or total <= 1 or (now - self.last < self.every and done < total):
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = f", about {(total - done) / rate:.0f} s left" if done < total and rate else ""
        self.say(f"{stage} {100 * done / total:.0f}% ({done:,} of {total:,} {unit}), "
                 f"{rate:,.{1 if unit == 'pages' else 0}f} {unit}/s{left}")


def build_progress(stream: TextIO | None = None) -> TerminalProgress | LogProgress:
    """The progress callback of ``qa build`` for ``stream`` (stderr): a bar on a terminal,
    plain lines otherwise."""
    out = stream or sys.stderr
    return TerminalProgress(out) if out.isatty() else LogProgress(out)
