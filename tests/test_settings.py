"""Settings are checked when they are built: a bad ``QA_*`` value fails at start, naming the
variable, whichever command or shell starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import qa_env

from qa.config import PROJECT_ROOT, Settings
from qa.errors import BadSetting


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("QA_EMBED_QUANTIZE", "int4", "expected one of none, int8"),
    ("QA_READER_QUANTIZE", "fp16", "expected one of int8, none"),
    ("QA_PASSAGE_VECTORS", "mean", "expected one of derived, embedded"),
    ("QA_EMBED_BACKEND", "gpu", "expected one of onnx, torch"),
    ("QA_CHUNK_SIZE", "big", "is not an integer"),
    ("QA_CHUNK_SIZE", "0", "from 1 to"),
    ("QA_FOUND_THRESHOLD", "high", "is not a number"),
    ("QA_THREADS", "-2", "from 0 to"),
    ("GRADIO_SERVER_PORT", "99999", "from 0 to 65,535"),
])
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str,
                                        value: str, says: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadSetting, match=f"{variable}=.*{says}"):
        Settings.from_env()


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable, value in {"QA_EMBED_QUANTIZE": "NONE", "QA_CHUNK_SIZE": "300",
                            "QA_LOWERCASE": "yes", "QA_FOUND_THRESHOLD": "0.4",
                            "QA_CORPUS_DIR": str(tmp_path), "GRADIO_SERVER_PORT": "8000"}.items():
        monkeypatch.setenv(variable, value)
    s = Settings.from_env()
    assert (s.embed_quantize, s.chunk_size, s.lowercase, s.found_threshold, s.server_port) == \
        ("none", 300, True, 0.4, 8000)
    assert s.corpus_dir == tmp_path.resolve()


def test_settings_changed_in_code_are_checked_too() -> None:
    with pytest.raises(BadSetting, match="QA_EMBED_BACKEND='gpu'"):
        Settings().with_(embed_backend="gpu")
    with pytest.raises(BadSetting, match="QA_APP_WORKERS=0"):
        Settings(app_workers=0)


@pytest.mark.parametrize("argv", [["ask", "谁?"], ["serve"]])
def test_the_commands_fail_at_start_naming_the_variable(tmp_path: Path, argv: list[str]) -> None:
    env = qa_env(tmp_path) | {"QA_EMBED_QUANTIZE": "int4"}
    done = subprocess.run([sys.executable, "-m", "qa", *argv], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "QA_EMBED_QUANTIZE='int4'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
