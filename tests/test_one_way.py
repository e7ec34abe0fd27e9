"""One workflow per action: one upload (all or none) for REST and the browser, one ``Library``
per base kept by ``Bases``, models shared through ``QA(embedder=…, reader=…)`` and never by
reaching into another engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import make_settings

from qa.bases import Bases
from qa.config import PROJECT_ROOT
from qa.errors import http_status
from qa.serve.library import AlreadyExists, Library, Refused, UnsupportedType
from qa.service import QA

GOOD = "量子猫公司于2031年在火星成立了第一家咖啡馆。\n".encode()


@pytest.fixture
def bases(tmp_path: Path) -> Bases:
    (tmp_path / "corpus").mkdir()
    return Bases(default=QA(make_settings(tmp_path, reader="none"), reader=None))


def test_an_upload_is_all_or_none(bases: Bases) -> None:
    library = bases.kept("default", Library)
    with pytest.raises(Refused) as refused:
        library.add_all([("a.txt", GOOD), ("b.txt", b"\x7fELF binary"), ("docs/a.txt", GOOD)])
    assert [(type(e), e.name) for e in refused.value.rejected] == [
        (UnsupportedType, "b.txt"), (AlreadyExists, "a.txt")]
    assert http_status(refused.value.rejected[0]) == 415 and library.names() == []
    added = library.add_all([("a.txt", GOOD), ("c.md", GOOD)])
    assert [u.name for u in added] == ["a.txt", "c.md"] and library.names() == ["a.txt", "c.md"]
    with pytest.raises(Refused, match=r"a\.txt: a document of that name exists"):
        library.add_all([("a.txt", GOOD)])
    assert library.add_all([("a.txt", GOOD + GOOD)], replace=True)[0].replaces


def test_bases_keep_one_library_per_base_and_forget_it_with_the_base(bases: Bases) -> None:
    bases.create("legal")
    legal = bases.kept("legal", Library)
    assert bases.kept("legal", Library) is legal and legal.root == bases.settings_of(
        "legal").corpus_dir
    assert bases.kept("default", Library) is not legal
    bases.delete("legal")
    bases.create("legal")
    assert bases.kept("legal", Library) is not legal


def test_engines_share_the_reader_through_the_constructor(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    reader = object()  # stands for a loaded reader: never loaded here
    default = QA(make_settings(tmp_path), reader=reader)
    bases = Bases(default=default)
    bases.create("legal")
    assert default.reader is reader and bases.engine("legal").reader is reader


def test_no_module_sets_another_objects_reader() -> None:
    """``_reader`` is set only by ``QA`` itself (``self._reader``)."""
    found = []
    for path in (PROJECT_ROOT / "qa").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr == "_reader" and not (
                        isinstance(t.value, ast.Name) and t.value.id == "self"):
                    found.append(f"{path.name}:{node.lineno}")
    assert not found, found


def test_a_chunk_gives_its_sentences_and_an_answer_finds_itself_in_a_passage() -> None:
    from qa.answer.answerer import Answer, Passage
    from qa.ingest.chunking import Chunk

    text = "第一句。第二句说了答案。"
    c = Chunk(id=0, source="d.txt", start=10, end=10 + len(text), text=text, paragraph=1,
              kind="body", sentences=((10, 14), (14, 10 + len(text))))
    assert c.sentence_texts() == ["第一句。", "第二句说了答案。"]
    assert c.sentence_text(-1) == "第二句说了答案。" and c.span_text(14, 17) == "第二句"
    p = Passage(text=text, source="d.txt", start=10, end=10 + len(text), score=0.5, citation="[1]",
                paragraph=1)
    answer = Answer(question="?", found=True, text="第二句说了答案。", confidence=0.9,
                    passages=[p], span=("d.txt", 14, 10 + len(text)))
    assert answer.span_in(p) == (4, len(text))
    assert answer.span_in(Passage(text=text, source="e.txt", start=10, end=10 + len(text),
                                  score=0.5, citation="[1]", paragraph=1)) is None
    assert Answer(question="?", found=False, text="", confidence=0.0).span_in(p) is None
