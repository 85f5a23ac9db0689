"""Swapping a model's layers for approximate ones, and model-wide options and statistics."""

from __future__ import annotations

import contextlib
import fnmatch
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dse.errors import ConfigError
from dse.nn._layers import AxConv1d, AxConv2d, AxLayer, AxLinear, AxMatmul, Matmul
from dse.nn._multiplier import AxMultiplier

__all__ = [
    "approximable_layers",
    "ax_layers",
    "calibrate",
    "collect_histograms",
    "convert",
    "layer_macs",
    "select_layers",
    "set_ax_options",
    "unsupported_layers",
]

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


#: Layers that multiply but have no approximate counterpart: their products stay exact.
#: ``nn.MultiheadAttention`` computes its projections and both attention products
#: inside ``F.multi_head_attention_forward``; a network written with ``nn.Linear`` and
#: :class:`Matmul` (as the built-in ``vit-tiny``) has all of them approximated.
_UNSUPPORTED: tuple[type[nn.Module], ...] = (
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.MultiheadAttention,
    nn.Bilinear,
    nn.RNNBase,
)


def approximable_layers(model: nn.Module) -> list[str]:
    """Names of the layers :func:`convert` can swap (or has swapped), in model order."""
    bases = tuple(base for base, _ in _SWAPS)
    return [
        n for n, m in model.named_modules() if n and (isinstance(m, AxLayer) or type(m) in bases)
    ]


def unsupported_layers(model: nn.Module) -> list[tuple[str, str]]:
    """``(name, type)`` of the layers that multiply but stay exact: the types in
    ``_UNSUPPORTED`` and subclasses of ``Conv1d``/``Conv2d``/``Linear`` (a subclass may
    change ``forward``, so it is not swapped blindly); the inside of a listed layer is
    not listed again."""
    bases = tuple(base for base, _ in _SWAPS)
    out: list[tuple[str, str]] = []
    for n, m in model.named_modules():
        if not n or isinstance(m, AxLayer) or any(n.startswith(f"{o}.") for o, _ in out):
            continue
        if isinstance(m, _UNSUPPORTED) or (isinstance(m, bases) and type(m) not in bases):
            out.append((n, type(m).__name__))
    return out


def select_layers(
    model: nn.Module,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    *,
    where: str = "layers",
) -> list[str]:
    """The approximable layers whose names match an ``include`` glob and no ``exclude``
    glob (:mod:`fnmatch` patterns over ``model.named_modules()`` names). A glob that
    matches no approximable layer is an error naming it; layers that multiply but
    cannot be approximated are listed in one warning."""
    names = approximable_layers(model)
    for field, globs in (("include", include), ("exclude", exclude)):
        for g in globs:
            if not any(fnmatch.fnmatchcase(n, g) for n in names):
                shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
                name = f"--{field}" if where.startswith("--") else f"{where}.{field}"
                raise ConfigError(
                    f"{name}: {g!r} matches no approximable layer (they are: {shown})"
                )
    stuck = unsupported_layers(model)
    if stuck:
        warnings.warn(
            f"{len(stuck)} layer(s) dse cannot approximate compute exact products: "
            + ", ".join(f"{n} ({t})" for n, t in stuck),
            stacklevel=2,
        )
    return [
        n
        for n in names
        if any(fnmatch.fnmatchcase(n, g) for g in include)
        and not any(fnmatch.fnmatchcase(n, g) for g in exclude)
    ]


@torch.no_grad()
def layer_macs(model: nn.Module, sample: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates per approximable layer for one sample (forward hooks on a
    pass of ``sample``, a batch; grouped convolutions count ``in/groups`` per output)."""
    wanted = set(approximable_layers(model))
    macs: dict[str, int] = {}
    hooks = []
    batch = max(1, int(sample.shape[0]))

    def hook(m: nn.Module, inp: Any, out: Any, name: str = "") -> None:
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            per_out = m.weight[0].numel()
        elif isinstance(m, nn.Linear):
            per_out = m.in_features
        else:  # Matmul: a @ b, each output sums a's last dimension
            per_out = int(inp[0].shape[-1])
        macs[name] = macs.get(name, 0) + int(out.numel()) * per_out // batch

    for name, mod in model.named_modules():
        if name in wanted:
            hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name)))
    was = model.training
    model.eval()
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        model(sample.to(dev))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return {n: macs.get(n, 0) for n in approximable_layers(model)}


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
