# make run  - set up .venv, load demo data into the embedded warehouse, run a backtest on it
# make test - set up .venv with the test extra and run the test suite
# (both install every extra: `pip install .` alone is the core, see pyproject.toml)
# make bench-peers - set up .venv-hftbacktest (hftbacktest pins numpy<2.3) for benchmarks/tick_execution.py
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow bench bench-peers clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m warehouse init
	$(BIN)/python -m warehouse demo --ticks 2M
	$(BIN)/python -m warehouse status
	$(BIN)/python -m backtest +strategy=sma_cross

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bulk_load.py

bench-peers: .venv-hftbacktest/bin/python

.venv-hftbacktest/bin/python:
	$(PY) -m venv .venv-hftbacktest
	.venv-hftbacktest/bin/pip install hftbacktest==2.4.4

clean:
	rm -rf $(VENV) data outputs
