# Two commands on a fresh clone: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
CT     := $(BIN)/complaint-triage

.PHONY: venv install model run test lint bench bench-baselines clean

venv: $(STAMP)
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Train the default model only when models/ has no champion.
model: install
	$(CT) train --if-missing

run: model
	$(CT) serve

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check classifier tests bench
	$(BIN)/ruff format --check classifier tests bench
	$(BIN)/mypy

# Speed and quality figures, each against a baseline measured in the same run.
bench: model
	$(BIN)/python bench/triage_latency.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/training_scale.py
	$(BIN)/python bench/baselines.py
	$(BIN)/python bench/compare_models.py
	$(BIN)/python bench/learning_curve.py

# The sentence-embedding baseline needs torch: the CPU build on this machine's disk first,
# then the optional extra (never needed by `make run` or `make test`).
bench-baselines: model
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,embeddings]'
	HF_HUB_OFFLINE=1 $(BIN)/python bench/baselines.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
