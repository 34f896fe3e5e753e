"""Run-file arrays compared bit for bit, shared by the trainer tests."""

from __future__ import annotations

import numpy as np

from analyzer.io.run import open_run


def arrays(path) -> dict[str, np.ndarray]:
    with open_run(path) as run:
        return {"steps": run.steps, "loss": run.loss, "grad_norm": run.grad_norm, "lr": run.lr,
                "pred_steps": run.pred_steps, "pred": run.pred, "ckpt_steps": run.ckpt_steps,
                "params": run._file["ckpt/params"][: run.counts["ckpt"]]}


def assert_same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
