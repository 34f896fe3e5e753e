"""Statistics of the study, in one place: the jump test's nulls (one class each, behind `get_null`), the pooled
permutation test, the one cluster bootstrap, the test family with its multiplicity procedure and power, and the
calibration of the nulls on generative models (analyzer.stats.calibration, imported on its own)."""

from analyzer.stats.bootstrap import (TOO_FEW_RUNS, UNBOUNDED, centred_p_value, clip_to_support, cluster_bootstrap,
                                      group_ci, percentile_ci, resampling_weights, slope_draws, studentized_ci,
                                      too_few_runs)
from analyzer.stats.constants import (ALPHA, CALIBRATION_DRAWS, CONFIDENCE, MIN_RUNS_FOR_CI, N_PERMUTATIONS,
                                      N_RESAMPLES, POWER)
from analyzer.stats.family import (PRIMARY_WEIGHT, TestRow, adjust, adjust_family, detectable_effect,
                                   family_weights, holm, local_level, weighted_holm)
from analyzer.stats.paired import mean_interval, sign_flip
from analyzer.stats.nulls import DEFAULT_NULL, NULLS, Null, NullDraws, get_null
from analyzer.stats.permutation import JumpTest, UnitSums, jump_test

__all__ = ["ALPHA", "CALIBRATION_DRAWS", "CONFIDENCE", "DEFAULT_NULL", "JumpTest", "MIN_RUNS_FOR_CI", "NULLS",
           "N_PERMUTATIONS", "N_RESAMPLES", "Null", "NullDraws", "POWER", "PRIMARY_WEIGHT", "TOO_FEW_RUNS", "TestRow",
           "UNBOUNDED", "UnitSums", "adjust", "adjust_family", "centred_p_value", "clip_to_support", "cluster_bootstrap", "detectable_effect", "family_weights",
           "get_null", "group_ci", "holm", "jump_test", "local_level", "mean_interval", "percentile_ci", "resampling_weights",
           "sign_flip", "slope_draws", "studentized_ci", "too_few_runs", "weighted_holm"]
