# One-command set-up: `make train` and `make test` build the line's virtual environment when it is missing
# or older than pyproject.toml or the line's constraints, install Fashion-MNIST from Debian where apt is
# available, then do their job.
#
# Two Hydra lines (docs/scaling.md): LINE=stable (released Hydra 1.3, Optuna 2.10) in .venv, and
# LINE=hydra-1.4 (Hydra 1.4, Optuna 5, SQLAlchemy 2, optuna-dashboard) in .venv-hydra-1.4, e.g.
# `make test LINE=hydra-1.4`. The next line is the default: moving it is this one line.
LINE ?= stable
PYTHON ?= python3
VENV ?= $(if $(filter stable,$(LINE)),.venv,.venv-$(LINE))
CONSTRAINTS := constraints/$(LINE).txt
comma := ,
# optuna-dashboard needs Optuna >= 3.6: only the hydra-1.4 line has it
EXTRAS := $(if $(filter stable,$(LINE)),dev$(comma)mlflow,dev$(comma)mlflow$(comma)dashboard)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist
ARGS ?=

.PHONY: install train test test-fast test-cluster lint format bench bench-sweep gpu-check fashion-mnist clean

install: $(STAMP) fashion-mnist

# Quiet: one line saying what is installed, then only pip's warnings and errors.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	@echo "Installing PyTorch, Lightning, Hydra and the rest ($(LINE) line) into $(VENV) (a few minutes the first time)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -qq --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -qq --disable-pip-version-check -c $(CONSTRAINTS) -e '.[$(EXTRAS)]'
	@touch $(STAMP)
	@echo "Installed."

# The one real image dataset available offline (Debian's dataset-fashion-mnist); elsewhere
# torchvision downloads it at first use.
fashion-mnist:
	@if [ ! -d $(FASHION_MNIST) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's dataset-fashion-mnist..."; \
		apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	fi

train: install
	$(PY) train.py $(ARGS)

# --dist worksteal: a worker that runs out of tests takes some of the other's, so the few long sweep tests
# do not leave one core idle at the end (3:52 against 4:29 here)
test: install
	$(PY) -m pytest -n 2 --dist worksteal -m "not cluster"

# The inner loop: everything but the tests marked slow (about 70 seconds on 2 cores)
test-fast: install
	$(PY) -m pytest -n 2 --dist worksteal -m "not slow and not cluster"

# Sweeps on a real one-node SLURM (Debian's slurm-wlm and munge, root): time limits, requeues, preemption, scancel
# (a few minutes). Installs the two packages where apt-get is available; skips, saying why, elsewhere.
test-cluster: install
	@if ! command -v slurmctld >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's slurm-wlm and munge..."; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; \
	fi
	$(PY) -m pytest -m cluster -rs

# ruff: lint (pycodestyle, pyflakes, import order, bugbear, ...) and formatting, as pyproject.toml sets
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) benchmarks/palindrome.py

bench-sweep: install
	$(PY) benchmarks/sweep.py

# On one GPU: every section of benchmarks/gpu.py (docs/performance.md), each measured in the run
gpu-check: install
	$(PY) benchmarks/gpu.py

clean:
	rm -rf .venv .venv-* outputs .pytest_cache
