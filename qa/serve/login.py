"""The chat of a private deployment, behind a login: with ``QA_READ_TOKEN`` set, the app asks
for a read token at ``/login`` before it shows the chat.

    GET  /login    the login page (one field: the read token)
    POST /login    token=… -> a session, 303 to the chat; a wrong token: 401, said plainly
    GET  /logout   (or POST) ends the session, back to the login page

The token is checked as the REST API checks it (``QA_READ_TOKEN``, a base's own
``read_token``, or ``QA_API_TOKEN``) and stays on the server: the cookie ``qa_session`` holds
only a random session id (HTTP-only, SameSite=Strict, Secure when served over https). The
bases a session sees are those its token reads (``readable``). ``LoginGate`` keeps every path
of the chat (the page, Gradio's API and files) from anyone without a session; ``/v1`` keeps its
own bearer tokens, and its GET reads (the document view a citation opens) also accept the
session's token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from qa.serve.api import token_matches

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

    from qa.bases import Bases

COOKIE = "qa_session"
#: How long a session lasts without a new login (seconds), and how many are kept.
SESSION_SECONDS, MAX_SESSIONS = 12 * 3600, 10_000
#: Paths the gate lets through: the login itself and the REST API (it checks its own tokens).
OPEN_PREFIXES = ("/login", "/logout", "/v1/", "/docs", "/openapi.json", "/favicon.ico")
PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>qa · 登录</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:12vh auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}}
button{{padding:.5rem 1.2rem}} .error{{color:#b91c1c}}</style></head><body>
<h1>文章问答 · 登录</h1><p>本服务的文档不公开：请输入访问令牌（QA_READ_TOKEN，或某个知识库自己的
read_token）。</p>{message}
<form method="post" action="/login"><label for="token">访问令牌</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button type="submit">登录</button></form></body></html>"""
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                      "form-action 'self'; frame-ancestors 'none'"}


def readable(bases: Bases, token: str | None) -> list[str]:
    """The bases ``token`` may read: those that need no token, those whose read token it is,
    and every base for the write token (``QA_API_TOKEN``)."""
    names = bases.names()
    if token and bases.settings.api_token and token_matches(bases.settings.api_token, token):
        return names
    out = []
    for name in names:
        expected = bases.read_token(name)
        if not expected or (token and token_matches(expected, token)):
            out.append(name)
    return out


def accepted(bases: Bases, token: str) -> bool:
    """Whether ``token`` is a token of this server (some base's read token, or the write
    token): a login with it opens at least one base."""
    token = token.strip()
    if not token:
        return False
    if bases.settings.api_token and token_matches(bases.settings.api_token, token):
        return True
    return any((expected := bases.read_token(n)) and token_matches(expected, token)
               for n in bases.names())


class Sessions:
    """Session id -> the token it logged in with, in this process's memory only."""

    def __init__(self, seconds: float = SESSION_SECONDS, most: int = MAX_SESSIONS) -> None:
        self.seconds, self.most = seconds, most
        self._kept: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, token: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._kept[sid] = (token.strip(), time.monotonic() + self.seconds)
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)
        return sid

    def token(self, sid: str | None) -> str | None:
        """The token of a live session (None: no such session, or it expired)."""
        if not sid:
            return None
        with self._lock:
            kept = self._kept.get(sid)
            if kept is None:
                return None
            if kept[1] < time.monotonic():
                del self._kept[sid]
                return None
            return kept[0]

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._kept.pop(sid or "", None)

    def of(self, request: Any) -> str | None:
        """The token of the session a request (Starlette's or ``gr.Request``) carries."""
        if request is None:
            return None
        cookies = getattr(request, "cookies", None)
        if not cookies:
            headers = getattr(request, "headers", None)
            cookies = _parse_cookies(headers.get("cookie", "") if headers is not None else "")
        return self.token(cookies.get(COOKIE)) if cookies else None


def _parse_cookies(raw: str) -> dict[str, str]:
    out = {}
    for part in (raw or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            out[key] = value
    return out


def login_page(message: str = "") -> str:
    return PAGE.format(message=f'<p class="error" role="alert">{escape(message)}</p>'
                       if message else "")


def add_login_routes(api: FastAPI, bases: Bases, sessions: Sessions) -> None:
    """``/login`` and ``/logout`` (see the module's docstring)."""

    @api.get("/login", include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        if sessions.of(request):
            return RedirectResponse("/", status_code=303)  # type: ignore[return-value]
        return HTMLResponse(login_page(), headers=HEADERS)

    @api.post("/login", include_in_schema=False)
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        if not accepted(bases, token):
            return HTMLResponse(login_page("令牌不正确：请检查后重新输入。"), status_code=401,
                                headers=HEADERS)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, sessions.new(token), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @api.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
    def logout(request: Request) -> RedirectResponse:
        sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
        return response


class LoginGate:
    """Every path but ``OPEN_PREFIXES`` needs a live session: a page is redirected to
    ``/login``, anything else (Gradio's API, its files, its queue) gets 401."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = scope.get("path", "")
            if not path.startswith(OPEN_PREFIXES) and path != "/v1":
                cookies = _parse_cookies(_header(scope, b"cookie"))
                if self.sessions.token(cookies.get(COOKIE)) is None:
                    if scope["type"] == "websocket":
                        await send({"type": "websocket.close", "code": 1008})
                        return
                    page = scope["method"] == "GET" and "text/html" in _header(scope, b"accept")
                    response = RedirectResponse("/login", status_code=303) if page else \
                        JSONResponse(status_code=401, content={"error": "login required (/login)"})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""
