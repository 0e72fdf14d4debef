# Two commands on a fresh clone: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
CT     := $(BIN)/complaint-triage

.PHONY: venv install model run browser-deps bench-deps test lint bench bench-baselines clean

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

# The browser tests drive Debian's Chromium and its driver: installed here when missing, with
# sudo when there is a password-less one, else directly (as root); the package lists are
# refreshed only when a first install fails.
APT_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
APT_UPDATE  := env DEBIAN_FRONTEND=noninteractive apt-get update -q
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (sudo -n $(APT_INSTALL) || $(APT_INSTALL) || \
	   ((sudo -n $(APT_UPDATE) || $(APT_UPDATE)) && (sudo -n $(APT_INSTALL) || $(APT_INSTALL))))

# bench/load.py drives the servers with Debian's wrk, installed the same way; without it the
# benchmark falls back to a slower asyncio client and says so.
WRK_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk
bench-deps:
	@command -v wrk >/dev/null || \
	  (sudo -n $(WRK_INSTALL) || $(WRK_INSTALL) || \
	   ((sudo -n $(APT_UPDATE) || $(APT_UPDATE)) && (sudo -n $(WRK_INSTALL) || $(WRK_INSTALL))) || \
	   echo "wrk could not be installed: bench/load.py will use its asyncio client")

test: install browser-deps
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check classifier tests bench examples
	$(BIN)/ruff format --check classifier tests bench examples
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/crm_client.py

# Speed and quality figures, each against a baseline measured in the same run.
bench: model bench-deps
	$(BIN)/python bench/load.py
	$(BIN)/python bench/triage_latency.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/reload_latency.py
	$(BIN)/python bench/privacy_cost.py
	$(BIN)/python bench/metrics_overhead.py
	$(BIN)/python bench/batch_vs_single.py
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
