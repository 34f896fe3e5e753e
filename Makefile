# Fresh machine: `make demo` (venv, install, train the default study, analyze, write reports/) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNS := data/runs
STUDY := $(RUNS)/baseline-s0.h5 $(RUNS)/wide-s0.h5 $(RUNS)/deep-s0.h5 $(RUNS)/sgd-s0.h5

.PHONY: install demo train-study study theory test bench clean

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

# The Alvarez & Choe study across seeds: 4 presets x 8 seeds x 10,000 epochs, plus a float-rounding control
# (seeds 0 and 1 of each preset with their initial weights perturbed at 1e-7, 4 replicates each) and an amplitude
# control (baseline and deep with equal amplitudes 1,1,1,1: does the spectral-bias order survive?) and the linearised
# twin of every network run (the same network without saddles: the twin contrast), trained as Dask sweeps (reruns skip
# complete runs, resume killed ones), then `analyze study` writes the report.
SWEEP := data/sweeps/study
study: $(STAMP)
	$(BIN)/train sweep --presets baseline,wide,deep,sgd --seeds 0-7 --out $(SWEEP)
	$(BIN)/train sweep --presets baseline,wide,deep,sgd --seeds 0,1 --perturb 1e-7 --replicates 1-4 --out $(SWEEP)
	$(BIN)/train sweep --presets baseline,deep --seeds 0-7 --amps 1,1,1,1 --out $(SWEEP)
	$(BIN)/train sweep --presets baseline,wide,deep,sgd --seeds 0-7 --linearize yes --out $(SWEEP)
	$(BIN)/analyze study $(SWEEP) -o reports/seed-study-8seeds --overwrite

# The theory papers (Cao et al., Lucey, Bowman & Montúfar) in their regime: one-hidden-layer ReLU nets trained by full-batch GD in float64, a width
# sweep (8, 32, 128, 512 hidden units; 8 seeds each) on harmonics of degrees 1-3 on S^2 and on the Alvarez & Choe sines,
# every run with its linearised twin. The learning rate follows the width so that 2 lr lambda_max(K_0) / N is about
# 0.5 at every width (lambda_max / N ~ 0.07 m + 1 on the sphere, ~ 0.21 m + 1 on the sines): the same stage of
# training at the same step. N = 200 training points: widths 8 and 32 have fewer parameters than points (Bowman & Montúfar's
# underparameterised setting), 128 and 512 more. One Dask sweep per width (reruns skip complete runs, resume killed
# ones), then `analyze study` without the Hessian (no theory claim reads it).
THEORY := data/sweeps/theory
THEORY_RUNS := --presets sgd --depth 1 --seeds 0-7 --linearize no,yes --dtype float64 --epochs 1000 --n-train 200 \
	--ckpt-every 10 --pred-every 2
THEORY_HARMONICS := 8:0.15 32:0.075 128:0.025 512:0.007
THEORY_SINES := 8:0.1 32:0.03 128:0.009 512:0.0023
theory: $(STAMP)
	for pair in $(THEORY_HARMONICS); do \
		$(BIN)/train sweep $(THEORY_RUNS) --target harmonics --input-dim 3 --degrees 1,2,3 --width $${pair%%:*} \
			--lr $${pair##*:} --out $(THEORY)/harmonics-w$${pair%%:*} || exit 1; done
	for pair in $(THEORY_SINES); do \
		$(BIN)/train sweep $(THEORY_RUNS) --width $${pair%%:*} --lr $${pair##*:} --out $(THEORY)/sines-w$${pair%%:*} \
			|| exit 1; done
	$(BIN)/analyze study $(THEORY)/*/ -o reports/theory-study --overwrite --no-hessian \
		--title "The theory papers (Cao et al., Lucey, Bowman & Montúfar) in their regime: a width sweep of one-hidden-layer ReLU nets with linearised twins"

# Two pytest-xdist workers (CI has 2 cores); a test file runs whole on one worker, so its module fixtures are built
# once. `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps 'pyhessian>=0.1'  # reference for the Hessian bench only
	OMP_NUM_THREADS=1 $(BIN)/python bench/train_overhead.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/train_speed.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/plateaus_spectrum_scale.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/hessian_vs_pyhessian.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/known_answer_validation.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
