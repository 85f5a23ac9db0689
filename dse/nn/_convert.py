"""Swapping a model's layers for approximate ones, and model-wide options and statistics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from torch import nn

from dse.errors import ConfigError
from dse.nn._layers import AxConv1d, AxConv2d, AxLayer, AxLinear, AxMatmul, Matmul
from dse.nn._multiplier import AxMultiplier

__all__ = ["ax_layers", "calibrate", "collect_histograms", "convert", "set_ax_options"]

_SWAPS: list[tuple[type[nn.Module], Any]] = [
    (nn.Conv2d, AxConv2d),
    (nn.Conv1d, AxConv1d),
    (nn.Linear, AxLinear),
    (Matmul, AxMatmul),
]


def convert(
    model: nn.Module,
    multiplier: AxMultiplier | Mapping[str, AxMultiplier],
    *,
    skip: tuple[str, ...] = (),
    **options: Any,
) -> nn.Module:
    """Swap ``Conv1d``/``Conv2d``/``Linear``/:class:`Matmul` layers for approximate ones, in place.

    ``multiplier`` is one :class:`AxMultiplier` for every layer, or a dict from layer name
    (as in ``model.named_modules()``) to multiplier; with a dict, unnamed layers stay float
    unless the dict has a ``"*"`` default. ``skip`` names layers to leave float. ``options``
    are layer options (``grad``, ``half_window``, ``act_bits``, ``weight_bits``,
    ``act_mode``, ``kernel``, ``mode``, ``rank``, ``passive``, ...). Returns ``model``.
    """
    if isinstance(multiplier, Mapping):
        for name, m in multiplier.items():
            if not isinstance(m, AxMultiplier):
                raise ConfigError(f"multiplier[{name!r}] must be an AxMultiplier")
        known = {n for n, _ in model.named_modules()}
        missing = [n for n in multiplier if n != "*" and n not in known]
        if missing:
            raise ConfigError(f"multiplier dict names unknown layers {missing}")
    elif not isinstance(multiplier, AxMultiplier):
        raise ConfigError(
            f"multiplier must be an AxMultiplier or a dict of them, got {type(multiplier).__name__}"
        )
    targets: list[tuple[str, nn.Module, str, nn.Module]] = []
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, AxLayer) or full in skip:
                continue
            targets.append((full, module, child_name, child))
    for full, parent, child_name, child in targets:
        swap = next((ax for base, ax in _SWAPS if type(child) is base), None)
        if swap is None:
            continue
        mult = (
            multiplier.get(full, multiplier.get("*"))
            if isinstance(multiplier, Mapping)
            else multiplier
        )
        if mult is None:
            continue
        new = swap.from_float(child, mult, **options)
        param = next(child.parameters(), None)
        if param is not None:
            new.to(param.device)  # the range observers' buffers follow the layer's device
        setattr(parent, child_name, new)
    return model


def ax_layers(model: nn.Module) -> list[tuple[str, AxLayer]]:
    """``(name, layer)`` for every approximate layer of ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, AxLayer)]


def set_ax_options(model: nn.Module, **options: Any) -> None:
    """Set options on every approximate layer (e.g. ``grad="lut1d"``, ``enabled=False``)."""
    for _, layer in ax_layers(model):
        layer.set_options(**options)


@contextlib.contextmanager
def calibrate(model: nn.Module) -> Iterator[None]:
    """Within the block, forward passes widen the activation ranges (running min/max)."""
    layers = [m for _, m in ax_layers(model)]
    for m in layers:
        m._calibrating = True
    try:
        yield
    finally:
        for m in layers:
            m._calibrating = False


@contextlib.contextmanager
def _recording(model: nn.Module) -> Iterator[None]:
    layers = [m for _, m in ax_layers(model)]
    for m in layers:
        m._record = True
        m.act_hist = None
        m.weight_hist = None
    try:
        yield
    finally:
        for m in layers:
            m._record = False


def collect_histograms(model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the recorded activation-code and weight-code histograms over all layers.

    Each is indexed by the multiplier's operand code (length ``2**width``) and counts
    products, so both sum to the number of multiplications performed. Layers with
    different widths are skipped if they do not match the first layer's widths.
    """
    acts: np.ndarray | None = None
    weights: np.ndarray | None = None
    for _, layer in ax_layers(model):
        if layer.act_hist is None or layer.weight_hist is None:
            continue
        if acts is None or weights is None:
            acts, weights = layer.act_hist.copy(), layer.weight_hist.copy()
        elif acts.shape == layer.act_hist.shape and weights.shape == layer.weight_hist.shape:
            acts += layer.act_hist
            weights += layer.weight_hist
    if acts is None or weights is None:
        return np.zeros(0), np.zeros(0)
    return acts, weights
