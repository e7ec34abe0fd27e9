"""The index follows the corpus folder: added, edited and deleted files, odd encodings, bad
files, and an emptied corpus — always with the real model and a temp copy of the corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import qa
from qa.service import QA
from qa.store.embedded.builder import CorpusEmpty
from qa.store.embedded.generations import POINTER

pytestmark = pytest.mark.slow

HEADLINE = "微软2019年向OpenAI投资了多少钱?"
CAFE = "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。"
CAFE_EDITED = "量子猫公司于2033年在火星成立了第一家咖啡馆,首任店长名叫欧阳明远。"
CAFE_QUESTION = "量子猫公司在火星的第一家咖啡馆的首任店长叫什么名字?"


def sources(answer: qa.Answer) -> list[str]:
    return [p.source for p in answer.passages]


def touch_later(path: Path) -> None:
    """Move the file's mtime forward, as an editor saving a minute later would."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 60_000_000_000))


def test_added_edited_deleted_file_is_followed_without_rebuild(fresh_qa: QA) -> None:
    corpus = fresh_qa.settings.corpus_dir
    first = fresh_qa.ask(HEADLINE)  # builds and loads the index
    assert first.found and "cafe.txt" not in sources(first)
    generation = first.generation

    (corpus / "cafe.txt").write_text(CAFE + "\n", encoding="utf-8")
    added = fresh_qa.ask(CAFE_QUESTION, k=3)
    assert added.generation != generation, "the corpus change did not trigger a rebuild"
    assert added.passages[0].source == "cafe.txt", sources(added)
    assert added.passages[0].text == CAFE
    assert added.found is True
    assert "李四" in added.text
    assert added.span is not None and added.span[0] == "cafe.txt"
    # the rebuild was incremental and is already published: a manual build finds nothing to do
    assert fresh_qa.build().up_to_date is True
    assert "cafe.txt" in fresh_qa.index.files()

    (corpus / "cafe.txt").write_text(CAFE_EDITED + "\n", encoding="utf-8")
    edited = fresh_qa.ask(CAFE_QUESTION, k=3)
    assert edited.passages[0].source == "cafe.txt"
    assert edited.passages[0].text == CAFE_EDITED
    assert edited.found is True
    assert "欧阳明远" in edited.text and "李四" not in edited.text
    assert all("李四" not in p.text for p in edited.passages)
    assert edited.text != added.text

    # an edit that keeps the size: only the time (and the hash) tell
    same_size = CAFE_EDITED.replace("欧阳明远", "司马长风")
    (corpus / "cafe.txt").write_text(same_size + "\n", encoding="utf-8")
    touch_later(corpus / "cafe.txt")
    assert fresh_qa.ask(CAFE_QUESTION, k=3).passages[0].text == same_size

    (corpus / "cafe.txt").unlink()
    deleted = fresh_qa.ask(CAFE_QUESTION, k=10)
    assert "cafe.txt" not in sources(deleted)
    assert "cafe.txt" not in fresh_qa.index.files()
    assert fresh_qa.ask(HEADLINE).found  # the article is still served


def test_second_instance_picks_up_the_new_generation(fresh_qa: QA, embedder) -> None:
    """Two QA objects on one index folder (two app workers): a change seen by one is served
    by both, and the second reloads the published generation instead of rebuilding."""
    other = QA(fresh_qa.settings, embedder=embedder)
    assert other.ask(HEADLINE).found
    corpus = fresh_qa.settings.corpus_dir
    (corpus / "cafe.txt").write_text(CAFE + "\n", encoding="utf-8")
    a = fresh_qa.ask(CAFE_QUESTION)
    b = other.ask(CAFE_QUESTION)
    assert a.passages[0].source == b.passages[0].source == "cafe.txt"
    assert b.generation == a.generation


def test_gbk_file_is_read(fresh_qa: QA) -> None:
    corpus = fresh_qa.settings.corpus_dir
    fact = "沙漠灯塔建于2040年，守塔人名叫钱七，灯塔高九十九米，每晚照亮撒哈拉的商队。\n"
    (corpus / "gbk.txt").write_bytes(fact.encode("gbk"))
    report = fresh_qa.build()
    assert "gbk.txt" in report.added
    assert report.skipped == []
    answer = fresh_qa.ask("沙漠灯塔的守塔人叫什么名字?")
    top = answer.passages[0]
    assert top.source == "gbk.txt"
    assert top.text == fact.strip()
    assert answer.found and "钱七" in answer.text
    # the offsets are into the decoded text of the file
    decoded = (corpus / "gbk.txt").read_bytes().decode("gb18030")
    assert decoded[top.start:top.end] == top.text


def test_bad_files_are_skipped_with_their_names(fresh_qa: QA) -> None:
    corpus = fresh_qa.settings.corpus_dir
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.txt").write_bytes(b" \n\t\n")
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (corpus / "bad-encoding.txt").write_bytes("正常的开头".encode() + b"\xff\xfe\xff\xfa\xff" * 20)
    (corpus / "controls.txt").write_bytes(bytes(range(1, 9)) * 40)
    report = fresh_qa.build()
    skipped = {s.source: s.reason for s in report.skipped}
    assert set(skipped) == {"empty.txt", "blank.txt", "binary.txt", "bad-encoding.txt",
                            "controls.txt"}
    assert all(reason.strip() for reason in skipped.values())
    assert "empty" in skipped["empty.txt"]
    assert "binary" in skipped["binary.txt"]
    assert "UTF-8" in skipped["bad-encoding.txt"]
    summary = report.summary()
    for name in skipped:
        assert name in summary
    assert "5 skipped" in summary
    assert report.chunks > 5
    # the rest is indexed and answers
    answer = fresh_qa.ask(HEADLINE)
    assert answer.found and set(sources(answer)) == {"microsoft-openai.txt"}
    # an unchanged corpus with bad files in it does not rebuild on every question
    generation = answer.generation
    assert fresh_qa.ask(HEADLINE).generation == generation
    assert fresh_qa.build().up_to_date is True


def test_empty_corpus_raises_and_keeps_the_previous_index(fresh_qa: QA, tmp_path: Path) -> None:
    fresh_qa.build()
    index_dir = fresh_qa.settings.index_dir
    pointer = (index_dir / POINTER).read_text(encoding="utf-8")
    corpus = fresh_qa.settings.corpus_dir
    shutil.move(corpus / "microsoft-openai.txt", tmp_path / "moved-away.txt")
    (corpus / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusEmpty, match=r"empty\.txt"):
        fresh_qa.build()
    assert (index_dir / POINTER).read_text(encoding="utf-8") == pointer
    assert (index_dir / pointer.strip()).is_dir()
    # a fresh QA on that folder loads the kept generation
    assert fresh_qa.store.load().generation == pointer.strip()


def test_empty_corpus_questions_keep_being_answered(fresh_qa: QA, tmp_path: Path) -> None:
    """After the corpus is emptied, the previous index keeps serving: asking is not an error."""
    assert fresh_qa.ask(HEADLINE).found
    shutil.move(fresh_qa.settings.corpus_dir / "microsoft-openai.txt", tmp_path / "away.txt")
    first = fresh_qa.ask(HEADLINE)
    second = fresh_qa.ask(HEADLINE)
    assert first.found and second.found
