"""Every registered optimizer record (trainer/optim/) against torch.optim: its functional step gives torch's bits
over many steps, on one tensor, on a list of tensors and stacked per member; pack/unpack round-trip; the registry
answers an unknown name honestly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer import optim
from trainer.errors import ConfigError

SHAPES = [(7, 3), (7,), (1, 7), (1,)]  # an MLP's weight, bias, output weight and output bias
N_STEPS = 60


def random_problem(dtype: torch.dtype, seed: int) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """Initial parameters and one random gradient per step and tensor (magnitudes spread over 6 decades)."""
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(shape, generator=gen, dtype=dtype) for shape in SHAPES]
    grads = [[torch.randn(shape, generator=gen, dtype=dtype) * 10.0 ** float(torch.randint(-4, 2, (), generator=gen))
              for shape in SHAPES] for _ in range(N_STEPS)]
    return params, grads


def torch_trajectory(record, params, grads, lr) -> tuple[list[list[torch.Tensor]], torch.optim.Optimizer]:
    """The parameters after every step of record's torch.optim optimizer fed the given gradients."""
    leaves = [p.clone().requires_grad_(True) for p in params]
    optimizer = record.make_torch(leaves, lr=lr)
    trajectory = []
    for step_grads in grads:
        for leaf, grad in zip(leaves, step_grads):
            leaf.grad = grad.clone()
        optimizer.step()
        trajectory.append([leaf.detach().clone() for leaf in leaves])
    return trajectory, optimizer


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", optim.NAMES)
def test_functional_step_equals_torch_optim_bit_for_bit(name, dtype):
    """Per tensor (the torch engine's layout) and as one flat buffer (the fused engine's): 0 ulp at every step."""
    record = optim.get(name)
    params, grads = random_problem(dtype, seed=3)
    expected, _ = torch_trajectory(record, params, grads, lr=3e-3)
    per_tensor = [p.clone() for p in params]
    flat = [torch.cat([p.reshape(-1) for p in params])]
    state_per_tensor, state_flat = record.init_state(per_tensor), record.init_state(flat)
    for step, step_grads in enumerate(grads):
        record.step(per_tensor, step_grads, state_per_tensor, 3e-3)
        record.step(flat, [torch.cat([g.reshape(-1) for g in step_grads])], state_flat, 3e-3)
        for got, want in zip(per_tensor, expected[step]):
            assert torch.equal(got, want), (name, step)
        assert torch.equal(flat[0], torch.cat([w.reshape(-1) for w in expected[step]])), (name, step)
    assert not torch.equal(per_tensor[0], params[0])  # it moved


@pytest.mark.parametrize("name", optim.NAMES)
def test_per_member_rates_equal_each_members_own_run(name):
    """Stacked members with one rate each (the batched engine's layout) equal each member run alone with torch."""
    record = optim.get(name)
    rates = [1e-3, 7e-3, 2e-2]
    problems = [random_problem(torch.float32, seed=10 + member) for member in range(len(rates))]
    stacked = [torch.stack([problem[0][i] for problem in problems]) for i in range(len(SHAPES))]
    state = record.init_state(stacked)
    for step in range(N_STEPS):
        step_grads = [torch.stack([problem[1][step][i] for problem in problems]) for i in range(len(SHAPES))]
        record.step(stacked, step_grads, state, torch.tensor(rates, dtype=torch.float64))
    for member, (params, grads) in enumerate(problems):
        expected, _ = torch_trajectory(record, params, grads, lr=rates[member])
        for got, want in zip(stacked, expected[-1]):
            assert torch.equal(got[member], want), (name, member)


@pytest.mark.parametrize("name", optim.NAMES)
def test_pack_unpack_round_trips_through_torch_optim(name):
    """torch.optim's state packed, unpacked into a fresh optimizer and packed again: the same vector, of the
    declared size; and both optimizers then take the same next step."""
    record = optim.get(name)
    params, grads = random_problem(torch.float64, seed=5)
    _, optimizer = torch_trajectory(record, params, grads[:17], lr=1e-2)
    packed = record.pack_torch(optimizer)
    n_params = sum(p.numel() for p in params)
    assert packed.dtype == np.float64 and packed.size == record.state_size(n_params, len(params))
    moments, steps = record.unpack(packed, n_params, len(params))
    np.testing.assert_array_equal(record.pack(moments, steps), packed)
    leaves = [p.detach().clone() for group in optimizer.param_groups for p in group["params"]]
    fresh_leaves = [p.clone().requires_grad_(True) for p in leaves]
    fresh = record.make_torch(fresh_leaves, lr=1e-2)
    record.unpack_torch(fresh, packed)
    np.testing.assert_array_equal(record.pack_torch(fresh), packed)
    for leaf, fresh_leaf, grad in zip([p for g in optimizer.param_groups for p in g["params"]], fresh_leaves,
                                      grads[17]):
        leaf.grad, fresh_leaf.grad = grad.clone(), grad.clone()
    optimizer.step()
    fresh.step()
    for leaf, fresh_leaf in zip([p for g in optimizer.param_groups for p in g["params"]], fresh_leaves):
        assert torch.equal(leaf, fresh_leaf)


@pytest.mark.parametrize("name", optim.NAMES)
def test_functional_state_packs_like_torch_optim(name):
    """The functional step's state, packed from flat buffers, is torch.optim's packed state (the fused engine's
    checkpoints resume in the torch engine and back)."""
    record = optim.get(name)
    params, grads = random_problem(torch.float64, seed=8)
    _, optimizer = torch_trajectory(record, params, grads, lr=2e-3)
    flat = [torch.cat([p.reshape(-1) for p in params])]
    state = record.init_state(flat)
    for step_grads in grads:
        record.step(flat, [torch.cat([g.reshape(-1) for g in step_grads])], state, 2e-3)
    packed = record.pack([buffers[0] for buffers in state.moments.values()], np.full(len(params), float(state.step)))
    np.testing.assert_array_equal(packed, record.pack_torch(optimizer))


def test_declared_properties():
    """Plain full-batch SGD is gradient descent; Adam is not; the registry maps torch classes back to records."""
    assert optim.get("sgd").is_plain_gd is True and optim.get("adam").is_plain_gd is False
    assert optim.get("adam").state_size(10, 4) == 24 and optim.get("sgd").state_size(10, 4) == 0
    assert optim.for_torch(torch.optim.Adam([torch.zeros(1, requires_grad=True)])) is optim.get("adam")
    assert optim.for_torch(torch.optim.RMSprop([torch.zeros(1, requires_grad=True)])) is None
    for name, record in optim.REGISTRY.items():
        assert record.name == name and record.known and isinstance(record.is_plain_gd, bool)


@pytest.mark.parametrize("name", ["Adam", "SGD", "", None, "lbfgs"])
def test_an_unknown_name_is_a_record_that_assumes_nothing(name):
    """An imported run's optimizer ("Adam" as a class name, none recorded): is_plain_gd unknown, no crash on
    lookup; training with it is a one-line ConfigError."""
    record = optim.get(name)
    assert record.is_plain_gd is None and not record.known
    with pytest.raises(ConfigError, match="unknown optimizer .*choose one of adam, sgd"):
        record.make_torch([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        record.state_size(10, 4)


def test_the_registry_is_torch_free():
    """Reading a record's declared properties (what the analyzer does) imports no torch."""
    import subprocess
    import sys

    code = ("import sys, trainer.optim as o, trainer.config\n"
            "assert o.get('sgd').is_plain_gd and o.get('x').is_plain_gd is None\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
