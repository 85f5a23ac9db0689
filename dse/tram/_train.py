"""TRAM phase 1 (joint training of weights and θ) and phase 3 (fine-tune on mapped LUTs).

Phase 1 (Meng et al., TRAM, DAC 2026): loss ``λ·L_power(Θ) + L_task``;
``L_power`` is the multiplication-count-weighted mean over layers of the normalised
per-layer power ``1 − Σ_c θ_c P_c / P_exact`` (the cost model decides ``P_c``).
θ is kept in [0, 1] by projection after each step.

Phase 3: the network's layers become :mod:`dse.nn` LUT layers with each layer's mapped
multiplier and are fine-tuned by dse.nn's own fine-tune (:class:`dse.nn.PreparedBaseline`)
with any of its gradient estimators (``ste`` as in the
published code; ``lut1d``/``lut2d``, Meng et al. DATE 2025 / arXiv 2509.10519). The
optimiser is pluggable (``optimizer=`` a factory), e.g. :class:`dse.optim.LogDomainSGD`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from dse.errors import ConfigError, DataError
from dse.nn import AxMultiplier, OptimizerFactory, PreparedBaseline
from dse.tram._layers import clamp_thetas, tram_calibrating, tram_layers, tram_recording
from dse.tram._power import CostModel

__all__ = [
    "OptimizerFactory",
    "calibrate_ranges",
    "evaluate_accuracy",
    "finetune_mapped",
    "operand_histograms",
    "power_loss",
    "set_costs",
    "train_phase1",
]


def _batches(
    x: torch.Tensor, y: torch.Tensor, batch: int, gen: torch.Generator | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = (
        torch.randperm(x.shape[0], generator=gen) if gen is not None else torch.arange(x.shape[0])
    )
    for s in range(0, x.shape[0], batch):
        idx = order[s : s + batch]
        yield x[idx], y[idx]


def _stream(data: Any, batch: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    while True:
        yield from _batches(data.x_train, data.y_train, batch, gen)


def _check_data(data: Any) -> None:
    for attr in ("x_train", "y_train", "x_test", "y_test"):
        if not isinstance(getattr(data, attr, None), torch.Tensor):
            raise ConfigError(
                f"data must be a dse.nn Dataset (tensors x_train, y_train, x_test, "
                f"y_test); missing {attr}"
            )


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, data: Any, batch: int = 1000) -> float:
    """Top-1 test accuracy in eval mode."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = total = 0
    for x, y in _batches(data.x_test, data.y_test, batch, None):
        correct += int((model(x.to(dev)).argmax(1) == y.to(dev)).sum())
        total += int(y.shape[0])
    model.train(was)
    if total == 0:
        raise DataError("the test split is empty")
    return correct / total


def power_loss(model: nn.Module) -> torch.Tensor:
    """TRAM's ``L_power``: multiplication-weighted mean of ``1 − θ·costs`` over TRAM layers."""
    layers = [m for _, m in tram_layers(model)]
    n = torch.tensor([float(max(m.mults_per_sample, 1)) for m in layers])
    per = torch.stack([1.0 - (m.theta * m.costs).sum() for m in layers])
    return (per * n.to(per.device)).sum() / n.sum()


def set_costs(model: nn.Module, costs: CostModel | Mapping[str, CostModel]) -> None:
    """Give every TRAM layer its normalised column costs."""
    for name, layer in tram_layers(model):
        cm = costs[name] if isinstance(costs, Mapping) else costs
        if cm.normalised.shape != tuple(layer.costs.shape):
            raise ConfigError(
                f"cost model for {name!r} has {cm.normalised.size} columns, "
                f"the layer has {layer.costs.numel()}"
            )
        layer.costs.copy_(torch.as_tensor(cm.normalised, dtype=layer.costs.dtype))


def calibrate_ranges(
    model: nn.Module, data: Any, batches: int = 4, batch: int = 128, seed: int = 0
) -> None:
    """Running min/max activation ranges of the TRAM layers over a few training batches."""
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad(), tram_calibrating(model):
        for i, (x, _) in enumerate(_batches(data.x_train, data.y_train, batch, gen)):
            if i >= batches:
                break
            model(x.to(dev))


def operand_histograms(
    model: nn.Module, data: Any, batches: int = 4, batch: int = 500
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per TRAM layer: histograms of activation and weight magnitudes (multiplier codes)."""
    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad(), tram_recording(model):
        for i, (x, _) in enumerate(_batches(data.x_test, data.y_test, batch, None)):
            if i >= batches:
                break
            model(x.to(dev))
        return {n: (m.hist_a.copy(), m.hist_b.copy()) for n, m in tram_layers(model)}


def train_phase1(
    model: nn.Module,
    data: Any,
    *,
    lam: float,
    steps: int,
    lr: float = 1e-3,
    theta_lr: float = 0.05,
    batch_size: int = 128,
    seed: int = 0,
    losses: list[float] | None = None,
) -> dict[str, np.ndarray]:
    """Jointly train weights and θ of a :func:`~dse.tram.tramify`-ed, range-calibrated model.

    Adam on both (θ at ``theta_lr``), ``λ·L_power + cross-entropy``. Returns θ* per layer.
    """
    _check_data(data)
    if not (isinstance(lam, (int, float)) and lam >= 0 and math.isfinite(lam)):
        raise ConfigError(f"lam must be a finite number >= 0, got {lam!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be an int >= 0, got {steps!r}")
    layers = [m for _, m in tram_layers(model)]
    if not layers:
        raise ConfigError("model has no TRAM layers; call dse.tram.tramify(model) first")
    # layers of one group share their θ Parameter: each Parameter goes to Adam once
    thetas = list({id(m.theta): m.theta for m in layers}.values())
    ids = {id(t) for t in thetas}
    weights = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    opt = torch.optim.Adam([{"params": weights, "lr": lr}, {"params": thetas, "lr": theta_lr}])
    loss_fn = nn.CrossEntropyLoss()
    dev = next(model.parameters()).device
    torch.manual_seed(seed)
    model.train()
    stream = _stream(data, batch_size, seed + 7)
    for _ in range(steps):
        x, y = next(stream)
        opt.zero_grad(set_to_none=True)
        out = model(x.to(dev))
        loss = loss_fn(out, y.to(dev)) + lam * power_loss(model)
        loss.backward()
        opt.step()
        clamp_thetas(model)
        if losses is not None:
            losses.append(float(loss.detach()))
    model.eval()
    return {n: m.theta.detach().cpu().double().numpy().copy() for n, m in tram_layers(model)}


def finetune_mapped(
    model: nn.Module,
    multipliers: Mapping[str, AxMultiplier] | AxMultiplier,
    data: Any,
    *,
    steps: int,
    grad: str = "ste",
    lr: float = 3e-4,
    optimizer: OptimizerFactory | None = None,
    batch_size: int = 128,
    seed: int = 0,
    calib_batches: int = 4,
    axtrain: str = "none",
    **options: Any,
) -> tuple[float, float, nn.Module]:
    """Phase 3: fine-tune a copy of the float ``model`` on per-layer LUT layers.

    This is :meth:`dse.nn.PreparedBaseline.finetune` (the training issue's fine-tune:
    same calibration, Adam or ``optimizer`` under a cosine schedule, any gradient
    estimator, AxTrain) started from ``model`` — phase 1's jointly trained weights —
    instead of the cached float baseline. ``multipliers``: layer name →
    :class:`~dse.nn.AxMultiplier` (or one for every layer). Returns ``(accuracy before,
    accuracy after, fine-tuned model)``.
    """
    _check_data(data)
    if not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be an int >= 0, got {steps!r}")
    prepared = PreparedBaseline(
        model,
        data,
        acc_float=float("nan"),
        batch_size=batch_size,
        calib_batches=calib_batches,
        name="tram-phase1",
    )
    res = prepared.finetune(
        dict(multipliers) if isinstance(multipliers, Mapping) else multipliers,
        steps=steps,
        grad=grad,
        lr=lr,
        seed=seed,
        optimizer=optimizer,
        axtrain=axtrain,
        reference=False,
        keep_model=True,
        **options,
    )
    assert res.model is not None
    return res.acc_axm_before, res.acc_axm_after, res.model
