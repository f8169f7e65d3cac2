# Two commands do all the set-up:  `make run` (default experiment)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-all lint bench bench-import demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

## run: install, then train the default experiment (dir_core on the embedded demo data)
run: install
	$(BIN)/python -m ifns_train $(ARGS)

## test: install (PostgreSQL's server too, as root, for the tests that start one), lint, and run
## the tests but those marked slow (the CLI in new processes, kills, sweeps): a few minutes
test: install
	bash scripts/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

## test-all: the same with every test (what CI runs)
test-all: install
	bash scripts/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

## bench: framework vs plain PyTorch loop, default run vs import time
bench: install
	$(BIN)/python benchmarks/bench_train.py

## bench-import: OHLCV import wall time and peak memory against file size, before and after
bench-import: install
	$(BIN)/python benchmarks/bench_import.py $(ARGS)

demo: install
	$(BIN)/python -m ifns_train.data demo

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache *.egg-info
