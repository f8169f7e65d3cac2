# Two commands do all the set-up:  `make run` (default experiment)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install help run test test-full lint bench bench-import bench-mirror bench-memory mirror demo clean

## install: create .venv and install the package, editable, with the dev, postgres,
## tensorboard, joblib, submitit, ray, optuna and trees extras
install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,tensorboard,joblib,submitit,ray,optuna,trees]'
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

## test: install (PostgreSQL's server and Chromium too, as root, for the tests that use them),
## lint, and run the tests but those marked slow (the CLI in new processes, kills, sweeps)
test: install
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q -m "not slow" --durations=15

## test-full: the same with every test (what CI runs)
test-full: install
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

## lint: ruff, then mypy (its settings in pyproject.toml), over the project
lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

## bench: framework vs plain PyTorch loop, default run vs import time
bench: install
	$(BIN)/python benchmarks/bench_train.py

## bench-import: OHLCV import wall time and peak memory against file size, before and after
bench-import: install
	$(BIN)/python benchmarks/bench_import.py $(ARGS)

## bench-mirror: the Mirror's build at 10,000 models and 100,000 experiments (minutes)
bench-mirror: install
	$(BIN)/python benchmarks/bench_mirror.py $(ARGS)

## bench-memory: a run's peak memory against dataset size, in memory and out of core (root)
bench-memory: install
	$(BIN)/python benchmarks/bench_memory.py $(ARGS)

## mirror: write the Mirror, the registry as a static site, to outputs/mirror/
mirror: install
	$(BIN)/python -m ifns_train.sxe.admin mirror $(ARGS)

## demo: (re)write the embedded demo dataset into the registry
demo: install
	$(BIN)/python -m ifns_train.data demo

## clean: remove .venv, outputs/ and the caches (the registry stays)
clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache .mypy_cache *.egg-info
