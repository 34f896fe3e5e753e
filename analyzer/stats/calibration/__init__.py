"""Calibration of the jump tests' nulls: generative models of whole studies that the nulls do not assume
(models.py, parseval.py), and the rejection rates, effects and interval coverage of every null under them
(rates.py). bench/null_calibration.py runs them at full size and picks the default null;
tests/analyzer/stats/test_null_calibration.py runs small versions."""

from analyzer.stats.calibration.catalog import Model, calibration_models
from analyzer.stats.calibration.models import Study, event_study
from analyzer.stats.calibration.parseval import loss_drop_midpoints, parseval_study
from analyzer.stats.calibration.rates import holds_level, null_variants, rejection_rates
from analyzer.stats.calibration.templates import LAST_STEP, TEMPLATES

__all__ = ["LAST_STEP", "Model", "Study", "TEMPLATES", "event_study", "holds_level",
           "loss_drop_midpoints", "calibration_models", "null_variants", "parseval_study", "rejection_rates"]
