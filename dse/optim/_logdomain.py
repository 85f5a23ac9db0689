"""SGD with L2 regularisation through a behavioural model of a log-domain analog circuit.

Tageldeen, Belgaid, Mohan, Wang, Drakakis, "Learning in Log-Domain: Subthreshold Analog AI
Accelerator Based on Stochastic Gradient Descent", arXiv 2501.13181 (2025), map SGD with L2
regularisation (SGDr) onto subthreshold log-domain circuits and report behaviour close to
the ideal update — mean squared error below 0.87 % — at precision as low as 8 bits. This
module does *not* simulate their circuit; it applies the ideal SGDr update through a model
of such hardware so one can ask whether a fine-tune still recovers accuracy when the
optimiser itself is imprecise:

1. ideal update (exactly torch's SGD, dampening 0, no Nesterov):
   ``d = g + wd·w``; with momentum μ: ``buf = μ·buf + d`` (``buf = d`` at the first step),
   ``d = buf``; ``u = −lr·d``;
2. log-domain representation: each element is carried as a sign and ``e = log2|u|``
   (a current ``I ∝ 2^e`` in weak inversion). ``e`` is quantised to ``2**(bits−1)`` levels
   (one bit is the sign) spread uniformly over ``octaves`` octaves below the tensor's
   largest magnitude ``e_max = log2 max|u|`` (an automatic reference current); magnitudes
   more than ``octaves`` octaves below the maximum flush to 0. The quantisation step is
   ``δ = octaves / (2**(bits−1) − 1)`` octaves, i.e. a relative error within ``2^{±δ/2}``;
3. analog error: multiplicative log-normal noise in the log domain (a voltage error on a
   log-domain node), ``û = q · 2^{σ·ε}``, ε ~ N(0, 1) per element, with σ solved per tensor
   and step so that the expected relative error ``E[(û − u)²] / E[u²]`` (quantisation plus
   noise, the expectation over ε) equals ``error_mse`` whenever quantisation alone is below
   it (else σ = 0);
4. ``w ← w + û``.

``bits=None`` disables step 2 and ``error_mse=0`` step 3; with both, the optimiser performs
torch's SGD bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from dse.errors import ConfigError

__all__ = ["LogDomainSGD", "log_quantize"]


def log_quantize(u: torch.Tensor, bits: int | None, octaves: float) -> torch.Tensor:
    """Sign + ``log2|u|`` quantised to ``2**(bits−1)`` levels over ``octaves`` below the max."""
    if bits is None:
        return u.clone()
    mag = u.abs()
    top = mag.max()
    if not bool(top > 0):
        return torch.zeros_like(u)
    e_max = torch.log2(top)
    levels = 2 ** (bits - 1) - 1
    step = octaves / levels
    e = torch.log2(mag.clamp_min(torch.finfo(mag.dtype).tiny))
    k = torch.round((e_max - e) / step)
    q = torch.exp2(e_max - k * step) * torch.sign(u)
    return torch.where((k > levels) | (mag == 0), torch.zeros_like(u), q)


def _noise_sigma(u: torch.Tensor, q: torch.Tensor, target: float) -> float:
    """σ (octaves) of log-normal noise so that E[(q·2^{σε} − u)²] = target·Σu² (0 if impossible)."""
    uu = float((u * u).sum())
    if uu == 0.0 or target <= 0:
        return 0.0
    qq, qu = float((q * q).sum()), float((q * u).sum())
    if qq == 0.0:
        return 0.0

    # with x = exp(s²/2), s = σ·ln2: E[2^{σε}] = x, E[4^{σε}] = x⁴
    # f(x) = qq·x⁴ − 2·qu·x + uu − target·uu, increasing for x ≥ 1 when 2qq ≥ qu
    def f(x: float) -> float:
        return qq * x**4 - 2 * qu * x + uu - target * uu

    if f(1.0) >= 0:
        return 0.0
    lo, hi = 1.0, 2.0
    while f(hi) < 0:
        hi *= 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    return math.sqrt(2 * math.log(x)) / math.log(2)


class LogDomainSGD(torch.optim.Optimizer):
    """SGD with weight decay (L2) whose update goes through a log-domain hardware model.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (> 0).
        weight_decay: L2 coefficient (≥ 0), added to the gradient as in ``torch.optim.SGD``.
        momentum: heavy-ball momentum in [0, 1) (dampening 0, as torch's default).
        bits: precision of the log-domain update (sign + ``bits−1`` bits of ``log2|u|``);
            ``None`` = ideal. Default 8 (Tageldeen et al.).
        error_mse: expected relative mean squared error of the applied update,
            ``E[(û−u)²]/E[u²]``, quantisation included; default 0.0087 (0.87 %).
        octaves: dynamic range of the log code below the tensor's largest update.
        seed: seed of the noise generator (per optimiser, reproducible).

    See the module docstring for the exact model.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        *,
        bits: int | None = 8,
        error_mse: float = 0.0087,
        octaves: float = 16.0,
        seed: int = 0,
    ) -> None:
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"lr must be > 0, got {lr!r}")
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay!r}")
        if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")
        if bits is not None and (
            not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 53
        ):
            raise ConfigError(f"bits must be None or an int in 2..53, got {bits!r}")
        if not (isinstance(error_mse, (int, float)) and 0 <= error_mse < 1):
            raise ConfigError(f"error_mse must be in [0, 1), got {error_mse!r}")
        if not (isinstance(octaves, (int, float)) and octaves > 0):
            raise ConfigError(f"octaves must be > 0, got {octaves!r}")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum}
        super().__init__(params, defaults)
        self.bits = bits
        self.error_mse = float(error_mse)
        self.octaves = float(octaves)
        self._gen = torch.Generator().manual_seed(seed)
        self.last_relative_mse: float = 0.0  # realised Σ(û−u)²/Σu² of the last step

    @property
    def ideal(self) -> bool:
        """True when the model is off (``bits=None`` and ``error_mse=0``)."""
        return self.bits is None and self.error_mse == 0.0

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update; returns the closure's loss if one is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        err = tot = 0.0
        for group in self.param_groups:
            lr, wd, mom = group["lr"], group["weight_decay"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if wd != 0:
                    d = d.add(p, alpha=wd)
                if mom != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = torch.clone(d).detach()
                    else:
                        buf.mul_(mom).add_(d)
                    d = buf
                if self.ideal:
                    p.add_(d, alpha=-lr)
                    continue
                u = d.double() * -lr
                q = log_quantize(u, self.bits, self.octaves)
                sigma = _noise_sigma(u, q, self.error_mse)
                if sigma > 0:
                    eps = torch.randn(u.shape, generator=self._gen, dtype=torch.float64)
                    q = q * torch.exp2(sigma * eps.to(u.device))
                err += float(((q - u) ** 2).sum())
                tot += float((u * u).sum())
                p.add_(q.to(p.dtype))
        self.last_relative_mse = err / tot if tot > 0 else 0.0
        return loss
