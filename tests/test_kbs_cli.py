"""``qa … --kb``: build, ask, search and chat of another knowledge base, and of every base."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import qa_env
from test_api import CAFE, CAFE_QUESTION, HEADLINE
from test_cli import run_qa

from qa.config import PROJECT_ROOT


@pytest.mark.slow
def test_build_ask_search_chat_of_a_base(prebuilt: Path) -> None:
    corpus = prebuilt / "kbs" / "legal" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "cafe.txt").write_bytes(CAFE)
    proc = run_qa("build", "--kb", "legal", root=prebuilt)
    assert proc.returncode == 0 and "1 added" in proc.stdout, proc.stderr
    assert (prebuilt / "kbs" / "legal" / "index" / "CURRENT").is_file()

    proc = run_qa("ask", CAFE_QUESTION, "--kb", "legal", "--json", root=prebuilt)
    assert proc.returncode == 0, proc.stderr
    a = json.loads(proc.stdout)
    assert a["found"] and a["kb"] == "legal" and a["span"][0] == "cafe.txt"
    assert {p["kb"] for p in a["passages"]} == {"legal"}

    proc = run_qa("search", HEADLINE, "--kb", "*", "--lexical", "--json", "-k", "3",
                  root=prebuilt)
    assert proc.returncode == 0, proc.stderr
    passages = json.loads(proc.stdout)
    assert passages[0]["kb"] == "default" and passages[0]["citation"].startswith(
        "[1] default/microsoft-openai.txt")

    proc = run_qa("ask", CAFE_QUESTION, "--kb", "*", root=prebuilt)
    assert proc.returncode == 0 and "李四" in proc.stdout and "legal/cafe.txt" in proc.stdout

    chat = subprocess.run([sys.executable, "-m", "qa", "chat", "--kb", "legal", "--json"],
                          cwd=PROJECT_ROOT, env=qa_env(prebuilt), input=CAFE_QUESTION + "\n",
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout.splitlines()[0])["kb"] == "legal"


@pytest.mark.parametrize(("command", "kb", "says"), [
    ("ask", "../etc", "'../etc'"), ("search", "nothing", "no knowledge base 'nothing'"),
    ("build", "*", "'*'"), ("build", "nothing", "'nothing'"), ("eval", ".x", "'.x'")])
def test_bad_or_unknown_bases_fail_clearly(tmp_path: Path, command: str, kb: str,
                                           says: str) -> None:
    args = [command, "问题"] if command in ("ask", "search") else [command]
    proc = run_qa(*args, "--kb", kb, root=tmp_path)
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "index").exists()
