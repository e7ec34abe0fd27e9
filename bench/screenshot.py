"""The README's screenshot, taken with the real app in the real browser.

    .venv/bin/python bench/screenshot.py [--out docs/screenshot.png] [--question "…"]

Starts ``python app.py`` on a free 127.0.0.1 port over a temp copy of corpus/ (its index in the
temp folder), asks one question in Debian's chromium through Playwright, opens the answer's
collapsed sources, and saves a PNG of the chat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-background-networking", "--disable-gpu",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(root: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), QA_CORPUS_DIR=str(root / "corpus"),
               QA_INDEX_DIR=str(root / "index"), GRADIO_ANALYTICS_ENABLED="False")
    env.pop("GRADIO_SERVER_NAME", None)
    log = (root / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("app.py exited:\n" + (root / "server.log").read_text())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("app.py did not answer in 10 minutes")


def shoot(url: str, question: str, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url, wait_until="networkidle")
        replies = page.locator("[data-testid='bot']")
        box = page.get_by_placeholder("输入问题，按回车发送")
        box.fill(question)
        box.press("Enter")
        expect(replies).to_have_count(2, timeout=300_000)
        replies.last.locator(".title").click()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out), full_page=False)
        browser.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    p.add_argument("--question", default="微软2019年向OpenAI投资了多少钱?")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qa-shot-"))
    shutil.copytree(ROOT / "corpus", root / "corpus")
    port = free_port()
    proc = serve(root, port)
    try:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        shoot(f"http://127.0.0.1:{port}/", args.question, Path(args.out))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
