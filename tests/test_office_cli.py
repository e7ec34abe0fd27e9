"""``qa build`` over a corpus of Word, Excel, CSV and PowerPoint files with the bad ones of
test_bad_office.py among them: the build succeeds, names every bad file with its reason, and
a search finds a table row with the offsets of the document qa reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bad_office import make_bad_office
from test_cli import run_qa

from qa.ingest.corpus import read_document

pytestmark = pytest.mark.slow
FORMATS = Path(__file__).parent / "data" / "formats"


def test_build_skips_bad_office_files_by_name_and_indexes_the_rest(tmp_path: Path,
                                                                   monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    monkeypatch.setenv("QA_MAX_UNZIPPED_BYTES", "20000000")  # run_qa passes the environment on
    monkeypatch.setenv("QA_MAX_SHEET_ROWS", "1000")
    expected = make_bad_office(corpus)
    for name in ("policy-travel.docx", "price-list.xlsx", "staff-roster.csv",
                 "manual-aircon.pptx"):
        shutil.copy(FORMATS / name, corpus / name)
    proc = run_qa("build", root=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"files: 7 added, 0 changed, 0 removed, 0 kept, {len(expected)} skipped" in out, out
    for name, reason in expected.items():
        assert f"skipped {name}: " in out and reason in out, (name, out)

    search = run_qa("search", "X-200激光打印机单价", "-k", "3", "--json", "--lexical",
                    root=tmp_path)
    assert search.returncode == 0, search.stderr
    passages = json.loads(search.stdout)
    top = passages[0]
    assert top["source"] == "price-list.xlsx" and "单价：1,280元" in top["text"]
    doc = read_document(corpus, "price-list.xlsx", 10**8)
    assert doc.text[top["start"]:top["end"]] == top["text"]
    assert doc.place_at(top["start"]) == "工作表「报价单」第3行"
