"""The cited document in view, and feedback on answers: pure Python over one knowledge base's
``Library`` (no gradio, no model), used by the REST API and the app.

``document_view`` returns a corpus file's text (as indexed: the same offsets as citations)
with the cited span and the paragraph it is in. ``append_feedback`` adds one line to the
base's ``corpus/.qa/feedback.jsonl``: the time, the question, the generation answered from,
the answer's span, "up" or "down", and optionally the sentence that answers better or that
the documents do not answer at all. Tokens never reach the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import BadInput, Unavailable, Unprocessable
from qa.ingest.chunking import paragraphs
from qa.ingest.corpus import CorpusError, read_document
from qa.serve.library import Library, Rejected, UnknownDocument, shown

#: Where a base's feedback goes, beside its glossary.
FEEDBACK_FILE = Path(".qa") / "feedback.jsonl"
VERDICTS = ("up", "down")
_append_lock = threading.Lock()


class OutsideRoot(Rejected):
    """A document name that tries to leave the knowledge base's folder."""


class Unreadable(Unprocessable, Rejected):
    """A document qa cannot read (it is skipped by the index too)."""


def check_document(library: Library, name: str) -> str:
    """``name`` when it is one of the library's documents; ``OutsideRoot`` for a name with
    ``..``, an absolute path or a backslash, ``UnknownDocument`` for any other name."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "~")) or "\\" in name or ".." in parts or "\x00" in name:
        raise OutsideRoot(shown(name), "a path outside the knowledge base")
    if name not in library.names():
        raise UnknownDocument(shown(name), "no such document in this knowledge base")
    return name


def document_view(library: Library, name: str, start: int | None = None,
                  end: int | None = None) -> dict[str, Any]:
    """The document ``name`` of ``library``: its text, and with ``start``/``end`` the span
    ``text[start:end]`` and the paragraph that holds its start (``BadInput`` for offsets
    outside the text)."""
    check_document(library, name)
    try:
        doc = read_document(library.root, name, library.settings.max_file_bytes)
    except CorpusError as exc:
        raise Unreadable(shown(name), str(exc).split(": ", 1)[-1]) from None
    text = doc.text
    out: dict[str, Any] = {"kb": library.settings.kb, "name": name, "encoding": doc.encoding,
                           "chars": len(text), "text": text, "span": None, "paragraph": None}
    if start is None and end is None:
        return out
    start = 0 if start is None else start
    end = len(text) if end is None else end
    if not 0 <= start <= end <= len(text):
        raise BadInput(f"span {start}–{end} is outside the document (0–{len(text)})")
    out["span"] = {"start": start, "end": end, "text": text[start:end],
                   "page": doc.page_at(start), "place": doc.place_at(start) or None}
    region = doc.region_at(start)
    if region:  # an OCR'd line: the page image with the line boxed (issue 22)
        out["page_image"] = _page_image(library, name, region.page, region.box)
    held = [p for p in paragraphs(text) if p.start <= start < p.end] or \
        [p for p in paragraphs(text) if p.start <= start <= p.end]
    if held:
        p = held[0]
        out["paragraph"] = {"number": p.number, "start": p.start, "end": p.end,
                            "text": text[p.start:p.end]}
    return out


def _page_image(library: Library, name: str, page: int,
                box: tuple[float, float, float, float]) -> dict[str, Any] | None:
    """The page ``page`` of scan ``name`` as a JPEG data URL with ``box`` outlined."""
    import base64

    from qa.ingest.scans import page_picture

    try:
        data = (library.root / name).read_bytes()
        jpeg = page_picture(data, Path(name).suffix.lower(), page, box)
    except Exception:  # the text view stands without its picture
        return None
    return {"page": page, "box": list(box),
            "src": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")}


def _span(value: object, what: str) -> list[object] | None:
    """A span [source, start, end] as given, checked for shape; None stays None."""
    if value is None:
        return None
    if not (isinstance(value, list | tuple) and len(value) == 3 and isinstance(value[0], str)
            and len(value[0]) <= 1000
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value[1:])
            and 0 <= value[1] <= value[2]):  # type: ignore[operator]
        raise BadInput(f"{what} must be [source, start, end] with 0 <= start <= end")
    return list(value)


def feedback_record(question: str, generation: str, answer_span: object, verdict: object,
                    better_span: object = None, not_in_documents: bool = False,
                    kb: str = "default") -> dict[str, Any]:
    """The line ``append_feedback`` writes (``BadInput`` naming what is wrong)."""
    if verdict not in VERDICTS:
        raise BadInput(f"verdict must be 'up' or 'down', not {shown(verdict)!r}")
    if better_span is not None and not_in_documents:
        raise BadInput("give a better sentence or not_in_documents, not both")
    return {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "kb": kb,
            "question": question, "generation": generation,
            "answer_span": _span(answer_span, "answer_span"), "verdict": verdict,
            "better_span": _span(better_span, "better_span"),
            "not_in_documents": bool(not_in_documents)}


def append_feedback(corpus_dir: Path, record: dict[str, Any]) -> Path:
    """Append ``record`` as one JSON line to ``corpus_dir/.qa/feedback.jsonl``
    (``Unavailable`` naming the file when it cannot be written)."""
    path = corpus_dir / FEEDBACK_FILE
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _append_lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
    except OSError as exc:
        raise Unavailable(f"cannot write feedback to {path}: {exc.strerror or exc}") from None
    return path


def record_feedback(settings: Settings, question: object, generation: str,
                    answer_span: object, verdict: object, better_span: object = None,
                    not_in_documents: bool = False) -> dict[str, Any]:
    """The one way feedback is written (REST and the chat): the question cleaned, the record
    checked (``BadInput`` naming what is wrong) and appended to the base's feedback file.
    Returns the record."""
    from qa.service import clean_question

    record = feedback_record(clean_question(question, settings.max_question_chars),
                             generation, answer_span, verdict, better_span, not_in_documents,
                             settings.kb)
    append_feedback(settings.corpus_dir, record)
    return record


def sentence_choices(passages: list[Any], kb: str, limit: int = 40) -> list[tuple[str, list[Any]]]:
    """The sentences of the passages of base ``kb`` shown with an answer, as (label, span)
    pairs a 👎 can name as the better answer: ``[n] sentence`` (cut at 90 characters) and
    ``[source, start, end]`` in the file (the passage's text is ``file[start:end]``)."""
    from qa.ingest.text import sentence_spans

    out: list[tuple[str, list[Any]]] = []
    for n, p in enumerate(passages, 1):
        if (p.kb or "default") != (kb or "default"):
            continue
        for s, e in sentence_spans(p.text):
            text = " ".join(p.text[s:e].split())
            label = f"[{n}] " + (text if len(text) <= 90 else text[:90] + "…")
            out.append((label, [p.source, p.start + s, p.start + e]))
            if len(out) >= limit:
                return out
    return out
