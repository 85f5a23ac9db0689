"""Approximate layers: drop-in ``Conv1d``/``Conv2d``/``Linear``/matmul modules whose every
product goes through the multiplier's table.

A layer observes its operands' ranges, quantises them to integer codes, and hands the
product-sum to :class:`dse.nn._lut_product.LutProduct` (or, for AxTrain passive, adds the
multiplier's error statistics to the exact product). Options (:mod:`dse.nn._options`)
pick the gradient estimator, quantisation, kernel and plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from dse.errors import ConfigError
from dse.nn._axtrain import error_penalty, noisy_product
from dse.nn._lut_product import LutProduct, ProductCall, operand_codes
from dse.nn._multiplier import AxMultiplier
from dse.nn._ops import BilinearOp, ConvOp, LinearOp, MatmulOp
from dse.nn._options import OPTION_DEFAULTS, check_options
from dse.nn._quant import (
    Encoding,
    RangeObserver,
    act_qparams,
    activation_encoding,
    quantize_act,
    quantize_weight,
    weight_encoding,
)
from dse.nn._separable import ValueTable, value_table

__all__ = [
    "AxConv1d",
    "AxConv2d",
    "AxLayer",
    "AxLinear",
    "AxMatmul",
    "Matmul",
]


class Matmul(nn.Module):
    """``a @ b`` as a module, so :func:`convert` can swap it for :class:`AxMatmul`."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


class AxLayer:
    """The base of every approximate layer: options, range observers, quantisation, the
    product call (:class:`~dse.nn._lut_product.LutProduct`) and the AxTrain hooks."""

    multiplier: AxMultiplier
    ax_options: dict[str, Any]
    _calibrating: bool
    training: bool

    def _ax_init(self, multiplier: AxMultiplier, options: Mapping[str, Any]) -> None:
        if not isinstance(multiplier, AxMultiplier):
            raise ConfigError(
                f"multiplier must be an AxMultiplier, got {type(multiplier).__name__}"
            )
        opts = {**OPTION_DEFAULTS, **options}
        check_options(opts, multiplier)
        self.multiplier = multiplier
        self.ax_options = opts
        self._calibrating = False
        self._record = False
        self.act_hist: np.ndarray | None = None
        self.weight_hist: np.ndarray | None = None
        self._act_value_hist: torch.Tensor | None = None  # EMA over values, for AxTrain active
        self.last_call: ProductCall | None = None
        self.track_act_histogram = False  # AxTrain active needs it; off saves a bincount per step
        self.observer_a = RangeObserver(opts["act_mode"])

    # ------------------------------------------------------------ configuration
    def set_options(self, **options: Any) -> None:
        """Change layer options (grad, kernel, mode, passive, ...); validated."""
        opts = {**self.ax_options, **options}
        check_options(opts, self.multiplier)
        self.ax_options = opts

    def _bits(self) -> tuple[int, int]:
        o = self.ax_options
        return (
            o["act_bits"] or self.multiplier.width_a,
            o["weight_bits"] or self.multiplier.width_b,
        )

    def _act_encoding(self, observer: RangeObserver, bits: int, width: int) -> Encoding:
        return activation_encoding(observer.mode, bits, width, self.multiplier.signed)

    # ------------------------------------------------------------ quantisation
    def _quant_act(
        self, x: torch.Tensor, observer: RangeObserver, bits: int, width: int
    ) -> tuple[Encoding, torch.Tensor, torch.Tensor, float, int]:
        observer.update(x, self._calibrating, self.training)
        enc = self._act_encoding(observer, bits, width)
        scale, zero = act_qparams(
            float(observer.lo), float(observer.hi), enc, observer.mode == "asymmetric"
        )
        values, mask = quantize_act(x, enc, scale, zero)
        return enc, values, mask, scale, zero

    # ------------------------------------------------------------ core
    def _ax_product(
        self,
        op: BilinearOp,
        x: torch.Tensor,
        w: torch.Tensor,
        *,
        weight_quant: str,
        pad: tuple[int, ...] = (),
    ) -> torch.Tensor:
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
            obs_b: RangeObserver = self.observer_b  # type: ignore[attr-defined]
            enc_b, w_val, mask_w, s_b, zero_b = self._quant_act(w, obs_b, bits_w, mult.width_b)
            if zero_b != 0:
                raise ConfigError("the second matmul operand cannot be asymmetric")
            s_w_out = s_w_b = torch.tensor(s_b, device=x.device)
        table = value_table(mult, enc_a, enc_b)
        ia = operand_codes(a_val, enc_a.vmin, zero, pad if isinstance(op, ConvOp) else ())
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

        call = ProductCall(
            op=op,
            table=table,
            plan=plan,
            ia=ia,
            ib=ib,
            w_val=w_val,
            zero=zero,
            scale=scale,
            s_a=s_a,
            s_w_out=s_w_out,
            s_w_b=s_w_b,
            mask_a=mask_a,
            mask_w=mask_w,
            bound=k * max(table.max_abs, 1) + abs(zero) * k * max(abs(enc_b.vmin), enc_b.vmax),
            kernel=o["kernel"],
            grad=o["grad"],
            half_window=o["half_window"],
            grad_rank=o["grad_rank"],
            crop=crop,
            enc_a=enc_a,
            enc_b=enc_b,
        )
        self.last_call = call
        if self.training and self.track_act_histogram:
            self._track_act_histogram(ia, a_val, table)
        if self._record:
            self._record_histograms(call, a_val, k)
        if self.training and o["passive"]:
            return self._noisy_product(op, x, w, call, pad)
        return LutProduct.apply(x, w, call)

    def _noisy_product(
        self,
        op: BilinearOp,
        x: torch.Tensor,
        w: torch.Tensor,
        call: ProductCall,
        pad: tuple[int, ...],
    ) -> torch.Tensor:
        """AxTrain passive: exact fake-quantised product plus the AxM's error statistics."""
        cache = self.__dict__.setdefault("_noise_dev", {})
        o = self.ax_options
        return noisy_product(op, x, w, call, pad, o["noise_bins"], o["noise_rank"], cache)

    def _track_act_histogram(
        self, ia: torch.Tensor, a_val: torch.Tensor, table: ValueTable
    ) -> None:
        counts = torch.bincount(
            (a_val - table.enc_a.vmin).long().flatten(), minlength=table.P.shape[0]
        ).float()
        counts = counts / counts.sum().clamp_min(1)
        prev = self._act_value_hist
        if prev is None or prev.shape != counts.shape:
            self._act_value_hist = counts
        else:
            self._act_value_hist = 0.9 * prev + 0.1 * counts

    def _record_histograms(self, call: ProductCall, a_val: torch.Tensor, k: int) -> None:
        """Product-weighted code histograms: each operand counted once per product it feeds."""
        table: ValueTable = call.table
        mult = self.multiplier
        ca = table.tensor("code_a", a_val.device)[(a_val - call.enc_a.vmin).long().flatten()]
        cb = table.tensor("code_b", a_val.device)[call.ib.flatten()]
        products = self._out_numel(call) * k
        ha = torch.bincount(ca, minlength=2**mult.width_a).double() * (
            products / max(ca.numel(), 1)
        )
        hb = torch.bincount(cb, minlength=2**mult.width_b).double() * (
            products / max(cb.numel(), 1)
        )
        ha_np, hb_np = ha.cpu().numpy(), hb.cpu().numpy()
        self.act_hist = ha_np if self.act_hist is None else self.act_hist + ha_np
        self.weight_hist = hb_np if self.weight_hist is None else self.weight_hist + hb_np

    def _out_numel(self, call: ProductCall) -> int:
        return int(getattr(call, "out_numel", 0))

    def axtrain_penalty(self) -> torch.Tensor:
        """AxTrain active: normalised expected squared product error of the current weights."""
        weight: torch.Tensor | None = getattr(self, "weight", None)
        if self.last_call is None or weight is None:
            return torch.zeros(())
        return error_penalty(self.last_call, weight, self._act_value_hist)


class _AxConvMixin(AxLayer):
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

    def _out_numel(self, call: ProductCall) -> int:
        conv: Any = self
        nd = len(conv.stride)
        spatial = call.ia.shape[2:]
        out = [
            (spatial[d] - conv.dilation[d] * (conv.kernel_size[d] - 1) - 1) // conv.stride[d] + 1
            for d in range(nd)
        ]
        return int(call.ia.shape[0] * conv.out_channels * int(np.prod(out)))


def _conv_kwargs(layer: nn.Module) -> dict[str, Any]:
    return {
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "kernel_size": layer.kernel_size,
        "stride": layer.stride,
        "padding": layer.padding,
        "dilation": layer.dilation,
        "groups": layer.groups,
        "bias": layer.bias is not None,
        "padding_mode": layer.padding_mode,
    }


class AxConv2d(_AxConvMixin, nn.Conv2d):
    """``nn.Conv2d`` whose products go through ``multiplier`` (activation = operand a)."""

    def __init__(self, *args: Any, multiplier: AxMultiplier, **options: Any) -> None:
        conv_kw = {k: options.pop(k) for k in list(options) if k not in OPTION_DEFAULTS}
        nn.Conv2d.__init__(self, *args, **conv_kw)
        self._ax_init(multiplier, options)

    def _float_forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.Conv2d.forward(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward_ax(x, 2)

    @classmethod
    def from_float(cls, layer: nn.Conv2d, multiplier: AxMultiplier, **options: Any) -> AxConv2d:
        """Wrap an existing convolution, sharing its parameters."""
        new = cls(
            **_conv_kwargs(layer),
            multiplier=multiplier,
            **options,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
        )
        new.weight = layer.weight
        new.bias = layer.bias
        return new


class AxConv1d(_AxConvMixin, nn.Conv1d):
    """``nn.Conv1d`` whose products go through ``multiplier``."""

    def __init__(self, *args: Any, multiplier: AxMultiplier, **options: Any) -> None:
        conv_kw = {k: options.pop(k) for k in list(options) if k not in OPTION_DEFAULTS}
        nn.Conv1d.__init__(self, *args, **conv_kw)
        self._ax_init(multiplier, options)

    def _float_forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.Conv1d.forward(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward_ax(x, 1)

    @classmethod
    def from_float(cls, layer: nn.Conv1d, multiplier: AxMultiplier, **options: Any) -> AxConv1d:
        """Wrap an existing convolution, sharing its parameters."""
        new = cls(
            **_conv_kwargs(layer),
            multiplier=multiplier,
            **options,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
        )
        new.weight = layer.weight
        new.bias = layer.bias
        return new


class AxLinear(AxLayer, nn.Linear):
    """``nn.Linear`` whose products go through ``multiplier``; leading dims are flattened."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        multiplier: AxMultiplier,
        device: Any = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias, device=device, dtype=dtype)
        self._ax_init(multiplier, options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.ax_options["enabled"]:
            return nn.Linear.forward(self, x)
        lead = x.shape[:-1]
        y = self._ax_product(
            LinearOp(), x.reshape(-1, x.shape[-1]), self.weight, weight_quant="channel"
        )
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)

    def _out_numel(self, call: ProductCall) -> int:
        return int(call.ia.shape[0] * self.out_features)

    @classmethod
    def from_float(cls, layer: nn.Linear, multiplier: AxMultiplier, **options: Any) -> AxLinear:
        """Wrap an existing linear layer, sharing its parameters."""
        new = cls(
            layer.in_features,
            layer.out_features,
            layer.bias is not None,
            multiplier=multiplier,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
            **options,
        )
        new.weight = layer.weight
        new.bias = layer.bias
        return new


class AxMatmul(AxLayer, nn.Module):
    """Approximate batched ``a @ b`` (attention's QKᵀ and AV): a = operand a, b = operand b.

    Both operands are quantised per tensor with observed ranges.
    """

    def __init__(self, *, multiplier: AxMultiplier, **options: Any) -> None:
        nn.Module.__init__(self)
        self._ax_init(multiplier, options)
        b_mode = options.get("act_mode", "auto")
        self.observer_b = RangeObserver("auto" if b_mode == "asymmetric" else b_mode)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if not self.ax_options["enabled"]:
            return a @ b
        if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
            raise ConfigError(f"AxMatmul: shapes {tuple(a.shape)} @ {tuple(b.shape)} do not match")
        return self._ax_product(MatmulOp(), a, b, weight_quant="tensor")

    def _out_numel(self, call: ProductCall) -> int:
        return int(np.prod(call.ia.shape[:-1]) * call.ib.shape[-1])

    @classmethod
    def from_float(cls, layer: Matmul, multiplier: AxMultiplier, **options: Any) -> AxMatmul:
        """Replace a :class:`Matmul` module."""
        return cls(multiplier=multiplier, **options)
