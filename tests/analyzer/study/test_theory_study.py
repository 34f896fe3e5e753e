"""`analyze study` end to end on a tiny width sweep in the theory papers' regime (one-hidden-layer ReLU nets on S^2,
full-batch GD in float64, widths 8 and 32, two seeds, each run with its linearised twin): every theory claim gives
verdict rows, the twins pass their exactness checks, and the kernel drift the claims read equals an independent
computation (plain autograd Jacobians of the stored checkpoints)."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
import torch
from helpers import sphere_config
from typer.testing import CliRunner

from analyzer.cli import app
from trainer.engines.loop import train

THEORY = ("kernel_drift_scaling", "rate_proportional_to_eigenvalue", "rates_ordered_by_degree", "damped_deviations",
          "gd_mask_bandwidth")
LEARNING_RATES = {8: 0.15, 32: 0.075}  # 2 lr lambda_max(K_0) / N ~ 0.5 (lambda_max / N ~ 0.07 m + 1 on S^2)
N_POINTS = 60  # width 8 has 41 parameters (underparameterised), width 32 has 161


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("theory")
    for width, lr in LEARNING_RATES.items():
        for seed in (0, 1):
            for twin in (False, True):
                base = sphere_config(degrees=(1, 2), amps=(1.0, 1.0))
                config = dataclasses.replace(
                    base, seed=seed, lr=lr, epochs=120, dtype="float64", ckpt_every=10, linearize=twin,
                    model=dataclasses.replace(base.model, width=width),
                    target=dataclasses.replace(base.target, n_train=N_POINTS))
                name = f"sgd-w{width}-s{seed}{'-twin' if twin else ''}.h5"
                assert train(config, folder / name).status == "complete"
    return folder


def relative_drift(path) -> float:
    """||K_T - K_0||_F / ||K_0||_F from the first and last stored checkpoints, J by plain autograd."""
    with h5py.File(path, "r") as f:
        shapes = [tuple(s) for s in json.loads(f["model"].attrs["layout"])["shapes"]]
        first, last = (torch.from_numpy(f["ckpt/params"][i].astype(np.float64)) for i in (0, -1))
        x = torch.from_numpy(f["data"]["x_train"][...].astype(np.float64))

    def outputs(theta):
        weight, bias, out_weight, out_bias = (p.reshape(s) for p, s in zip(
            torch.split(theta, [int(np.prod(s)) for s in shapes]), shapes))
        return (torch.relu(x @ weight.T + bias) @ out_weight.T + out_bias).reshape(-1)

    kernels = [(lambda j: j @ j.T)(torch.autograd.functional.jacobian(outputs, theta)) for theta in (first, last)]
    return float(torch.linalg.norm(kernels[1] - kernels[0]) / torch.linalg.norm(kernels[0]))


def test_theory_study_end_to_end(sweep, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["study", str(sweep), "--json", "--no-hessian", "-o", str(out), "--workers", "1",
                                      "--permutations", "199", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_network_runs"] == payload["n_seed_runs"] == 4 and payload["n_twin_runs"] == 4
    assert {row["mode_unit"] for row in payload["table"]} == {"degree"}  # the study's modes are degrees here
    claims = {row["claim"] for row in payload["verdicts"]}
    assert set(THEORY) | {"twin_contrast"} <= claims
    verdicts = {v["observation"]: v["verdict"] for v in payload["verdicts"]}
    assert verdicts["On the GD twins the observed rate equals the predicted one in every moving eigendirection"] \
        == "holds"
    assert verdicts["On the GD twins the mask is exact"] == "holds"
    assert verdicts["The linearised twins' kernels do not move"] == "holds"
    assert payload["rate_proportional_to_eigenvalue"]["twin_check"]["max_error"] <= 1e-6
    drift = {row["run"]: row["value"] for row in payload["kernel_drift_scaling"]["runs"]}
    for name in ("sgd-w8-s0", "sgd-w32-s1"):
        assert drift[name] == pytest.approx(relative_drift(sweep / f"{name}.h5"), rel=1e-9)
    (slope,) = [test["slope"] for test in payload["kernel_drift_scaling"]["slopes"].values()]
    widths = [8 if "-w8-" in run else 32 for run in drift]
    assert slope == pytest.approx(np.polyfit(np.log(widths), np.log(list(drift.values())), 1)[0], abs=1e-12)
    damped = payload["damped_deviations"]["runs"]
    assert {row["width"] for row in damped if row["underparameterised"]} == {8}
    report = (out / "REPORT.md").read_text()
    for figure in ("theory-drift.png", "theory-rates.png", "theory-ratio.png", "theory-twin-loss.png",
                   "theory-mask.png"):
        assert figure in report and (out / figure).is_file()
