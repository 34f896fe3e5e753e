"""The plateau detectors' registry (analyzer/analyses/plateaus/detectors.py): every detector's contract, and a
detector registered here only, which reaches the result, the report's comparison and the study's specification
curve with no other edit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analyzer.analyses.plateaus import PlateauParams, detect_plateaus
from analyzer.analyses.plateaus.compare import _plateau_counts
from analyzer.analyses.plateaus.detectors import DEFAULT_DETECTOR, DETECTORS, Detection, Detector, get
from analyzer.analyses.plateaus.loss_curve import prepare, segment_frame
from analyzer.analyses.plateaus.result import SEGMENT_COLUMNS
from analyzer.errors import BadInputError
from analyzer.study.claims import specifications as specs
from plateau_fakes import planted_run


def toy_detect(curve, params) -> Detection:
    """The first half of the curve is one plateau, the second half is not: one edge, at the middle step."""
    bounds = [0, len(curve.y) // 2, len(curve.y)]
    frame = segment_frame(curve, bounds, "toy", params)
    frame["is_plateau"] = [True, False]
    return Detection(frame)


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(DETECTORS, "toy", Detector(name="toy", by="the toy method", title="toy", detect=toy_detect))
    return DETECTORS["toy"]


def test_the_registry_names_its_detectors_and_refuses_others():
    assert tuple(DETECTORS) == ("changepoint", "gradient") and DEFAULT_DETECTOR in DETECTORS
    assert get() is get(DEFAULT_DETECTOR) is DETECTORS[DEFAULT_DETECTOR]
    with pytest.raises(BadInputError, match="method must be 'changepoint' or 'gradient', got 'pelt'"):
        get("pelt")


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_detector_tiles_the_curve_with_labelled_segments(name):
    steps, loss, _ = planted_run(seed=3)
    params = PlateauParams()
    curve, _ = prepare(steps, loss, params)
    found = DETECTORS[name].detect(curve, params)
    frame = found.segments
    assert list(frame[SEGMENT_COLUMNS].columns) == SEGMENT_COLUMNS and set(frame.method) == {name}
    assert frame.start_step.iloc[0] == steps[0] and frame.end_step.iloc[-1] == steps[-1]
    np.testing.assert_array_equal(frame.start_step.to_numpy()[1:], frame.end_step.to_numpy()[:-1] + 1)
    assert frame.is_plateau.astype(bool).sum() >= 1  # the planted run has two plateaus


def test_a_registered_detector_reaches_the_result_and_the_report(toy):
    steps, loss, _ = planted_run(seed=1)
    result = detect_plateaus(steps, loss)
    mid = int(steps[len(steps) // 2])
    assert len(result.plateaus("toy")) == 1 and list(result.edge_steps("toy")) == [mid]
    assert "1 by the toy method (1 edges)" in result.headline()
    assert result.headline().startswith(f"{len(result.plateaus())} plateaus by change points")
    assert set(result.segments.method) == {"changepoint", "gradient", "toy"}
    runs = [SimpleNamespace(label="a", results={"plateaus": result}), SimpleNamespace(label="b", results={})]
    counts = _plateau_counts(runs)
    assert list(counts.columns) == ["run", "plateaus (change points)", "plateaus (gradient)", "plateaus (toy)",
                                    "change points"]
    assert counts["plateaus (toy)"].iloc[0] == 1 and np.isnan(counts["plateaus (toy)"].iloc[1])


def test_a_registered_detector_joins_the_specification_curve(toy):
    assert len(specs.specifications()) == 3 * len(specs.THRESHOLDS) * len(specs.EVENTS)
    assert {d for d, _, _ in specs.specifications()} == {"changepoint", "gradient", "toy"}
    assert specs.reference_name("toy") == "plateau ends (toy method)"
    assert specs.reference_name("gradient") == "plateau ends (gradient method)"  # the committed studies' word
    steps, loss, _ = planted_run(seed=1)
    plateaus = detect_plateaus(steps, loss)
    spectrum = SimpleNamespace(jumps=pd.DataFrame({"step": [5.0, 50.0]}),
                               learning=pd.DataFrame({"learned_step": [50.0], "first_below_step": [40.0]}))
    context = SimpleNamespace(result=lambda name, **kw: plateaus if name == "plateaus" else spectrum)
    escapes = np.array([120.0, 2100.0])
    found = specs.spec_events(context, SimpleNamespace(escape_steps=escapes))
    assert set(found.references) == {"changepoint", "gradient", "toy"}
    np.testing.assert_array_equal(found.references["toy"], [steps[len(steps) // 2]])
    np.testing.assert_array_equal(found.references[DEFAULT_DETECTOR], escapes)
    np.testing.assert_array_equal(found.units("toy", 0.1, "jump")[1], found.references["toy"])
