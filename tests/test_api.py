"""The REST API (qa/api.py) on a real engine over a copy of the corpus and its index, through
FastAPI's TestClient; and app.py as a real server: it refuses to bind beyond loopback without
QA_API_TOKEN, and with one its writes need the bearer token."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings, qa_env

from qa.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

HEADLINE = "微软2019年向OpenAI投资了多少钱?"
TOKEN = "s3cret-token-for-tests"
CAFE = "量子猫公司于2031年在火星成立了第一家咖啡馆,首任店长名叫李四。\n".encode()
CAFE_QUESTION = "量子猫公司火星咖啡馆的首任店长叫什么?"


def copy_project(shared_qa, root: Path) -> Path:
    shutil.copytree(shared_qa.settings.corpus_dir, root / "corpus")
    shutil.copytree(shared_qa.settings.index_dir, root / "index",
                    ignore=shutil.ignore_patterns(".lock", "*.tmp"))
    return root


@pytest.fixture(scope="module")
def engine(tmp_path_factory, shared_qa, embedder):
    from qa.service import QA

    root = copy_project(shared_qa, tmp_path_factory.mktemp("api"))
    return QA(make_settings(root), embedder=embedder)


@pytest.fixture(scope="module")
def client(engine):
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api

    return TestClient(create_api(engine))


@pytest.fixture(scope="module")
def locked(tmp_path_factory, shared_qa, embedder):
    """A client of an API with a token and a 4,000-byte file limit, over its own copy."""
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api
    from qa.service import QA

    root = copy_project(shared_qa, tmp_path_factory.mktemp("api-locked"))
    settings = make_settings(root, api_token=TOKEN, max_file_bytes=4000)
    engine = QA(settings, embedder=embedder)
    client = TestClient(create_api(engine))
    client.engine = engine  # type: ignore[attr-defined]
    return client


def files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def corpus_listing(engine) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return {p.name: p.read_bytes() for p in engine.settings.corpus_dir.iterdir() if p.is_file()}


# -- questions -----------------------------------------------------------------------------


def test_ask_returns_the_answer_fields(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/ask", json={"question": HEADLINE, "k": 2})
    assert r.status_code == 200
    a = r.json()
    assert a["found"] is True and "10亿美元" in a["text"]
    assert set(a) >= {"question", "found", "text", "passages", "confidence", "span",
                      "generation", "short", "short_span"}
    assert 1 <= len(a["passages"]) <= 2
    source, start, end = a["span"]
    text = (PROJECT_ROOT / "corpus" / source).read_text(encoding="utf-8")
    assert text[start:end] == a["text"]
    p = a["passages"][0]
    assert text[p["start"]:p["end"]] == p["text"] and "字符" in p["citation"]


def test_ask_follow_up_uses_history(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/ask", json={"question": "那2021年呢?", "history": [HEADLINE]})
    assert r.status_code == 200 and "20亿美元" in r.json()["text"]


@pytest.mark.parametrize(("body", "why"), [
    ({"question": ""}, "empty"),
    ({"question": "   \x00 "}, "empty"),
    ({"question": "问" * 1001}, "limit"),
    ({"question": HEADLINE, "k": 0}, "k must be"),
    ({"question": HEADLINE, "k": 21}, "k must be"),
    ({"question": HEADLINE, "k": "3"}, "k"),
    ({"question": HEADLINE, "k": True}, "k"),
    ({"question": 42}, "question"),
    ({}, "question"),
    ({"question": HEADLINE, "history": "微软"}, "history"),
])
def test_ask_bad_requests_are_400(client, body: dict, why: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/ask", json=body)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error"} and why in r.json()["error"]


def test_ask_body_that_is_no_json_is_400(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


def test_search_returns_cited_passages(client) -> None:  # type: ignore[no-untyped-def]
    for lexical in (False, True):
        r = client.post("/v1/search", json={"question": HEADLINE, "k": 3, "lexical": lexical})
        assert r.status_code == 200
        passages = r.json()["passages"]
        assert len(passages) == 3 and "10亿美元" in passages[0]["text"]
        assert all(p["citation"].startswith(f"[{i}]") for i, p in enumerate(passages, 1))
    r = client.post("/v1/search", json={"question": HEADLINE, "k": 99})
    assert r.status_code == 400 and "k must be" in r.json()["error"]


def test_unknown_route_is_a_json_404(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and set(r.json()) == {"error"}


def test_openapi_docs(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{name}",
            "/v1/build"} <= set(paths)


# -- documents -------------------------------------------------------------------------------


def test_documents_list_the_corpus(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/documents")
    assert r.status_code == 200
    body = r.json()
    assert body["generation"].startswith("gen-")
    doc = next(d for d in body["documents"] if d["name"] == "microsoft-openai.txt")
    assert doc["status"] == "indexed" and doc["encoding"] == "utf-8"
    assert doc["size"] == (PROJECT_ROOT / "corpus" / "microsoft-openai.txt").stat().st_size
    assert doc["paragraphs"] >= 10


def test_upload_build_ask_delete(client, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/documents", files=files(("cafe.txt", CAFE)))
    assert r.status_code == 201, r.text
    assert r.json() == {"added": ["cafe.txt"], "replaced": []}
    statuses = {d["name"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}
    assert statuses["cafe.txt"] == "new"

    r = client.post("/v1/build")
    assert r.status_code == 200, r.text
    assert r.json()["report"]["added"] == ["cafe.txt"] and "1 added" in r.json()["summary"]
    statuses = {d["name"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}
    assert statuses == {"cafe.txt": "indexed", "microsoft-openai.txt": "indexed"}
    a = client.post("/v1/ask", json={"question": CAFE_QUESTION}).json()
    assert a["found"] and "李四" in a["text"] and a["span"][0] == "cafe.txt"

    r = client.post("/v1/documents", files=files(("cafe.txt", "改了。".encode())))
    assert r.status_code == 409 and "replace" in r.json()["error"]
    r = client.post("/v1/documents", files=files(("cafe.txt", CAFE + "又一句。".encode())),
                    data={"replace": "true"})
    assert r.status_code == 201 and r.json()["replaced"] == ["cafe.txt"]

    r = client.delete("/v1/documents/cafe.txt")
    assert r.status_code == 200 and r.json() == {"deleted": "cafe.txt"}
    assert client.delete("/v1/documents/cafe.txt").status_code == 404
    statuses = {d["name"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}
    assert statuses == {"cafe.txt": "removed", "microsoft-openai.txt": "indexed"}
    assert client.post("/v1/build").json()["report"]["removed"] == ["cafe.txt"]


@pytest.mark.parametrize(("items", "status", "named"), [
    ((("../../etc/x.txt", CAFE),), 400, "../../etc/x.txt"),
    (((".hidden.txt", CAFE),), 400, ".hidden.txt"),
    ((("bin.txt", b"\x00\x01\x02" * 40),), 415, "bin.txt"),
    ((("fake.pdf", CAFE),), 415, "fake.pdf"),
    ((("tool.exe", b"MZ" + b"\x00" * 40),), 415, "tool.exe"),
    ((("big.txt", "长".encode() * 2000),), 413, "big.txt"),
    ((("ok.txt", CAFE), ("bin.txt", b"\x00" * 40)), 415, "bin.txt"),
    ((("ok.txt", CAFE), ("docs/ok.txt", CAFE)), 409, "ok.txt"),
    ((("microsoft-openai.txt", CAFE),), 409, "microsoft-openai.txt"),
], ids=["traversal", "hidden", "binary-txt", "fake-pdf", "exe", "too-large", "one-bad-of-two",
        "twice", "exists"])
def test_refused_uploads_write_nothing(locked, items, status: int, named: str) -> None:  # type: ignore[no-untyped-def]
    before_files = corpus_listing(locked.engine)
    before = {d["name"] for d in locked.get("/v1/documents").json()["documents"]}
    r = locked.post("/v1/documents", files=files(*items),
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == status, r.text
    body = r.json()
    assert named in body["error"] and any(x["name"] == named for x in body["rejected"])
    assert {d["name"] for d in locked.get("/v1/documents").json()["documents"]} == before
    assert corpus_listing(locked.engine) == before_files


def test_a_request_over_the_upload_limit_is_refused_before_it_is_read(locked) -> None:  # type: ignore[no-untyped-def]
    r = locked.post("/v1/documents", files=files(("huge.txt", b"a" * 1_300_000)),
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_too_many_files_at_once(locked) -> None:  # type: ignore[no-untyped-def]
    many = files(*[(f"f{i}.txt", CAFE) for i in range(21)])
    r = locked.post("/v1/documents", files=many, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and "at most 20" in r.json()["error"]


def test_delete_of_unknown_or_outside_names_is_404(client, engine) -> None:  # type: ignore[no-untyped-def]
    before = corpus_listing(engine)
    for name in ["nothing.txt", "../index/CURRENT", "..%2Findex%2FCURRENT", "%2Fetc%2Fpasswd"]:
        r = client.delete(f"/v1/documents/{name}")
        assert r.status_code == 404, (name, r.text)
        assert "error" in r.json()
    assert corpus_listing(engine) == before
    assert (engine.settings.index_dir / "CURRENT").exists()


def test_build_busy_is_409(client, engine) -> None:  # type: ignore[no-untyped-def]
    from qa.store.embedded.generations import IndexStore

    with IndexStore(engine.settings).lock():
        r = client.post("/v1/build")
    assert r.status_code == 409 and "another build" in r.json()["error"]


def test_questions_are_answered_from_the_old_index_while_a_build_runs(client, engine) -> None:  # type: ignore[no-untyped-def]
    """A question that finds the corpus changed while another build holds the lock is answered
    at once from the index in memory, not after that build."""
    from qa.store.embedded.generations import IndexStore

    generation = client.post("/v1/ask", json={"question": HEADLINE}).json()["generation"]
    (engine.settings.corpus_dir / "late.txt").write_text("迟到的文章。\n", encoding="utf-8")
    try:
        with IndexStore(engine.settings).lock():  # as another process's build would
            started = time.monotonic()
            a = client.post("/v1/ask", json={"question": HEADLINE}).json()
            assert time.monotonic() - started < 30
        assert a["found"] and a["generation"] == generation
        after = client.post("/v1/ask", json={"question": HEADLINE}).json()
        assert after["generation"] != generation, "once the lock is free the change is built"
    finally:
        (engine.settings.corpus_dir / "late.txt").unlink()
        client.post("/v1/build")


# -- the token ---------------------------------------------------------------------------------


def test_with_a_token_writes_need_it(locked) -> None:  # type: ignore[no-untyped-def]
    upload = files(("token.txt", CAFE))
    r = locked.post("/v1/documents", files=upload)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in r.json()["error"]
    r = locked.post("/v1/documents", files=upload, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403 and r.json() == {"error": "wrong token"}
    r = locked.post("/v1/documents", files=upload, headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401
    for method, path in [("delete", "/v1/documents/token.txt"), ("post", "/v1/build")]:
        assert getattr(locked, method)(path).status_code == 401
        assert getattr(locked, method)(path, headers={"Authorization": "Bearer x"}).status_code \
            == 403
    assert locked.get("/v1/documents").status_code == 200  # reads stay open
    assert locked.post("/v1/ask", json={"question": HEADLINE}).status_code == 200
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert locked.post("/v1/documents", files=upload, headers=ok).status_code == 201
    assert locked.delete("/v1/documents/token.txt", headers=ok).status_code == 200


def test_exposure_rule() -> None:
    from qa.config import Settings
    from qa.serve.api import UnsafeExposure, check_exposure, is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "example.com", ""]))
    check_exposure(Settings(server_name="127.0.0.1"))
    check_exposure(Settings(server_name="0.0.0.0", api_token=TOKEN))
    with pytest.raises(UnsafeExposure, match="QA_API_TOKEN"):
        check_exposure(Settings(server_name="0.0.0.0"))


# -- app.py as a real server -------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_app_refuses_to_bind_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    env = qa_env(tmp_path) | {"GRADIO_SERVER_NAME": "0.0.0.0",
                              "GRADIO_SERVER_PORT": str(free_port())}
    env.pop("QA_API_TOKEN", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr and "QA_API_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "index").exists(), "nothing was built before refusing"


@pytest.fixture
def exposed_server(tmp_path: Path, shared_qa) -> Iterator[str]:
    """app.py bound to 0.0.0.0 with a token, over a copy of the project; yields a loopback URL."""
    import urllib.request

    root = copy_project(shared_qa, tmp_path)
    port = free_port()
    env = qa_env(root) | {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port),
                          "QA_API_TOKEN": TOKEN, "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (root / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()
            try:
                with urllib.request.urlopen(url + "/v1/documents", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, (root / "server.log").read_text()
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_exposed_server_needs_the_token_for_writes(exposed_server: str) -> None:
    import httpx

    with httpx.Client(base_url=exposed_server, timeout=120) as http:
        assert http.get("/").status_code == 200  # the Gradio app
        assert http.get("/docs").status_code == 200
        upload = files(("cafe.txt", CAFE))
        assert http.post("/v1/documents", files=upload).status_code == 401
        assert http.post("/v1/documents", files=upload,
                         headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = {"Authorization": f"Bearer {TOKEN}"}
        assert http.post("/v1/documents", files=upload, headers=ok).status_code == 201
        assert http.post("/v1/build").status_code == 401
        r = http.post("/v1/build", headers=ok)
        assert r.status_code == 200 and r.json()["report"]["added"] == ["cafe.txt"]
        a = http.post("/v1/ask", json={"question": CAFE_QUESTION}).json()
        assert a["found"] and "李四" in a["text"]
