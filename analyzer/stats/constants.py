"""The statistical constants of the whole tree, defined once: levels, confidence, default draw counts."""

ALPHA = 0.05  # family-wise significance level of the study's verdicts (and of a single test's sentence)
CONFIDENCE = 0.95  # confidence of every interval the tree prints
N_PERMUTATIONS = 9999  # null draws of a permutation test: the smallest reachable p-value is 1 / 10,000
N_RESAMPLES = 10_000  # cluster-bootstrap resamples of an interval
CALIBRATION_DRAWS = 199  # null draws per simulated study in the calibration (p resolution 0.005)
MIN_RUNS_FOR_CI = 5  # a group with fewer runs gets no interval of its own ("too few runs for a CI")
POWER = 0.8  # the power at which a minimal detectable effect is stated
