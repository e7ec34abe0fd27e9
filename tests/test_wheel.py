"""``qa serve`` from a wheel installed outside the checkout: the wheel is built from the
package's files alone, installed (without its dependencies) into a fresh virtualenv that reaches
this environment's packages through a ``.pth`` file, and run from a folder holding only a
corpus; the server must answer a question over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ARTICLE, CORPUS

from qa.config import PROJECT_ROOT

pytestmark = pytest.mark.slow
HEADLINE = "微软2019年向OpenAI投资了多少钱?"


def run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def installed_wheel(tmp_path: Path) -> Path:
    """A virtualenv with the wheel of this checkout installed; returns its python."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, src / name)
    shutil.copytree(PROJECT_ROOT / "qa", src / "qa",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", tmp_path / "dist", src, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("qa-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=tmp_path).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
        wheel, cwd=tmp_path)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_qa_serve_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    python = installed_wheel(tmp_path)
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    shutil.copy(CORPUS / ARTICLE, site / "docs" / ARTICLE)
    where = run(python, "-c", "import qa; print(qa.__file__)", cwd=site).strip()
    assert where.startswith(str(tmp_path / "venv")), where  # the wheel's qa, not the checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "GRADIO_"))}
    env |= {"GRADIO_ANALYTICS_ENABLED": "False", "PYTHONIOENCODING": "utf-8"}
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(python.parent / "qa"), "serve", "--corpus", "docs",
                               "--port", str(port)], cwd=site, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(url + "/v1/documents", timeout=5) as response:
                    documents = json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(1)
        assert [d["name"] for d in documents["documents"]] == [ARTICLE]
        answer = post(url + "/v1/ask", {"question": HEADLINE})
        assert answer["found"] and answer["passages"][0]["source"] == ARTICLE  # type: ignore[index]
        assert "10亿美元" in str(answer["text"]), answer["text"]
        assert (site / "index" / "CURRENT").is_file()  # the index beside the corpus, in the cwd
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
