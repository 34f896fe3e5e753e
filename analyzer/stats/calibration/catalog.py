"""The calibration's models by name: which test each is a null for, and how to simulate a study of it."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.stats.calibration.models import event_study
from analyzer.stats.calibration.parseval import parseval_study
from analyzer.stats.calibration.templates import COUPLING


@dataclass(frozen=True)
class Model:
    """A named generative model: `simulate(rng, design)` gives a Study; `null_for` names the test it is a null
    for ("" for a power model); `test` the test run on it ("primary": a run's jumps vs its references;
    "decoupled": a frequency's jumps vs the escapes of the loss without that frequency)."""

    name: str
    simulate: object
    null_for: str
    test: str = "primary"
    description: str = ""


def _events(**options):
    return lambda rng, design=(4, 8): event_study(rng, design=design, **options)


def calibration_models() -> dict[str, Model]:
    """Every model of the calibration, by name."""
    out = [Model("independent", _events(), "primary", description="independent jitter, escapes"),
           Model("independent-edges", _events(reference="edges"), "primary",
                 description="independent jitter, plateau edges")]
    out += [Model(f"clock-{sd:g}", _events(clock_sd=sd), "primary",
                  description=f"shared per-run clock, SD {sd:g} decades") for sd in (0.1, 0.2, 0.3)]
    out += [Model("parseval", lambda rng, design=(4, 8): parseval_study(rng, design=design), "decoupled",
                  "decoupled", "loss = energy of sigmoid residuals, no saddles; decoupled escapes"),
            Model("parseval-clock-0.2", lambda rng, design=(4, 8): parseval_study(rng, clock_sd=0.2, design=design),
                  "decoupled", "decoupled", "the same with a shared per-run clock, SD 0.2 decades")]
    out += [Model("clock-0.3-clipped", _events(clock_sd=0.3, clip=True), "",
                  description="clock SD 0.3 with events piled at the run's ends (not a null: the ends couple)")]
    out += [Model("planted", _events(coupling=COUPLING), "", description=f"{COUPLING:g} of jumps at own escapes"),
            Model("planted-clock-0.2", _events(coupling=COUPLING, clock_sd=0.2), "",
                  description=f"{COUPLING:g} of jumps at own escapes, shared clock SD 0.2")]
    return {m.name: m for m in out}
