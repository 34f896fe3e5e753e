# Fresh machine: `make demo` (venv, install, train the default study, analyze, write reports/) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNS := data/runs
STUDY := $(RUNS)/baseline-s0.h5 $(RUNS)/wide-s0.h5 $(RUNS)/deep-s0.h5 $(RUNS)/sgd-s0.h5

.PHONY: install demo train-study study test bench clean

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

# The seed-000 study across seeds: 4 presets x 8 seeds x 10,000 epochs, plus a float-rounding control
# (seeds 0 and 1 of each preset with their initial weights perturbed at 1e-7, 4 replicates each) and an amplitude
# control (baseline and deep with equal amplitudes 1,1,1,1: does the spectral-bias order survive?), trained as
# Dask sweeps (reruns skip complete runs, resume killed ones), then `analyze study` writes the report.
SWEEP := data/sweeps/study
study: $(STAMP)
	$(BIN)/train sweep --presets baseline,wide,deep,sgd --seeds 0-7 --out $(SWEEP)
	$(BIN)/train sweep --presets baseline,wide,deep,sgd --seeds 0,1 --perturb 1e-7 --replicates 1-4 --out $(SWEEP)
	$(BIN)/train sweep --presets baseline,deep --seeds 0-7 --amps 1,1,1,1 --out $(SWEEP)
	$(BIN)/analyze study $(SWEEP) -o reports/seed-study-8seeds --overwrite

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
