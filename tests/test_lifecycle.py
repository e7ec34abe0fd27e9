"""The index lifecycle: incremental builds, full rebuilds on a settings change, answering while
builds run (threads and processes), builds killed with SIGKILL, two builds at once, and the
build progress bar. Everything runs for real: the m3e model, FAISS, files and subprocesses
under tmp_path (never the project's own ``index/``).
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa.answer.answerer import Answer, Answerer
from qa.config import PROJECT_ROOT, Settings
from qa.search.retrieve import make_query, search
from qa.service import QA
from qa.store.base import IndexMismatch
from qa.store.embedded.builder import build_index
from qa.store.embedded.generations import LOCK, IndexStore
from qa.store.embedded.index import Index

pytestmark = pytest.mark.slow

ARTICLE = "microsoft-openai.txt"
QUESTION = "微软2019年向OpenAI投资了多少钱?"
QUESTIONS = [QUESTION, "ChatGPT每天的运行成本是多少?", "微软为什么要和OpenAI合作?",
             "OpenAI LP是哪年设立的?", "微软与OpenAI的合作带来了哪些启示?"]
EXTRA = "量子计算公司甲在2030年发布了新的芯片。这块芯片的名字叫做星辰一号，主频达到十吉赫兹。\n"


def env_for(settings: Settings) -> dict[str, str]:
    """The environment of a ``python -m qa`` subprocess working on ``settings``' folders."""
    env = dict(os.environ)
    env.update(QA_CORPUS_DIR=str(settings.corpus_dir), QA_INDEX_DIR=str(settings.index_dir),
               PYTHONUNBUFFERED="1")
    return env


def start_build(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "qa", "build", *args], cwd=PROJECT_ROOT,
                            env=env_for(settings), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_build(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa", "build", *args], cwd=PROJECT_ROOT,
                          env=env_for(settings), capture_output=True, text=True, timeout=600)


def copies(corpus: Path, n: int) -> None:
    """Add ``n`` distinct variants of the article (every paragraph prefixed differently)."""
    paras = (corpus / ARTICLE).read_text(encoding="utf-8").split("\n\n")
    for k in range(n):
        text = "\n\n".join(f"第{k}篇{i}：{p}" if p.strip() else p for i, p in enumerate(paras))
        (corpus / f"copy-{k:02d}.txt").write_text(text, encoding="utf-8")


def generations(root: Path) -> set[str]:
    return {p.name for p in root.glob("gen-*")}


def write_atomically(path: Path, text: str) -> None:
    """Replace a corpus file the way editors do, so a build never reads it half-written."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def answer_from(index: Index, embedder, question: str) -> Answer:  # type: ignore[no-untyped-def]
    """Answer from one loaded generation as it is (``QA.ask`` would first rebuild it if the
    corpus had changed since)."""
    from qa.answer import rankers
    from qa.search.glossary import Glossary

    query = make_query(question, embedder.encode_query(question))
    answerer = Answerer(Glossary.general(), rankers.load(rankers.GENERAL))
    return answerer.answer(question, index, query, search(index, query, 3))


def test_incremental_build_counts_and_reuse(settings: Settings, embedder) -> None:
    first = build_index(settings, embedder)
    assert first.added == [ARTICLE] and first.embedded == first.chunks > 0 and first.full
    old = IndexStore(settings).load()

    (settings.corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    added = build_index(settings, embedder)
    assert (added.added, added.kept, added.changed, added.removed) == (
        ["extra.txt"], [ARTICLE], [], [])
    assert not added.full and added.reused == len(old) and 0 < added.embedded < len(old)
    assert "1 added, 0 changed, 0 removed, 1 kept" in added.summary()
    new = IndexStore(settings).load()
    assert new.generation == added.generation != old.generation
    # the unchanged file was not re-embedded: its vectors are bit for bit the old ones
    old_vec = {c.text: old.vectors[c.id] for c in old.chunks}
    for c in new.chunks:
        if c.source == ARTICLE:
            assert np.array_equal(new.vectors[c.id], old_vec[c.text])

    (settings.corpus_dir / "extra.txt").write_text(EXTRA.replace("星辰一号", "银河二号"),
                                                   encoding="utf-8")
    changed = build_index(settings, embedder)
    assert changed.changed == ["extra.txt"] and changed.kept == [ARTICLE]
    assert changed.embedded < changed.chunks

    (settings.corpus_dir / "extra.txt").unlink()
    removed = build_index(settings, embedder)
    assert removed.removed == ["extra.txt"] and removed.embedded == 0
    index = IndexStore(settings).load()
    assert {c.source for c in index.chunks} == {ARTICLE} and "extra.txt" not in index.files()

    again = build_index(settings, embedder)
    assert again.up_to_date and again.generation == removed.generation
    assert "index up to date" in again.summary() and again.kept == [ARTICLE]


def test_settings_change_forces_full_rebuild(settings: Settings, embedder, caplog) -> None:
    build_index(settings, embedder)
    for change in ({"chunk_size": 150}, {"chunk_overlap": 10}, {"model": "another-model"}):
        with pytest.raises(IndexMismatch, match=next(iter(change))):
            IndexStore(settings.with_(**change)).load()
    smaller = settings.with_(chunk_size=150)
    report = build_index(smaller, embedder)
    assert "chunk_size" in report.full and report.kept == [ARTICLE]
    index = IndexStore(smaller).load()
    assert index.manifest["chunk_size"] == 150
    assert max(c.end - c.start for c in index.chunks) <= 150
    # a long-lived QA with the old settings notices the mismatch, logs it and rebuilds
    engine = QA(settings, embedder=embedder)
    with caplog.at_level("WARNING", logger="qa"):
        answer = engine.ask(QUESTION)
    assert "chunk_size" in caplog.text and "rebuilding" in caplog.text
    assert answer.generation != report.generation and answer.passages


def test_answers_stay_whole_while_a_thread_rebuilds(settings: Settings, embedder) -> None:
    """Each round shifts every offset of the article (leading blank lines) and rebuilds; askers
    on other threads must get passages that all fit one version, the same for one generation."""
    article = (settings.corpus_dir / ARTICLE).read_text(encoding="utf-8")
    # every version's sentences differ too, so that each build embeds (cached texts would
    # make it a matter of milliseconds, over before any question)
    versions = {i: "\n" * i + (article.replace("。", f"（第{i}版）。") if i else article)
                for i in range(9)}
    engine = QA(settings, embedder=embedder)
    engine.build()
    built: dict[str, int] = {}
    building = threading.Event()
    done = threading.Event()
    answers: list[tuple[object, bool]] = []
    errors: list[BaseException] = []

    def builder() -> None:
        try:
            for i in range(1, 9):
                write_atomically(settings.corpus_dir / ARTICLE, versions[i])
                building.set()
                built[engine.build().generation] = i
                building.clear()
                time.sleep(0.3)  # builds of cached texts take milliseconds: let askers see it
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def asker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not done.is_set() or len(answers) < 30:
                during = building.is_set()
                answers.append((engine.ask(rng.choice(QUESTIONS)), during and building.is_set()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=builder)] + [
        threading.Thread(target=asker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    fits: dict[str, set[int]] = {}
    for answer, _ in answers:
        assert answer.generation and answer.passages
        ok = set(versions)
        for p in answer.passages:
            ok &= {i for i, v in versions.items() if v[p.start:p.end] == p.text}
        if answer.span:
            _, s, e = answer.span
            ok &= {i for i, v in versions.items() if v[s:e] == answer.text}
        assert ok, f"passages of one answer fit no single version: {answer.passages}"
        fits[answer.generation] = fits.get(answer.generation, ok) & ok
        assert fits[answer.generation], f"{answer.generation} answered from two versions"
    for generation, i in built.items():
        assert i in fits.get(generation, {i})
    assert len(fits) >= 3, "the askers should have seen several generations"
    assert any(during for _, during in answers), "no answer came back while a build ran"


def test_refresh_picks_up_a_generation_built_by_another_process(settings: Settings,
                                                                 embedder) -> None:
    engine = QA(settings, embedder=embedder)
    first = engine.build().generation
    (settings.corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    done = run_build(settings)
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout
    second = IndexStore(settings).current_name()
    assert second and second != first
    assert engine.refresh().generation == second  # same process, no restart
    answer = engine.ask("星辰一号芯片的主频是多少?")
    assert answer.generation == second and answer.passages[0].source == "extra.txt"


def _kill_when(proc: subprocess.Popen[str], root: Path, known: set[str], point: str,
               rng: random.Random) -> bool:
    """SIGKILL ``proc`` at ``point``; True if it was killed (not already finished)."""
    deadline = time.monotonic() + 300
    if point == "early":
        time.sleep(rng.uniform(0.3, 1.0))
    elif point == "embedding":
        time.sleep(rng.uniform(2.5, 5.0))
    else:  # "saving": a .tmp generation exists; "publishing": it was renamed into place
        while time.monotonic() < deadline and proc.poll() is None:
            names = generations(root) - known
            if point == "saving" and any(n.endswith(".tmp") for n in names):
                time.sleep(rng.uniform(0.0, 0.03))
                break
            if point == "publishing" and any(not n.endswith(".tmp") for n in names):
                break
            time.sleep(0.001)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode == -signal.SIGKILL


def test_sigkilled_builds_leave_a_working_index(settings: Settings, embedder) -> None:
    store = IndexStore(settings)
    previous = build_index(settings, embedder).generation
    copies(settings.corpus_dir, 40)  # a corpus big enough for a build to take a while
    rng = random.Random(20240611)
    killed = []
    for point in ("early", "embedding", "saving", "publishing"):
        known = generations(settings.index_dir)
        proc = start_build(settings, "--full")
        killed.append(_kill_when(proc, settings.index_dir, known, point, rng))
        current = store.current_name()
        new = {n for n in generations(settings.index_dir) - known if not n.endswith(".tmp")}
        assert current == previous or current in new, (point, current)
        index = store.load()  # loads and verifies the checksums
        answer = answer_from(index, embedder, QUESTION)
        assert answer.found and answer.generation == index.generation == current
        previous = current
    assert sum(killed) >= 3, f"kills that landed before the build finished: {killed}"
    done = run_build(settings, "--full")
    assert done.returncode == 0, done.stderr
    assert "full build (asked for)" in done.stdout
    # in a log: plain lines, a counted stage with its rate
    assert "qa build: embedding" in done.stderr and "chars/s" in done.stderr
    assert "\r" not in done.stderr
    assert not [n for n in generations(settings.index_dir) if n.endswith(".tmp")]
    assert store.current_name() in done.stdout
    assert len(store.load().files()) == 41


def _holds_lock(root: Path) -> bool:
    with (root / LOCK).open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def test_two_builds_do_not_interleave(settings: Settings, embedder) -> None:
    first = build_index(settings, embedder).generation
    copies(settings.corpus_dir, 4)
    root = settings.index_dir
    a = start_build(settings, "--full")
    deadline = time.monotonic() + 120
    while not _holds_lock(root):
        assert a.poll() is None and time.monotonic() < deadline, "build A never took the lock"
        time.sleep(0.05)
    b = run_build(settings, "--full", "--no-wait")
    assert b.returncode == 1
    assert "another build holds" in b.stderr and "--no-wait" in b.stderr
    assert "Traceback" not in b.stderr
    temps: list[int] = []
    c = start_build(settings, "--full")
    while a.poll() is None or c.poll() is None:
        temps.append(sum(n.endswith(".tmp") for n in generations(root)))
        time.sleep(0.002)
    out_a, err_a = a.communicate()
    out_c, err_c = c.communicate()
    assert a.returncode == 0 and c.returncode == 0, (err_a, err_c)
    assert "waiting for it to finish" in err_c
    gen_a, gen_c = out_a.split(": ")[1].split()[0], out_c.split(": ")[1].split()[0]
    assert first < gen_a < gen_c  # C started its generation only after A had published
    assert max(temps) <= 1, "two builds were writing generations at the same time"
    assert IndexStore(settings).current_name() == gen_c
    assert len(IndexStore(settings).load().files()) == 5


def test_build_shows_a_progress_bar_on_a_terminal(settings: Settings) -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "qa", "build"], cwd=PROJECT_ROOT,
                            env=env_for(settings), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(master)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, out
    assert "embedding" in out and "%|" in out and "chars/s" in out  # rate and time left
    assert "full build" in out


def test_cli_build_of_an_empty_corpus_says_so(tmp_path: Path) -> None:
    settings = Settings.from_env().with_(corpus_dir=tmp_path / "corpus",
                                         index_dir=tmp_path / "index")
    (tmp_path / "corpus").mkdir()
    done = run_build(settings)
    assert done.returncode == 1 and "nothing to index" in done.stderr
    assert "Traceback" not in done.stderr
    shutil.rmtree(tmp_path / "corpus")
