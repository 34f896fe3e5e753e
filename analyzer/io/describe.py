"""A run described in its user's terms: the model (our preset, or the user's constructor with its kwargs), its
parameters and layer shapes, the optimizer and learning rate when known, and which loss /log holds."""

from __future__ import annotations

import json

from trainer.runfile.records import IMPORT_SPEC_FIELDS
from trainer.runfile.loss_log import loss_label

SHOWN_LAYERS = 8  # parameter tensors listed by name before the rest are counted


def model_text(config: dict, spec: dict) -> str:
    """'fp_models:FPNet(**{"widths": [30, 40, 30]})', or our model's shape ('linearised twin of ...' for a twin)."""
    if spec.get("linearized") is not None:
        return "linearised twin of " + model_text(config, {k: v for k, v in spec.items() if k != "linearized"})
    if spec.get("kind") == "import":
        return f"{spec.get('constructor')}(**{json.dumps(spec.get('constructor_kwargs') or {})})"
    if spec.get("kind") == "mlp":
        return f"{spec.get('depth')} hidden x {spec.get('width')} {spec.get('activation')}"
    return f"{spec.get('kind')} (K={spec.get('features')}, decay {spec.get('feature_decay')}, u0 {spec.get('init_scale')})"


def shown_spec(spec: dict) -> dict:
    """The stored spec without the MLP fields a foreign model (kind "import") does not use (older files hold them)."""
    return {k: spec.get(k) for k in IMPORT_SPEC_FIELDS} if spec.get("kind") == "import" else dict(spec)


def layers_text(layout: dict, n_params: int) -> str:
    """'2,561 parameters: net.0.weight [30, 1], net.0.bias [30], ...' from the stored layout."""
    pairs = [f"{name} {list(shape)}" for name, shape in zip(layout.get("names", []), layout.get("shapes", []))]
    listed = ", ".join(pairs[:SHOWN_LAYERS]) + (f", ... ({len(pairs)} tensors)" if len(pairs) > SHOWN_LAYERS else "")
    return f"{n_params:,} parameters: {listed}"


def optimizer_text(config: dict) -> str:
    """'Adam, lr 0.002', or what is known of it; an imported run says how to record it."""
    optimizer, lr = config.get("optimizer"), config.get("lr")
    if optimizer is None and lr is None:
        if config.get("source") == "import":
            return "not recorded (train import --optimizer NAME --lr X records it)"
        return "not recorded (pass optimizer= to RunWriter.for_model)" if config.get("source") == "logger" else "none"
    return f"{optimizer if optimizer is not None else 'not recorded'}, lr {lr if lr is not None else 'not recorded'}"


def describe(run) -> dict:
    """The rows `analyze info` and the report show of a run's model, training and loss (a Run, or anything with
    config, model_spec, layout and n_params)."""
    config = run.config
    rows = {"source": config.get("source", "train")}
    if config.get("preset") is not None:
        rows["preset"] = config["preset"]
    rows |= {"model": model_text(config, run.model_spec), "layers": layers_text(run.layout, run.n_params),
             "optimizer": optimizer_text(config), "loss": loss_label(config.get("loss"))}
    if config.get("epochs") is not None:
        rows["epochs"] = config["epochs"]
    return rows
