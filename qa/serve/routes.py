"""The endpoints of one knowledge base, added twice by ``qa.serve.api``: under ``/v1`` for
"default" (today's paths) and under ``/v1/kbs/{kb}`` for any base.

    POST   …/ask                     {"question", "k", "history", "filter"} -> the Answer
    POST   …/search                  {"question", "k", "lexical", "filter"} -> {"passages"}
    GET    …/documents               the base's files and their status against its index
    GET    …/documents/{name}        one file's text; ?start=&end=: the span and its paragraph
    GET    …/view/{name}?start=&end= the same as an HTML page, the span marked (``#cited``)
    POST   …/documents               multipart upload of "files" (+ "replace")
    DELETE …/documents/{name}        delete one file
    POST   …/build                   rebuild the base's index now
    POST   …/feedback                👍/👎 on an answer -> a line of corpus/.qa/feedback.jsonl

``/v1/kbs/*/ask`` and ``/v1/kbs/*/search`` ask every base at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI, File, Form, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from qa.bases import Bases
from qa.errors import BadInput, http_status
from qa.serve.docpage import PAGE_HEADERS, document_page
from qa.serve.library import Library, Refused, Rejected
from qa.serve.viewer import document_view, record_feedback

#: Files one upload request may carry.
MAX_FILES_PER_UPLOAD = 20


class AskRequest(BaseModel):
    question: StrictStr = Field(examples=["微软2019年向OpenAI投资了多少钱?"])
    k: StrictInt = Field(3, description="passages to return, 1 to 20")
    history: list[StrictStr] = Field(default_factory=list,
                                     description="the user's earlier questions, oldest first")
    filter: dict[str, Any] | None = Field(
        None, examples=[{"folder": "reports", "type": ["pdf"], "after": "2023-01-01"}],
        description="only the documents that pass: name (file-name pattern), folder, type, "
                    "after/before (the title block's date), sources (exact paths)")


class SearchRequest(BaseModel):
    question: StrictStr = Field(examples=["微软2019年向OpenAI投资了多少钱?"])
    k: StrictInt = Field(3, description="passages to return, 1 to 20")
    lexical: StrictBool = Field(False, description="BM25 only, no model")
    filter: dict[str, Any] | None = Field(None, description="as in …/ask")


Span = tuple[StrictStr, StrictInt, StrictInt]


class FeedbackRequest(BaseModel):
    question: StrictStr
    generation: StrictStr = Field("", max_length=2000, description="the answer's generation")
    answer_span: Span | None = Field(None, description="[source, start, end] of the answer")
    verdict: Literal["up", "down"]
    better_span: Span | None = Field(None, description="[source, start, end] of a sentence "
                                                       "that answers better")
    not_in_documents: StrictBool = Field(False, description="the documents do not answer it")


@dataclass
class Context:
    """What the endpoints of every base share (made by ``qa.serve.api.create_api``)."""

    bases: Bases
    write: list[Any]  # the dependencies of a write endpoint
    errors: dict[int | str, dict[str, Any]]
    reader: Callable[[Callable[..., str]], Callable[..., str]]  # a base -> its read check

    def library(self, kb: str) -> Library:
        """The base's ``Library``, the one the app's knowledge-base tab shows too."""
        return self.bases.kept(kb, Library)


def rejected(errors: list[Rejected]) -> JSONResponse:
    """All refused files by name and reason, under the status of the first
    (``qa.errors.HTTP_STATUS``)."""
    return JSONResponse(status_code=http_status(errors[0]), content={
        "error": "; ".join(str(e) for e in errors),
        "rejected": [{"name": e.name, "reason": e.reason} for e in errors]})


def add_base_routes(api: FastAPI, prefix: str, one: Callable[..., str],
                    any_: Callable[..., str], ctx: Context) -> None:
    """The endpoints of one base under ``prefix``; ``one`` resolves the base of a request
    (400 bad name, 404 unknown), ``any_`` also allows "*" (every base)."""
    bases, errors = ctx.bases, ctx.errors
    tags = ["knowledge bases"] if "{kb}" in prefix else None
    read_one, read_any = ctx.reader(one), ctx.reader(any_)

    @api.post(f"{prefix}/ask", tags=tags or ["questions"], responses=errors)
    def ask(body: AskRequest, kb: str = Depends(read_any)) -> dict[str, Any]:
        """The answer sentence, whether the corpus answers at all, and the cited passages."""
        return bases.ask(body.question, kb=kb, k=body.k, history=body.history,
                         where=body.filter).to_json()

    @api.post(f"{prefix}/search", tags=tags or ["questions"], responses=errors)
    def search(body: SearchRequest, kb: str = Depends(read_any)) -> dict[str, Any]:
        """The best passages, cited, without an answer sentence."""
        passages = bases.passages(body.question, kb=kb, k=body.k, lexical=body.lexical,
                                  where=body.filter)
        return {"question": body.question, "passages": [asdict(p) for p in passages]}

    @api.get(f"{prefix}/documents", tags=tags or ["documents"], responses=errors)
    def documents(kb: str = Depends(read_one)) -> dict[str, Any]:
        """Every file of the base: size, encoding, paragraphs, and its status against the
        index (indexed, changed, new, skipped and why, removed)."""
        library = ctx.library(kb)
        info = library.index_info()
        return {"kb": kb, "generation": info["generation"], "built_at": info["built_at"],
                "documents": [d.to_json() for d in library.documents()]}

    @api.get(f"{prefix}/documents/{{name:path}}", tags=tags or ["documents"], responses=errors)
    def document(name: str, start: int | None = None, end: int | None = None,
                 kb: str = Depends(read_one)) -> dict[str, Any]:
        """One document's text (offsets as in citations) and, given ``start`` and ``end``,
        the cited span and the paragraph it is in. 404: no such document in this base."""
        return document_view(ctx.library(kb), name, start, end)

    @api.get(f"{prefix}/view/{{name:path}}", tags=tags or ["documents"], responses=errors,
             response_class=HTMLResponse)
    def view(name: str, start: int | None = None, end: int | None = None,
             kb: str = Depends(read_one)) -> HTMLResponse:
        """The document as an HTML page (every character escaped, no script), the span
        ``start``–``end`` in ``<mark id="cited">``: what a citation in the chat opens."""
        return HTMLResponse(document_page(document(name, start, end, kb)),
                            headers=PAGE_HEADERS)

    @api.post(f"{prefix}/documents", tags=tags or ["documents"], status_code=201,
              dependencies=ctx.write, responses=errors)
    def upload(files: list[UploadFile] = File(..., description=".txt .md .html .pdf"),
               replace: bool = Form(False, description="overwrite documents of the same name"),
               kb: str = Depends(one)) -> Any:
        """Add files to the base (all or none: a refused file is named with its reason and
        nothing is written). Rebuild afterwards, or let the next question do it."""
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise BadInput(f"{len(files)} files; at most {MAX_FILES_PER_UPLOAD} at once")
        try:
            added = ctx.library(kb).add_all([(f.filename, f.file) for f in files], replace)
        except Refused as exc:
            return rejected(exc.rejected)
        return {"added": [u.name for u in added],
                "replaced": [u.name for u in added if u.replaces]}

    @api.delete(f"{prefix}/documents/{{name:path}}", tags=tags or ["documents"],
                dependencies=ctx.write, responses=errors)
    def delete(name: str, kb: str = Depends(one)) -> dict[str, Any]:
        """Delete one file of the base (it leaves the index at the next build)."""
        ctx.library(kb).delete(name)
        return {"deleted": name}

    @api.post(f"{prefix}/build", tags=tags or ["index"], dependencies=ctx.write,
              responses=errors)
    def build(full: bool = False, kb: str = Depends(one)) -> dict[str, Any]:
        """Rebuild the base's index now (incrementally unless ``full``); questions keep being
        answered from the current index meanwhile. 409 while another build runs."""
        report = bases.engine(kb).build(full=full, wait=False)
        return {"report": report.to_json(), "summary": report.summary()}

    @api.post(f"{prefix}/feedback", tags=tags or ["feedback"], status_code=201,
              responses=errors)
    def feedback(body: FeedbackRequest, kb: str = Depends(read_one)) -> dict[str, Any]:
        """👍 or 👎 on an answer, optionally with the sentence that answers better
        (``better_span``) or ``not_in_documents``: one line of the base's
        ``corpus/.qa/feedback.jsonl`` (with the time; never a token)."""
        record_feedback(bases.settings_of(kb), body.question, body.generation,
                        body.answer_span, body.verdict, body.better_span, body.not_in_documents)
        return {"recorded": True, "kb": kb}
