"""The chat in a real browser: app.py runs as a server process over a temp copy of the corpus
plus a file carrying XSS payloads; Debian's chromium (headless, through Playwright) asks
questions, reads the answers and citations, checks that no payload ran, and rebuilds the index
from the page. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
XSS = ("星辰实验室的安全报告指出，攻击者曾在留言板里写入<script>window.__xss=1</script>这样的脚本代码。"
       "报告还发现了<img src=x onerror=\"window.__xss=2\">形式的图片注入，实验室在2024年修复了这些漏洞。\n")
XSS_QUESTION = "星辰实验室的安全报告发现了哪些注入?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium is missing: `make browser` installs Debian's "
                              "chromium (needs apt-get and root)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_root(tmp_path_factory) -> Path:
    """The folder the server works in: ``corpus/`` (with xss.txt), ``index/``, its log."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def server(server_root: Path) -> Iterator[str]:
    """``python app.py`` on a free port of 127.0.0.1; yields its URL."""
    root = server_root
    shutil.copytree(PROJECT_ROOT / "corpus", root / "corpus")
    (root / "corpus" / "xss.txt").write_text(XSS, encoding="utf-8")
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), QA_CORPUS_DIR=str(root / "corpus"),
               QA_INDEX_DIR=str(root / "index"), GRADIO_ANALYTICS_ENABLED="False")
    env.pop("GRADIO_SERVER_NAME", None)  # the default bind, 127.0.0.1, is what is tested
    log = (root / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("app.py exited:\n" + (root / "server.log").read_text())
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("app.py did not answer:\n" + (root / "server.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert "Traceback" not in (root / "server.log").read_text()


@pytest.fixture(scope="module")
def page(server: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.dialogs = []  # type: ignore[attr-defined]

        def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
            page.dialogs.append(dialog.message)  # type: ignore[attr-defined]
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(server, wait_until="networkidle")
        yield page
        browser.close()


def ask(page, question: str, expect_text: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``question``, press Enter, and wait for a *new* bot reply containing the text."""
    from playwright.sync_api import expect

    replies = page.locator("[data-testid='bot']")
    before = replies.count()
    box = page.get_by_placeholder("输入问题，按回车发送")
    box.fill(question)
    box.press("Enter")
    expect(replies).to_have_count(before + 1, timeout=120_000)
    expect(replies.last).to_contain_text(expect_text, timeout=120_000)


def snapshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshot with the latest reply scrolled to its top, so the answer shows first."""
    page.locator("[data-testid='bot']").last.evaluate(
        "el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_question_gets_an_answer_with_citations(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    ask(page, "微软第一次向OpenAI投资了多少钱?", "10亿美元")
    bot = page.locator("[data-testid='bot']").last
    expect(bot.get_by_text("10亿美元").first).to_be_visible()
    expect(bot.get_by_text(re.compile(r"字符 \d+–\d+")).first).to_be_visible()
    expect(bot).to_contain_text("microsoft-openai.txt")
    text = bot.inner_text()
    assert text.index("答案") < text.index("出处") < text.index("字符")  # the answer comes first
    snapshot(page, "browser-answer.png")


def test_payloads_in_the_corpus_stay_text(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    ask(page, XSS_QUESTION, "星辰实验室")
    bot = page.locator("[data-testid='bot']").last
    expect(bot).to_contain_text("xss.txt")
    expect(bot).to_contain_text("window.__xss=1")  # shown as text, not run
    page.wait_for_timeout(1000)  # give an injected onerror handler the time to fire
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert bot.locator("script, img[src='x'], img[onerror]").count() == 0
    snapshot(page, "browser-xss.png")


def test_rebuild_button_shows_progress_and_chat_keeps_working(  # type: ignore[no-untyped-def]
        page, server_root: Path) -> None:
    from playwright.sync_api import expect

    article = (server_root / "corpus" / "microsoft-openai.txt").read_text(encoding="utf-8")
    for k in range(3):  # new files, so the rebuild has real embedding work to show
        paras = article.split("\n\n")
        (server_root / "corpus" / f"copy-{k}.txt").write_text(
            "\n\n".join(f"副本{k}第{i}段：{x}" for i, x in enumerate(paras)), encoding="utf-8")
    page.get_by_role("button", name="重建索引").click()
    progress = page.get_by_text(re.compile(r"embedding|chunking|reading corpus")).first
    expect(progress).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "browser-rebuild-progress.png"), full_page=True)
    ask(page, "ChatGPT每天的运行成本是多少?", "字符")  # the chat answers during the rebuild
    expect(page.get_by_text("索引已重建")).to_be_visible(timeout=300_000)
    expect(page.get_by_text(re.compile(r"3 added"))).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "browser-rebuild.png"), full_page=True)
    assert page.dialogs == []
