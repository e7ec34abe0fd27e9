"""Load test of the chat server: 16 concurrent clients, plain and through a rebuild
(``--other-base``: and while another knowledge base is rebuilt).

    .venv/bin/python bench/load.py                  # start app.py on a temp copy, 2 runs
    .venv/bin/python bench/load.py --url http://127.0.0.1:7860/ --questions 200

Bounded in count and time, and 127.0.0.1 only. Without ``--url`` it copies corpus/ to a temp
folder, starts ``python app.py`` there on a free port (its index in the temp folder, never the
project's), and makes two runs of at least ``--questions`` distinct questions (``bench/load_questions.py``:
the questions of tests/data/questions.jsonl in several wordings, none asked twice): one plain, one with ``python -m qa build --full`` started against
the same index folder when half the questions are done plus a call of the app's ``/rebuild``
(it keeps asking until the build is over, within the time bound). Every reply must be complete:
an answer or no-answer note followed by at least one citation. It prints one table: requests,
errors, incomplete replies, p50/p95/max latency and throughput, the CPU per request of the
clients (this process) and of the server, then what the rebuild did. The clients are lean
HTTP clients of Gradio's REST API (``--client gradio``: gradio_client, which spends about three
times the server's CPU per request, so on 2 cores it mostly measures itself).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import OFFLINE, ROOT, free_port, machine, wait_for_page
from load_questions import Source

CITATION = re.compile(r"\[1\] \S+ · (第\d+页 · )?第\d+段 · 字符 \d+–\d+")


@dataclass
class Run:
    """What one run measured."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds of this process (the clients) during the run
    server_cpu: float | None = None  # CPU seconds of the app, when this script started it

    def row(self) -> list[str]:
        lat = sorted(self.latencies) or [float("nan")]

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, round(q * (len(lat) - 1)))] * 1000

        n = len(self.latencies) + len(self.errors)
        return [self.name, str(n), str(len(self.errors)), str(len(self.incomplete)),
                f"{pct(0.5):.0f}", f"{pct(0.95):.0f}", f"{lat[-1] * 1000:.0f}",
                f"{n / self.seconds:.1f}" if self.seconds else "-",
                f"{1000 * self.client_cpu / max(n, 1):.0f}",
                "-" if self.server_cpu is None else f"{1000 * self.server_cpu / max(n, 1):.0f}",
                "yes" if n and not self.errors and not self.incomplete else "NO"]


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_of(run: Run, app: subprocess.Popen[bytes] | None) -> Iterator[None]:
    """Record the CPU this process and the app (when started here) spend in the block."""
    mine, theirs = time.process_time(), process_cpu(app.pid) if app else None
    yield
    run.client_cpu = time.process_time() - mine
    if app is not None and theirs is not None:
        run.server_cpu = process_cpu(app.pid) - theirs


def local_only(url: str) -> str:
    host = urllib.parse.urlparse(url).hostname
    if host not in {"127.0.0.1", "localhost"}:
        raise SystemExit(f"load.py only targets 127.0.0.1, not {host!r}")
    return url if url.endswith("/") else url + "/"


def start_app(work: Path, timeout: float) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """``python app.py`` over ``work/corpus`` and ``work/index``; returns it, its URL, its env."""
    port = free_port()
    env = dict(os.environ, **OFFLINE, GRADIO_SERVER_PORT=str(port),
               QA_CORPUS_DIR=str(work / "corpus"), QA_INDEX_DIR=str(work / "index"),
               QA_KB_ROOT=str(work / "kbs"))
    env.pop("GRADIO_SERVER_NAME", None)
    log = work / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_page(proc, url, log, timeout)
    except RuntimeError as exc:
        proc.kill()
        raise SystemExit(str(exc)) from None
    return proc, url, env


def chat_history(earlier: list[str]) -> list[dict[str, Any]]:
    """Earlier questions as Gradio 6 chat messages (content is a list of typed parts)."""
    out: list[dict[str, Any]] = []
    for q in earlier:
        out += [{"role": "user", "content": [{"type": "text", "text": q}]},
                {"role": "assistant", "content": [{"type": "text", "text": "（略）"}]}]
    return out


def reply_of(result: Any) -> str:
    """The last assistant message of the returned chat, Markdown escapes undone."""
    _, history = result
    if not history:
        return ""
    content = history[-1]["content"]
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return re.sub(r"\\(.)", r"\1", str(content))


class HttpClient:
    """A lean client of a Gradio app's REST API (``POST /gradio_api/call/NAME``, then its
    event stream), on one kept-alive connection: the same requests as ``gradio_client``'s
    ``predict`` for an event's outputs, at a fraction of its CPU (gradio_client spent ~60 ms
    of CPU a question, three times the server's, so on 2 cores it measured itself)."""

    def __init__(self, url: str) -> None:
        import http.client
        import uuid

        self.session = uuid.uuid4().hex[:12]  # one per client, as a browser or gradio_client
        parts = urllib.parse.urlparse(url)
        self.prefix = parts.path.rstrip("/") + "/gradio_api/call"
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)

    def _request(self, method: str, path: str, body: bytes | None = None) -> str:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8")
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from {path}: {text[:200]}")
        return text

    def predict(self, *data: Any, api_name: str) -> Any:
        body = json.dumps({"data": list(data), "session_hash": self.session}).encode("utf-8")
        event = json.loads(self._request("POST", f"{self.prefix}{api_name}", body))["event_id"]
        stream = self._request("GET", f"{self.prefix}{api_name}/{event}")
        kind, payload = "", ""
        for line in stream.splitlines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                payload = line.split(":", 1)[1].strip()
                if kind == "complete":
                    outputs = json.loads(payload)
                    return tuple(outputs) if len(outputs) > 1 else outputs[0]
                if kind == "error":
                    raise RuntimeError(f"the app said: {payload[:200]}")
        raise RuntimeError(f"no result in the event stream: {stream[-200:]!r}")


def make_client(url: str, kind: str) -> Any:
    if kind == "http":
        return HttpClient(url)
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def drive(url: str, run: Run, source: Source, count: int, clients: int, deadline: float,
          halfway: threading.Event | None = None, until: threading.Event | None = None,
          kind: str = "http") -> None:
    """``clients`` threads, each with its own client (``kind``: the lean HTTP one or
    gradio_client), ask ``count`` distinct questions of ``source``; with ``until`` they go on
    past ``count`` until that event is set."""

    lock = threading.Lock()
    state = {"next": 0}

    def take() -> dict[str, Any] | None:
        with lock:
            i = state["next"]
            if time.monotonic() > deadline:
                return None
            if i >= count and (until is None or until.is_set()):
                return None
            state["next"] = i + 1
            if halfway is not None and i == count // 2:
                halfway.set()
            return source.next()

    def worker() -> None:
        try:
            client = make_client(url, kind)
        except Exception as exc:  # counted, not raised: the table says what failed
            with lock:
                run.errors.append(f"connect: {exc!r}")
            return
        while (item := take()) is not None:
            started = time.perf_counter()
            try:
                reply = reply_of(client.predict(item["question"],
                                                chat_history(item.get("history", [])),
                                                "default", api_name="/ask"))
            except Exception as exc:
                with lock:
                    run.errors.append(f"{item['id']}: {exc!r}"[:300])
                continue
            took = time.perf_counter() - started
            with lock:
                run.latencies.append(took)
                if not CITATION.search(reply) or "出错了" in reply:
                    run.incomplete.append(f"{item['id']}: {reply[:120]!r}")

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.monotonic() - started
    if time.monotonic() > deadline:
        run.notes.append("stopped by the time bound")


def rebuild_midway(url: str, env: dict[str, str] | None, run: Run, halfway: threading.Event,
                   finished: threading.Event, deadline: float) -> None:
    """When half the questions are done: start ``qa build --full`` on the app's index folder
    (when we started the app) and press the app's rebuild button through ``/rebuild``."""
    from gradio_client import Client

    try:
        if not halfway.wait(timeout=max(0.0, deadline - time.monotonic())):
            run.notes.append("rebuild: never reached halfway")
            return
        proc = None
        if env is not None:
            proc = subprocess.Popen([sys.executable, "-m", "qa", "build", "--full"], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        t0 = time.monotonic()
        status = Client(url, verbose=False, download_files=False).predict(
            os.environ.get("QA_API_TOKEN", ""), api_name="/rebuild")
        said = re.sub(r"\\(.)", r"\1", str(status)).replace("**", "")
        run.notes.append(f"/rebuild answered in {time.monotonic() - t0:.1f} s: "
                         + " | ".join(x.strip() for x in said.splitlines() if x.strip())[:160])
        if proc is not None:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            first = out.splitlines()[0] if out else err.strip()[-200:]
            run.notes.append(f"`qa build --full` (another process) exit {proc.returncode} "
                             f"after {time.monotonic() - t0:.1f} s: {first}")
    except Exception as exc:
        run.notes.append(f"rebuild failed: {exc!r}")
    finally:
        finished.set()


def rebuild_other_base(url: str, run: Run, halfway: threading.Event,
                       finished: threading.Event, deadline: float) -> None:
    """When half the questions are done: a full build of the knowledge base "other" through
    ``POST /v1/kbs/other/build`` while the clients keep asking "default"."""
    import urllib.request

    try:
        if not halfway.wait(timeout=max(0.0, deadline - time.monotonic())):
            run.notes.append("other base: never reached halfway")
            return
        token = os.environ.get("QA_API_TOKEN", "")
        request = urllib.request.Request(
            f"{url}v1/kbs/other/build?full=true", method="POST",
            headers={"Authorization": f"Bearer {token}"} if token else {})
        t0 = time.monotonic()
        with urllib.request.urlopen(request, timeout=max(1.0, deadline - t0)) as reply:
            said = json.loads(reply.read().decode("utf-8"))
        run.notes.append(f"POST /v1/kbs/other/build answered in {time.monotonic() - t0:.1f} s: "
                         + json.dumps(said, ensure_ascii=False)[:160])
    except Exception as exc:
        run.notes.append(f"other base's build failed: {exc!r}")
    finally:
        finished.set()


def table(runs: list[Run]) -> str:
    head = ["run", "requests", "errors", "incomplete", "p50 ms", "p95 ms", "max ms", "req/s",
            "client cpu ms/req", "server cpu ms/req", "all complete"]
    rows = [head] + [r.row() for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running app on 127.0.0.1 (default: start one on a temp copy)")
    p.add_argument("--questions", type=int, default=500, help="questions per run (default 500)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--max-seconds", type=float, default=600, help="time bound per run")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--other-base", action="store_true",
                   help="a third run: ask 'default' while the knowledge base 'other' (the "
                        "blind genre documents) is fully rebuilt through the REST API")
    p.add_argument("--client", choices=("http", "gradio"), default="http",
                   help="http: a lean client of the REST API (default); gradio: gradio_client")
    args = p.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.questions <= 20_000:
        raise SystemExit("--clients must be 1..64 and --questions 1..20000")
    source = Source(args.seed)
    print(machine(), flush=True)

    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    proc, env = None, None
    try:
        if args.url:
            url = local_only(args.url)
        else:
            shutil.copytree(ROOT / "corpus", work / "corpus")
            if args.other_base:  # a second knowledge base beside "default"
                shutil.copytree(ROOT / "tests" / "data" / "genres" / "docs",
                                work / "kbs" / "other" / "corpus",
                                ignore=shutil.ignore_patterns("*.md"))
            t0 = time.monotonic()
            proc, url, env = start_app(work, timeout=args.max_seconds)
            print(f"app.py up on {url} in {time.monotonic() - t0:.1f} s (index built at start)")
        plain = Run("plain")
        with cpu_of(plain, proc):
            drive(url, plain, source, args.questions, args.clients, time.monotonic() + args.max_seconds,
                  kind=args.client)
        during = Run("through a rebuild")
        halfway, finished = threading.Event(), threading.Event()
        deadline = time.monotonic() + args.max_seconds
        rebuilder = threading.Thread(target=rebuild_midway,
                                     args=(url, env, during, halfway, finished, deadline))
        rebuilder.start()
        with cpu_of(during, proc):
            drive(url, during, source, args.questions, args.clients, deadline, halfway=halfway,
                  until=finished, kind=args.client)
            rebuilder.join()
        runs = [plain, during]
        if args.other_base:
            other = Run("through another base's build")
            halfway, finished = threading.Event(), threading.Event()
            deadline = time.monotonic() + args.max_seconds
            builder = threading.Thread(target=rebuild_other_base,
                                       args=(url, other, halfway, finished, deadline))
            builder.start()
            with cpu_of(other, proc):
                drive(url, other, source, args.questions, args.clients, deadline, halfway=halfway,
                      until=finished, kind=args.client)
                builder.join()
            runs.append(other)
        if proc is not None:
            served = re.findall(r"serving index generation (gen-[\w-]+)",
                                (work / "server.log").read_text(errors="replace"))
            during.notes.append("generations the app served: " + (", ".join(served) or "?"))
        from qa.models.quantization import cpu_isa

        print(f"\n{args.clients} concurrent clients, at least {args.questions} questions per run, "
              f"{source.given} asked, {source.repeats} of them repeats (bench/load_questions.py)"
              f"\nCPU: {machine().splitlines()[0].removeprefix('machine: ')}; ONNX Runtime "
              f"kernels: {cpu_isa()}\n")
        print(table(runs))
        for run in runs:
            for note in run.notes:
                print(f"  {run.name}: {note}")
            for line in (run.errors + run.incomplete)[:5]:
                print(f"  {run.name}: problem: {line}")
        ok = all(not r.errors and not r.incomplete for r in runs)
        return 0 if ok else 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
