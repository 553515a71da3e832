# The two quickstart commands: `make demo` (the main job) and `make test` (lint, types, tests).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint typecheck pytest

$(BIN)/thinkgate: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: pip takes the local CPU build of this exact version.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/thinkgate

install: $(BIN)/thinkgate

demo: install
	$(BIN)/thinkgate demo

lint: install
	$(BIN)/ruff check router difficulty policies tests bench
	$(BIN)/ruff format --check router difficulty policies tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest
