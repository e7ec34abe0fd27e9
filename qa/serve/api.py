"""The REST API, served beside the chat: ``create_api(engine)`` makes the FastAPI app that
app.py mounts the Gradio UI into. OpenAPI docs at ``/docs``.

    POST   /v1/ask               {"question", "k", "history"} -> the Answer as JSON
    POST   /v1/search            {"question", "k", "lexical"} -> {"passages": [...]}
    GET    /v1/documents         the corpus files and their status against the index
    POST   /v1/documents         multipart: one or more "files" (+ "replace") -> added names
    DELETE /v1/documents/{name}  delete one corpus file
    POST   /v1/build             rebuild the index now -> the build report
    GET    /v1/documents/{name}  one file's text (?start=&end=: the cited span, its paragraph)
    POST   /v1/feedback          👍/👎 on an answer -> a line of corpus/.qa/feedback.jsonl
    GET    /v1/kbs               the knowledge bases;  POST /v1/kbs {"name"}: create one
    DELETE /v1/kbs/{kb}          delete one ("default" cannot be)
    GET    /v1/models            OpenAI-compatible: qa, qa:NAME, qa:* (``qa.serve.openai_api``)
    POST   /v1/chat/completions  OpenAI-compatible chat (stream or not), with citations
    GET    /v1/corrections       remembered corrections; DELETE …/{id}; POST …/faq (faq.jsonl)
    …      /v1/kbs/{kb}/…        every endpoint above, of base ``kb`` (``qa.serve.routes``);
                                 /v1/kbs/*/ask and /v1/kbs/*/search ask every base

Errors are ``{"error": "..."}`` with a fitting status: 400 bad question or k, 401 no bearer
token, 403 wrong token, 404 unknown document, 409 exists (no replace) or build busy, 413 too
large, 415 unsupported type. The write endpoints (upload, delete, build, creating and deleting
bases) need ``Authorization: Bearer $QA_API_TOKEN`` whenever a token is set, and app.py
refuses to serve on anything but loopback without one (``check_exposure``). With
``QA_READ_TOKEN`` (or a base's own ``read_token`` in ``corpus/.qa/settings.json``) the reads
(ask, search, documents, feedback) need it too, or the write token. Neither gradio nor torch is
imported here.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, StrictStr
from starlette.exceptions import HTTPException

from qa.bases import ALL, Bases
from qa.config import DEFAULT_KB, Settings
from qa.errors import HTTP_STATUS, QAError, http_status
from qa.serve.corrections_api import add_correction_routes
from qa.serve.openai_api import add_openai_routes
from qa.serve.routes import (
    MAX_FILES_PER_UPLOAD,
    AskRequest,
    Context,
    SearchRequest,
    add_base_routes,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from qa.service import QA

log = logging.getLogger("qa.serve.api")
__all__ = [
    "MAX_FILES_PER_UPLOAD",
    "AskRequest",
    "SearchRequest",
    "authorized",
    "check_exposure",
    "create_api",
    "is_loopback",
]
_UPLOAD_PATH = re.compile(r"^/v1/(kbs/[^/]+/)?documents$")


class UnsafeExposure(RuntimeError):
    """Serving beyond loopback without a token: anyone could change the corpus."""


class ErrorOut(BaseModel):
    error: str


class KbRequest(BaseModel):
    name: StrictStr


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Raise ``UnsafeExposure`` when the app would listen beyond loopback without a token."""
    if not is_loopback(settings.server_name) and not settings.api_token:
        raise UnsafeExposure(
            f"refusing to serve on {settings.server_name}:{settings.server_port} without "
            "QA_API_TOKEN: anyone who reaches it could upload, delete and rebuild. Set "
            "QA_API_TOKEN to a long random secret (clients send 'Authorization: Bearer "
            "<token>'), or bind 127.0.0.1 (GRADIO_SERVER_NAME).")


def authorized(settings: Settings, token: str | None) -> bool:
    """Whether ``token`` may change the corpus: always when no token is set, else when it
    matches (compared in constant time)."""
    return token_matches(settings.api_token, token)


def token_matches(expected: str, token: str | None) -> bool:
    """True when no token is ``expected``, else when ``token`` is it (constant time)."""
    if not expected:
        return True
    return token is not None and hmac.compare_digest(token.strip().encode("utf-8"),
                                                     expected.encode("utf-8"))


def _fail(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


class UploadSizeGuard:
    """Refuse (413) an upload request whose declared length is over what it may carry, before
    its body is read; everything else passes through untouched (pure ASGI, so Gradio's
    streaming responses are not wrapped)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and _UPLOAD_PATH.match(scope["path"]):
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.limit:
                response = JSONResponse(status_code=413, content={
                    "error": f"upload of {int(length):,} bytes is over the {self.limit:,}-byte "
                             "limit of one request"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": str(exc.detail)},
                            headers=getattr(exc, "headers", None))

    @api.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        """Every error qa raises, under its kind's status (``qa.errors.HTTP_STATUS``)."""
        if http_status(exc) >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=http_status(exc), content={"error": str(exc)})

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:]) or 'body'}: {e['msg']}"
                          for e in exc.errors())
        return JSONResponse(status_code=400, content={"error": where or "bad request"})

    @api.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(status_code=500,
                            content={"error": "internal error (see the server log)"})


def create_api(engine: QA, bases: Bases | None = None, sessions: Any = None) -> FastAPI:
    """The FastAPI app serving ``engine`` (the "default" knowledge base) and every other base
    of ``bases`` (by default the bases beside ``engine``'s, sharing its model). With
    ``sessions`` (``qa.serve.login.Sessions``) a GET read without a bearer token may use the
    token of the chat's login session (the document view a citation opens)."""
    settings = engine.settings
    bases = bases or Bases(default=engine)
    bearer = HTTPBearer(auto_error=False, description="QA_API_TOKEN (reads: QA_READ_TOKEN)")
    api = FastAPI(title="qa", version="1", description=(
        "Cited answers over knowledge bases of Chinese articles. Write endpoints need "
        "`Authorization: Bearer <QA_API_TOKEN>` when the server has a token; reads need "
        "`QA_READ_TOKEN` (or the write token) when one is set."))
    api.add_middleware(UploadSizeGuard,
                       limit=settings.max_file_bytes * MAX_FILES_PER_UPLOAD + (1 << 20))
    _install_error_handlers(api)

    def check(expected: list[str], credentials: HTTPAuthorizationCredentials | None) -> None:
        """401 without a bearer token, 403 with one that matches none of ``expected``."""
        if all(not e for e in expected):
            return
        if credentials is None:
            raise HTTPException(401, "a bearer token is required (Authorization: Bearer …)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not any(e and token_matches(e, credentials.credentials) for e in expected):
            raise _fail(403, "wrong token")

    def writer(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        check([settings.api_token], credentials)

    def base(kb: str, every: bool = False) -> str:
        if every and kb == ALL:
            return ALL
        bases.settings_of(kb)  # BadKbName: 400, UnknownKb: 404
        return kb

    def one(kb: str) -> str:
        return base(kb)

    def any_(kb: str) -> str:
        return base(kb, every=True)

    def default() -> str:
        return DEFAULT_KB

    def reader(resolve: Callable[..., str]) -> Callable[..., str]:
        def read(request: Request = None, kb: str = Depends(resolve),  # type: ignore[assignment]
                 credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
            if credentials is None and sessions is not None and request is not None \
                    and request.method == "GET":
                token = sessions.of(request)
                if token:
                    credentials = HTTPAuthorizationCredentials(scheme="Bearer",
                                                               credentials=token)
            names = bases.names() if kb == ALL else [kb]
            for name in names:  # every base asked must let the token read it
                token = bases.read_token(name)
                if token:
                    check([token, settings.api_token], credentials)
            return kb
        return read

    write = [Depends(writer)]
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut} for code in sorted({401, 403, *HTTP_STATUS.values()})}
    ctx = Context(bases, write, errors, reader)
    add_base_routes(api, "/v1", default, default, ctx)
    add_base_routes(api, "/v1/kbs/{kb}", one, any_, ctx)
    add_openai_routes(api, ctx)  # /v1/models, /v1/chat/completions
    add_correction_routes(api, "/v1", default, ctx)  # …/corrections
    add_correction_routes(api, "/v1/kbs/{kb}", one, ctx)
    read_default = reader(default)

    @api.get("/v1/kbs", tags=["knowledge bases"], responses=errors)
    def kbs(_: str = Depends(read_default)) -> dict[str, Any]:
        """Every knowledge base: its name and the generation of its index (None: not built)."""
        from qa.store.factory import open_backend

        out = []
        for name in bases.names():
            mine = bases.settings_of(name)
            out.append({"name": name, "generation": open_backend(mine).current_name(),
                        "documents": len(ctx.library(name).names())})
        return {"kbs": out}

    @api.post("/v1/kbs", tags=["knowledge bases"], status_code=201, dependencies=write,
              responses=errors)
    def create(body: KbRequest) -> dict[str, Any]:
        """Create an empty knowledge base (409 when it exists); add files with
        ``POST /v1/kbs/{kb}/documents``."""
        bases.create(body.name)
        return {"created": body.name}

    @api.delete("/v1/kbs/{kb}", tags=["knowledge bases"], dependencies=write,
                responses=errors)
    def delete(kb: str) -> dict[str, Any]:
        """Delete a knowledge base, its files and its index ("default" cannot be deleted: 400;
        409 while it builds)."""
        bases.delete(kb)
        return {"deleted": kb}

    return api
