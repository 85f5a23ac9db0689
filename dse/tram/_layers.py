"""TRAM phase 1: a differentiable layer mode with per-layer column parameters θ.

TRAM (Meng, Wang, Ye, Yu, Burleson, De Micheli, DAC 2026, arXiv 2605.08231) trains one
continuous parameter θ_c ∈ [0, 1] per partial-product column c < P = wa + wb − 1 of each
layer's multiplier (0 = column exact, 1 = column removed). With integer operands a
(activation, ``wa`` bits) and b (weight, ``wb`` bits) the layer's integer output is

    Y = Σ_k a_k b_k − Σ_c 2^c θ_c S_c,     S_c = Σ_k Σ_{i+j=c} bit_i(a_k) · bit_j(b_k).

Signed operands are carried sign-magnitude (the multiplier sees magnitudes; the product
sign is applied afterwards), so with bit planes ``A_i = sign(a)·bit_i(|a|)`` and
``B_j = sign(b)·bit_j(|b|)`` one has ``S_c = Σ_{i+j=c} op(A_i, B_j)`` for any bilinear
``op`` (conv, linear, matmul). The correction is bilinear too, so it costs ``wa`` calls of
``op`` rather than ``wa·wb``:

    Σ_c 2^c θ_c S_c = Σ_i op(A_i, B̃_i),    B̃_i = Σ_j 2^{i+j} θ_{i+j} B_j,

which is exact (no LUT), any width, and differentiable in θ. Gradients reach the
activations and weights through the exact fake-quantised product (straight-through
estimator, Bengio et al. 2013), as in the published code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dse.errors import ConfigError
from dse.nn import (
    Matmul,
    act_qparams,
    activation_encoding,
    quantize_act,
    quantize_weight,
    weight_encoding,
)

__all__ = [
    "TramLayer",
    "bit_planes",
    "clamp_thetas",
    "column_sums",
    "tram_calibrating",
    "tram_correction",
    "tram_layers",
    "tram_product",
    "tram_recording",
    "tramify",
    "untramify",
]

Op = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def bit_planes(v: torch.Tensor, width: int) -> list[torch.Tensor]:
    """``sign(v)·bit_i(|v|)`` for ``i < width`` (integer-valued float tensors)."""
    mag = v.detach().abs().round().long()
    if mag.numel() and int(mag.max()) >= 1 << width:
        raise ConfigError(f"operand magnitude exceeds {width} bits")
    sign = torch.sign(v.detach()).to(v.dtype)
    return [((mag >> i) & 1).to(v.dtype) * sign for i in range(width)]


def column_sums(op: Op, a: torch.Tensor, b: torch.Tensor, wa: int, wb: int) -> torch.Tensor:
    """``S_c`` for every column, stacked on a new leading dim (``wa+wb-1`` entries).

    Computed from ``wa·wb`` bit-plane products; exact for integer-valued operands in float64.
    """
    pa, pb = bit_planes(a, wa), bit_planes(b, wb)
    out: list[torch.Tensor | None] = [None] * (wa + wb - 1)
    for i in range(wa):
        for j in range(wb):
            t = op(pa[i], pb[j])
            cur = out[i + j]
            out[i + j] = t if cur is None else cur + t
    return torch.stack([t for t in out if t is not None])


def tram_correction(
    op: Op, a: torch.Tensor, b: torch.Tensor, theta: torch.Tensor, wa: int, wb: int
) -> torch.Tensor:
    """``Σ_c 2^c θ_c S_c`` via ``Σ_i op(A_i, B̃_i)`` (differentiable in ``theta``)."""
    if theta.shape != (wa + wb - 1,):
        raise ConfigError(f"theta must have shape ({wa + wb - 1},), got {tuple(theta.shape)}")
    pa, pb = bit_planes(a, wa), bit_planes(b, wb)
    coef = theta.to(b.dtype) * (2.0 ** torch.arange(wa + wb - 1, dtype=b.dtype, device=b.device))
    total: torch.Tensor | None = None
    for i in range(wa):
        b_mix = sum(coef[i + j] * pb[j] for j in range(wb))
        if not (pa[i] != 0).any():
            continue
        t = op(pa[i], b_mix)  # type: ignore[arg-type]
        total = t if total is None else total + t
    if total is None:
        total = op(pa[0], sum(coef[j] * pb[j] for j in range(wb)))  # type: ignore[arg-type]
    return total


def tram_product(
    op: Op, a: torch.Tensor, b: torch.Tensor, theta: torch.Tensor, wa: int, wb: int
) -> torch.Tensor:
    """TRAM's training-time AxM output ``op(a, b) − Σ_c 2^c θ_c S_c`` on integer operands."""
    return op(a, b) - tram_correction(op, a, b, theta, wa, wb)


class _Observer(nn.Module):
    lo: torch.Tensor
    hi: torch.Tensor
    seen: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))

    def update(
        self, x: torch.Tensor, calibrating: bool, training: bool, momentum: float = 0.1
    ) -> None:
        lo, hi = x.detach().min().float(), x.detach().max().float()
        if not bool(self.seen):
            self.lo.copy_(lo)
            self.hi.copy_(hi)
            self.seen.fill_(True)
        elif calibrating:
            self.lo.copy_(torch.minimum(self.lo, lo))
            self.hi.copy_(torch.maximum(self.hi, hi))
        elif training:
            self.lo.lerp_(lo, momentum)
            self.hi.lerp_(hi, momentum)


class TramLayer(nn.Module):
    """A Conv1d/Conv2d/Linear/:class:`dse.nn.Matmul` in TRAM phase-1 mode.

    Holds the original module as ``inner`` (parameters shared), ``theta`` (one per column,
    clamped to [0, 1] by :func:`clamp_thetas`), and the layer's normalised per-column power
    costs ``costs`` (fractions of the exact multiplier's power; see :mod:`dse.tram._power`).
    Activations (operand a) are quantised per tensor — unsigned after a ReLU, else
    sign-magnitude — weights per output channel, sign-magnitude, exactly like
    :mod:`dse.nn`'s layers on an unsigned multiplier. For a :class:`~dse.nn.Matmul`, both
    operands are quantised per tensor.
    """

    theta: nn.Parameter
    costs: torch.Tensor

    def __init__(
        self, inner: nn.Module, width_a: int, width_b: int, *, act_mode: str = "auto"
    ) -> None:
        super().__init__()
        if act_mode not in ("auto", "unsigned", "signed"):
            raise ConfigError(f"act_mode must be auto, unsigned or signed, got {act_mode!r}")
        for name, w in (("width_a", width_a), ("width_b", width_b)):
            if not isinstance(w, int) or not 1 <= w <= 16:
                raise ConfigError(f"{name} must be an int in 1..16, got {w!r}")
        self.inner = inner
        self.width_a, self.width_b = width_a, width_b
        self.act_mode = act_mode
        p = width_a + width_b - 1
        self.theta = nn.Parameter(torch.zeros(p))
        self.register_buffer("costs", torch.full((p,), 1.0 / p))
        self.obs_a = _Observer()
        self.obs_b = _Observer() if isinstance(inner, Matmul) else None
        self.calibrating = False
        self.recording = False
        self.mults_per_sample = 0
        self.hist_a = np.zeros(1 << width_a)
        self.hist_b = np.zeros(1 << width_b)
        self.last_int: tuple[torch.Tensor, torch.Tensor] | None = None

    # -------------------------------------------------------------- quantisation
    def _act(
        self, x: torch.Tensor, obs: _Observer, bits: int
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        obs.update(x, self.calibrating, self.training)
        mode = self.act_mode
        if mode == "auto":
            mode = "unsigned" if float(obs.lo) >= 0 else "signed"
        enc = activation_encoding(mode, bits, bits, False)
        scale, _ = act_qparams(float(obs.lo), float(obs.hi), enc, False)
        values, mask = quantize_act(x, enc, scale, 0)
        return values.to(x.dtype), mask, scale

    def _op(self) -> tuple[Op, int]:
        inner = self.inner
        if isinstance(inner, (nn.Conv1d, nn.Conv2d)):
            conv = F.conv1d if isinstance(inner, nn.Conv1d) else F.conv2d
            if inner.padding_mode != "zeros":
                raise ConfigError(f"padding_mode={inner.padding_mode!r} is not supported")

            def op(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
                return conv(a, w, None, inner.stride, inner.padding, inner.dilation, inner.groups)

            k = inner.in_channels // inner.groups * int(np.prod(inner.kernel_size))
            return op, k
        if isinstance(inner, nn.Linear):
            return (lambda a, w: F.linear(a, w)), inner.in_features
        return (lambda a, b: a @ b), 0

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        op, k = self._op()
        wa, wb = self.width_a, self.width_b
        if isinstance(self.inner, Matmul):
            if y is None:
                raise ConfigError("a TRAM matmul needs two operands")
            a_int, mask_a, s_a = self._act(x, self.obs_a, wa)
            assert self.obs_b is not None
            b_int, mask_b, s_b = self._act(y, self.obs_b, wb)
            k = x.shape[-1]
            s_out: torch.Tensor | float = s_b
            b_ste = b_int * s_b + (y - y.detach()) * mask_b
            bias: torch.Tensor | None = None
        else:
            w: torch.Tensor = self.inner.weight  # type: ignore[assignment]
            a_int, mask_a, s_a = self._act(x, self.obs_a, wa)
            b_int, s_w, mask_b = quantize_weight(w, weight_encoding(wb, wb, False))
            b_int = b_int.to(w.dtype)
            shaped = s_w.view((-1,) + (1,) * (w.dim() - 1))
            b_ste = b_int * shaped + (w - w.detach()) * mask_b
            s_out = (
                s_w.view((1, -1) + (1,) * (x.dim() - 2))
                if not isinstance(self.inner, nn.Linear)
                else s_w
            )
            bias = self.inner.bias  # type: ignore[assignment]
        a_ste = a_int * s_a + (x - x.detach()) * mask_a
        lead = None
        if isinstance(self.inner, nn.Linear):
            lead = x.shape[:-1]
            a_ste, a_int = a_ste.reshape(-1, x.shape[-1]), a_int.reshape(-1, x.shape[-1])
        out = op(a_ste, b_ste)
        corr = tram_correction(op, a_int, b_int, self.theta, wa, wb)
        out = out - corr * (s_out * s_a)
        if bias is not None:
            out = out + (
                bias
                if isinstance(self.inner, nn.Linear)
                else bias.view(1, -1, *([1] * (x.dim() - 2)))
            )
        if lead is not None:
            out = out.reshape(*lead, out.shape[-1])
        self.mults_per_sample = int(out[0].numel() * k) if out.dim() > 1 else int(out.numel() * k)
        self.last_int = (a_int.detach(), b_int.detach())
        if self.recording:
            self.hist_a += np.bincount(
                a_int.detach().abs().long().flatten().cpu().numpy(), minlength=1 << wa
            )[: 1 << wa]
            self.hist_b += np.bincount(
                b_int.detach().abs().long().flatten().cpu().numpy(), minlength=1 << wb
            )[: 1 << wb]
        return out

    def extra_repr(self) -> str:
        return f"{self.width_a}x{self.width_b}, act_mode={self.act_mode}"


_TARGETS = (nn.Conv1d, nn.Conv2d, nn.Linear, Matmul)


def tramify(
    model: nn.Module,
    widths: int | tuple[int, int] = 8,
    *,
    act_mode: str = "auto",
    skip: tuple[str, ...] = (),
) -> list[tuple[str, TramLayer]]:
    """Wrap every Conv1d/Conv2d/Linear/:class:`~dse.nn.Matmul` of ``model`` in a
    :class:`TramLayer`, in place (parameters shared). Returns ``(name, layer)`` pairs;
    ``name`` is the wrapped layer's name in the original model (what :func:`dse.nn.convert`
    uses after :func:`untramify`)."""
    wa, wb = (widths, widths) if isinstance(widths, int) else widths
    found: list[tuple[str, nn.Module, str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, TramLayer):
            continue
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            if type(child) in _TARGETS and full not in skip and not isinstance(module, TramLayer):
                found.append((full, module, child_name, child))
    out = []
    for full, parent, child_name, child in found:
        layer = TramLayer(child, wa, wb, act_mode=act_mode)
        p = next(child.parameters(), None)
        if p is not None:
            layer.to(p.device)
        setattr(parent, child_name, layer)
        out.append((full, layer))
    if not out:
        raise ConfigError("model has no Conv1d/Conv2d/Linear/Matmul layer to make TRAM-trainable")
    return out


def tram_layers(model: nn.Module) -> list[tuple[str, TramLayer]]:
    """``(name of the wrapped layer, TramLayer)`` for every TRAM layer in ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, TramLayer)]


def untramify(model: nn.Module) -> nn.Module:
    """Put the wrapped modules back (in place; returns ``model``)."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, TramLayer):
                setattr(module, child_name, child.inner)
        del name
    return model


def clamp_thetas(model: nn.Module) -> None:
    """Project every θ back to [0, 1] (after an optimiser step)."""
    with torch.no_grad():
        for _, layer in tram_layers(model):
            layer.theta.clamp_(0.0, 1.0)


@contextlib.contextmanager
def tram_calibrating(model: nn.Module) -> Iterator[None]:
    """Within the block, forward passes widen the activation ranges (running min/max)."""
    with _flag(model, "calibrating"):
        yield


@contextlib.contextmanager
def tram_recording(model: nn.Module) -> Iterator[None]:
    """Within the block, forward passes accumulate operand-magnitude histograms."""
    for _, m in tram_layers(model):
        m.hist_a[:] = 0
        m.hist_b[:] = 0
    with _flag(model, "recording"):
        yield


@contextlib.contextmanager
def _flag(model: nn.Module, flag: str) -> Iterator[None]:
    layers = [m for _, m in tram_layers(model)]
    old = [getattr(m, flag) for m in layers]
    for m in layers:
        setattr(m, flag, True)
    try:
        yield
    finally:
        for m, o in zip(layers, old, strict=True):
            setattr(m, flag, o)
