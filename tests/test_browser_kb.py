"""Knowledge bases in a real browser: app.py runs as a server process (its bases under a temp
QA_KB_ROOT); Debian's chromium, through Playwright, creates the base "legal" in the
knowledge-base tab, uploads an article into it and rebuilds, asks it in the chat (the default
base's article is never cited), follows the answer's citation to the document with the
sentence marked and scrolled into view, gives 👎 naming a better sentence and finds that line
in the base's feedback.jsonl, then deletes the base (only once its name is typed again).
Screenshots: tests/artifacts/ (git-ignored); docs/screenshot-kb.png is a copy of one.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_app

from qa.config import PROJECT_ROOT

FILLER = "".join(f"第{i}条　本段只是填充，用来让答案所在的段落远在页面下方。\n\n" for i in range(1, 41))
ARTICLE = ("星河律所简介\n\n" + FILLER + "星河律所成立于2031年,总部位于杭州西湖区。"
           "律所的创始合伙人名叫李四。律所共有律师八十名,专注于知识产权诉讼。\n")
QUESTION = "星河律所的创始合伙人叫什么名字?"
BETTER = "律所共有律师八十名"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """``python app.py`` over a copy of the corpus, other bases in ``root/kbs``."""
    root = tmp_path_factory.mktemp("browser-kb")
    shutil.copytree(PROJECT_ROOT / "corpus", root / "corpus")
    for url in running_app(root):
        yield url, root


def choose(page, elem_id: str, option: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``option`` in the Gradio dropdown ``#elem_id``."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def create_base(page, name: str):  # type: ignore[no-untyped-def]
    """Create the base ``name`` in the knowledge-base tab; the tab's status line."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="知识库").click()
    page.locator("#kb-new-name input, #kb-new-name textarea").first.fill(name)
    page.locator("#kb-create").click()
    status = page.locator("#kb-status")
    expect(status).to_contain_text(f"已新建知识库 {name}", timeout=60_000)
    return status


def ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    bots = page.locator("[data-testid='bot']")
    before = bots.count()
    box = page.get_by_placeholder("输入问题，按回车发送")
    box.fill(question)
    box.press("Enter")
    expect(bots).to_have_count(before + 2, timeout=120_000)


def test_a_base_made_filled_asked_cited_judged_and_deleted(server) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    url, root = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=120_000)
        expect(page.get_by_role("tab", name="知识库")).to_be_visible(timeout=120_000)

        # the knowledge-base tab: create "legal", upload into it, rebuild it
        status = create_base(page, "legal")
        expect(page.locator("#kb-base input")).to_have_value("legal")
        page.locator("#kb-upload input[type=file]").set_input_files([
            {"name": "xinghe.txt", "mimeType": "text/plain", "buffer": ARTICLE.encode()}])
        page.get_by_role("button", name="添加到知识库").click()
        expect(status).to_contain_text("已添加 xinghe.txt", timeout=60_000)
        page.get_by_role("button", name="重建索引").click()
        expect(status).to_contain_text("索引已重建", timeout=300_000)
        assert (root / "kbs" / "legal" / "corpus" / "xinghe.txt").is_file()
        assert not (root / "corpus" / "xinghe.txt").exists()

        # the chat asks "legal" alone: its article answers, the default base is never cited
        page.get_by_role("tab", name="对话").click()
        choose(page, "chat-kb", "legal")
        ask(page, "微软2019年向OpenAI投资了多少钱?")
        ask(page, QUESTION)
        bots = page.locator("[data-testid='bot']")
        answer = bots.nth(-2)
        expect(answer).to_contain_text("李四")
        expect(answer).to_contain_text(re.compile(r"legal/xinghe\.txt · 第\d+段 · 字符 \d+–\d+"))
        for i in range(bots.count()):
            assert "microsoft-openai" not in bots.nth(i).inner_text()

        # the citation opens the document, the answer sentence marked and in view
        link = answer.get_by_role("link", name=re.compile("xinghe"))
        with context.expect_page() as opened:
            link.click()
        doc = opened.value
        doc.wait_for_load_state()
        mark = doc.locator("mark#cited")
        expect(mark).to_contain_text("李四")
        expect(mark).to_be_in_viewport()
        assert doc.locator("script").count() == 0
        doc.screenshot(path=str(ARTIFACTS / "browser-kb-document.png"))
        doc.close()

        # 👎 naming a better sentence: one line in legal's feedback.jsonl
        answer.hover()
        page.locator("#chatbot button[aria-label='Dislike']").last.click()
        panel = page.locator("#feedback-panel")
        expect(panel).to_be_visible(timeout=30_000)
        panel.get_by_text(re.compile(BETTER)).first.click()
        page.screenshot(path=str(ARTIFACTS / "browser-kb-chat.png"))
        page.locator("#feedback-send").click()
        expect(page.locator("#feedback-status")).to_contain_text("已记录反馈：答案不对，附更好的句子", timeout=30_000)
        lines = (root / "kbs" / "legal" / "corpus" / ".qa" / "feedback.jsonl").read_text(
            encoding="utf-8").splitlines()
        record = json.loads(lines[-1])
        assert record["verdict"] == "down" and record["kb"] == "legal"
        assert record["question"] == QUESTION and record["generation"]
        source, start, end = record["better_span"]
        assert source == "xinghe.txt" and BETTER in ARTICLE[start:end]
        assert not (root / "corpus" / ".qa" / "feedback.jsonl").exists()

        # deleting asks for the name again
        page.get_by_role("tab", name="知识库").click()
        choose(page, "kb-base", "legal")
        page.locator("#kb-confirm input, #kb-confirm textarea").first.fill("legl")
        page.locator("#kb-drop").click()
        expect(status).to_contain_text("未删除", timeout=30_000)
        assert (root / "kbs" / "legal").is_dir()
        page.locator("#kb-confirm input, #kb-confirm textarea").first.fill("legal")
        page.locator("#kb-drop").click()
        expect(status).to_contain_text("已删除知识库 legal", timeout=30_000)
        assert not (root / "kbs" / "legal").exists()
        expect(page.locator("#kb-base input")).to_have_value("default")
        browser.close()
