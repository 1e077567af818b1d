# Two commands on a fresh machine (Python 3.11, pip, make):
#   make run   - create .venv if missing, install, run the headline scenario
#   make test  - the same set-up, then the whole test suite (notebooks included)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format schema clean bench figures

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,dask,sensitivity,discovery]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/routesim run scenarios/cpc_court_suspension_2022.yaml

test: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks docs
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks docs
	$(BIN)/ruff format --check sim tests benchmarks docs

format: $(STAMP)
	$(BIN)/ruff format sim tests benchmarks docs
	$(BIN)/ruff check --fix sim tests benchmarks docs

schema: $(STAMP)
	$(BIN)/routesim schema > sim/schema/scenario.schema.json

figures: $(STAMP)
	$(BIN)/python docs/make_gallery.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_ensemble.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
