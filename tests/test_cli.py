"""``python -m qa``: help, build summaries, JSON answers and clear errors, as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import qa_env

from qa.config import PROJECT_ROOT

HEADLINE = "微软2019年向OpenAI投资了多少钱?"
PASSAGE_KEYS = {"text", "source", "start", "end", "score", "citation"}


def run_qa(*args: str, root: Path | None = None, timeout: float = 300
           ) -> subprocess.CompletedProcess[str]:
    env = qa_env(root) if root else qa_env(PROJECT_ROOT / "tests" / "no-such-project")
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def test_help() -> None:
    proc = run_qa("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("build", "ask", "search", "eval", "serve"):
        assert command in proc.stdout
    ask = run_qa("ask", "--help")
    assert ask.returncode == 0 and "--json" in ask.stdout and "-k" in ask.stdout


def test_no_command_is_a_usage_error() -> None:
    proc = run_qa()
    assert proc.returncode == 2
    assert "usage" in proc.stderr.lower()


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_ask_empty_question_fails_clearly(question: str, tmp_path: Path) -> None:
    proc = run_qa("ask", question, root=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "qa ask" in proc.stderr and "empty" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "index").exists(), "an empty question must not build an index"


def test_ask_bad_k_and_too_long_question_fail_clearly(tmp_path: Path) -> None:
    proc = run_qa("ask", HEADLINE, "-k", "0", root=tmp_path)
    assert proc.returncode != 0 and "k must be" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_qa("ask", "问" * 5000, root=tmp_path)
    assert proc.returncode != 0 and "limit" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_qa("ask", HEADLINE, "-k", "three", root=tmp_path)
    assert proc.returncode == 2 and "invalid int value" in proc.stderr


@pytest.mark.slow
def test_build_prints_a_summary_with_counts(project: Path) -> None:
    proc = run_qa("build", root=project)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"full build .*: gen-", out), out
    assert "files: 1 added, 0 changed, 0 removed, 0 kept, 0 skipped" in out
    m = re.search(r"chunks: (\d+) \((\d+) embedded, (\d+) reused\)", out)
    assert m, out
    chunks, embedded, reused = map(int, m.groups())
    assert chunks > 5 and embedded == chunks and reused == 0
    current = (project / "index" / "CURRENT").read_text(encoding="utf-8").strip()
    assert current in out

    again = run_qa("build", root=project)
    assert again.returncode == 0, again.stderr
    assert "index up to date" in again.stdout and current in again.stdout
    assert f"chunks: {chunks} (0 embedded, {chunks} reused)" in again.stdout

    (project / "corpus" / "cafe.txt").write_text(
        "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。\n", encoding="utf-8")
    (project / "corpus" / "broken.txt").write_bytes(b"abc\xff\xfa\xff" * 10)
    third = run_qa("build", root=project)
    assert third.returncode == 0, third.stderr
    assert "incremental build" in third.stdout
    assert "files: 1 added, 0 changed, 0 removed, 1 kept, 1 skipped" in third.stdout
    assert "skipped broken.txt: " in third.stdout
    m = re.search(r"chunks: (\d+) \((\d+) embedded, (\d+) reused\)", third.stdout)
    assert m and int(m[1]) == chunks + 1 and int(m[2]) == 1 and int(m[3]) == chunks


@pytest.mark.slow
def test_build_of_an_empty_corpus_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    proc = run_qa("build", root=tmp_path)
    assert proc.returncode == 1
    assert "qa build: nothing to index" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()


@pytest.mark.slow
def test_ask_json(prebuilt: Path) -> None:
    proc = run_qa("ask", HEADLINE, "--json", "-k", "4", root=prebuilt)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"question", "found", "text", "passages"} <= set(data)
    assert data["question"] == HEADLINE
    assert data["found"] is True and isinstance(data["text"], str) and data["text"]
    assert 1 <= len(data["passages"]) <= 4
    text = (prebuilt / "corpus" / "microsoft-openai.txt").read_text(encoding="utf-8")
    for p in data["passages"]:
        assert set(p) >= PASSAGE_KEYS
        assert isinstance(p["start"], int) and isinstance(p["end"], int)
        assert isinstance(p["score"], float)
        assert text[p["start"]:p["end"]] == p["text"]
        assert f"{p['start']}–{p['end']}" in p["citation"]
    assert any("10亿美元" in p["text"] for p in data["passages"][:3])
    # the answer is read from the tmp copy: the index there was used, not rebuilt elsewhere
    assert data["generation"] == (prebuilt / "index" / "CURRENT").read_text().strip()


@pytest.mark.slow
def test_ask_plain_text_with_history(prebuilt: Path) -> None:
    proc = run_qa("ask", "那2021年呢?", "--history", HEADLINE, root=prebuilt)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].strip()
    citations = [line for line in lines if line.startswith("[")]
    assert len(citations) == 3
    assert all("microsoft-openai.txt" in c and "第" in c and "段" in c for c in citations)
    assert "20亿美元" in proc.stdout


@pytest.mark.parametrize("lexical", [True, False])
def test_search_prints_cited_passages(prebuilt: Path, lexical: bool) -> None:
    extra = ["--lexical"] if lexical else []
    proc = run_qa("search", "ChatGPT服务每天的成本是多少?", "-k", "2", "--json", *extra,
                  root=prebuilt)
    assert proc.returncode == 0, proc.stderr
    passages = json.loads(proc.stdout)
    assert len(passages) == 2 and set(passages[0]) >= PASSAGE_KEYS
    text = (prebuilt / "corpus" / "microsoft-openai.txt").read_text(encoding="utf-8")
    for p in passages:
        assert text[p["start"]:p["end"]] == p["text"]
    assert "70万美元" in passages[0]["text"]
    plain = run_qa("search", "ChatGPT服务每天的成本是多少?", *extra, root=prebuilt)
    assert plain.returncode == 0 and plain.stdout.startswith("[1] microsoft-openai.txt · 第")


def test_lexical_search_loads_no_model(prebuilt: Path) -> None:
    """The BM25-only path: no onnxruntime, torch or gradio import, no model load."""
    code = ("import sys; from qa.cli import main; rc = main(['search', '--lexical', "
            "'微软2019年向OpenAI投资了多少钱?']); print(rc, sorted(m for m in ('onnxruntime', "
            "'torch', 'sentence_transformers', 'transformers', 'gradio') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=qa_env(prebuilt),
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []"
    assert "10亿美元" in proc.stdout


def test_lexical_search_without_an_index_says_to_build(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    proc = run_qa("search", "--lexical", "微软", root=tmp_path)
    assert proc.returncode == 1 and "qa build" in proc.stderr and "Traceback" not in proc.stderr
