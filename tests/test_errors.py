"""One error family (``qa.errors``): every error qa raises on purpose is a ``QAError`` of one
kind, with the builtin base callers relied on; one table gives every endpoint its status; a
store that is down is said plainly by the REST API, the chat and ``qa chat``, never a crash."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_settings, qa_env

from qa.bases import KbBusy, KbExists
from qa.config import PROJECT_ROOT, BadKbName, UnknownKb
from qa.errors import (
    BadInput,
    Busy,
    Conflict,
    NotFound,
    QAError,
    Unavailable,
    http_status,
    title,
)
from qa.serve.library import AlreadyExists, TooLarge, UnknownDocument, UnsafeName, UnsupportedType
from qa.serve.viewer import OutsideRoot, Unreadable
from qa.store.base import IndexCorrupt, IndexMissing, StoreUnavailable
from qa.store.embedded.builder import CorpusEmpty
from qa.store.embedded.generations import BuildBusy

DOWN = "milvus://127.0.0.1:1"  # nothing listens there


@pytest.mark.parametrize(("error", "status", "kind", "builtin"), [
    (BadKbName("kb 'a/b'"), 400, BadInput, ValueError),
    (UnknownKb("no knowledge base 'x'"), 404, NotFound, LookupError),
    (KbExists("legal exists"), 409, Conflict, FileExistsError),
    (KbBusy("legal is being built"), 409, Busy, RuntimeError),
    (UnsafeName("../a.txt", "a path"), 400, BadInput, ValueError),
    (UnsupportedType("a.exe", "unsupported type"), 415, BadInput, ValueError),
    (TooLarge("a.txt", "over the limit"), 413, BadInput, ValueError),
    (AlreadyExists("a.txt", "exists"), 409, Conflict, ValueError),
    (UnknownDocument("a.txt", "no such document"), 404, NotFound, LookupError),
    (OutsideRoot("../a", "a path outside"), 400, BadInput, ValueError),
    (Unreadable("a.txt", "does not decode"), 422, BadInput, ValueError),
    (CorpusEmpty("nothing to index"), 409, Conflict, RuntimeError),
    (BuildBusy("another build holds index/.lock"), 409, Busy, RuntimeError),
    (StoreUnavailable(f"cannot reach Milvus at {DOWN}"), 503, Unavailable, ConnectionError),
    (IndexMissing("no index (run `qa build`)"), 503, Unavailable, Exception),
    (IndexCorrupt("manifest garbled"), 503, Unavailable, Exception),
])
def test_each_error_has_one_kind_one_status_and_its_builtin(
        error: QAError, status: int, kind: type[QAError], builtin: type[Exception]) -> None:
    assert isinstance(error, kind) and isinstance(error, builtin)
    assert http_status(error) == status
    assert title(error) and str(error)


SHELLS = [*(PROJECT_ROOT / "qa" / "serve").glob("*.py"), PROJECT_ROOT / "qa" / "cli.py",
          PROJECT_ROOT / "app.py"]
#: handlers of builtin errors that wrap no call into qa: (file, function)
ALLOWED = {("library.py", "documents"),  # os.stat of a corpus file
           ("library.py", "write"),  # os.link refusing a name taken meanwhile
           ("api.py", "is_loopback"),  # ipaddress.ip_address
           ("viewer.py", "append_feedback")}  # os calls, said as Unavailable
BUILTINS = {"ValueError", "OSError", "LookupError", "ConnectionError", "RuntimeError",
            "FileExistsError", "KeyError"}


def test_the_shells_catch_qa_errors_not_builtins() -> None:
    found = []
    for path in SHELLS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ExceptHandler) and node.type is not None:
                    names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                    if names & BUILTINS and (path.name, func.name) not in ALLOWED:
                        found.append(f"{path.name}:{node.lineno} {func.name}: {sorted(names)}")
    assert not found, found


def test_rest_says_a_store_that_is_down_as_503(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api
    from qa.service import QA

    (tmp_path / "corpus").mkdir()
    client = TestClient(create_api(QA(make_settings(tmp_path, store=DOWN))))
    for path, body in (("/v1/ask", {"question": "微软投资了多少钱?"}),
                       ("/v1/search", {"question": "微软", "lexical": True})):
        r = client.post(path, json=body)
        assert r.status_code == 503 and DOWN in r.json()["error"], r.text
    r = client.get("/v1/documents")
    assert r.status_code == 503 and DOWN in r.json()["error"]
    assert client.post("/v1/ask", json={"question": " "}).status_code == 400
    assert client.post("/v1/kbs/nope/ask", json={"question": "谁?"}).status_code == 404
    assert client.post("/v1/kbs", json={"name": "a/b"}).status_code == 400


def test_the_chat_says_a_store_that_is_down(tmp_path: Path) -> None:
    from qa.bases import Bases
    from qa.serve.app import ask_base
    from qa.service import QA

    (tmp_path / "corpus").mkdir()
    bases = Bases(default=QA(make_settings(tmp_path, store=DOWN)))
    chat, record = ask_base("微软投资了多少钱?", [], bases)
    assert record is None
    assert "知识库暂时不可用" in chat[-1]["content"]
    assert "cannot reach Milvus" in chat[-1]["content"]
    chat, _ = ask_base("", [], bases)
    assert "无法回答这个问题" in chat[-1]["content"]


def test_the_knowledge_base_tab_shows_a_store_that_is_down(tmp_path: Path) -> None:
    from qa.serve.kb_tab import documents_table, index_line
    from qa.serve.library import Library

    settings = make_settings(tmp_path, store=DOWN)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("一句话。", encoding="utf-8")
    library = Library(settings)
    assert "知识库暂时不可用" in index_line(library)
    [row] = documents_table(library)
    assert row[0] == "a.txt" and "cannot reach Milvus" in row[5]


def test_qa_chat_goes_on_when_the_store_is_down(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    env = qa_env(tmp_path) | {"QA_STORE": DOWN}
    done = subprocess.run([sys.executable, "-m", "qa", "chat"], input="微软投资了多少钱?\n谁?\n",
                          env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("知识库暂时不可用") == 2 and DOWN in done.stderr


@pytest.mark.parametrize(("argv", "says"), [
    (["eval", "--squad", "/nonexistent/set.json"], "not a SQuAD-format file"),
    (["eval", "--questions", "/nonexistent/q.jsonl"], "no such question file"),
    (["eval", "--feedback", "/nonexistent/f.jsonl"], "no such feedback file"),
    (["ask", "谁?", "--kb", "nope"], "no knowledge base 'nope'"),
    (["search", "谁?", "--kb", "a/b"], "knowledge base name 'a/b'"),
])
def test_the_command_says_bad_input_in_one_line(tmp_path: Path, argv: list[str],
                                                says: str) -> None:
    (tmp_path / "corpus").mkdir()
    done = subprocess.run([sys.executable, "-m", "qa", *argv], env=qa_env(tmp_path),
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and f"qa {argv[0]}: " in done.stderr, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


def test_an_index_folder_that_cannot_be_written_is_said_plainly(tmp_path: Path) -> None:
    """``QA_INDEX_DIR`` naming a file: ``qa build`` says where it could not write (exit 1)."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("一句话。\n", encoding="utf-8")
    (tmp_path / "index").write_text("not a folder", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "qa", "build"], env=qa_env(tmp_path),
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"qa build: cannot write the index in {tmp_path / 'index'}" in done.stderr
