# Madoguchi — the only commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
DOCS   ?= examples/manuals

.PHONY: setup run serve ingest test test-fast lint train eval bench clean

# Idempotent: re-installs only when pyproject.toml changed since the last successful setup.
setup: $(VENV)/.setup-stamp
$(VENV)/.setup-stamp: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU build of torch first (a bare `torch` requirement would pull the multi-GB CUDA build).
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $@

ingest: setup
	$(VENV)/bin/madoguchi ingest $(DOCS) --prune

run: setup ingest
	$(VENV)/bin/madoguchi serve --host $(HOST) --port $(PORT)

# The core and review suites run a second time on a Chroma server + PostgreSQL (tests/servers.py starts both).
SERVER_SUITES = $(wildcard tests/test_core*.py tests/test_querylog*.py tests/test_stats*.py tests/test_faq*.py tests/test_console*.py)

test: setup
	$(PY) -m pytest -q -ra
	$(PY) -m pytest -q -ra --stores=server $(SERVER_SUITES)

# The fast tier: pure logic and real small parts (embedded Chroma, SQLite, Sudachi, the hashing embedder); no model,
# no server, no browser (markers in pyproject.toml, assigned in tests/conftest.py). Under a minute.
test-fast: setup
	$(PY) -m pytest -q -ra -m "not slow and not browser and not server"

# Lint, format and types on the code that ships (configured in pyproject.toml).
lint: setup
	$(VENV)/bin/ruff check app ingest eval
	$(VENV)/bin/ruff format --check app ingest eval
	$(VENV)/bin/mypy

# Fit the query adapter, the ranker and the confidence model on our own training data (eval/training/); writes
# app/retrieval/models/ and eval/training/REPORT.md. Same data, same bytes.
train: setup
	$(PY) -m eval.train

# Unseen evaluation sets (never fitted on) and our own Japanese FAQ retrieval benchmark; numbers go to eval/RESULTS.md.
eval: setup
	$(VENV)/bin/madoguchi eval retrieval eval/bench-ja-faq --ablation
	$(VENV)/bin/madoguchi eval qa --docs ../shared/corpora/ja-tuqulore-handbook --questions ../shared/eval/ja-tuqulore-qa.jsonl
	$(VENV)/bin/madoguchi eval qa --docs ../shared/corpora/en-18f-handbook --questions ../shared/eval/en-18f-qa.jsonl

bench: setup
	$(VENV)/bin/madoguchi bench

clean:
	rm -rf $(VENV) data .pytest_cache
