"""Run configuration as frozen dataclasses, the Alvarez & Choe presets, and validation."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from trainer import optim
from trainer.errors import ConfigError
from trainer.settings import setting

DTYPES = ("float32", "float64")
TARGET_KINDS = ("sines", "harmonics")
MAX_DEGREE = 32  # highest spherical-harmonic degree a target may have
OPTIMIZERS = optim.NAMES  # one record each in trainer/optim/


@dataclass(frozen=True)
class TargetSpec:
    """The regression target (trainer/targets.py).

    kind "sines": sum_k amps_k sin(2 pi freqs_hz_k x + phases_k) on x in [0, 1), sampled on uniform grids.
    kind "harmonics": sum_k amps_k Y_k(x) on x uniform on the sphere S^(input_dim - 1), where Y_k is a random
    unit-norm spherical harmonic of degree degrees_k; `seed` draws the points and the Y_k (trainer/harmonics.py).
    """

    kind: str = setting("sines", "Target kind: sines (1-D, --freqs) or harmonics (inputs on the sphere S^(d-1), "
                        "--degrees).", flag="target", show_default="the preset's, sines", grid=False,
                        sweep_default="sines",
                        sweep="Target kind: sines (the preset's) or harmonics (inputs on the sphere S^(d-1), --degrees).")
    freqs_hz: tuple[float, ...] = setting((1.0, 3.0, 7.0, 15.0), "Target frequencies in Hz, e.g. 1,3,7,15.",
                                          flag="freqs", sweep="Target frequencies in Hz (1,3,7,15); grid values "
                                                              "separated by /.")
    amps: tuple[float, ...] = setting((1.0, 0.8, 0.6, 0.4), "Target amplitudes, one per frequency.",
                                      sweep="Target amplitudes, one per frequency (1,1,1,1); grid values separated "
                                            "by / (1,1,1,1/1,0.8,0.6,0.4).")
    phases: tuple[float, ...] | None = setting(None, "Target phases in radians, one per frequency.")
    n_train: int = setting(1000, "Training points (uniform grid on [0, 1)).", sweep="Training points.",
                           ensemble="Training points.")
    # None: the evaluation grid is the training grid
    n_eval: int | None = setting(None, "Evaluation grid points.", show_default="the training grid")
    input_dim: int = setting(1, "harmonics: input dimension d (sphere S^(d-1)).", show_default="3", sweep=True,
                             grid=False)
    degrees: tuple[int, ...] = setting((), "harmonics: spherical-harmonic degrees, e.g. 1,2,4.", grid=False,
                                       sweep="harmonics: spherical-harmonic degrees, e.g. 1,2,4 (amplitude 1 each).")
    seed: int = setting(0, "harmonics: seed of the sample points and of each degree's random harmonic.",
                        flag="target-seed", show_default="0", sweep=True, grid=False)

    @property
    def eval_points(self) -> int:
        return self.n_train if self.n_eval is None else self.n_eval

    @property
    def phase_values(self) -> tuple[float, ...]:
        return self.phases if self.phases is not None else (0.0,) * len(self.freqs_hz)


@dataclass(frozen=True)
class ModelSpec:
    """What `trainer.models.build_model` needs to rebuild a model exactly."""

    kind: str = setting("mlp", "mlp or diag-linear (known-answer model).", flag="model")
    in_dim: int = 1
    out_dim: int = 1
    depth: int = setting(2, "Number of hidden layers.", sweep="Hidden layers.")
    width: int = setting(50, "Hidden units per layer.", sweep=True)
    activation: str = setting("relu", "relu, tanh, gelu, silu, sin, relu2, sinc, gaussian.",
                              sweep="Activation(s), see `train run --help`.")
    init: str = setting("default", "default (PyTorch), xavier or kaiming.", sweep="default, xavier and/or kaiming.")
    # diag-linear model (known-answer runs): K Fourier frequencies, scales k^-decay, init u=v=init_scale
    features: int = setting(20, "diag-linear: number of Fourier frequencies K.")
    feature_decay: float = setting(0.5, "diag-linear: feature scales k^-p.")
    init_scale: float = setting(1e-3, "diag-linear: initial u = v.")
    # kind "import": any nn.Module, rebuilt by calling `constructor` ("package.module:callable") with
    # `constructor_kwargs`; the MLP fields above are then unused (trainer/constructor.py)
    constructor: str | None = None
    constructor_kwargs: dict | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run; saved as JSON in every run file."""

    preset: str = "baseline"
    target: TargetSpec = field(default_factory=TargetSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    optimizer: str = setting("adam", "adam or sgd.", sweep="adam and/or sgd.")
    lr: float = setting(0.01, "Learning rate.", sweep="Learning rate(s), e.g. 0.01,0.001.")
    epochs: int = setting(10_000, "Full-batch optimizer steps.", sweep="Epochs (comma list: a grid axis).",
                          ensemble=True)
    seed: int = setting(0, "Random seed for the initialisation.")
    dtype: str = setting("float32", "float32 or float64.", sweep="float32 and/or float64.", ensemble=True)
    device: str = setting("cpu", "cpu or cuda.", ensemble=True)
    ckpt_every: int = setting(10, "Store parameters every N steps.", sweep=True)
    pred_every: int = setting(1, "Store eval-grid predictions every N steps.", sweep="Store predictions every N steps.")
    # noise-floor replicates: after the seeded init, every weight w becomes w * (1 + perturb * e),
    # e ~ N(0, 1) from a generator seeded with perturb_seed; 0 leaves the init untouched
    perturb: float = setting(0.0, "Perturb the init: w -> w (1 + perturb e), e ~ N(0, 1); e.g. 1e-7 (noise-floor "
                                  "replicate).", sweep="Relative init perturbation, e.g. 1e-7 (noise floor).")
    perturb_seed: int = setting(0, "Seed of the perturbation e.")
    # train only the output layer (hidden layers stay at their initial values); the model is then linear
    # in its trained parameters, the known-answer case of the NTK and mask analyses (docs/ntk.md)
    freeze_hidden: bool = setting(False, "Train only the output layer; hidden layers keep their initial values (a "
                                         "model linear in its trained parameters: the NTK known-answer case).")
    # the linearised twin (trainer/linearized.py): f(x; theta_0) + J(x; theta_0)(theta - theta_0) trained from the
    # network's own theta_0 with its optimizer, data and steps; a sweep's no,yes gives every run its twin
    linearize: bool = setting(False, "Train the network's linearised twin f(x; theta_0) + J(x; theta_0)(theta - "
                                     "theta_0) from the same init, optimizer and data (a convex loss: no saddles).",
                              sweep="Linearised twins: no, yes, or no,yes (every run and its twin, files -twin).",
                              ensemble="Train every member's linearised twin (files -twin).")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict) -> "TrainConfig":
        """The inverse of `dataclasses.asdict`; fields added since a file was written take their defaults."""
        raw = dict(raw)
        target = dict(raw.pop("target"))
        for key in ("freqs_hz", "amps", "phases", "degrees"):
            if target.get(key) is not None:
                target[key] = tuple(target[key])
        return cls(target=TargetSpec(**target), model=ModelSpec(**raw.pop("model")), **raw)


PRESETS: dict[str, TrainConfig] = {
    "baseline": TrainConfig(preset="baseline"),
    "wide": TrainConfig(preset="wide", model=ModelSpec(width=100)),
    "deep": TrainConfig(preset="deep", model=ModelSpec(depth=5)),
    "sgd": TrainConfig(preset="sgd", optimizer="sgd"),
    "diag-linear": TrainConfig(
        preset="diag-linear",
        target=TargetSpec(n_train=256),
        model=ModelSpec(kind="diag-linear"),
        optimizer="sgd",
        lr=0.05,
        epochs=1500,
        dtype="float64",
    ),
}
DEFAULT_STUDY = ("baseline", "wide", "deep", "sgd")
PRESET_DESCRIPTIONS = {
    "baseline": "2 hidden x 50 ReLU, Adam, lr 0.01, 10,000 full-batch epochs (Alvarez & Choe)",
    "wide": "2 hidden x 100 ReLU, Adam (Alvarez & Choe)",
    "deep": "5 hidden x 50 ReLU, Adam (Alvarez & Choe)",
    "sgd": "baseline trained with plain full-batch gradient descent (Alvarez & Choe)",
    "diag-linear": "diagonal linear net on Fourier features: plateaus are saddles by construction",
}


def get_preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


# the names trainer.models builds (it checks at import that its tables have exactly these keys); kept here so
# that validating a config needs no torch and the kind/activation check exists once (check_kind_and_activation)
MODEL_KINDS = ("mlp", "diag-linear", "import")
ACTIVATIONS = ("relu", "tanh", "gelu", "silu", "sin", "relu2", "sinc", "gaussian")
INITS = ("default", "xavier", "kaiming")


def check_kind_and_activation(model: ModelSpec) -> None:
    """Refuse an unknown model kind or activation (validate and trainer.models.build_model both call this)."""
    if model.kind not in MODEL_KINDS:
        raise ConfigError(f"unknown model kind {model.kind!r}; known: {', '.join(MODEL_KINDS)}")
    if model.activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {model.activation!r}; known: {', '.join(ACTIVATIONS)}")


def validate(config: TrainConfig) -> TrainConfig:
    """Raise ConfigError with a one-line message for any out-of-range or inconsistent value."""
    target, model = config.target, config.model
    _positive("epochs", config.epochs)
    _positive("lr", config.lr)
    _positive("ckpt-every", config.ckpt_every)
    _positive("pred-every", config.pred_every)
    _positive("n-train", target.n_train)
    _positive("n-eval", target.eval_points)
    _positive("width", model.width)
    _positive("depth", model.depth)
    _positive("features", model.features)
    if not (math.isfinite(config.perturb) and config.perturb >= 0):
        raise ConfigError(f"perturb must be zero or positive, got {config.perturb}")
    if config.perturb_seed < 0:
        raise ConfigError(f"perturb-seed must be zero or positive, got {config.perturb_seed}")
    if config.dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {config.dtype!r}; choose one of {', '.join(DTYPES)}")
    if config.optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    check_kind_and_activation(model)
    if model.kind == "import":
        raise ConfigError('model kind "import" is for runs imported or logged from other loops (train import, '
                          'RunWriter.for_model); train runs mlp or diag-linear')
    if model.init not in INITS:
        raise ConfigError(f"unknown init {model.init!r}; known: {', '.join(INITS)}")
    _validate_target(target)
    if model.kind != "import" and model.in_dim != target.input_dim:
        raise ConfigError(f"the model takes {model.in_dim}-D inputs but the target's are {target.input_dim}-D")
    if model.kind == "diag-linear" and target.kind != "sines":
        raise ConfigError("the diag-linear model is 1-D Fourier features: it needs a sines target")
    if config.freeze_hidden and model.kind != "mlp":
        raise ConfigError(f"freeze-hidden trains an MLP's output layer; model kind {model.kind!r} has none")
    if model.kind == "diag-linear" and model.features >= min(target.n_train, target.eval_points) / 2:
        raise ConfigError(f"features={model.features} must be below the Nyquist limit of the grid")
    if config.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device {config.device!r} requested but CUDA is not available")
    elif config.device != "cpu":
        raise ConfigError(f"unknown device {config.device!r}; use cpu or cuda")
    return config


def _validate_target(target: TargetSpec) -> None:
    if target.kind not in TARGET_KINDS:
        raise ConfigError(f"unknown target kind {target.kind!r}; known: {', '.join(TARGET_KINDS)}")
    if target.kind == "harmonics":
        _validate_harmonics(target)
        return
    if target.input_dim != 1 or target.degrees:
        raise ConfigError("a sines target is 1-D: input-dim and degrees are for --target harmonics")
    if len(target.freqs_hz) == 0:
        raise ConfigError("the target needs at least one frequency")
    if len(target.freqs_hz) != len(target.amps):
        raise ConfigError(
            f"{len(target.freqs_hz)} frequencies but {len(target.amps)} amplitudes: give one amplitude per frequency"
        )
    if target.phases is not None and len(target.phases) != len(target.freqs_hz):
        raise ConfigError(f"{len(target.freqs_hz)} frequencies but {len(target.phases)} phases")
    nyquist_hz = min(target.n_train, target.eval_points) / 2
    for freq in target.freqs_hz:
        if not freq > 0:
            raise ConfigError(f"frequency {freq} Hz must be positive")
        if freq >= nyquist_hz:
            raise ConfigError(
                f"frequency {freq} Hz is at or above the Nyquist limit {nyquist_hz:g} Hz of a "
                f"{min(target.n_train, target.eval_points)}-point grid"
            )


def _validate_harmonics(target: TargetSpec) -> None:
    if target.input_dim < 2:
        raise ConfigError(f"input-dim must be at least 2 for a harmonics target (the sphere S^(d-1)), "
                          f"got {target.input_dim}")
    if len(target.degrees) == 0:
        raise ConfigError("the harmonics target needs at least one degree")
    if len(target.degrees) != len(target.amps):
        raise ConfigError(f"{len(target.degrees)} degrees but {len(target.amps)} amplitudes: "
                          "give one amplitude per degree")
    if len(set(target.degrees)) != len(target.degrees):
        raise ConfigError(f"degrees must be distinct, got {list(target.degrees)}")
    for degree in target.degrees:
        if not (isinstance(degree, int) and 0 <= degree <= MAX_DEGREE):
            raise ConfigError(f"degree {degree} must be an integer from 0 to {MAX_DEGREE}")
    if target.freqs_hz or target.phases is not None:
        raise ConfigError("a harmonics target has degrees, not frequencies or phases")
    if target.seed < 0:
        raise ConfigError(f"target-seed must be zero or positive, got {target.seed}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {value}")
