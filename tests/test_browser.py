"""The app in a real browser: app.py runs as a server process over a temp copy of the corpus
plus a file carrying XSS payloads, with a small QA_MAX_FILE_BYTES; Debian's chromium (headless,
through Playwright) asks questions, reads the answer and opens its collapsed sources, checks
that no payload ran, uploads an article in the knowledge-base tab (and sees hostile uploads
refused by name), rebuilds, and asks about it. Screenshots go to tests/artifacts/
(git-ignored).
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
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-background-networking",
                 "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"]
MAX_FILE_BYTES = 20_000  # the server's QA_MAX_FILE_BYTES: the article (7.9 KB) fits
NEW_ARTICLE = ("蓝鲸天文台\n\n蓝鲸天文台建于2035年,位于青海冷湖,首任台长名叫王五。"
               "天文台的主镜口径为六米,每年开放观测三百个夜晚。\n")
NEW_QUESTION = "蓝鲸天文台的首任台长叫什么?"
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


def running_app(root: Path, ready: str = "", **env_changes: str) -> Iterator[str]:
    """``python app.py`` over ``root/corpus`` and ``root/index`` (other knowledge bases in
    ``root/kbs``) on a free port of 127.0.0.1, no tokens unless ``env_changes`` set them;
    yields its URL once its page (or the path ``ready``) answers, stops it afterwards and
    checks its log holds no traceback."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), QA_CORPUS_DIR=str(root / "corpus"),
               QA_INDEX_DIR=str(root / "index"), QA_KB_ROOT=str(root / "kbs"),
               GRADIO_ANALYTICS_ENABLED="False", **env_changes)
    for name in ("GRADIO_SERVER_NAME", "QA_API_TOKEN", "QA_READ_TOKEN"):
        if name not in env_changes:  # by default the bind 127.0.0.1 and open reads
            env.pop(name, None)
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
                with urllib.request.urlopen(url + ready, timeout=5) as r:
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
def server_root(tmp_path_factory) -> Path:
    """The folder the server works in: ``corpus/`` (with xss.txt), ``index/``, its log."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def server(server_root: Path) -> Iterator[str]:
    """``python app.py`` on a free port of 127.0.0.1; yields its URL."""
    root = server_root
    shutil.copytree(PROJECT_ROOT / "corpus", root / "corpus")
    (root / "corpus" / "xss.txt").write_text(XSS, encoding="utf-8")
    yield from running_app(root, QA_MAX_FILE_BYTES=str(MAX_FILE_BYTES))


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
    """Type ``question``, press Enter, and wait for the *new* reply (the answer and its
    sources: two bot messages) whose answer contains the text."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="对话").click()
    replies = page.locator("[data-testid='bot']")
    before = replies.count()
    box = page.get_by_placeholder("输入问题，按回车发送")
    box.fill(question)
    box.press("Enter")
    expect(replies).to_have_count(before + 2, timeout=120_000)
    expect(replies.nth(before)).to_contain_text(expect_text, timeout=120_000)


def open_sources(page):  # type: ignore[no-untyped-def]
    """Expand the last reply's collapsed sources; returns that message."""
    from playwright.sync_api import expect

    sources = page.locator("[data-testid='bot']").last
    title = sources.locator(".title")
    expect(title).to_contain_text(re.compile("出处|最接近的段落"))
    assert sources.get_by_text(re.compile(r"^\[1\] ")).count() == 0, "collapsed at first"
    title.click()
    expect(sources.get_by_text(re.compile(r"^\[1\] ")).first).to_be_visible()
    page.wait_for_timeout(800)  # let the accordion finish opening before a screenshot
    return sources


def snapshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshot with the latest answer scrolled to its top, so the answer shows first."""
    page.locator("[data-testid='bot']").nth(-2).evaluate(
        """el => { el.scrollIntoView({block: 'start'});
                   let box = el.parentElement;  // the chat's own scroller: clear its label
                   while (box && box.scrollHeight <= box.clientHeight) box = box.parentElement;
                   if (box) box.scrollTop -= 48; }""")
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_question_gets_an_answer_with_collapsed_sources(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    ask(page, "微软2019年向OpenAI投资了多少钱?", "10亿美元")
    answer = page.locator("[data-testid='bot']").nth(-2)
    expect(answer.locator("strong").first).to_contain_text("10亿美元")  # the sentence, bold
    expect(answer).to_contain_text(re.compile(r"microsoft-openai\.txt · 第3段 · 字符 \d+–\d+"))
    snapshot(page, "browser-answer.png")
    sources = open_sources(page)
    expect(sources).to_contain_text(re.compile(r"\[1\] microsoft-openai\.txt · 第\d+段 · "
                                               r"字符 \d+–\d+ · 分数 \d\.\d+"))
    expect(sources.locator("mark").first).to_contain_text("10亿美元")  # the sentence, marked
    snapshot(page, "browser-answer-sources.png")


def test_refusal_is_plain_with_the_closest_passages_collapsed(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    ask(page, "苹果公司的总部在哪里?", "未找到可靠答案")
    answer = page.locator("[data-testid='bot']").nth(-2)
    assert answer.locator("strong").count() == 0, "a refusal is plain text"
    sources = open_sources(page)
    expect(sources.locator(".title")).to_contain_text("最接近的段落")
    assert sources.locator("mark").count() == 0
    snapshot(page, "browser-refusal.png")


def test_example_prompts_come_from_the_corpus(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.get_by_role("tab", name="对话").click()
    example = page.get_by_text("《微软与OpenAI合作的思考与启示》讲了什么?")
    replies = page.locator("[data-testid='bot']")
    before = replies.count()
    example.click()
    expect(replies).to_have_count(before + 2, timeout=120_000)
    expect(replies.nth(before)).to_contain_text("microsoft-openai.txt")


def test_payloads_in_the_corpus_stay_text(page) -> None:  # type: ignore[no-untyped-def]
    ask(page, XSS_QUESTION, "星辰实验室")
    sources = open_sources(page)
    from playwright.sync_api import expect

    expect(sources).to_contain_text("xss.txt")
    expect(sources).to_contain_text("window.__xss=1")  # shown as text, not run
    page.wait_for_timeout(1000)  # give an injected onerror handler the time to fire
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    bots = page.locator("[data-testid='bot']")
    assert bots.locator("script, img[src='x'], img[onerror]").count() == 0
    snapshot(page, "browser-xss.png")


def corpus_state(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "corpus").iterdir() if p.is_file()}


def test_upload_rebuild_and_ask_in_the_knowledge_base(  # type: ignore[no-untyped-def]
        page, server_root: Path) -> None:
    from playwright.sync_api import expect

    before = corpus_state(server_root)
    page.get_by_role("tab", name="知识库").click()
    table = page.locator("#kb-table")
    expect(table).to_contain_text("microsoft-openai.txt")
    page.locator("#kb-upload input[type=file]").set_input_files([
        {"name": "../../etc/x.txt", "mimeType": "text/plain", "buffer": NEW_ARTICLE.encode()},
        {"name": "big.txt", "mimeType": "text/plain", "buffer": b"a" * (MAX_FILE_BYTES + 1)},
        {"name": "binary.txt", "mimeType": "text/plain", "buffer": b"\x00\x01\x02\x03" * 64},
    ])
    page.get_by_role("button", name="添加到知识库").click()
    status = page.locator("#kb-status")
    expect(status).to_contain_text("已拒绝 ../../etc/x.txt", timeout=60_000)
    expect(status).to_contain_text("已拒绝 big.txt")
    expect(status).to_contain_text("已拒绝 binary.txt")
    expect(status).to_contain_text("a path, not a file name")
    expect(status).to_contain_text("byte limit")
    expect(status).to_contain_text("binary data")
    assert corpus_state(server_root) == before, "refused uploads left the corpus unchanged"
    assert not (server_root.parent / "etc").exists() and not Path("/etc/x.txt").exists()

    page.locator("#kb-upload input[type=file]").set_input_files([
        {"name": "blue-whale.txt", "mimeType": "text/plain", "buffer": NEW_ARTICLE.encode()}])
    page.get_by_role("button", name="添加到知识库").click()
    expect(status).to_contain_text("已添加 blue-whale.txt", timeout=60_000)
    expect(table).to_contain_text("blue-whale.txt")
    expect(table).to_contain_text("新文件 · 待重建")  # the only file not in the index yet
    assert set(corpus_state(server_root)) == set(before) | {"blue-whale.txt"}

    page.get_by_role("button", name="重建索引").click()
    expect(status).to_contain_text("索引已重建", timeout=300_000)
    expect(status).to_contain_text("1 added")
    expect(table).to_contain_text("blue-whale.txt")
    expect(table).not_to_contain_text("待重建")  # every file is in the index now
    page.screenshot(path=str(ARTIFACTS / "browser-knowledge-base.png"), full_page=True)

    ask(page, NEW_QUESTION, "王五")
    answer = page.locator("[data-testid='bot']").nth(-2)
    from playwright.sync_api import expect as expect_

    expect_(answer).to_contain_text(re.compile(r"blue-whale\.txt · 第2段 · 字符 \d+–\d+"))
    sources = open_sources(page)
    expect_(sources).to_contain_text("[1] blue-whale.txt")
    snapshot(page, "browser-new-article.png")


def test_rebuild_button_shows_progress_and_chat_keeps_working(  # type: ignore[no-untyped-def]
        page, server_root: Path) -> None:
    from playwright.sync_api import expect

    article = (server_root / "corpus" / "microsoft-openai.txt").read_text(encoding="utf-8")
    for k in range(30):  # new files, so the rebuild has real embedding work to show
        paras = article.split("\n\n")
        (server_root / "corpus" / f"copy-{k}.txt").write_text(
            "\n\n".join(f"副本{k}第{i}段：" + x.replace("。", f"（副本{k}）。")
                       for i, x in enumerate(paras)), encoding="utf-8")
    serving = (server_root / "index" / "CURRENT").read_text(encoding="utf-8")
    page.get_by_role("tab", name="知识库").click()
    page.get_by_role("button", name="重建索引").click()
    progress = page.get_by_text(re.compile(r"embedding|chunking|reading corpus")).first
    expect(progress).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "browser-rebuild-progress.png"), full_page=True)
    ask(page, "ChatGPT每天的运行成本是多少?", "字符")  # the chat answers during the rebuild
    assert (server_root / "index" / "CURRENT").read_text(encoding="utf-8") == serving, \
        "answered from the old index, before the rebuild was published"
    page.get_by_role("tab", name="知识库").click()
    expect(page.locator("#kb-status")).to_contain_text("30 added", timeout=300_000)
    expect(page.locator("#kb-status")).to_contain_text("索引已重建")
    page.screenshot(path=str(ARTIFACTS / "browser-rebuild.png"), full_page=True)
    assert page.dialogs == []
