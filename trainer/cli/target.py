"""`--target harmonics --input-dim D --degrees 1,2,4` for the commands that train many runs (`train sweep`,
`train ensemble`): the options and the harmonics TargetSpec they make, applied to a preset's config."""

from __future__ import annotations

import dataclasses
from typing import Optional

from trainer.cli.common import fail, floats_option
from trainer.cli.options import sweep_option_annotation

# the sweep options of the target's settings (trainer/config.py), shared with `train ensemble`
TargetKindOpt = sweep_option_annotation("target")
InputDimOpt = sweep_option_annotation("input-dim")
DegreesOpt = sweep_option_annotation("degrees")
TargetSeedOpt = sweep_option_annotation("target-seed")


def harmonics_target(kind: Optional[str], input_dim: Optional[int], degrees: Optional[str],
                     target_seed: Optional[int]):
    """The harmonics TargetSpec the options ask for, or None for the presets' own (sines) targets."""
    from trainer.config import TargetSpec

    if kind in (None, "sines"):
        if input_dim is not None or degrees is not None or target_seed is not None:
            fail("--input-dim, --degrees and --target-seed are for --target harmonics")
        return None
    if kind != "harmonics":
        fail(f"unknown target {kind!r}; choose sines or harmonics")
    if degrees is None:
        fail("--target harmonics needs --degrees, e.g. --degrees 1,2,4")
    values = floats_option(degrees, "degrees")
    if any(d != int(d) or d < 0 for d in values):
        fail(f"--degrees takes whole non-negative numbers, got {degrees!r}")
    target = TargetSpec(kind="harmonics", freqs_hz=(), amps=(1.0,) * len(values),
                        degrees=tuple(int(d) for d in values), input_dim=3 if input_dim is None else input_dim)
    return target if target_seed is None else dataclasses.replace(target, seed=target_seed)
