# Two commands do all the set-up:  `make run` (default experiment)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install help run test test-full lint bench bench-import demo clean

## install: create .venv and install the package, editable, with the dev and postgres extras
install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,tensorboard]'
	touch $(STAMP)

## help: list the targets with what each does
help:
	@echo "make TARGET [ARGS=...], TARGET one of:"
	@awk '/^## [A-Za-z0-9_-]+: / { sub(/^## /, ""); name = $$0; sub(/:.*/, "", name); \
	       sub(/^[^:]*: /, ""); printf "  %-13s %s\n", name, $$0; next } \
	     /^## / { sub(/^## /, ""); printf "  %-13s %s\n", "", $$0 }' $(MAKEFILE_LIST)

## run: install, then train the default experiment (dir_core on the embedded demo data)
run: install
	$(BIN)/python -m ifns_train $(ARGS)

## test: install (PostgreSQL's server too, as root, for the tests that start one), lint, and run
## the tests but those marked slow (the CLI in new processes, kills, sweeps): a few minutes
test: install
	bash scripts/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

## test-full: the same with every test (what CI runs)
test-full: install
	bash scripts/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

## lint: ruff over the project
lint: install
	$(BIN)/ruff check .

## bench: framework vs plain PyTorch loop, default run vs import time
bench: install
	$(BIN)/python benchmarks/bench_train.py

## bench-import: OHLCV import wall time and peak memory against file size, before and after
bench-import: install
	$(BIN)/python benchmarks/bench_import.py $(ARGS)

## demo: (re)write the embedded demo dataset into the registry
demo: install
	$(BIN)/python -m ifns_train.data demo

## clean: remove .venv, outputs/ and the caches (the registry stays)
clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache *.egg-info
