"""Bad corpus input: each bad file is skipped (or the build refused) with its name and the reason
in the message, while everything else is indexed. Real files, real model, real index.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from qa.config import Settings
from qa.ingest.corpus import decode_text, file_hashes, read_corpus
from qa.service import QA
from qa.store.embedded.builder import CorpusEmpty, build_index
from qa.store.embedded.generations import IndexStore

pytestmark = pytest.mark.slow

ARTICLE = "microsoft-openai.txt"
QUESTION = "微软2019年向OpenAI投资了多少钱?"
SECRET = "机密代号青龙计划的预算是九百亿。"


def make_bad_files(corpus: Path, outside: Path) -> dict[str, str]:
    """Write one file of each bad kind; return ``{source: expected reason fragment}``."""
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\t\n", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(gzip.compress(("文字" * 500).encode("utf-8")))
    (corpus / "bad-encoding.txt").write_bytes("正常的开头。".encode() + b"\x80\xff\xfe" * 50)
    with (corpus / "huge.txt").open("wb") as f:  # 50 MB of real text, over the 20 MB default
        line = ("这是一个非常大的文件，用来测试大小限制。" * 20 + "\n").encode("utf-8")
        for _ in range(50_000_000 // len(line) + 1):
            f.write(line)
    outside.write_text(SECRET, encoding="utf-8")
    (corpus / "link-out.txt").symlink_to(outside)
    (corpus / "dangling.txt").symlink_to(corpus / "no-such-file.txt")
    os.mkfifo(corpus / "fifo.txt")  # would block a naive read forever
    return {
        "empty.txt": "empty file",
        "blank.md": "empty file",
        "binary.txt": "binary data",
        "bad-encoding.txt": "not valid UTF-8 or GB18030/GBK text",
        "huge.txt": "over the 20,000,000-byte limit (QA_MAX_FILE_BYTES)",
        "link-out.txt": "outside the corpus folder",
        "dangling.txt": "broken symlink",
        "fifo.txt": "not a regular file",
    }


def test_bad_files_are_skipped_by_name_and_the_rest_is_indexed(settings: Settings, embedder,
                                                               tmp_path: Path) -> None:
    expected = make_bad_files(settings.corpus_dir, tmp_path / "outside-secret.txt")
    (settings.corpus_dir / "doomed.txt").write_text("这个文件会在构建中途消失。", encoding="utf-8")
    vanished = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "reading corpus" and total > 1 and not vanished:
            (settings.corpus_dir / "doomed.txt").unlink()  # listed, hashed, not yet read
            vanished.append(done)

    report = build_index(settings, embedder, progress=progress)
    assert vanished
    skipped = {s.source: s.reason for s in report.skipped}
    expected["doomed.txt"] = "disappeared while reading"
    assert set(skipped) == set(expected)
    for source, reason in expected.items():
        assert reason in skipped[source], (source, skipped[source])
        assert f"skipped {source}: " in report.summary()
    assert report.added == [ARTICLE]

    index = IndexStore(settings).load()
    assert {c.source for c in index.chunks} == {ARTICLE}
    assert not any("青龙" in c.text or "非常大的文件" in c.text for c in index.chunks)
    files = index.manifest["files"]
    assert files[ARTICLE]["encoding"] == "utf-8"
    for source in expected:
        if source != "doomed.txt":
            assert expected[source] in files[source]["skipped"]
    answer = QA(settings, embedder=embedder).ask(QUESTION)
    assert answer.found and all(p.source == ARTICLE for p in answer.passages)


def test_empty_corpus_keeps_the_previous_index(settings: Settings, embedder, caplog) -> None:
    engine = QA(settings, embedder=embedder)
    first = engine.build().generation
    shutil.rmtree(settings.corpus_dir)
    settings.corpus_dir.mkdir()
    with pytest.raises(CorpusEmpty, match=r"nothing to index in .*corpus.*no \.txt"):
        build_index(settings, embedder)
    (settings.corpus_dir / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusEmpty, match=r"empty\.txt: empty file"):
        build_index(settings, embedder)
    assert IndexStore(settings).current_name() == first
    # a running QA notices the change, fails to rebuild, says so, and keeps serving
    with caplog.at_level("WARNING", logger="qa"):
        answer = engine.ask(QUESTION)
    assert "nothing to index" in caplog.text
    assert answer.found and answer.generation == first
    assert "Traceback" not in caplog.text


def test_a_fresh_qa_over_an_empty_corpus_says_why(tmp_path: Path, embedder) -> None:
    settings = Settings.from_env().with_(corpus_dir=tmp_path / "corpus",
                                         index_dir=tmp_path / "index")
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusEmpty, match="nothing to index"):
        QA(settings, embedder=embedder).ask(QUESTION)


def test_oversized_and_outside_files_are_not_read_for_hashing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text(SECRET, encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    (corpus / "big.txt").write_bytes(b"x" * 2000)
    os.mkfifo(corpus / "pipe.txt")
    hashes = file_hashes(corpus, max_bytes=1000)  # returns: the FIFO is not opened
    assert hashes["big.txt"].startswith("oversize:2000:")
    assert hashes["link.txt"].startswith("unreadable:")
    assert hashes["pipe.txt"].startswith("unreadable:")
    before = hashes["link.txt"]
    outside.unlink()
    (corpus / "elsewhere.txt").write_text("x", encoding="utf-8")
    (corpus / "link.txt").unlink()
    (corpus / "link.txt").symlink_to(corpus / "elsewhere.txt")
    assert file_hashes(corpus, max_bytes=1000)["link.txt"] != before


def test_decoding_edge_cases() -> None:
    text = "微软与OpenAI的合作。\r\n第二行\r第三行"
    assert decode_text(text.encode("gbk"), "a.txt") == ("微软与OpenAI的合作。\n第二行\n第三行",
                                                       "gb18030")
    assert decode_text(text.encode("utf-16"), "b.txt")[1] == "utf-16"
    with pytest.raises(Exception, match=r"c\.txt: binary data"):
        decode_text(b"PK\x03\x04\x00\x00", "c.txt")
    with pytest.raises(Exception, match=r"d\.txt: looks binary"):
        decode_text(bytes(range(1, 32)) * 20, "d.txt")


def test_read_corpus_reports_progress_per_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"{i}.txt").write_text(f"第{i}个文件。", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    result = read_corpus(corpus, progress=lambda d, t: calls.append((d, t)))
    assert len(result.documents) == 3
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_stat_signature_sees_exactly_the_files_list_files_yields(tmp_path: Path) -> None:
    """The per-question change detector walks the tree its own (faster) way: it must agree
    with ``list_files`` on nested, hidden, symlinked, dangling and unsupported entries."""
    from qa.ingest.corpus import list_files, stat_signature

    corpus = tmp_path / "corpus"
    (corpus / "a" / "b").mkdir(parents=True)
    (corpus / ".hidden").mkdir()
    (corpus / "top.txt").write_text("一", encoding="utf-8")
    (corpus / "a" / "mid.md").write_text("二", encoding="utf-8")
    (corpus / "a" / "b" / "deep.HTML").write_text("<p>三</p>", encoding="utf-8")
    (corpus / ".hidden" / "secret.txt").write_text("四", encoding="utf-8")
    (corpus / ".dot.txt").write_text("五", encoding="utf-8")
    (corpus / "image.gif").write_bytes(b"GIF89a")  # not a type qa reads
    (corpus / "link.txt").symlink_to(corpus / "top.txt")
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    (corpus / "dirlink.txt").symlink_to(corpus / "a", target_is_directory=True)
    (corpus / "folderlink").symlink_to(corpus / "a", target_is_directory=True)
    expected = {}
    for source, path in list_files(corpus):
        try:
            st = path.stat()
        except OSError:
            continue
        expected[source] = (st.st_size, st.st_mtime_ns)
    got = stat_signature(corpus)
    assert got == expected
    assert set(got) == {"top.txt", "a/mid.md", "a/b/deep.HTML", "link.txt"}
    assert stat_signature(tmp_path / "nowhere") == {}
