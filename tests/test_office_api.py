"""REST upload of the new types (issue 22): a Word file and a spreadsheet are accepted, built,
searched and asked (a row's cell as the short answer, a row that does not exist refused),
their cited span viewable with its place; truncated, password-protected and
zip-bomb Office files and a fake image are refused (415) naming the file, writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings
from test_api import copy_project, files
from test_bad_office import encrypted, good_files, with_part

pytestmark = pytest.mark.slow
FORMATS = Path(__file__).parent / "data" / "formats"


@pytest.fixture(scope="module")
def client(tmp_path_factory, shared_qa, embedder):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.serve.api import create_api
    from qa.service import QA

    root = copy_project(shared_qa, tmp_path_factory.mktemp("office-api"))
    return TestClient(create_api(QA(make_settings(root), embedder=embedder)))


def test_office_files_upload_build_and_cite(client) -> None:  # type: ignore[no-untyped-def]
    price = (FORMATS / "price-list.xlsx").read_bytes()
    travel = (FORMATS / "policy-travel.docx").read_bytes()
    r = client.post("/v1/documents", files=files(("price-list.xlsx", price),
                                                 ("policy-travel.docx", travel)))
    assert r.status_code == 201, r.text
    r = client.post("/v1/build")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["report"]["added"]) == ["policy-travel.docx", "price-list.xlsx"]
    hits = client.post("/v1/search", json={"question": "P-900投影仪的库存", "k": 3}).json()
    top = hits["passages"][0]
    assert top["source"] == "price-list.xlsx" and "库存：7" in top["text"]
    view = client.get(f"/v1/documents/price-list.xlsx?start={top['start']}&end={top['end']}")
    assert view.status_code == 200, view.text
    assert view.json()["span"]["text"] == top["text"]
    assert view.json()["span"]["place"] == "工作表「报价单」第6行"
    answer = client.post("/v1/ask", json={"question": "P-900投影仪的库存是多少?"}).json()
    assert answer["found"] and answer["short"] == "7" and answer["span"][0] == "price-list.xlsx"
    assert answer["text"].startswith("型号：P-900；名称：投影仪；")  # the row is the sentence
    crossing = client.post("/v1/ask", json={"question": "二类城市部门经理的住宿费限额是多少?"}).json()
    assert crossing["found"] and crossing["short"] == "520"
    missing = client.post("/v1/ask", json={"question": "Z-999型号的单价是多少?"}).json()
    assert not missing["found"]


@pytest.mark.parametrize(("name", "kind", "why"), [
    ("cut.docx", "truncated", "corrupt or truncated Word document"),
    ("locked.xlsx", "encrypted", "password-protected"),
    ("bomb.pptx", "bomb", "over the 20,000,000-byte limit (QA_MAX_UNZIPPED_BYTES)"),
    ("photo.png", "fake", "not a PNG image"),
])
def test_bad_office_uploads_are_refused_by_name(client, monkeypatch, name: str, kind: str,  # type: ignore[no-untyped-def]
                                               why: str) -> None:
    monkeypatch.setenv("QA_MAX_UNZIPPED_BYTES", "20000000")
    good = good_files()
    data = {"truncated": good["good.docx"][:3000], "encrypted": encrypted(good["good.xlsx"]),
            "bomb": with_part(good["good.pptx"], "ppt/media/zeros.bin", b"\0" * 30_000_000),
            "fake": b"GIF89a" + b"\0" * 100}[kind]
    before = {d["name"] for d in client.get("/v1/documents").json()["documents"]}
    r = client.post("/v1/documents", files=files((name, data)))
    assert r.status_code == 415, r.text
    assert name in r.json()["error"] and why in r.json()["error"]
    assert {d["name"] for d in client.get("/v1/documents").json()["documents"]} == before
