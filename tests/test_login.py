"""A private deployment (``QA_READ_TOKEN``) keeps its chat behind a login (``qa.serve.login``):
without a session the page sends the browser to /login and Gradio's API answers 401; a wrong
token is refused plainly; a right one gives an HTTP-only, SameSite=Strict cookie holding a
random session id (never the token), which also opens the document view (GET reads); each
base's own read token decides the bases shown; logout ends it. The chromium test of the same
is tests/test_browser_login.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.config import Settings
from qa.serve.login import COOKIE, Sessions, accepted, readable

READ, OWN, WRITE = "r-token", "legal-token", "w-token"
HTML = {"Accept": "text/html"}


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.serve import app
    from qa.service import QA

    (tmp_path / "corpus").mkdir()
    own = tmp_path / "kbs" / "legal" / "corpus" / ".qa"
    own.mkdir(parents=True)
    (own / "settings.json").write_text(json.dumps({"read_token": OWN}), encoding="utf-8")
    settings = Settings().with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                                kb_root=tmp_path / "kbs", read_token=READ, api_token=WRITE)
    return TestClient(app.make_server(QA(settings)), follow_redirects=False)


def test_without_a_login_no_chat(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    for path in ("/config", "/gradio_api/info", "/gradio_api/queue/join", "/theme.css"):
        assert client.get(path).status_code == 401, path
    assert client.post("/gradio_api/queue/join", json={}).status_code == 401
    assert client.get("/v1/view/a.txt").status_code == 401
    page = client.get("/login")
    assert page.status_code == 200 and 'name="token"' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_wrong_token_is_refused_plainly(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/login", data={"token": "nope"})
    assert r.status_code == 401 and "令牌不正确" in r.text
    assert COOKIE not in r.cookies and "set-cookie" not in r.headers
    assert client.post("/login", data={"token": ""}).status_code == 401


def test_a_login_opens_the_chat_and_the_reads(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/login", data={"token": READ})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and READ not in cookie
    assert "Secure" not in cookie  # plain http here; over https it is Secure
    assert client.get("/", headers=HTML).status_code == 200
    assert client.get("/config").status_code == 200
    assert client.get("/v1/kbs").status_code == 200  # a GET read rides on the session
    assert client.post("/v1/ask", json={"question": "谁?"}).status_code == 401  # not a POST
    assert client.get("/v1/kbs/legal/documents").status_code == 403  # legal has its own token
    out = client.get("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.clear()
    assert client.get("/", headers=HTML).status_code == 303


def test_the_cookie_is_secure_over_https(tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    client.base_url = "https://testserver"
    r = client.post("/login", data={"token": OWN})
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_readable_and_accepted(tmp_path: Path) -> None:
    from qa.bases import Bases

    (tmp_path / "corpus").mkdir()
    for name, token in (("legal", OWN), ("open", "")):
        folder = tmp_path / "kbs" / name / "corpus" / ".qa"
        folder.mkdir(parents=True)
        if token:
            (folder / "settings.json").write_text(json.dumps({"read_token": token}))
    settings = Settings().with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                                kb_root=tmp_path / "kbs", read_token=READ, api_token=WRITE)
    bases = Bases(settings=settings)
    assert readable(bases, READ) == ["default", "open"]  # "open" inherits QA_READ_TOKEN
    assert readable(bases, OWN) == ["legal"]
    assert readable(bases, WRITE) == ["default", "legal", "open"]
    assert readable(bases, "nope") == [] and readable(bases, None) == []
    assert accepted(bases, READ) and accepted(bases, OWN) and accepted(bases, WRITE)
    assert not accepted(bases, "nope") and not accepted(bases, "  ")


def test_sessions_end_and_expire() -> None:
    sessions = Sessions(seconds=60, most=2)
    a, b, c = sessions.new("x"), sessions.new("y"), sessions.new("z")
    assert sessions.token(a) is None and sessions.token(b) == "y" and len(c) >= 40
    sessions.end(b)
    assert sessions.token(b) is None and sessions.token(None) is None
    assert Sessions(seconds=-1).token(Sessions(seconds=-1).new("x")) is None
