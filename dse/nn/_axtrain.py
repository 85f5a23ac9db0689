"""AxTrain (He, Zhang, Gu, Ye, Wang, Zhang, ISLPED 2018): approximation-aware training.

* **passive** — noise injection: each product is modelled as the exact product plus noise
  whose mean and variance depend on the operand bins, estimated from the error LUT. A layer
  output sums K products, so it receives ``Σ μ(a_i, b_i) + sqrt(Σ σ²(a_i, b_i))·N(0, 1)``.
  The binned tables are factored (truncated SVD) so both sums are a couple of small GEMMs
  instead of a LUT emulation.
* **active** — a robustness regulariser: for each layer,
  ``ρ(w) = Σ_a h(a)·E(a, w)²`` is the expected squared product error of weight value ``w``
  under the layer's activation histogram ``h``; the penalty is the mean of ``ρ`` over the
  layer's weights (linearly interpolated between integer codes so it is differentiable),
  divided by the mean of ``ρ`` over all codes so that its weight λ is scale-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dse.errors import ConfigError
from dse.nn._lut_product import ProductCall, embed
from dse.nn._ops import BilinearOp
from dse.nn._separable import ValueTable

__all__ = [
    "AXTRAIN_MODES",
    "NoiseFactors",
    "error_penalty",
    "noise_factors",
    "noisy_product",
    "squared_error_table",
]

AXTRAIN_MODES: tuple[str, ...] = ("none", "passive", "active", "both")


@dataclass(eq=False)
class NoiseFactors:
    """Separable factors of the binned error mean and variance over operand values."""

    mean_u: np.ndarray  # (r, Na)
    mean_v: np.ndarray  # (r, Nb)
    var_u: np.ndarray
    var_v: np.ndarray


def _bins(enc_kind: str, values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    if enc_kind == "signmag":
        key, sign = np.abs(values), np.where(values < 0, -1, 1)
    else:
        key, sign = values - values.min(), np.ones_like(values)
    # Zero gets a bin of its own: after ReLU most activations are exactly 0, where an AxM is
    # usually exact, and lumping them with small values would bias every zero product.
    if bins < 2:
        return np.zeros_like(key), sign
    kmax = max(int(key.max()), 1)
    index = np.where(key == 0, 0, 1 + (key - 1) * (bins - 1) // kmax)
    return index, sign


def _factor(table: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    u, s, vt = np.linalg.svd(table, full_matrices=False)
    r = max(1, min(rank, s.size))
    root = np.sqrt(s[:r])
    return (u[:, :r] * root).T, (vt[:r].T * root).T


def noise_factors(table: ValueTable, bins: int = 8, rank: int = 1) -> NoiseFactors:
    """Error mean/variance per (activation bin, weight bin), factored to ``rank`` terms."""
    if not isinstance(bins, int) or bins < 1:
        raise ConfigError(f"noise_bins must be an int >= 1, got {bins!r}")
    if not isinstance(rank, int) or rank < 1:
        raise ConfigError(f"noise_rank must be an int >= 1, got {rank!r}")
    key = ("noise", bins, rank)
    cache = table.__dict__.setdefault("_gcache", {})
    if key in cache:
        return cache[key]
    va, vb = table.enc_a.values(), table.enc_b.values()
    bin_a, sign_a = _bins(table.enc_a.kind, va, min(bins, va.size))
    bin_b, sign_b = _bins(table.enc_b.kind, vb, min(bins, vb.size))
    # sign-magnitude: the error of the magnitudes, sign restored when expanded back
    err = table.error() * sign_a[:, None] * sign_b[None, :]
    na, nb = int(bin_a.max()) + 1, int(bin_b.max()) + 1
    mean = np.zeros((na, nb))
    var = np.zeros((na, nb))
    for i in range(na):
        rows = err[bin_a == i]
        for j in range(nb):
            block = rows[:, bin_b == j].astype(np.float64)
            mean[i, j], var[i, j] = block.mean(), block.var()
    mu_p, mu_q = _factor(mean, rank)
    var_p, var_q = _factor(var, rank)
    if var_p.sum() < 0:  # Perron vectors: pick the non-negative orientation
        var_p, var_q = -var_p, -var_q
    result = NoiseFactors(
        mean_u=mu_p[:, bin_a] * sign_a,
        mean_v=mu_q[:, bin_b] * sign_b,
        var_u=var_p[:, bin_a],
        var_v=var_q[:, bin_b],
    )
    cache[key] = result
    return result


def squared_error_table(table: ValueTable) -> np.ndarray:
    """``E(a, b)²`` over integer operand values (float64), for the active regulariser."""
    err = table.error().astype(np.float64)
    return err * err


def noisy_product(
    op: BilinearOp,
    x: torch.Tensor,
    w: torch.Tensor,
    call: ProductCall,
    pad: tuple[int, ...],
    bins: int,
    rank: int,
    cache: dict[Any, list[torch.Tensor]],
) -> torch.Tensor:
    """Passive: the exact fake-quantised product plus noise with the AxM's binned error mean
    and variance (``cache`` keeps the factors on the device between calls)."""
    a_real = call.s_a * (call.ia.float() + call.enc_a.vmin - call.zero)
    x_fq = call.crop(a_real) + (x - x.detach()) * call.mask_a
    w_real = (call.ib.float() + call.enc_b.vmin) * call.s_w_b
    w_fq = w_real + (w - w.detach()) * call.mask_w
    x_in = F.pad(x_fq, pad) if pad and any(pad) else x_fq
    y = op.apply(x_in, w_fq)
    nf = noise_factors(call.table, bins, rank)
    key = (id(nf), str(x.device))
    if key not in cache:
        cache[key] = [
            torch.as_tensor(t.T.copy(), dtype=torch.float32, device=x.device)
            for t in (nf.mean_u, nf.mean_v, nf.var_u, nf.var_v)
        ]
    mu_u, mu_v, var_u, var_v = cache[key]
    with torch.no_grad():
        mean = op.apply_terms(embed(call.ia, mu_u), embed(call.ib, mu_v)).sum(0)
        var = op.apply_terms(embed(call.ia, var_u), embed(call.ib, var_v)).sum(0).clamp_min(0)
        noise = (mean + var.sqrt() * torch.randn_like(mean)) * call.scale
    return y + noise.to(y.dtype)


def error_penalty(
    call: ProductCall, weight: torch.Tensor, act_hist: torch.Tensor | None
) -> torch.Tensor:
    """Active: the normalised expected squared product error of ``weight`` under the layer's
    activation-value histogram ``act_hist`` (uniform when unknown), interpolated between
    integer codes so it is differentiable."""
    table: ValueTable = call.table
    cache = table.__dict__.setdefault("_sq", {})
    key = str(weight.device)
    if key not in cache:
        cache[key] = torch.as_tensor(
            squared_error_table(table), dtype=torch.float32, device=weight.device
        )
    sq = cache[key]
    hist = act_hist
    if hist is None or hist.shape[0] != sq.shape[0]:
        hist = torch.full((sq.shape[0],), 1.0 / sq.shape[0], device=weight.device)
    rho = hist.to(weight.device) @ sq  # expected squared error per weight value
    rho = rho / rho.mean().clamp_min(1e-12)
    pos = (weight / call.s_w_b.detach() - call.enc_b.vmin).clamp(0, sq.shape[1] - 1)
    lo = pos.detach().floor().clamp(max=sq.shape[1] - 2).long()
    frac = pos - lo
    return (rho[lo] * (1 - frac) + rho[lo + 1] * frac).mean()
