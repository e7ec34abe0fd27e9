"""Shared helpers of the bench/ scripts: machine header, tables, percentiles, child processes.

Scripts run as ``python bench/<name>.py``, so this module is imported as ``common``. Nothing
here asserts on time: every script prints what it measured, with the machine and its load.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
ARTICLE = ROOT / "corpus" / "microsoft-openai.txt"
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() \
    else sys.executable
MARK = "BENCH_JSON "
#: children never reach the network: the model is a local folder, analytics are off
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    """The lines every table starts with: CPU, cores, Python and library versions, load."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    libs = ", ".join(f"{n} {_version(n)}" for n in (
        "torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "gradio",
        "numpy"))
    return (f"machine: {cpu_model()}, {cores} cores ({usable} usable), "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}\n"
            f"libraries: {libs}\n"
            f"load average (1/5/15 min) at start: {load()}")


def header(title: str) -> None:
    print(f"== {title} ==")
    print(machine())
    print(flush=True)


def footer() -> None:
    print(f"load average (1/5/15 min) at end: {load()}\n", flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    return "\n".join(out + [line(r) for r in cells[1:]])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f}"


def questions(split: str = "all") -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in QUESTIONS.read_text(encoding="utf-8").splitlines()
            if x.strip()]
    return [r for r in rows if split == "all" or r.get("split") == split]


def child_env(index_dir: Path | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, **OFFLINE, **extra}
    if index_dir is not None:
        env["QA_INDEX_DIR"] = str(index_dir)
    return env


#: a tiny launcher that fork()s (a real fork of a small process, not Python's vfork) and
#: execs the command, then reports the child's peak RSS: measured directly from a big parent,
#: ru_maxrss would include the parent's own RSS (Linux carries the vfork-shared mm's
#: high-water mark over exec)
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\nBENCH_RSS %d\\n" % (usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(argv: Sequence[str], env: dict[str, str] | None = None, check: bool = True,
        rss: bool = False) -> tuple[float, str, int]:
    """Run a child to completion: (wall seconds, stdout, peak RSS in bytes or 0).

    With ``rss`` the command runs under ``LAUNCHER`` (one more small interpreter start, so
    do not use it where the wall time matters).
    """
    argv = [PY, "-c", LAUNCHER, *argv] if rss else list(argv)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)[-300:]} exited {proc.returncode}:\n"
                           f"{stderr[-3000:]}")
    peak = [int(x.split()[1]) for x in stderr.splitlines() if x.startswith("BENCH_RSS ")]
    return seconds, stdout, peak[-1] if peak else 0


def child_json(stdout: str) -> dict[str, Any]:
    """The last ``BENCH_JSON {...}`` line a worker printed."""
    lines = [x for x in stdout.splitlines() if x.startswith(MARK)]
    if not lines:
        raise RuntimeError(f"worker printed no result:\n{stdout[-2000:]}")
    return json.loads(lines[-1][len(MARK):])


def emit(result: dict[str, Any]) -> None:
    print(MARK + json.dumps(result), flush=True)


def peak_rss_self() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def vm_hwm(pid: int) -> int:
    """Peak resident set size (VmHWM) of a running process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tmpdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"qa-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def build_index_child(index_dir: Path, corpus_dir: Path | None = None,
                      **extra: str) -> float:
    """``python -m qa build --full`` into ``index_dir`` in a fresh process: wall seconds."""
    env = child_env(index_dir, **extra)
    if corpus_dir is not None:
        env["QA_CORPUS_DIR"] = str(corpus_dir)
    seconds, _, _ = run([PY, "-m", "qa", "build", "--full"], env)
    return seconds


def build_rss_child(index_dir: Path, corpus_dir: Path | None = None, **extra: str) -> int:
    """Peak RSS (bytes) of ``python -m qa build --full`` into ``index_dir``, fresh process."""
    env = child_env(index_dir, **extra)
    if corpus_dir is not None:
        env["QA_CORPUS_DIR"] = str(corpus_dir)
    return run([PY, "-m", "qa", "build", "--full"], env, rss=True)[2]


@contextmanager
def app_process(index_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python app.py`` on a free port over ``index_dir``; killed (its process group) at exit."""
    port = free_port()
    env = child_env(index_dir, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    with log.open("wb") as out:
        proc = subprocess.Popen([PY, "app.py"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, f"http://127.0.0.1:{port}/"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for_page(proc: subprocess.Popen[bytes], url: str, log: Path,
                  timeout: float = 600.0) -> float:
    """Poll ``url`` until it answers HTTP 200; returns the time it first did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter()
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s")


def ask_app(url: str, question: str) -> tuple[str, float]:
    """Ask through gradio_client's ``/ask`` endpoint: (assistant reply, seconds incl. connect)."""
    from gradio_client import Client

    started = time.perf_counter()
    client = Client(url, verbose=False)
    _, history = client.predict(question, [], api_name="/ask")
    reply = history[-1]["content"] if history else ""
    if isinstance(reply, list):  # gradio may return content as a list of parts
        reply = " ".join(str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in reply)
    return str(reply), time.perf_counter() - started
