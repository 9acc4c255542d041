# Two entry points: `make demo` and `make test`. Both install into .venv/ first (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo
CAMPAIGN ?= campaigns/spring-sale/campaign.csv

.PHONY: install demo test test-fast bench clean

install: $(STAMP)

# torch first, from the local CPU wheel: any other torch spec pulls GBs of CUDA wheels.
# Re-runs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/pixio-ads run $(CAMPAIGN) --out $(OUT)

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m 'not slow'

bench: install
	$(BIN)/python benchmarks/expand.py

clean:
	rm -rf out .pytest_cache
