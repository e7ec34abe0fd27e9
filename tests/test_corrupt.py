"""Corrupt or foreign index state is detected on load with a clear ``IndexProblem`` message, then
rebuilt by ``QA.refresh`` (logged) - never a traceback, never answers from a broken index.

One pristine index is built per module and copied for each case; every case damages the copy
on disk the way a crash, a bad disk, a hand edit or another model would.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa.config import PROJECT_ROOT, Settings
from qa.service import QA
from qa.store.base import IndexCorrupt, IndexMismatch, IndexMissing, IndexProblem
from qa.store.embedded.generations import POINTER, IndexStore
from qa.store.embedded.index import (
    CHUNKS,
    DENSE,
    MANIFEST,
    SENTENCE_VECTORS,
    TOKENS,
    VECTORS,
    spot_check,
)

pytestmark = pytest.mark.slow

QUESTION = "微软2019年向OpenAI投资了多少钱?"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, embedder) -> Path:
    """A corpus and a freshly built index, never modified (cases work on copies)."""
    root = tmp_path_factory.mktemp("pristine")
    shutil.copytree(PROJECT_ROOT / "corpus", root / "corpus")
    QA(_settings(root), embedder=embedder).build()
    return root


def _settings(root: Path) -> Settings:
    return Settings.from_env().with_(corpus_dir=root / "corpus", index_dir=root / "index")


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Settings:
    shutil.copytree(pristine, tmp_path, dirs_exist_ok=True)
    return _settings(tmp_path)


def generation(settings: Settings) -> Path:
    return IndexStore(settings).current_path()


def fix_checksum(folder: Path, name: str) -> None:
    """Make the manifest agree with a damaged file, so only deeper checks can catch it."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["checksums"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def edit_manifest(folder: Path, **changes: object) -> None:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest.update(changes)
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def truncate_faiss(folder: Path) -> None:
    data = (folder / DENSE).read_bytes()
    (folder / DENSE).write_bytes(data[: len(data) // 3])


def garble_faiss_hiding_it(folder: Path) -> None:
    data = bytearray((folder / DENSE).read_bytes())
    data[:64] = b"\xde\xad\xbe\xef" * 16
    (folder / DENSE).write_bytes(bytes(data[: len(data) // 2]))
    fix_checksum(folder, DENSE)


def manifest_not_json(folder: Path) -> None:
    text = (folder / MANIFEST).read_text(encoding="utf-8")
    (folder / MANIFEST).write_text(text[: len(text) // 2], encoding="utf-8")


def manifest_wrong_shape(folder: Path) -> None:
    edit_manifest(folder, dimension="512", files=[])


def manifest_binary(folder: Path) -> None:
    (folder / MANIFEST).write_bytes(b"\xff\xfe\x00garbage\x00")


def drop_a_chunk_record(folder: Path) -> None:
    for name in (CHUNKS, TOKENS):
        lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / name).write_text("".join(lines[:-1]), encoding="utf-8")
        fix_checksum(folder, name)


def chunk_offsets_wrong(folder: Path) -> None:
    lines = (folder / CHUNKS).read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["start"] += 7
    lines[1] = json.dumps(record, ensure_ascii=False)
    (folder / CHUNKS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    fix_checksum(folder, CHUNKS)


def vectors_shifted(folder: Path) -> None:
    """Records and vectors out of step by one row: shapes and checksums all look right."""
    vectors = np.load(folder / VECTORS)
    np.save(folder / VECTORS, np.roll(vectors, 1, axis=0), allow_pickle=False)
    fix_checksum(folder, VECTORS)


def other_model_same_name(folder: Path) -> None:
    """Vectors as another model of the same dimension would make them (a random rotation)."""
    vectors = np.load(folder / VECTORS)
    q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(vectors.shape[1],) * 2))
    np.save(folder / VECTORS, (vectors @ q).astype(np.float32), allow_pickle=False)
    fix_checksum(folder, VECTORS)


def other_model_in_manifest(folder: Path) -> None:
    edit_manifest(folder, model="BAAI/bge-small-zh-v1.5", dimension=384)


def old_format(folder: Path) -> None:
    edit_manifest(folder, format=1)


def missing_file(folder: Path) -> None:
    (folder / SENTENCE_VECTORS).unlink()


class Boom:
    """Unpickling this would create a file: proof that nothing under index/ is unpickled."""

    target = ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.target),))


def pickled_npy(folder: Path) -> None:
    Boom.target = str(folder.parent.parent / "PWNED")
    bomb = np.empty(1, dtype=object)
    bomb[0] = Boom()
    with (folder / VECTORS).open("wb") as f:
        np.lib.format.write_array(f, bomb, allow_pickle=True)
    fix_checksum(folder, VECTORS)
    assert pickle.dumps(Boom())  # the payload is real


def garbled_pointer(folder: Path) -> None:
    (folder.parent / POINTER).write_text("../../etc\n", encoding="utf-8")


def pointer_to_nowhere(folder: Path) -> None:
    (folder.parent / POINTER).write_text("gen-19990101-000000-000000000\n", encoding="utf-8")


CASES: list[tuple[Callable[[Path], None], type[IndexProblem], str]] = [
    (truncate_faiss, IndexCorrupt, "dense.faiss does not match its checksum"),
    (garble_faiss_hiding_it, IndexCorrupt, "unreadable index files"),
    (manifest_not_json, IndexCorrupt, "manifest.json is broken"),
    (manifest_wrong_shape, IndexCorrupt, "'dimension' is not a int"),
    (manifest_binary, IndexCorrupt, "manifest.json is broken"),
    (drop_a_chunk_record, IndexCorrupt, "chunk records, the manifest says"),
    (chunk_offsets_wrong, IndexCorrupt, "offsets that do not fit"),
    (other_model_in_manifest, IndexMismatch, "model='BAAI/bge-small-zh-v1.5'"),
    (old_format, IndexMismatch, "index format 1"),
    (missing_file, IndexCorrupt, "sentences.npy is missing"),
    (pickled_npy, IndexCorrupt, "unreadable index files"),
    (garbled_pointer, IndexMissing, "is unreadable"),
    (pointer_to_nowhere, IndexMissing, "no index at"),
]


@pytest.mark.parametrize(("damage", "kind", "message"), CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_damage_is_detected_then_rebuilt(copy: Settings, embedder, caplog, damage, kind,
                                         message) -> None:
    folder = generation(copy)
    damage(folder)
    with pytest.raises(kind, match=message.replace("(", r"\(").replace(".", r"\.")) as info:
        IndexStore(copy).load()
    assert "Traceback" not in str(info.value)
    engine = QA(copy, embedder=embedder)
    with caplog.at_level("WARNING", logger="qa"):
        answer = engine.ask(QUESTION)
    assert "rebuilding the index" in caplog.text and message.split("(")[0] in caplog.text
    assert answer.passages and answer.generation != folder.name
    assert answer.generation == IndexStore(copy).current_name()
    IndexStore(copy).load()  # the rebuilt generation is sound
    assert not (copy.index_dir.parent / "PWNED").exists()


@pytest.mark.parametrize("damage", [vectors_shifted, other_model_same_name])
def test_vectors_that_do_not_fit_their_chunks_are_caught(copy: Settings, embedder, caplog,
                                                         damage) -> None:
    """Checksums and shapes agree, so only re-embedding a sample can tell: ``spot_check``."""
    folder = generation(copy)
    damage(folder)
    index = IndexStore(copy).load()
    with pytest.raises(IndexCorrupt, match="do not match their chunks"):
        spot_check(index, embedder.encode)
    engine = QA(copy, embedder=embedder)
    with caplog.at_level("WARNING", logger="qa"):
        answer = engine.ask(QUESTION)
    assert "do not match their chunks" in caplog.text and "rebuilding" in caplog.text
    assert answer.found and answer.generation != folder.name
    spot_check(engine.index, embedder.encode)


def test_a_sound_index_passes_the_spot_check(copy: Settings, embedder) -> None:
    spot_check(IndexStore(copy).load(), embedder.encode)


def test_nothing_under_index_is_unpickled() -> None:
    """The loaders never allow pickles: np.load always with allow_pickle=False, no torch.load."""
    for path in (PROJECT_ROOT / "qa").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "torch.load" not in source and "pickle.load" not in source, path
        for line in source.splitlines():
            if "np.load(" in line:
                assert "allow_pickle=False" in line, f"{path}: {line.strip()}"
