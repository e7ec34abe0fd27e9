"""A private deployment in a real browser: app.py runs with QA_READ_TOKEN over a copy of the
corpus and a base "legal" with its own read token; Debian's chromium, through Playwright,
finds no chat and no document view without a login, is refused with a clear message for a
wrong token, logs in with legal's token and sees legal alone (asks it, gets the answer with its
citation, opens the cited document), logs out, and logs in with QA_READ_TOKEN to see the
default base alone. Screenshots: tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import pytest
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_app
from test_browser_kb import ARTICLE, QUESTION, ask

from qa.config import PROJECT_ROOT

READ, OWN = "read-secret-for-default", "legal-secret-of-its-own"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """``python app.py`` with QA_READ_TOKEN; the base "legal" holds the article and its own
    read token."""
    root = tmp_path_factory.mktemp("browser-login")
    shutil.copytree(PROJECT_ROOT / "corpus", root / "corpus")
    legal = root / "kbs" / "legal" / "corpus"
    (legal / ".qa").mkdir(parents=True)
    (legal / "xinghe.txt").write_text(ARTICLE, encoding="utf-8")
    (legal / ".qa" / "settings.json").write_text(json.dumps({"read_token": OWN}))
    yield from running_app(root, ready="login", QA_READ_TOKEN=READ)


def log_in(page, url: str, token: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "login", wait_until="load")
    page.locator("#token").fill(token)
    page.get_by_role("button", name="登录").click()


def test_the_chat_of_a_private_deployment_is_behind_a_login(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    url = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()

        # no login: the chat's page is the login page, no answers, no document view
        page.goto(url, wait_until="load", timeout=120_000)
        assert page.url == url + "login"
        expect(page.locator("#token")).to_be_visible()
        assert page.get_by_role("tab", name="对话").count() == 0
        for path in ("v1/kbs/legal/view/xinghe.txt", "v1/view/microsoft-openai.txt"):
            r = page.goto(url + path)
            assert r is not None and r.status == 401 and "李四" not in page.content()
        r = page.request.post(url + "gradio_api/call/ask", data={"data": [QUESTION, [], "legal"]})
        assert r.status == 401
        assert page.request.post(url + "v1/kbs/legal/ask", data={"question": QUESTION}).status == 401

        # a wrong token is refused, plainly
        log_in(page, url, "not-the-token")
        expect(page.get_by_role("alert")).to_contain_text("令牌不正确")
        assert page.url == url + "login"
        assert not [c for c in context.cookies() if c["name"] == "qa_session"]

        # legal's own token: the chat shows legal alone, and it answers with its citation
        log_in(page, url, OWN)
        expect(page.get_by_role("tab", name="对话")).to_be_visible(timeout=120_000)
        cookie = next(c for c in context.cookies() if c["name"] == "qa_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and OWN not in cookie["value"]
        expect(page.locator("#chat-kb input")).to_have_value("legal", timeout=60_000)
        page.locator("#chat-kb input").click()
        options = page.get_by_role("option")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("legal")
        page.keyboard.press("Escape")
        ask(page, QUESTION)
        answer = page.locator("[data-testid='bot']").nth(-2)
        expect(answer).to_contain_text("李四")
        expect(answer).to_contain_text(re.compile(r"xinghe\.txt · 第\d+段 · 字符 \d+–\d+"))
        page.screenshot(path=str(ARTIFACTS / "browser-login-chat.png"))

        # the citation opens the document (the login's session lets the view read it)
        with context.expect_page() as opened:
            answer.get_by_role("link", name=re.compile("xinghe")).click()
        doc = opened.value
        doc.wait_for_load_state()
        expect(doc.locator("mark#cited")).to_contain_text("李四")
        doc.close()
        r = page.goto(url + "v1/view/microsoft-openai.txt")  # default is not legal's to read
        assert r is not None and r.status == 403

        # logout: back to the login page, the chat closed again
        page.goto(url + "logout")
        assert page.url == url + "login"
        page.goto(url)
        assert page.url == url + "login"

        # QA_READ_TOKEN: the default base alone
        log_in(page, url, READ)
        expect(page.locator("#chat-kb input")).to_have_value("default", timeout=120_000)
        page.locator("#chat-kb input").click()
        expect(page.get_by_role("option")).to_have_count(1)
        page.keyboard.press("Escape")
        ask(page, "微软2019年向OpenAI投资了多少钱?")
        expect(page.locator("[data-testid='bot']").nth(-2)).to_contain_text("10亿")
        browser.close()
