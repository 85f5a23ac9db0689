"""Integer quantisation of operands for an approximate multiplier.

Weights: per-output-channel symmetric. Activations: per-tensor; unsigned after ReLU,
otherwise symmetric signed, or asymmetric with an exact zero-point correction (the
gemmlowp scheme, Jacob et al., CVPR 2018). Rounding is straight-through (Bengio et al.,
2013): gradients pass unchanged inside the clipping range and are zero outside.

How an integer value reaches the multiplier (an :class:`Encoding`):

* ``unsigned``: the value is the code (``0..2**bits-1``);
* ``twos``: two's complement code of the value on a signed multiplier;
* ``signmag``: a signed value on an *unsigned* multiplier: its magnitude goes through the
  multiplier and the sign is applied to the product afterwards, so the magnitude may use
  all ``bits`` bits (``-(2**bits-1)..2**bits-1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from dse.errors import ConfigError

__all__ = [
    "ACT_MODES",
    "ActMode",
    "Encoding",
    "RangeObserver",
    "activation_encoding",
    "weight_encoding",
]

ActMode = Literal["auto", "unsigned", "signed", "asymmetric"]
ACT_MODES: tuple[str, ...] = ("auto", "unsigned", "signed", "asymmetric")


@dataclass(frozen=True)
class Encoding:
    """How integer operand values map to multiplier codes; see the module docstring."""

    kind: Literal["unsigned", "twos", "signmag"]
    bits: int  # bits of the integer value (magnitude bits for signmag)
    width: int  # the multiplier operand's width
    symmetric: bool = True  # symmetric quantisation range (twos: drop the most negative code)

    @property
    def vmin(self) -> int:
        """Smallest integer value the encoding can carry."""
        if self.kind == "unsigned":
            return 0
        if self.kind == "signmag":
            return -(2**self.bits - 1)
        return -(2 ** (self.bits - 1)) + (1 if self.symmetric else 0)

    @property
    def vmax(self) -> int:
        """Largest integer value."""
        if self.kind == "twos":
            return 2 ** (self.bits - 1) - 1
        return 2**self.bits - 1

    @property
    def size(self) -> int:
        """Number of representable values."""
        return self.vmax - self.vmin + 1

    def values(self) -> np.ndarray:
        """All values, ascending (int64)."""
        return np.arange(self.vmin, self.vmax + 1, dtype=np.int64)

    def codes_and_signs(self) -> tuple[np.ndarray, np.ndarray]:
        """Multiplier code and sign factor (+1/-1) for each of :meth:`values`."""
        v = self.values()
        if self.kind == "signmag":
            return np.abs(v), np.where(v < 0, -1, 1)
        if self.kind == "twos":
            return v & (2**self.width - 1), np.ones_like(v)
        return v, np.ones_like(v)


def _check_bits(name: str, bits: int, width: int, kind: str) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits < 1:
        raise ConfigError(f"{name} must be a positive int, got {bits!r}")
    if bits > width:
        raise ConfigError(
            f"{name}={bits} exceeds the multiplier's {kind} operand width {width}: "
            f"the multiplier is narrower than the quantisation"
        )


def weight_encoding(bits: int, width: int, signed_multiplier: bool) -> Encoding:
    """Per-channel symmetric weights: two's complement on a signed multiplier, else sign-magnitude."""
    _check_bits("weight_bits", bits, width, "weight (b)")
    if signed_multiplier:
        if bits < 2:
            raise ConfigError(
                "weight_bits must be >= 2 on a signed multiplier (one bit is the sign)"
            )
        return Encoding("twos", bits, width)
    return Encoding("signmag", bits, width)


def activation_encoding(mode: str, bits: int, width: int, signed_multiplier: bool) -> Encoding:
    """Encoding of activations for ``mode`` in unsigned/signed/asymmetric."""
    _check_bits("act_bits", bits, width, "activation (a)")
    if mode == "unsigned":
        # A non-negative value on a signed multiplier only gets the positive half of the codes.
        if signed_multiplier and bits < 2:
            raise ConfigError("act_bits must be >= 2 on a signed multiplier")
        return Encoding("unsigned", bits - 1 if signed_multiplier else bits, width)
    if mode == "signed":
        if signed_multiplier:
            return Encoding("twos", bits, width)
        return Encoding("signmag", bits, width)
    if mode == "asymmetric":
        if signed_multiplier:
            return Encoding("twos", bits, width, symmetric=False)
        return Encoding("unsigned", bits, width)
    raise ConfigError(f"act_mode must be one of {ACT_MODES[1:]}, got {mode!r}")


def quantize_weight(
    w: torch.Tensor, enc: Encoding
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel (dim 0) symmetric: ``(integer values as float, scale[O], in-range mask)``."""
    qmax = float(enc.vmax if enc.kind != "twos" else min(enc.vmax, -enc.vmin))
    flat = w.detach().reshape(w.shape[0], -1)
    # multiply by reciprocals: CUDA rewrites division by a scalar as exactly this, and the
    # quantised codes must not depend on the device
    scale = flat.abs().amax(dim=1).clamp_min(1e-12) * (1.0 / qmax)
    shaped = scale.reshape((-1,) + (1,) * (w.dim() - 1))
    ratio = w.detach() * shaped.reciprocal()
    values = torch.clamp(torch.round(ratio), -qmax, qmax)
    mask = ratio.abs() <= qmax + 0.5
    return values, scale, mask


def act_qparams(lo: float, hi: float, enc: Encoding, asymmetric: bool) -> tuple[float, int]:
    """``(scale, zero_point)`` covering ``[lo, hi]``; the zero point is an exact integer."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)  # real zero must be representable exactly
    if asymmetric:
        span = max(hi - lo, 1e-12)
        scale = span / (enc.vmax - enc.vmin)
        zero = int(np.clip(round(enc.vmin - lo / scale), enc.vmin, enc.vmax))
        return scale, zero
    if enc.kind == "unsigned":
        return max(hi, 1e-12) / enc.vmax, 0
    qmax = enc.vmax if enc.kind != "twos" else min(enc.vmax, -enc.vmin)
    return max(hi, -lo, 1e-12) / qmax, 0


def quantize_act(
    x: torch.Tensor, enc: Encoding, scale: float, zero: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(integer values q as float, in-range mask)`` with ``x ≈ scale·(q - zero)``."""
    ratio = x.detach() * (1.0 / scale) + zero  # reciprocal: same codes on CPU and CUDA
    values = torch.clamp(torch.round(ratio), enc.vmin, enc.vmax)
    mask = (ratio >= enc.vmin - 0.5) & (ratio <= enc.vmax + 0.5)
    return values, mask


_MODE_IDS = {"auto": 0, "unsigned": 1, "signed": 2, "asymmetric": 3}
_MODE_NAMES = {v: k for k, v in _MODE_IDS.items()}


class RangeObserver(nn.Module):
    """Per-tensor range of one operand: running min/max while calibrating, EMA in training."""

    lo: torch.Tensor
    hi: torch.Tensor
    seen: torch.Tensor
    mode_id: torch.Tensor

    def __init__(self, mode: str, momentum: float = 0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))
        self.register_buffer("mode_id", torch.tensor(_MODE_IDS[mode]))

    def update(self, x: torch.Tensor, calibrating: bool, training: bool) -> None:
        lo, hi = x.detach().min().float(), x.detach().max().float()
        if not bool(self.seen):
            self.lo.copy_(lo)
            self.hi.copy_(hi)
            self.seen.fill_(True)
            if int(self.mode_id) == 0:
                self.mode_id.fill_(_MODE_IDS["unsigned"] if float(lo) >= 0 else _MODE_IDS["signed"])
        elif calibrating:
            self.lo.copy_(torch.minimum(self.lo, lo))
            self.hi.copy_(torch.maximum(self.hi, hi))
        elif training:
            self.lo.lerp_(lo, self.momentum)
            self.hi.lerp_(hi, self.momentum)

    @property
    def mode(self) -> str:
        return _MODE_NAMES[int(self.mode_id)]
