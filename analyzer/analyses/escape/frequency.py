"""Which target frequency a curvature direction carries: J v (the change of the predictions on the eval grid
per unit step along v) read on the run's basis (Fourier modes of a uniform 1-D grid, or harmonic degrees).

For each eigenvector v, the power |c_k|^2 of J v on every mode k; `freq` is the target mode holding the
most power, `share` the fraction of ||J v||^2 on it, `peak` the mode of largest power over all modes.
"""

from __future__ import annotations

import numpy as np


def direction_modes(run, theta, vectors: np.ndarray, dtype: str = "float64") -> list[dict]:
    """{freq, share, peak} of J v for each column v of `vectors` (an empty list when there is none)."""
    import torch

    from analyzer.bases.for_run import basis_for_run
    from trainer.models import functional_forward

    if vectors.shape[1] == 0:
        return []
    found = basis_for_run(run)
    model, layout = run.build_model(dtype)
    x = torch.from_numpy(np.asarray(run.data("x_eval"))).to(theta.dtype)
    forward = lambda t: functional_forward(model, layout, t, x).reshape(-1)  # noqa: E731
    labels = np.asarray(found.basis.labels, dtype=np.float64)
    tracked = np.flatnonzero(np.isin(labels, found.tracked))
    out = []
    for v in vectors.T:
        _, jv = torch.func.jvp(forward, (theta,), (torch.from_numpy(np.ascontiguousarray(v)).to(theta.dtype),))
        power = found.basis.mode_norms(jv.detach().to(torch.float64).numpy()[None, :])[0] ** 2
        total = float(power.sum())
        best = tracked[np.argmax(power[tracked])] if len(tracked) else int(np.argmax(power))
        out.append({"freq": float(labels[best]), "share": float(power[best] / total) if total > 0 else np.nan,
                    "peak": float(labels[int(np.argmax(power))])})
    return out
