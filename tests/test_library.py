"""qa.serve.library without a model: upload names, types, sizes and content, the atomic write, delete,
and the status of each document against a manifest written by hand."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from qa.config import Settings
from qa.serve.library import (
    AlreadyExists,
    Library,
    Rejected,
    TooLarge,
    UnknownDocument,
    UnsafeName,
    UnsupportedType,
    check_content,
    read_limited,
    safe_name,
)

TEXT = "星辰实验室于2031年成立,首任主任名叫李四。\n".encode()


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "corpus").mkdir()
    settings = Settings().with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                                max_file_bytes=1000)
    return Library(settings)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("raw", "name"), [
    ("a.txt", "a.txt"),
    ("  报告 2024.md ", "报告 2024.md"),
    ("docs/a.txt", "a.txt"),
    ("docs\\sub\\a.pdf", "a.pdf"),
    ("ｆｕｌｌ.txt", "ｆｕｌｌ.txt"),
])
def test_safe_name_keeps_the_base_name(raw: str, name: str) -> None:
    assert safe_name(raw) == name


@pytest.mark.parametrize(("raw", "why"), [
    ("../../etc/x.txt", "a path"),
    ("..\\..\\x.txt", "a path"),
    ("a/../x.txt", "a path"),
    ("/etc/passwd.txt", "a path"),
    ("C:\\Windows\\x.txt", "a path"),
    ("~/x.txt", "a path"),
    (".bashrc.txt", "hidden"),
    ("docs/.env.md", "hidden"),
    ("..", "a path"),
    ("", "no file name"),
    ("   ", "no file name"),
    ("docs/", "no file name"),
    (None, "no file name"),
    ("a\x00.txt", "control"),
    ("a\nb.txt", "control"),
    ("<script>.txt", "not allowed"),
    ("ab:c.txt", "not allowed"),
    ("a|b.txt", "not allowed"),
    ("长" * 121 + ".txt", "longer"),
])
def test_safe_name_refuses(raw: object, why: str) -> None:
    with pytest.raises(UnsafeName) as err:
        safe_name(raw)
    assert why in err.value.reason
    assert "\x00" not in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("name", "data", "error", "why"), [
    ("a.exe", TEXT, UnsupportedType, "unsupported type .exe"),
    ("a", TEXT, UnsupportedType, "(no suffix)"),
    ("a.docx", b"PK\x03\x04" + b"x" * 50, UnsupportedType, "corrupt or truncated Word"),
    ("a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50, UnsupportedType, "old binary"),
    ("a.png", b"GIF89a" + b"x" * 50, UnsupportedType, "not a PNG image"),
    ("a.jpg", b"\xff\xd8\xff" + b"x" * 50, UnsupportedType, "unreadable image"),
    ("a.txt", b"\x00\x01\x02binary\x00" * 10, UnsupportedType, "binary"),
    ("a.txt", b"PK\x03\x04" + b"x" * 50, UnsupportedType, "ZIP"),
    ("a.md", b"\x89PNG\r\n\x1a\n" + b"x" * 20, UnsupportedType, "PNG"),
    ("a.txt", b"%PDF-1.7\n" + b"x" * 20, UnsupportedType, "a PDF"),
    ("a.txt", bytes(range(0x80, 0x100)) * 2, UnsupportedType, "not valid"),
    ("a.html", b"\x80" * 40, UnsupportedType, "not valid"),
    ("a.pdf", TEXT, UnsupportedType, "%PDF"),
    ("a.txt", b"   \n\n ", Rejected, "empty"),
    ("a.txt", "长".encode() * 400, TooLarge, "1,000-byte limit"),
])
def test_check_content_refuses(name: str, data: bytes, error: type, why: str) -> None:
    with pytest.raises(error) as err:
        check_content(name, data, 1000)
    assert why in err.value.reason
    assert err.value.name == name


@pytest.mark.parametrize(("name", "data"), [
    ("a.txt", TEXT),
    ("a.md", "# 标题\n\n正文。".encode()),
    ("a.txt", "微软投资了十亿美元。".encode("gb18030")),
    ("a.txt", "\ufeff微软投资。".encode("utf-16")),
    ("a.HTML", b"<html><body><p>hello</p></body></html>"),
    ("a.pdf", b"%PDF-1.4\n%...\n"),
    ("a.txt", "长".encode() * 333),  # 999 bytes: under the limit
])
def test_check_content_accepts(name: str, data: bytes) -> None:
    check_content(name, data, 1000)


def test_read_limited_stops_past_the_limit() -> None:
    assert read_limited(io.BytesIO(b"x" * 5000), 1000) == b"x" * 1001
    assert read_limited(io.BytesIO(b"x" * 10), 1000) == b"x" * 10


def test_add_writes_the_file_and_nothing_else(library: Library) -> None:
    assert library.add("docs/星辰.txt", TEXT) == "星辰.txt"
    assert (library.root / "星辰.txt").read_bytes() == TEXT
    assert listing(library.root) == ["星辰.txt"]  # no temp file left behind
    assert oct(os.stat(library.root / "星辰.txt").st_mode & 0o777) == "0o644"


def test_add_from_a_stream_over_the_limit_is_refused(library: Library) -> None:
    with pytest.raises(TooLarge):
        library.add("big.txt", io.BytesIO(b"a" * 5000))
    assert listing(library.root) == []


def test_existing_name_needs_replace(library: Library) -> None:
    library.add("a.txt", TEXT)
    with pytest.raises(AlreadyExists) as err:
        library.add("a.txt", "另一篇。".encode())
    assert "replace" in err.value.reason
    assert (library.root / "a.txt").read_bytes() == TEXT
    library.add("a.txt", "另一篇。".encode(), replace=True)
    assert (library.root / "a.txt").read_text(encoding="utf-8") == "另一篇。"
    assert listing(library.root) == ["a.txt"]


def test_a_name_taken_between_check_and_write_is_not_overwritten(library: Library) -> None:
    upload = library.check("a.txt", TEXT)
    (library.root / "a.txt").write_text("先到的。", encoding="utf-8")
    with pytest.raises(AlreadyExists):
        library.write(upload)
    assert (library.root / "a.txt").read_text(encoding="utf-8") == "先到的。"
    assert listing(library.root) == ["a.txt"]


def test_refused_uploads_leave_the_folder_unchanged(library: Library) -> None:
    library.add("keep.txt", TEXT)
    before = {p.name: p.read_bytes() for p in library.root.iterdir()}
    for name, data in [("../../etc/x.txt", TEXT), ("big.txt", b"a" * 1001),
                       ("bin.txt", b"\x00\x01" * 50), ("x.pdf", TEXT), (".hidden.txt", TEXT),
                       ("keep.txt", "新内容。".encode())]:
        with pytest.raises(Rejected):
            library.add(name, data)
    assert {p.name: p.read_bytes() for p in library.root.iterdir()} == before
    assert not (library.root.parent.parent / "etc").exists()


def test_a_folder_of_that_name_is_not_replaced(library: Library) -> None:
    (library.root / "a.txt").mkdir()
    with pytest.raises(AlreadyExists):
        library.add("a.txt", TEXT, replace=True)


def test_delete(library: Library, tmp_path: Path) -> None:
    library.add("a.txt", TEXT)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(TEXT)
    for name in ["../outside.txt", "b.txt", "", "/etc/passwd"]:
        with pytest.raises(UnknownDocument):
            library.delete(name)
    assert outside.exists()
    library.delete("a.txt")
    assert listing(library.root) == []


def write_manifest(library: Library, files: dict[str, dict[str, object]]) -> None:
    """A published generation holding only a manifest (all ``documents`` reads)."""
    gen = library.settings.index_dir / "gen-20240101-000000-000000000"
    gen.mkdir(parents=True)
    manifest = {"format": 3, "model": "m", "dimension": 4, "files": files, "checksums": {},
                "generation": gen.name, "built_at": "2024-01-01T00:00:00+00:00"}
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (library.settings.index_dir / "CURRENT").write_text(gen.name + "\n", encoding="utf-8")


def test_documents_status_against_the_index(library: Library) -> None:
    from qa.ingest.corpus import file_hashes

    library.add("indexed.txt", "标题\n\n第一段。\n\n第二段。\n".encode())
    library.add("changed.txt", TEXT)
    library.add("skipped.txt", TEXT)
    hashes = file_hashes(library.root)
    (library.root / "changed.txt").write_text("改过了。", encoding="utf-8")
    library.add("new.txt", "微软投资。".encode("gb18030"))
    (library.root / "bad.txt").write_bytes(b"\x00\x01" * 20)  # put there by hand
    write_manifest(library, {
        "indexed.txt": {"sha256": hashes["indexed.txt"], "encoding": "utf-8", "chars": 14},
        "changed.txt": {"sha256": hashes["changed.txt"], "encoding": "utf-8", "chars": 22},
        "skipped.txt": {"sha256": hashes["skipped.txt"], "skipped": "no text in it"},
        "gone.txt": {"sha256": "0" * 64, "encoding": "gb18030", "chars": 9},
    })
    docs = {d.name: d for d in library.documents()}
    assert {n: d.status for n, d in docs.items()} == {
        "bad.txt": "new", "changed.txt": "changed", "indexed.txt": "indexed",
        "new.txt": "new", "skipped.txt": "skipped", "gone.txt": "removed"}
    assert docs["indexed.txt"].paragraphs == 3 and docs["indexed.txt"].encoding == "utf-8"
    assert docs["indexed.txt"].size == len("标题\n\n第一段。\n\n第二段。\n".encode())
    assert docs["new.txt"].encoding == "gb18030" and docs["new.txt"].reason == ""
    assert docs["skipped.txt"].reason == "no text in it"
    assert docs["bad.txt"].reason.startswith("will be skipped: binary data")
    assert docs["gone.txt"].size is None and docs["gone.txt"].encoding == "gb18030"
    assert library.index_info()["generation"] == "gen-20240101-000000-000000000"


def test_documents_without_an_index_are_new(library: Library) -> None:
    library.add("a.txt", TEXT)
    assert [(d.name, d.status) for d in library.documents()] == [("a.txt", "new")]
    assert library.index_info()["generation"] is None


def test_a_stale_partial_upload_is_swept(library: Library) -> None:
    stale = library.root / ".upload-dead.part"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    fresh = library.root / ".upload-live.part"  # another upload, being written now
    fresh.write_bytes(b"half")
    library.add("a.txt", TEXT)
    assert listing(library.root) == [".upload-live.part", "a.txt"]
    assert [d.name for d in library.documents()] == ["a.txt"]  # hidden: never a document
