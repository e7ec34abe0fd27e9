"""The REST API, served beside the chat: ``create_api(engine)`` makes the FastAPI app that
app.py mounts the Gradio UI into. OpenAPI docs at ``/docs``.

    POST   /v1/ask               {"question", "k", "history"} -> the Answer as JSON
    POST   /v1/search            {"question", "k", "lexical"} -> {"passages": [...]}
    GET    /v1/documents         the corpus files and their status against the index
    POST   /v1/documents         multipart: one or more "files" (+ "replace") -> added names
    DELETE /v1/documents/{name}  delete one corpus file
    POST   /v1/build             rebuild the index now -> the build report

Errors are ``{"error": "..."}`` with a fitting status: 400 bad question or k, 401 no bearer
token, 403 wrong token, 404 unknown document, 409 exists (no replace) or build busy, 413 too
large, 415 unsupported type. The write endpoints (upload, delete, build) need
``Authorization: Bearer $QA_API_TOKEN`` whenever a token is set, and app.py refuses to serve
on anything but loopback without one (``check_exposure``). Neither gradio nor torch is
imported here.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from qa.config import Settings
from qa.serve.library import (
    AlreadyExists,
    Library,
    Rejected,
    TooLarge,
    UnknownDocument,
    UnsupportedType,
    Upload,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from qa.service import QA

log = logging.getLogger("qa.serve.api")
#: Files one upload request may carry.
MAX_FILES_PER_UPLOAD = 20
#: HTTP status of each kind of refused file.
REJECTED_STATUS: dict[type[Rejected], int] = {
    UnsupportedType: 415, TooLarge: 413, AlreadyExists: 409, UnknownDocument: 404}


class UnsafeExposure(RuntimeError):
    """Serving beyond loopback without a token: anyone could change the corpus."""


class ErrorOut(BaseModel):
    error: str


class AskRequest(BaseModel):
    question: StrictStr = Field(examples=["微软2019年向OpenAI投资了多少钱?"])
    k: StrictInt = Field(3, description="passages to return, 1 to 20")
    history: list[StrictStr] = Field(default_factory=list,
                                     description="the user's earlier questions, oldest first")


class SearchRequest(BaseModel):
    question: StrictStr = Field(examples=["微软2019年向OpenAI投资了多少钱?"])
    k: StrictInt = Field(3, description="passages to return, 1 to 20")
    lexical: StrictBool = Field(False, description="BM25 only, no model")


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
    if not settings.api_token:
        return True
    return token is not None and hmac.compare_digest(token.strip().encode("utf-8"),
                                                     settings.api_token.encode("utf-8"))


def _fail(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def _rejected(errors: list[Rejected]) -> JSONResponse:
    """All refused files by name and reason, under the status of the first."""
    status = REJECTED_STATUS.get(type(errors[0]), 400)
    return JSONResponse(status_code=status, content={
        "error": "; ".join(str(e) for e in errors),
        "rejected": [{"name": e.name, "reason": e.reason} for e in errors]})


class UploadSizeGuard:
    """Refuse (413) an upload request whose declared length is over what it may carry, before
    its body is read; everything else passes through untouched (pure ASGI, so Gradio's
    streaming responses are not wrapped)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"] == "/v1/documents":
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


def create_api(engine: QA) -> FastAPI:
    """The FastAPI app serving ``engine`` and its corpus folder."""
    settings = engine.settings
    library = Library(settings)
    bearer = HTTPBearer(auto_error=False, description="QA_API_TOKEN")
    api = FastAPI(title="qa", version="1", description=(
        "Cited answers over a corpus of Chinese articles. Write endpoints need "
        "`Authorization: Bearer <QA_API_TOKEN>` when the server has a token."))
    api.add_middleware(UploadSizeGuard,
                       limit=settings.max_file_bytes * MAX_FILES_PER_UPLOAD + (1 << 20))
    _install_error_handlers(api)

    def writer(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if not settings.api_token:
            return
        if credentials is None:
            raise HTTPException(401, "a bearer token is required (Authorization: Bearer …)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not authorized(settings, credentials.credentials):
            raise _fail(403, "wrong token")

    write = [Depends(writer)]
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415)}

    @api.post("/v1/ask", tags=["questions"], responses=errors)
    def ask(body: AskRequest) -> dict[str, Any]:
        """The answer sentence, whether the corpus answers at all, and the cited passages."""
        try:
            return engine.ask(body.question, k=body.k, history=body.history).to_json()
        except ValueError as exc:
            raise _fail(400, str(exc)) from None

    @api.post("/v1/search", tags=["questions"], responses=errors)
    def search(body: SearchRequest) -> dict[str, Any]:
        """The best passages, cited, without an answer sentence."""
        from qa.store.base import IndexProblem

        try:
            passages = engine.passages(body.question, k=body.k, lexical=body.lexical)
        except ValueError as exc:
            raise _fail(400, str(exc)) from None
        except IndexProblem as exc:
            raise _fail(503, str(exc)) from None
        return {"question": body.question, "passages": [asdict(p) for p in passages]}

    @api.get("/v1/documents", tags=["documents"])
    def documents() -> dict[str, Any]:
        """Every corpus file: size, encoding, paragraphs, and its status against the index
        (indexed, changed, new, skipped and why, removed)."""
        info = library.index_info()
        return {"generation": info["generation"], "built_at": info["built_at"],
                "documents": [d.to_json() for d in library.documents()]}

    @api.post("/v1/documents", tags=["documents"], status_code=201, dependencies=write,
              responses=errors)
    def upload(files: list[UploadFile] = File(..., description=".txt .md .html .pdf"),
               replace: bool = Form(False, description="overwrite documents of the same name"),
               ) -> Any:
        """Add files to the corpus (all or none: a refused file is named with its reason and
        nothing is written). Rebuild afterwards (``/v1/build``), or let the next question do
        it."""
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise _fail(400, f"{len(files)} files; at most {MAX_FILES_PER_UPLOAD} at once")
        checked: list[Upload] = []
        refused: list[Rejected] = []
        for f in files:
            try:
                upload = library.check(f.filename, f.file, replace=replace)
                if any(u.name == upload.name for u in checked):
                    raise AlreadyExists(upload.name, "twice in this upload")
                checked.append(upload)
            except Rejected as exc:
                refused.append(exc)
        if refused:
            return _rejected(refused)
        try:
            names = [library.write(u) for u in checked]
        except Rejected as exc:
            return _rejected([exc])
        return {"added": names, "replaced": [u.name for u in checked if u.replaces]}

    @api.delete("/v1/documents/{name:path}", tags=["documents"], dependencies=write,
                responses=errors)
    def delete(name: str) -> dict[str, Any]:
        """Delete one corpus file (it leaves the index at the next build)."""
        try:
            library.delete(name)
        except UnknownDocument as exc:
            raise _fail(404, str(exc)) from None
        return {"deleted": name}

    @api.post("/v1/build", tags=["index"], dependencies=write, responses=errors)
    def build(full: bool = False) -> dict[str, Any]:
        """Rebuild the index now (incrementally unless ``full``); questions keep being
        answered from the current index meanwhile. 409 while another build runs."""
        from qa.store.embedded.builder import CorpusEmpty
        from qa.store.embedded.generations import BuildBusy

        try:
            report = engine.build(full=full, wait=False)
        except (BuildBusy, CorpusEmpty) as exc:
            raise _fail(409, str(exc)) from None
        return {"report": report.to_json(), "summary": report.summary()}

    return api
