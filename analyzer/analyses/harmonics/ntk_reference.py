"""The NTK eigenvalue of each spherical-harmonic degree for a one-hidden-layer ReLU net, in closed form (reference).

The net is f(x) = sum_j a_j relu(w_j . x + b_j) + c, as `trainer.models.build_mlp` builds it with depth 1
(PyTorch's standard parametrization). Its neural tangent kernel, the sum over all parameters of
df(x)/dp df(y)/dp, at a random init of width m, tends for unit inputs to a function of t = <x, y>:

    K(t) = m E[relu(z_x) relu(z_y)] + 1 + m s_a^2 (t + 1) E[1(z_x > 0) 1(z_y > 0)],

the terms coming from the a_j, c and (w_j, b_j); a `--freeze-hidden` run trains only a_j and c, and its kernel
is the first two terms. Here (z_x, z_y) are jointly Gaussian pre-activations with
variance q = s_w^2 + s_b^2 and covariance s_w^2 t + s_b^2, correlation rho, so the expectations are the
arc-cosine kernels q (sqrt(1 - rho^2) + (pi - arccos rho) rho) / (2 pi) and (pi - arccos rho) / (2 pi).
The variances are those of the init (`init_variances`): PyTorch's default and xavier draw uniform weights,
which this Gaussian closed form stands in for (a surrogate with the same variances); kaiming is Gaussian.

Being rotation invariant, K's integral operator (T g)(x) = E_y[K(<x, y>) g(y)] (uniform probability measure on
S^(d-1)) has each degree-l harmonic as an eigenfunction, with the Funk-Hecke eigenvalue

    mu_l = Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)) * integral_{-1}^{1} K(t) P_l(t) (1 - t^2)^((d-3)/2) dt.

Full-batch gradient descent on the MSE mean((f - y)^2) over N points moves the residual by (I - 2 lr K_N / N)
per step (K_N the Gram matrix), and K_N / N tends to T: in the kernel regime the degree-l component decays
by a factor |1 - 2 lr mu_l| per step, a rate -log|1 - 2 lr mu_l| (about 2 lr mu_l).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad

from trainer import harmonics


def init_variances(init: str, input_dim: int, width: int) -> tuple[float, float, float]:
    """(s_w^2, s_b^2, s_a^2): variances of a first-layer weight entry, a first-layer bias and an output weight."""
    if init == "default":  # kaiming_uniform(a=sqrt(5)) weights and uniform biases: U(-1/sqrt(fan_in), +), var 1/(3 fan_in)
        return 1.0 / (3 * input_dim), 1.0 / (3 * input_dim), 1.0 / (3 * width)
    if init == "xavier":  # xavier_uniform: var 2 / (fan_in + fan_out); biases zero
        return 2.0 / (input_dim + width), 0.0, 2.0 / (width + 1)
    if init == "kaiming":  # kaiming_normal(relu): var 2 / fan_in; biases zero
        return 2.0 / input_dim, 0.0, 2.0 / width
    raise ValueError(f"no NTK reference for init {init!r}")


def relu_ntk_kernel(t: np.ndarray, width: int, weight_var: float, bias_var: float, out_weight_var: float,
                    hidden_trained: bool = True) -> np.ndarray:
    """K(t) of a width-m one-hidden-layer ReLU net at a Gaussian init with the given variances (unit inputs);
    without `hidden_trained`, of its output layer alone."""
    t = np.asarray(t, dtype=np.float64)
    variance = weight_var + bias_var
    rho = np.clip((weight_var * t + bias_var) / variance, -1.0, 1.0)
    angle = np.arccos(rho)
    relu_relu = variance * (np.sqrt(1.0 - rho ** 2) + (np.pi - angle) * rho) / (2 * np.pi)
    step_step = (np.pi - angle) / (2 * np.pi)
    output_layer = width * relu_relu + 1.0
    return output_layer + width * out_weight_var * (t + 1.0) * step_step if hidden_trained else output_layer


def funk_hecke(kernel, input_dim: int, degree: int) -> float:
    """mu_l of the rotation-invariant kernel `kernel(t)` on S^(d-1) under the uniform probability measure."""
    exponent = (input_dim - 3) / 2.0
    constant = math.gamma(input_dim / 2) / (math.sqrt(math.pi) * math.gamma((input_dim - 1) / 2))
    value, _ = quad(lambda t: kernel(t) * harmonics.legendre(input_dim, degree, t), -1.0, 1.0, weight="alg",
                    wvar=(exponent, exponent), limit=200, epsabs=1e-12 * abs(float(kernel(1.0))), epsrel=1e-10)
    return constant * value


def relu_ntk_eigenvalues(input_dim: int, degrees, width: int, init: str = "default",
                         hidden_trained: bool = True) -> np.ndarray:
    """mu_l for each degree, for `build_mlp` with depth 1, ReLU, this width and init (output layer alone if not
    `hidden_trained`)."""
    weight_var, bias_var, out_weight_var = init_variances(init, input_dim, width)

    def kernel(t):
        return relu_ntk_kernel(t, width, weight_var, bias_var, out_weight_var, hidden_trained)

    return np.array([funk_hecke(kernel, input_dim, int(degree)) for degree in degrees])


def gd_rate(eigenvalue: float, lr: float) -> float:
    """Per-step decay rate -log|1 - 2 lr mu| of a residual component under full-batch GD in the kernel regime."""
    factor = abs(1.0 - 2.0 * lr * eigenvalue)
    return math.inf if factor == 0 else -math.log(factor)
