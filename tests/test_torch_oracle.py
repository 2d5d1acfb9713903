"""PyTorch as oracle: same weights, same batch → the same loss, gradients and optimizer trajectories.

CI installs torch==2.13.0 (CPU); these tests must not skip there.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import deltaprop as dp
from _nets import HIDDEN, LOSSES, OUTPUT, make_loss, random_data, random_net, valid_pair

if os.environ.get("CI"):
    import torch  # CI must have the oracle: an ImportError here fails the run instead of skipping
else:
    torch = pytest.importorskip("torch")

F = torch.nn.functional


def torch_activation(layer: dp.Layer) -> torch.nn.Module:
    if isinstance(layer, dp.LeakyReLU):
        return torch.nn.LeakyReLU(layer.alpha)
    if isinstance(layer, dp.ELU):
        return torch.nn.ELU(layer.alpha)
    if isinstance(layer, dp.GELU):
        return torch.nn.GELU(approximate=layer.approximate)
    if isinstance(layer, dp.Softplus):
        return torch.nn.Softplus(beta=1.0, threshold=1e9)  # no linear cut-off: the exact function
    if isinstance(layer, dp.Softmax):
        return torch.nn.Softmax(dim=-1)
    return {dp.Identity: torch.nn.Identity, dp.Sigmoid: torch.nn.Sigmoid, dp.Tanh: torch.nn.Tanh,
            dp.ReLU: torch.nn.ReLU}[type(layer)]()


def to_torch(model: dp.Sequential) -> torch.nn.Sequential:
    """nn.Linear takes W in the same (n_out, n_in) layout, so weights copy over unchanged."""
    modules = []
    for layer in model.layers:
        if isinstance(layer, dp.Dense):
            lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W))
                lin.bias.copy_(torch.from_numpy(layer.b))
            modules.append(lin)
        else:
            modules.append(torch_activation(layer))
    return torch.nn.Sequential(*modules)


def torch_loss(name: str, loss: dp.Loss, a, y, logits=None):
    """Our convention: sum over outputs, then mean over samples ("mean") or sum ("sum")."""
    n = a.shape[0]
    if name == "mse":
        total = F.mse_loss(a, y, reduction="sum")
    elif name == "half_sse":
        total = 0.5 * F.mse_loss(a, y, reduction="sum")
    elif name == "mae":
        total = F.l1_loss(a, y, reduction="sum")
    elif name == "huber":
        total = F.huber_loss(a, y, reduction="sum", delta=loss.delta)
    elif name == "binary_crossentropy":
        total = F.binary_cross_entropy(a, y, reduction="sum")
    else:
        total = -(y * torch.log(a)).sum()
    return total / n if loss.reduction == "mean" else total


PAIRS = [(h, o, lo) for o in OUTPUT for lo in LOSSES if valid_pair(o, lo) for h in ("tanh",)]
PAIRS += [(h, "identity", "mse") for h in HIDDEN]


@pytest.mark.parametrize(("hidden", "output", "loss_name"), PAIRS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_forward_loss_and_every_gradient_equal_autograd(hidden, output, loss_name, reduction):
    model = random_net([4, 5, 3, 3], hidden, output, seed=11)
    X, y = random_data(6, 4, 3, loss_name, seed=11)
    loss = make_loss(loss_name, reduction)

    a = model.forward(X)
    value, delta, top = model.output_delta(loss, a, y)
    model._backward_from(top, delta)

    net = to_torch(model)
    Xt, yt = torch.from_numpy(X).requires_grad_(True), torch.from_numpy(y)
    at = net(Xt)
    lt = torch_loss(loss_name, loss, at, yt)
    lt.backward()

    np.testing.assert_allclose(a, at.detach().numpy(), rtol=0, atol=1e-12)
    assert abs(value - lt.item()) <= 1e-10 * max(1.0, abs(lt.item()))
    grads = model.gradients()
    for i, module in enumerate(net):
        if isinstance(module, torch.nn.Linear):
            np.testing.assert_allclose(grads[f"{i}.W"], module.weight.grad.numpy(), rtol=0, atol=1e-10)
            np.testing.assert_allclose(grads[f"{i}.b"], module.bias.grad.numpy(), rtol=0, atol=1e-10)
    # ∂L/∂X through the unfused path (every layer's backward, softmax's E7 included)
    model2 = random_net([4, 5, 3, 3], hidden, output, seed=11)
    dX = model2.backward(loss.grad(model2.forward(X), y), input_grad=True)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=0, atol=1e-10)


def test_integer_labels_and_one_hot_give_the_same_cross_entropy():
    model = random_net([3, 4, 5], "relu", "softmax", seed=2)
    X = np.random.default_rng(0).normal(size=(7, 3))
    labels = np.array([0, 4, 2, 2, 1, 3, 0])
    ce = dp.CategoricalCrossEntropy()
    a = model.forward(X)
    assert ce.value(a, labels) == pytest.approx(ce.value(a, np.eye(5)[labels]), abs=1e-15)
    lt = F.cross_entropy(to_torch(model)[:-1](torch.from_numpy(X)), torch.from_numpy(labels))
    assert model.output_delta(ce, a, labels)[0] == pytest.approx(lt.item(), abs=1e-12)


OPTIMIZERS = {
    "sgd": (lambda: dp.SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (lambda: dp.SGD(lr=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "nesterov": (lambda: dp.SGD(lr=0.05, momentum=0.9, nesterov=True),
                 lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "weight_decay": (lambda: dp.SGD(lr=0.05, momentum=0.5, weight_decay=0.01),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.01)),
    "rmsprop": (lambda: dp.RMSprop(lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop_centered_momentum": (
        lambda: dp.RMSprop(lr=0.005, momentum=0.8, centered=True, weight_decay=0.001),
        lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.8, centered=True, weight_decay=0.001)),
    "adam": (lambda: dp.Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_l2_amsgrad": (lambda: dp.Adam(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True),
                        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True)),
    "adamw": (lambda: dp.AdamW(lr=0.01, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    "clip_norm": (lambda: dp.SGD(lr=0.1, momentum=0.9, clip_norm=0.05),
                  lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
}

SCHEDULES = {
    "step": (lambda: dp.StepLR(step_size=4, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 4, 0.5)),
    "exponential": (lambda: dp.ExponentialLR(0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
    "cosine": (lambda: dp.CosineAnnealingLR(T_max=20, eta_min=0.001),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001)),
    "warmup": (lambda: dp.LinearWarmup(5, start_factor=0.25),
               lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=5)),
    "plateau": (lambda: dp.ReduceLROnPlateau(factor=0.5, patience=1, threshold=0.05),
                lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.05)),
}


def run_both(make_dp, make_torch, *, schedule=None, steps=20, clip=None):
    model = random_net([3, 6, 4, 2], "tanh", "softmax", seed=5)
    net = to_torch(model)
    opt_dp = make_dp()
    if schedule is not None:
        opt_dp.set_schedule(schedule[0]())
    opt_t = make_torch(net.parameters())
    sched_t = schedule[1](opt_t) if schedule is not None else None
    loss = dp.CategoricalCrossEntropy()
    rng = np.random.default_rng(9)
    for _ in range(steps):
        X = rng.normal(size=(8, 3))
        y = rng.integers(0, 2, 8)
        value = model.train_on_batch(X, y, loss=loss, optimizer=opt_dp)
        opt_t.zero_grad()
        lt = F.cross_entropy(net[:-1](torch.from_numpy(X)), torch.from_numpy(y))
        lt.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt_t.step()
        assert value == pytest.approx(lt.item(), abs=1e-9)
        if sched_t is not None:
            metric = lt.item()
            opt_dp.epoch_end(metric)
            if isinstance(sched_t, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched_t.step(metric)
            else:
                sched_t.step()
            assert opt_dp.lr == pytest.approx(opt_t.param_groups[0]["lr"], rel=1e-12)
    return model, net


def assert_same_weights(model, net, atol=1e-9):
    params = model.parameters()
    for i, module in enumerate(net):
        if isinstance(module, torch.nn.Linear):
            np.testing.assert_allclose(params[f"{i}.W"], module.weight.detach().numpy(), rtol=0, atol=atol)
            np.testing.assert_allclose(params[f"{i}.b"], module.bias.detach().numpy(), rtol=0, atol=atol)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_20_optimizer_steps_match_torch_optim(name):
    make_dp, make_torch = OPTIMIZERS[name]
    model, net = run_both(make_dp, make_torch, clip=0.05 if name == "clip_norm" else None)
    assert_same_weights(model, net)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_20_steps_with_a_schedule_match_torch(name):
    model, net = run_both(lambda: dp.SGD(lr=0.2, momentum=0.9),
                          lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9), schedule=SCHEDULES[name])
    assert_same_weights(model, net)


def test_adam_with_warmup_then_cosine_matches_sequential_lr():
    def make_sched(o):
        warm = torch.optim.lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=4)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=16)
        return torch.optim.lr_scheduler.SequentialLR(o, [warm, cos], milestones=[4])

    schedule = (lambda: dp.LinearWarmup(4, start_factor=0.5, then=dp.CosineAnnealingLR(T_max=16)), make_sched)
    model, net = run_both(lambda: dp.Adam(lr=0.02), lambda p: torch.optim.Adam(p, lr=0.02), schedule=schedule)
    assert_same_weights(model, net)
