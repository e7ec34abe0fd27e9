"""The remembered corrections of a knowledge base over REST (``qa.answer.corrections``), added
under ``/v1`` (the default base) and ``/v1/kbs/{kb}``:

    GET    …/corrections         every correction: in force, deleted, or dropped and why
    DELETE …/corrections/{id}    delete one (it no longer answers)
    POST   …/corrections/faq     multipart "file": a faq.jsonl of {"问题", "答案"} lines, or a
                                 .xlsx whose first row names the columns 问题 and 答案

Listing needs the base's read token (if any), deleting and uploading the write token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, File, UploadFile
from starlette.exceptions import HTTPException

from qa.answer.faq import add_faq, read_faq, read_faq_xlsx

if TYPE_CHECKING:
    from qa.serve.routes import Context

#: the largest faq.jsonl one upload may carry (bytes)
MAX_FAQ_BYTES = 5_000_000


def add_correction_routes(api: FastAPI, prefix: str, one: Callable[..., str],
                          ctx: Context) -> None:
    """The correction endpoints of the base ``one`` resolves, under ``prefix``."""
    tags = ["corrections"]
    read_one = ctx.reader(one)

    @api.get(f"{prefix}/corrections", tags=tags, responses=ctx.errors)
    def corrections(kb: str = Depends(read_one)) -> dict[str, Any]:
        """The base's corrections: 👎 with a better sentence or "not in the documents", and
        FAQ pairs; ``status`` "live" (in force), "deleted", or why it was dropped."""
        engine = ctx.bases.engine(kb)
        listed = engine.corrections.listing(engine.index)
        return {"kb": kb, "threshold": engine.corrections.threshold,
                "corrections": [c.to_json() for c in listed]}

    @api.delete(f"{prefix}/corrections/{{ident}}", tags=tags, dependencies=ctx.write,
                responses=ctx.errors)
    def delete(ident: str, kb: str = Depends(one)) -> dict[str, Any]:
        """Delete a correction in force (404 when there is none of that id)."""
        engine = ctx.bases.engine(kb)
        gone = engine.corrections.delete(ident, engine.index)  # NotFound: 404
        return {"deleted": ident, "question": gone.question}

    @api.post(f"{prefix}/corrections/faq", tags=tags, status_code=201, dependencies=ctx.write,
              responses=ctx.errors)
    def faq(file: UploadFile = File(..., description="faq.jsonl ({\"问题\", \"答案\"} a line) "
                                                      "or faq.xlsx (columns 问题, 答案)"),
            kb: str = Depends(one)) -> dict[str, Any]:
        """Add FAQ pairs: an answer found word for word in the base is cited there, any other
        is shown as a text of its own; a later pair on the same question replaces it."""
        data = file.file.read(MAX_FAQ_BYTES + 1)
        if len(data) > MAX_FAQ_BYTES:
            raise HTTPException(413, f"{file.filename}: over {MAX_FAQ_BYTES:,} bytes")
        name = file.filename or "faq.jsonl"
        pairs = read_faq_xlsx(data, name) if name.lower().endswith(".xlsx") \
            else read_faq(data, name)  # BadInput naming the line: 400
        engine = ctx.bases.engine(kb)
        added = add_faq(engine.settings.corpus_dir, pairs)
        return {"kb": kb, "added": added}
