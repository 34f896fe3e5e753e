"""Synthetic regression targets: sums of sines on uniform grids of [0, 1), spherical harmonics on S^(d-1)."""

from __future__ import annotations

import dataclasses

import numpy as np

from trainer import harmonics
from trainer.config import TargetSpec


def uniform_grid(n_points: int) -> np.ndarray:
    """n_points uniformly spaced on [0, 1), endpoint excluded, so the DFT bins are integer Hz."""
    return (np.arange(n_points, dtype=np.float64) / n_points)[:, None]


def evaluate(target: TargetSpec, x: np.ndarray) -> np.ndarray:
    """The target y(x), shape (len(x), 1), float64 (x: (n, 1) for sines, (n, d) unit vectors for harmonics)."""
    if target.kind == "harmonics":
        return evaluate_components(target_components(target), target.amps, x)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.zeros_like(x)
    for freq, amp, phase in zip(target.freqs_hz, target.amps, target.phase_values):
        y += amp * np.sin(2.0 * np.pi * freq * x + phase)
    return y[:, None]


def make_data(target: TargetSpec) -> dict[str, np.ndarray]:
    """Training and evaluation sets, float64 (the loop casts to the training dtype)."""
    if target.kind == "harmonics":
        x_train, x_eval = sphere_points(target)
    else:
        x_train, x_eval = uniform_grid(target.n_train), uniform_grid(target.eval_points)
    return {
        "x_train": x_train,
        "y_train": evaluate(target, x_train),
        "x_eval": x_eval,
        "y_eval": evaluate(target, x_eval),
    }


# ---- spherical harmonics --------------------------------------------------------------------------
# Three independent streams from the target's seed: the components do not change with n_train, and the
# training points do not change with n_eval.
_COMPONENTS, _TRAIN, _EVAL = range(3)


def _stream(target: TargetSpec, which: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(target.seed).spawn(3)[which])


def target_components(target: TargetSpec) -> list[harmonics.ZonalCombination]:
    """One random unit-norm harmonic per degree, in the order of `degrees` (reproducible from the seed)."""
    rng = _stream(target, _COMPONENTS)
    return [harmonics.random_component(target.input_dim, degree, rng) for degree in target.degrees]


def sphere_points(target: TargetSpec) -> tuple[np.ndarray, np.ndarray]:
    """Training and evaluation points uniform on S^(d-1); without n_eval the evaluation set is the training set."""
    x_train = harmonics.sample_sphere(target.n_train, target.input_dim, _stream(target, _TRAIN))
    if target.n_eval is None:
        return x_train, x_train
    return x_train, harmonics.sample_sphere(target.n_eval, target.input_dim, _stream(target, _EVAL))


def evaluate_components(components: list[harmonics.ZonalCombination], amps, x: np.ndarray) -> np.ndarray:
    """sum_k amps_k Y_k(x), shape (n, 1)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros(x.shape[0])
    for component, amp in zip(components, amps):
        y += amp * component(x)
    return y[:, None]


def describe(target: TargetSpec) -> dict:
    """The run file's /data target record: the spec, and for harmonics each degree's drawn combination."""
    record = dataclasses.asdict(target)
    if target.kind == "harmonics":
        record["components"] = [c.to_dict() for c in target_components(target)]
    return record


def components_from_record(record: dict) -> list[harmonics.ZonalCombination]:
    """The stored combinations of a harmonics target record (what `describe` wrote)."""
    return [harmonics.ZonalCombination.from_dict(int(record["input_dim"]), raw) for raw in record["components"]]
