"""The model of a run rebuilt from its stored spec, and its training loss as a function of flat parameters.

A linearised twin (the model spec's `linearized` record, docs/run-file.md) is rebuilt as the twin of its network,
linearised at the stored theta_0 (trainer/linearized.py): everything that evaluates the model then sees the twin."""

from __future__ import annotations

import numpy as np

from analyzer.errors import BadInputError


def build_model(run, dtype: str = "float64"):
    """Rebuild the exact model of `run` from the stored spec; returns (model, ParamLayout)."""
    import torch

    from trainer.errors import ConfigError
    from trainer.models import ParamLayout, build_model as build_trainer_model, check_layout, model_spec_from_dict

    network_spec = {key: value for key, value in run.model_spec.items() if key != "linearized"}
    try:
        spec = model_spec_from_dict(network_spec)
        model = build_trainer_model(spec, seed=0, dtype=getattr(torch, dtype))
    except (ConfigError, TypeError) as err:
        raise BadInputError(f"{run.path}: the stored model spec cannot be rebuilt ({err})") from None
    try:
        layout = ParamLayout.from_dict(run.layout)
        n_params = layout.n_params
    except (KeyError, TypeError, ValueError) as err:
        raise BadInputError(f"{run.path}: the stored parameter layout is unreadable ({err!r})") from None
    try:
        check_layout(model, run.layout)  # an imported model's class may have changed since
    except ConfigError as err:
        raise BadInputError(f"{run.path}: the stored model spec cannot be rebuilt ({err})") from None
    if n_params != run.n_params:
        raise BadInputError(f"{run.path}: model layout has {layout.n_params} parameters, file says {run.n_params}")
    if run.linearized is not None:
        return linearized_twin(run, model), layout
    return model, layout


def linearized_twin(run, network):
    """The twin f(x; theta_0) + J(x; theta_0)(theta - theta_0) of the rebuilt `network` (trainer/linearized.py),
    theta_0 read from the checkpoint the model spec names, in the network's dtype."""
    import torch

    from trainer.linearized import Linearized

    theta0 = torch.from_numpy(np.asarray(run.params_at(run.theta0_step)))
    return Linearized(network, theta0.to(next(network.parameters()).dtype))


def loss_closure(run, dtype: str = "float64"):
    """The training loss as a function of the flat parameter vector, exactly as trained (mean MSE)."""
    import torch

    from trainer.models import functional_forward

    model, layout = run.build_model(dtype)
    torch_dtype = getattr(torch, dtype)
    x = torch.from_numpy(run.data("x_train")).to(torch_dtype)
    y = torch.from_numpy(run.data("y_train")).to(torch_dtype)

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return torch.mean((functional_forward(model, layout, theta, x) - y) ** 2)

    return loss


def theta0_jacobian(run) -> np.ndarray:
    """J_0 of a linearised twin: the (N o) x P Jacobian of its network at theta_0 on the training inputs (float64,
    rows sample-major as the loss flattens them), which is the twin's Jacobian at every theta; by the layer
    signals for a plain MLP, else per-sample autograd (analyzer/io/ntk_net.py)."""
    from analyzer.io.ntk_net import jacobian, make_net

    if run.linearized is None:
        raise BadInputError(f"{run.path}: not a linearised twin (its model spec has no `linearized` record)")
    twin, layout = build_model(run, "float64")
    net = make_net(twin.network, layout, run.data("x_train"), freeze_hidden=False)
    jac = jacobian(net, np.asarray(run.params_at(run.theta0_step), dtype=np.float64))
    if jac.shape[0] != np.asarray(run.data("y_train")).size:
        raise BadInputError(f"{run.path}: the model gives {jac.shape[0]} training outputs, the targets hold "
                            f"{np.asarray(run.data('y_train')).size}")
    return jac
