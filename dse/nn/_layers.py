"""Approximate layers: every product goes through the multiplier's table.

Forward (Meng et al. and AdaPT-style emulation): quantise the operands to integers,
accumulate ``Σ P(a_i, w_i)`` exactly, subtract the zero-point term (asymmetric
activations), dequantise. ``kernel="fast"`` uses the separable plans of
:mod:`dse.nn._separable`; ``kernel="reference"`` gathers from the table per product (slow,
int64). Backward: the chosen gradient estimator (``ste``, ``lut2d``, ``lut1d``) with the
straight-through estimator for rounding; scales are not learned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dse.errors import ConfigError
from dse.nn._axtrain import noise_factors, squared_error_table
from dse.nn._gradients import gradient
from dse.nn._multiplier import AxMultiplier
from dse.nn._ops import BilinearOp, ConvOp, LinearOp, MatmulOp
from dse.nn._quant import (
    ACT_MODES,
    Encoding,
    act_qparams,
    activation_encoding,
    quantize_act,
    quantize_weight,
    weight_encoding,
)
from dse.nn._separable import FLOAT32_EXACT, Plan, ValueTable, grad_factors, value_table

__all__ = [
    "AxConv1d",
    "AxConv2d",
    "AxLinear",
    "AxMatmul",
    "Matmul",
    "ax_layers",
    "calibrate",
    "collect_histograms",
    "convert",
    "set_ax_options",
]

_MODE_IDS = {"auto": 0, "unsigned": 1, "signed": 2, "asymmetric": 3}
_MODE_NAMES = {v: k for k, v in _MODE_IDS.items()}
_OPTION_DEFAULTS: dict[str, Any] = {
    "grad": "ste",
    "half_window": 2,
    "act_bits": None,
    "weight_bits": None,
    "act_mode": "auto",
    "kernel": "fast",
    "mode": "exact",
    "rank": 4,
    "grad_rank": 16,
    "passive": False,
    "noise_bins": 16,
    "noise_rank": 4,
    "enabled": True,
}


class Matmul(nn.Module):
    """``a @ b`` as a module, so :func:`convert` can swap it for :class:`AxMatmul`."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


def _check_options(opts: Mapping[str, Any], mult: AxMultiplier) -> None:
    unknown = set(opts) - set(_OPTION_DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown approximate-layer option(s) {sorted(unknown)}; "
                          f"allowed: {sorted(_OPTION_DEFAULTS)}")
    gradient(opts["grad"])  # raises for an unregistered name
    if opts["act_mode"] not in ACT_MODES:
        raise ConfigError(f"act_mode must be one of {ACT_MODES}, got {opts['act_mode']!r}")
    if opts["kernel"] not in ("fast", "reference"):
        raise ConfigError(f"kernel must be 'fast' or 'reference', got {opts['kernel']!r}")
    if opts["mode"] not in ("exact", "bounded"):
        raise ConfigError(f"mode must be 'exact' or 'bounded', got {opts['mode']!r}")
    for name in ("half_window", "rank"):
        if not isinstance(opts[name], int) or opts[name] < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {opts[name]!r}")
    for name in ("grad_rank", "noise_bins", "noise_rank"):
        if not isinstance(opts[name], int) or opts[name] < 1:
            raise ConfigError(f"{name} must be an int >= 1, got {opts[name]!r}")
    for name, width in (("act_bits", mult.width_a), ("weight_bits", mult.width_b)):
        bits = opts[name]
        if bits is None:
            continue
        if not isinstance(bits, int) or isinstance(bits, bool) or bits < 1:
            raise ConfigError(f"{name} must be a positive int, got {bits!r}")
        if bits > width:
            raise ConfigError(
                f"{name}={bits} but multiplier {mult.name!r} has {width}-bit "
                f"{'activation' if name == 'act_bits' else 'weight'} operands: the multiplier "
                f"is narrower than the quantisation"
            )


class _Observer(nn.Module):
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


class _Call:
    """Everything one approximate product-sum needs, shared by forward and backward."""

    acc: torch.Tensor | None = None  # the last integer accumulator (float64), for tests
    path = ""  # how the forward sum ran: reference, gather, int8 or float32 (for tests, reports)

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def __getattr__(self, name: str) -> Any:  # typed access to the dynamic fields
        raise AttributeError(name)


def _embed(idx: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """``feats[idx]`` as ``(*idx.shape, r)``.

    ``index_select`` over the index in its memory order: on a CPU it is several times faster
    than ``F.embedding`` or advanced indexing, and a channels-last index (see
    :func:`_codes`) needs no copy. The result keeps the index's layout.
    """
    r = feats.shape[1]
    table = feats.view(-1) if r == 1 else feats  # 1-D: index_select's fast element path
    if idx.dim() > 2:
        last = idx.movedim(1, -1)
        if last.is_contiguous() and not idx.is_contiguous():
            out = torch.index_select(table, 0, last.view(-1)).view(*last.shape, r)
            return out.movedim(-2, 1)
    return torch.index_select(table, 0, idx.reshape(-1)).view(*idx.shape, r)


def _codes(values: torch.Tensor, vmin: int, zero: int, pad: tuple[int, ...]) -> torch.Tensor:
    """Table indices ``values - vmin`` (int64), padded with the index of real zero.

    For a convolution (``pad`` given) the result is channels-last in memory, ``(B, *S, C)``
    viewed as ``(B, C, *S)``: the int8 path gathers features per position and channel in
    that order (see :meth:`dse.nn._ops.ConvOp.apply_int8`). Conversion, shift, padding and
    layout change happen in one pass over the tensor.
    """
    if not pad:
        shifted = values - vmin if vmin else values
        return shifted.long()
    nd = len(pad) // 2
    spatial = values.shape[2:]
    lo = [pad[2 * (nd - 1 - d)] for d in range(nd)]  # pad lists the last dimension first
    hi = [pad[2 * (nd - 1 - d) + 1] for d in range(nd)]
    shape = [values.shape[0], *(spatial[d] + lo[d] + hi[d] for d in range(nd)), values.shape[1]]
    last = torch.empty(shape, dtype=torch.long, device=values.device)
    fill = zero - vmin
    for d in range(nd):  # the borders, one slab per side
        index: list[slice | int] = [slice(None)] * len(shape)
        if lo[d]:
            index[1 + d] = slice(0, lo[d])
            last[tuple(index)] = fill
        if hi[d]:
            index[1 + d] = slice(shape[1 + d] - hi[d], shape[1 + d])
            last[tuple(index)] = fill
    inner = tuple([slice(None)] + [slice(lo[d], lo[d] + spatial[d]) for d in range(nd)] + [slice(None)])
    src = values.movedim(1, -1)
    last[inner] = src - vmin if vmin else src
    return last.movedim(-1, 1)


def _combine(terms: torch.Tensor, plan: Plan, coef: torch.Tensor) -> torch.Tensor:
    # in-place accumulation: no r-times-larger float64 temporaries
    acc = torch.zeros(terms.shape[1:], dtype=torch.float64 if plan.combine_float64 else torch.float32,
                      device=terms.device)
    for k, c in enumerate(plan.coef.tolist()):
        acc.add_(terms[k], alpha=c)
    return acc.double()


def fast_accumulate(op: BilinearOp, table: ValueTable, plan: Plan, ia: torch.Tensor,
                    ib: torch.Tensor) -> tuple[torch.Tensor, str]:
    """``Σ P`` per output as float64 through the plan (exact integers when ``plan.exact``).

    Also returns which evaluation ran: ``"gather"``, ``"int8"`` (the plan's int8 groups) or
    ``"float32"`` (its float32 terms, also the fallback where the op or device has no int8 GEMM).
    """
    if plan.method == "gather":
        return op.gather(ia, ib, table.tensor("P", ia.device)).double(), "gather"
    if plan.int_groups:
        acc = _int_accumulate(op, plan, ia, ib)
        if acc is not None:
            return acc, "int8"
    fa, fb, coef = plan.torch_feats(ia.device)
    if ia.is_cuda:
        # TF32 would round the integer operands; exactness needs true fp32 GEMMs.
        with _no_tf32():
            terms = op.apply_terms(_embed(ia, fa), _embed(ib, fb))
        if plan.exact:
            terms = terms.round()  # guards against non-direct conv algorithms (e.g. Winograd)
    else:
        terms = op.apply_terms(_embed(ia, fa), _embed(ib, fb))
    return _combine(terms, plan, coef), "float32"


def _int_accumulate(op: BilinearOp, plan: Plan, ia: torch.Tensor,
                    ib: torch.Tensor) -> torch.Tensor | None:
    """``Σ_g coef_g·GEMM_int8(group g)`` in float64, or None where the op has no int8 form.

    Each group's int32 result is exact (the plan bounds it), and so is the float64 sum
    (bounded below 2**53), whatever the summation order.
    """
    acc: torch.Tensor | None = None
    for lut_a, lut_b, coef in plan.torch_int_feats(ia.device):
        out = op.apply_int8(ia, ib, lut_a, lut_b)
        if out is None:
            return None
        if acc is None:
            # one pass: a 0-dim float64 factor promotes the int32 result to float64, and the
            # op's layout (channels-last for convolutions) is kept
            acc = torch.mul(out, torch.tensor(float(coef), dtype=torch.float64, device=out.device))
        else:
            acc.add_(out.to(torch.float64), alpha=coef)
    return acc


@contextlib.contextmanager
def _no_tf32() -> Iterator[None]:
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


def _dequant(acc: torch.Tensor, scale: torch.Tensor, bound: int, dtype: torch.dtype) -> torch.Tensor:
    if bound <= FLOAT32_EXACT:
        return (acc.float() * scale.float()).to(dtype)
    return (acc * scale.double()).to(dtype)


class _AxFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, call: _Call) -> torch.Tensor:
        ctx.call = call
        if call.kernel == "reference":
            acc = call.op.gather(call.ia, call.ib, call.table.tensor("P", x.device)).double()
            call.path = "reference"
        else:
            acc, call.path = fast_accumulate(call.op, call.table, call.plan, call.ia, call.ib)
        call.acc = acc
        if call.zero != 0:
            acc = acc - call.zero * call.op.sum_b(call.w_val.double())
        return _dequant(acc, call.scale, call.bound, x.dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        call: _Call = ctx.call
        op: BilinearOp = call.op
        # ∂y/∂a_int = s_a·s_w·∂P/∂a (the 1/s_a of rounding cancels s_a), ∂y/∂w_int = s_a·s_w·∂P/∂w
        # (the 1/s_w cancels s_w). g keeps its memory layout (channels-last after an int8
        # convolution): a copy to another layout costs a pass and slows the ops after it.
        need_a, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ia, ib = call.ia, call.ib
        use_gather = call.kernel == "reference"
        if not use_gather:
            fac_a, fac_b = grad_factors(call.table, call.grad, call.half_window, call.grad_rank)
            # exact mode never trades gradient accuracy for speed: inexact factors -> gather
            use_gather = call.plan.exact and not (fac_a.exact and fac_b.exact)
        if use_gather:
            g_a = g * call.s_w_out
            g_b = g * call.s_a
            ga_t, gb_t = call.table.grad_tables(call.grad, call.half_window)
            ga_t = torch.as_tensor(ga_t, device=g.device)
            gb_t = torch.as_tensor(gb_t, device=g.device)
            grad_a = op.gather_grads(ia, ib, ga_t, gb_t, g_a)[0].float() if need_a else None
            grad_b = op.gather_grads(ia, ib, ga_t, gb_t, g_b)[1].float() if need_b else None
            if need_b and call.zero != 0 and grad_b is not None:
                ones = torch.ones(*ia.shape, 1, device=g.device)
                grad_b = grad_b - call.zero * op.grad_b(ones, g_b, ib.shape)[..., 0]
        else:
            # The scales go where the tensors are small: s_w into the weight-side features,
            # the scalar s_a onto the weight gradient (equal up to float rounding).
            grad_a = grad_b = None
            if need_a:
                ua, va = fac_a.torch_feats(g.device)
                fb = _embed(ib, va) * call.s_w_b.unsqueeze(-1)
                per_term = op.grad_a(g, fb, ia.shape)
                grad_a = per_term[..., 0] if fac_a.const_a else (per_term * _embed(ia, ua)).sum(-1)
            if need_b:
                ub, vb = fac_b.torch_feats(g.device)
                per_term = op.grad_b(_embed(ia, ub), g, ib.shape)
                grad_b = per_term[..., 0] if fac_b.const_b else (per_term * _embed(ib, vb)).sum(-1)
                if call.zero != 0:
                    ones = torch.ones(*ia.shape, 1, device=g.device)
                    grad_b = grad_b - call.zero * op.grad_b(ones, g, ib.shape)[..., 0]
                grad_b = grad_b * call.s_a
        if grad_a is not None:
            grad_a = call.crop(grad_a) * call.mask_a
        if grad_b is not None:
            grad_b = grad_b * call.mask_w
        return grad_a, grad_b, None


class _AxMixin:
    """Shared state and logic of the approximate layers."""

    multiplier: AxMultiplier
    ax_options: dict[str, Any]
    _calibrating: bool
    training: bool

    def _ax_init(self, multiplier: AxMultiplier, options: Mapping[str, Any]) -> None:
        if not isinstance(multiplier, AxMultiplier):
            raise ConfigError(f"multiplier must be an AxMultiplier, got {type(multiplier).__name__}")
        opts = {**_OPTION_DEFAULTS, **options}
        _check_options(opts, multiplier)
        self.multiplier = multiplier
        self.ax_options = opts
        self._calibrating = False
        self._record = False
        self.act_hist: np.ndarray | None = None
        self.weight_hist: np.ndarray | None = None
        self._act_value_hist: torch.Tensor | None = None  # EMA over values, for AxTrain active
        self.last_call: _Call | None = None
        self.track_act_histogram = False  # AxTrain active needs it; off saves a bincount per step
        self.observer_a = _Observer(opts["act_mode"])

    # ------------------------------------------------------------ configuration
    def set_options(self, **options: Any) -> None:
        """Change layer options (grad, kernel, mode, passive, ...); validated."""
        opts = {**self.ax_options, **options}
        _check_options(opts, self.multiplier)
        self.ax_options = opts

    def _bits(self) -> tuple[int, int]:
        o = self.ax_options
        return (o["act_bits"] or self.multiplier.width_a, o["weight_bits"] or self.multiplier.width_b)

    def _act_encoding(self, observer: _Observer, bits: int, width: int) -> Encoding:
        return activation_encoding(observer.mode, bits, width, self.multiplier.signed)

    # ------------------------------------------------------------ quantisation
    def _quant_act(self, x: torch.Tensor, observer: _Observer, bits: int,
                   width: int) -> tuple[Encoding, torch.Tensor, torch.Tensor, float, int]:
        observer.update(x, self._calibrating, self.training)
        enc = self._act_encoding(observer, bits, width)
        scale, zero = act_qparams(float(observer.lo), float(observer.hi), enc,
                                  observer.mode == "asymmetric")
        values, mask = quantize_act(x, enc, scale, zero)
        return enc, values, mask, scale, zero

    # ------------------------------------------------------------ core
    def _ax_product(self, op: BilinearOp, x: torch.Tensor, w: torch.Tensor, *,
                    weight_quant: str, pad: tuple[int, ...] = ()) -> torch.Tensor:
        o = self.ax_options
        bits_a, bits_w = self._bits()
        mult = self.multiplier
        enc_a, a_val, mask_a, s_a, zero = self._quant_act(x, self.observer_a, bits_a, mult.width_a)
        if weight_quant == "channel":
            enc_b = weight_encoding(bits_w, mult.width_b, mult.signed)
            w_val, s_w, mask_w = quantize_weight(w, enc_b)
            s_w_out = s_w.view((1, -1) + (1,) * (x.dim() - 2))
            s_w_b = s_w.view((-1,) + (1,) * (w.dim() - 1))
        else:  # the second operand of a matmul: per-tensor, observed like an activation
            obs_b: _Observer = self.observer_b  # type: ignore[attr-defined]
            enc_b, w_val, mask_w, s_b, zero_b = self._quant_act(w, obs_b, bits_w, mult.width_b)
            if zero_b != 0:
                raise ConfigError("the second matmul operand cannot be asymmetric")
            s_w_out = s_w_b = torch.tensor(s_b, device=x.device)
        table = value_table(mult, enc_a, enc_b)
        ia = _codes(a_val, enc_a.vmin, zero, pad if isinstance(op, ConvOp) else ())
        ib = (w_val - enc_b.vmin).long()
        k = op.reduction(ia.shape, w_val.shape)
        plan = table.plan(k, o["mode"], o["rank"]) if o["kernel"] == "fast" else None
        scale = s_w_out * s_a

        def crop(t: torch.Tensor) -> torch.Tensor:
            if not pad or not any(pad):
                return t
            index = [slice(None), slice(None)]
            for d in range(len(pad) // 2):
                lo, hi = pad[2 * d], pad[2 * d + 1]
                index.insert(2, slice(lo, t.shape[-1 - d] - hi))
            return t[tuple(index)]

        call = _Call(op=op, table=table, plan=plan, ia=ia, ib=ib, w_val=w_val, zero=zero,
                     scale=scale, s_a=s_a, s_w_out=s_w_out, s_w_b=s_w_b, mask_a=mask_a, mask_w=mask_w,
                     bound=k * max(table.max_abs, 1) + abs(zero) * k * max(abs(enc_b.vmin), enc_b.vmax),
                     kernel=o["kernel"], grad=o["grad"], half_window=o["half_window"],
                     grad_rank=o["grad_rank"], crop=crop, enc_a=enc_a, enc_b=enc_b)
        self.last_call = call
        if self.training and self.track_act_histogram:
            self._track_act_histogram(ia, a_val, table)
        if self._record:
            self._record_histograms(call, a_val, k)
        if self.training and o["passive"]:
            return self._noisy_product(op, x, w, call, pad)
        return _AxFunction.apply(x, w, call)

    def _noisy_product(self, op: BilinearOp, x: torch.Tensor, w: torch.Tensor, call: _Call,
                       pad: tuple[int, ...]) -> torch.Tensor:
        """AxTrain passive: exact fake-quantised product plus the AxM's error statistics."""
        a_real = call.s_a * (call.ia.float() + call.enc_a.vmin - call.zero)
        x_fq = call.crop(a_real) + (x - x.detach()) * call.mask_a
        w_real = (call.ib.float() + call.enc_b.vmin) * call.s_w_b
        w_fq = w_real + (w - w.detach()) * call.mask_w
        x_in = F.pad(x_fq, pad) if pad and any(pad) else x_fq
        y = op.apply(x_in, w_fq)
        nf = noise_factors(call.table, self.ax_options["noise_bins"], self.ax_options["noise_rank"])
        cache = self.__dict__.setdefault("_noise_dev", {})
        key = (id(nf), str(x.device))
        if key not in cache:
            cache[key] = [torch.as_tensor(t.T.copy(), dtype=torch.float32, device=x.device)
                          for t in (nf.mean_u, nf.mean_v, nf.var_u, nf.var_v)]
        mu_u, mu_v, var_u, var_v = cache[key]
        with torch.no_grad():
            mean = op.apply_terms(_embed(call.ia, mu_u), _embed(call.ib, mu_v)).sum(0)
            var = op.apply_terms(_embed(call.ia, var_u), _embed(call.ib, var_v)).sum(0).clamp_min(0)
            noise = (mean + var.sqrt() * torch.randn_like(mean)) * call.scale
        return y + noise.to(y.dtype)

    def _track_act_histogram(self, ia: torch.Tensor, a_val: torch.Tensor, table: ValueTable) -> None:
        counts = torch.bincount((a_val - table.enc_a.vmin).long().flatten(),
                                minlength=table.P.shape[0]).float()
        counts = counts / counts.sum().clamp_min(1)
        prev = self._act_value_hist
        if prev is None or prev.shape != counts.shape:
            self._act_value_hist = counts
        else:
            self._act_value_hist = 0.9 * prev + 0.1 * counts

    def _record_histograms(self, call: _Call, a_val: torch.Tensor, k: int) -> None:
        """Product-weighted code histograms: each operand counted once per product it feeds."""
        table: ValueTable = call.table
        mult = self.multiplier
        ca = table.tensor("code_a", a_val.device)[(a_val - call.enc_a.vmin).long().flatten()]
        cb = table.tensor("code_b", a_val.device)[call.ib.flatten()]
        products = self._out_numel(call) * k
        ha = torch.bincount(ca, minlength=2**mult.width_a).double() * (products / max(ca.numel(), 1))
        hb = torch.bincount(cb, minlength=2**mult.width_b).double() * (products / max(cb.numel(), 1))
        ha_np, hb_np = ha.cpu().numpy(), hb.cpu().numpy()
        self.act_hist = ha_np if self.act_hist is None else self.act_hist + ha_np
        self.weight_hist = hb_np if self.weight_hist is None else self.weight_hist + hb_np

    def _out_numel(self, call: _Call) -> int:
        return int(getattr(call, "out_numel", 0))

    def axtrain_penalty(self) -> torch.Tensor:
        """AxTrain active: normalised expected squared product error of the current weights."""
        call = self.last_call
        weight: torch.Tensor | None = getattr(self, "weight", None)
        if call is None or weight is None:
            return torch.zeros(())
        table: ValueTable = call.table
        cache = table.__dict__.setdefault("_sq", {})
        key = str(weight.device)
        if key not in cache:
            cache[key] = torch.as_tensor(squared_error_table(table), dtype=torch.float32,
                                         device=weight.device)
        sq = cache[key]
        hist = self._act_value_hist
        if hist is None or hist.shape[0] != sq.shape[0]:
            hist = torch.full((sq.shape[0],), 1.0 / sq.shape[0], device=weight.device)
        rho = hist.to(weight.device) @ sq  # expected squared error per weight value
        rho = rho / rho.mean().clamp_min(1e-12)
        pos = (weight / call.s_w_b.detach() - call.enc_b.vmin).clamp(0, sq.shape[1] - 1)
        lo = pos.detach().floor().clamp(max=sq.shape[1] - 2).long()
        frac = pos - lo
        return (rho[lo] * (1 - frac) + rho[lo + 1] * frac).mean()


class _AxConvMixin(_AxMixin):
    def _conv_forward_ax(self, x: torch.Tensor, nd: int) -> torch.Tensor:
        conv: Any = self
        if not conv.ax_options["enabled"]:
            return conv._float_forward(x)
        if conv.padding_mode != "zeros":
            raise ConfigError(f"padding_mode={conv.padding_mode!r} is not supported; use 'zeros'")
        pad = tuple(conv._reversed_padding_repeated_twice)
        op = ConvOp(nd, conv.stride, conv.dilation, conv.groups)
        y = self._ax_product(op, x, conv.weight, weight_quant="channel", pad=pad)
        if conv.bias is not None:
            y = y + conv.bias.view(1, -1, *([1] * nd))
        return y

    def _out_numel(self, call: _Call) -> int:
        conv: Any = self
        nd = len(conv.stride)
        spatial = call.ia.shape[2:]
        out = [(spatial[d] - conv.dilation[d] * (conv.kernel_size[d] - 1) - 1) // conv.stride[d] + 1
               for d in range(nd)]
        return int(call.ia.shape[0] * conv.out_channels * int(np.prod(out)))


def _conv_kwargs(layer: nn.Module) -> dict[str, Any]:
    return {
        "in_channels": layer.in_channels, "out_channels": layer.out_channels,
        "kernel_size": layer.kernel_size, "stride": layer.stride, "padding": layer.padding,
        "dilation": layer.dilation, "groups": layer.groups, "bias": layer.bias is not None,
        "padding_mode": layer.padding_mode,
    }


class AxConv2d(_AxConvMixin, nn.Conv2d):
    """``nn.Conv2d`` whose products go through ``multiplier`` (activation = operand a)."""

    def __init__(self, *args: Any, multiplier: AxMultiplier, **options: Any) -> None:
        conv_kw = {k: options.pop(k) for k in list(options) if k not in _OPTION_DEFAULTS}
        nn.Conv2d.__init__(self, *args, **conv_kw)
        self._ax_init(multiplier, options)

    def _float_forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.Conv2d.forward(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward_ax(x, 2)

    @classmethod
    def from_float(cls, layer: nn.Conv2d, multiplier: AxMultiplier, **options: Any) -> AxConv2d:
        """Wrap an existing convolution, sharing its parameters."""
        new = cls(**_conv_kwargs(layer), multiplier=multiplier, **options,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        new.weight = layer.weight
        new.bias = layer.bias
        return new


class AxConv1d(_AxConvMixin, nn.Conv1d):
    """``nn.Conv1d`` whose products go through ``multiplier``."""

    def __init__(self, *args: Any, multiplier: AxMultiplier, **options: Any) -> None:
        conv_kw = {k: options.pop(k) for k in list(options) if k not in _OPTION_DEFAULTS}
        nn.Conv1d.__init__(self, *args, **conv_kw)
        self._ax_init(multiplier, options)

    def _float_forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.Conv1d.forward(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward_ax(x, 1)

    @classmethod
    def from_float(cls, layer: nn.Conv1d, multiplier: AxMultiplier, **options: Any) -> AxConv1d:
        """Wrap an existing convolution, sharing its parameters."""
        new = cls(**_conv_kwargs(layer), multiplier=multiplier, **options,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        new.weight = layer.weight
        new.bias = layer.bias
        return new


class AxLinear(_AxMixin, nn.Linear):
    """``nn.Linear`` whose products go through ``multiplier``; leading dims are flattened."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 multiplier: AxMultiplier, device: Any = None, dtype: Any = None,
                 **options: Any) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias, device=device, dtype=dtype)
        self._ax_init(multiplier, options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.ax_options["enabled"]:
            return nn.Linear.forward(self, x)
        lead = x.shape[:-1]
        y = self._ax_product(LinearOp(), x.reshape(-1, x.shape[-1]), self.weight,
                             weight_quant="channel")
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)

    def _out_numel(self, call: _Call) -> int:
        return int(call.ia.shape[0] * self.out_features)

    @classmethod
    def from_float(cls, layer: nn.Linear, multiplier: AxMultiplier, **options: Any) -> AxLinear:
        """Wrap an existing linear layer, sharing its parameters."""
        new = cls(layer.in_features, layer.out_features, layer.bias is not None,
                  multiplier=multiplier, device=layer.weight.device, dtype=layer.weight.dtype,
                  **options)
        new.weight = layer.weight
        new.bias = layer.bias
        return new


class AxMatmul(_AxMixin, nn.Module):
    """Approximate batched ``a @ b`` (attention's QKᵀ and AV): a = operand a, b = operand b.

    Both operands are quantised per tensor with observed ranges.
    """

    def __init__(self, *, multiplier: AxMultiplier, **options: Any) -> None:
        nn.Module.__init__(self)
        self._ax_init(multiplier, options)
        b_mode = options.get("act_mode", "auto")
        self.observer_b = _Observer("auto" if b_mode == "asymmetric" else b_mode)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if not self.ax_options["enabled"]:
            return a @ b
        if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
            raise ConfigError(f"AxMatmul: shapes {tuple(a.shape)} @ {tuple(b.shape)} do not match")
        return self._ax_product(MatmulOp(), a, b, weight_quant="tensor")

    def _out_numel(self, call: _Call) -> int:
        return int(np.prod(call.ia.shape[:-1]) * call.ib.shape[-1])

    @classmethod
    def from_float(cls, layer: Matmul, multiplier: AxMultiplier, **options: Any) -> AxMatmul:
        """Replace a :class:`Matmul` module."""
        return cls(multiplier=multiplier, **options)


_SWAPS: list[tuple[type[nn.Module], Any]] = [
    (nn.Conv2d, AxConv2d), (nn.Conv1d, AxConv1d), (nn.Linear, AxLinear), (Matmul, AxMatmul),
]


def convert(model: nn.Module, multiplier: AxMultiplier | Mapping[str, AxMultiplier], *,
            skip: tuple[str, ...] = (), **options: Any) -> nn.Module:
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
        raise ConfigError(f"multiplier must be an AxMultiplier or a dict of them, "
                          f"got {type(multiplier).__name__}")
    targets: list[tuple[str, nn.Module, str, nn.Module]] = []
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, _AxMixin) or full in skip:
                continue
            targets.append((full, module, child_name, child))
    for full, parent, child_name, child in targets:
        swap = next((ax for base, ax in _SWAPS if type(child) is base), None)
        if swap is None:
            continue
        mult = multiplier.get(full, multiplier.get("*")) if isinstance(multiplier, Mapping) else multiplier
        if mult is None:
            continue
        new = swap.from_float(child, mult, **options)
        param = next(child.parameters(), None)
        if param is not None:
            new.to(param.device)  # the range observers' buffers follow the layer's device
        setattr(parent, child_name, new)
    return model


def ax_layers(model: nn.Module) -> list[tuple[str, _AxMixin]]:
    """``(name, layer)`` for every approximate layer of ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _AxMixin)]


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
