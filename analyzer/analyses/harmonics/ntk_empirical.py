"""The empirical NTK eigenvalue of each spherical-harmonic degree: K = J J^T's Rayleigh quotient on the degree's span.

K is the Gram matrix of the trained parameters' Jacobian on the N training inputs at the first checkpoint
(analyzer/io/ntk_net.py; no 1/N inside it, docs/ntk.md). Q_l is an orthonormal basis (QR) of what degree l's
harmonics sampled at the training points express and no other degree of the basis does, (I - P_others) D_l
(D_l the sampled degree-l functions, P_others the projector on the other degrees' sampled functions: the part
the analysis's least-squares projection attributes to degree l), and

    lambda_l = mean of the eigenvalues of Q_l^T K Q_l = trace(Q_l^T K Q_l) / N(d, l).

Normalisation: a harmonic Y of degree l, orthonormal under the uniform probability measure, has
||Y(X)||^2 ~ N at N uniform points, so q = Y(X) / sqrt(N) is nearly a unit vector and

    q^T K q = (1/N) sum_n,m Y(x_n) K(x_n, x_m) Y(x_m) ~ N E_x,y[Y(x) K(x, y) Y(y)] = N mu_l,

mu_l the eigenvalue of K's integral operator on degree l (the closed form's Funk-Hecke value). So the
comparable number is mu_l_emp = lambda_l / (N o) (o = 1 output on harmonics runs). The trainer's GD moves
the training residual by (I - a_eff K) per step, a_eff = 2 lr / (N o), so a residual inside the span decays
at the linearised rate -log|1 - a_eff lambda_l| = -log|1 - 2 lr mu_l_emp| (closed-form.gd_rate of mu_l_emp):
exact per step when the span is an eigenspace of K and the model is linear in its trained parameters
(--freeze-hidden), a linearisation at the first checkpoint otherwise.

Why not the plain span of D_l: at N random points the sampled harmonics of different degrees are not
orthogonal (overlaps ~ 1/sqrt(N)), so the plain span picks up ~1/N of every large eigenvalue; on the
width-1000 ReLU net of docs (N = 2000) that put 0.109 on degree 4 against a closed form of 0.014; removing the
other degrees gives 0.011. For a rotation-invariant kernel of finite degree, sum_l c_l Z_l(<x, y>) = D diag(c)
D^T, the quotient is exactly c_l ||(I - P_others) D_l||_F^2 / N(d, l) ~ N c_l (tests/analyzer/analyses/harmonics/test_harmonics_ntk.py).

K is never formed: K Q = J (J^T Q) through `KernelOperator` (one vjp and one jvp per column), so memory is
N x (number of basis functions) whatever N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EmpiricalEigenvalues:
    values: np.ndarray  # mu_l_emp per degree (NaN where there is none)
    step: int  # checkpoint whose kernel it is (-1: none)
    source: str  # how they were computed, or why there are none


def degree_rayleigh_quotients(kernel_times, design: np.ndarray, column_modes: np.ndarray,
                              degrees: np.ndarray) -> np.ndarray:
    """trace(Q_l^T K Q_l) / dim for each degree l, Q_l an orthonormal basis of design's degree-l columns.

    `kernel_times(block)` returns K @ block (rows x m). Degrees without columns get NaN.
    """
    blocks = {}
    for degree in degrees:
        columns, others = design[:, column_modes == degree], design[:, column_modes != degree]
        if columns.shape[1]:
            if others.shape[1]:  # only what no other degree's sampled functions can express (see the module doc)
                other_basis = np.linalg.qr(others)[0]
                columns = columns - other_basis @ (other_basis.T @ columns)
            blocks[int(degree)] = np.linalg.qr(columns)[0]
    if not blocks:
        return np.full(len(degrees), np.nan)
    stacked = np.hstack(list(blocks.values()))
    products = np.asarray(kernel_times(stacked))
    values, start = {}, 0
    for degree, q in blocks.items():
        width = q.shape[1]
        values[degree] = float(np.einsum("ij,ij->", q, products[:, start:start + width]) / width)
        start += width
    return np.array([values.get(int(degree), np.nan) for degree in degrees])


def empirical_eigenvalues(run, degrees: np.ndarray) -> EmpiricalEigenvalues:
    """mu_l_emp of each degree from the kernel at the first checkpoint (NaN and the reason when there is none)."""
    from analyzer.bases.sphere import harmonic_basis
    from analyzer.io.ntk_checkpoint import checkpoint_net
    from analyzer.io.ntk_net import kernel_operator
    from trainer.engines.loop import one_thread

    if len(run.ckpt_steps) == 0:
        return EmpiricalEigenvalues(np.full(len(degrees), np.nan), -1, "no stored checkpoint: no empirical NTK")
    net, step = checkpoint_net(run, None)
    theta = np.asarray(run.params_at(step), dtype=np.float64)
    basis = harmonic_basis(run.data("x_train"), int(max(degrees)))
    operator = kernel_operator(net, theta)
    with one_thread():  # the bits must not follow the machine's load
        traces = degree_rayleigh_quotients(operator.matmat, basis.design, basis.column_modes, degrees)
    trained = "output layer" if net.trained_start else "all layers"
    source = (f"empirical: mean eigenvalue of Q_l^T K Q_l / (N o), K = J J^T ({trained}) on the {net.x.shape[0]} "
              f"training inputs at step {step}")
    return EmpiricalEigenvalues(traces / net.n_rows, step, source)
