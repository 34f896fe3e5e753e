# Fresh machine: `make demo` (venv, install, train the default study, analyze, write reports/) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNS := data/runs
STUDY := $(RUNS)/baseline-s0.h5 $(RUNS)/wide-s0.h5 $(RUNS)/deep-s0.h5 $(RUNS)/sgd-s0.h5

.PHONY: install demo train-study test bench clean

install: $(STAMP)

# torch is pinned first: the CPU build of 2.13.0 is on this machine's disk, while a bare `torch`
# requirement would pull a multi-GB CUDA build. pyproject accepts a range that 2.13 satisfies.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

train-study: $(STAMP)
	$(BIN)/train --out-dir $(RUNS) --skip-existing

demo: train-study
	$(BIN)/analyze report $(STUDY) -o reports/seed-study --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps 'pyhessian>=0.1'  # reference for the Hessian bench only
	OMP_NUM_THREADS=1 $(BIN)/python bench/train_overhead.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/train_speed.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/plateaus_spectrum_scale.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/hessian_vs_pyhessian.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/known_answer_validation.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
