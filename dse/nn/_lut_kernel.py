"""The general kernel: an exact product-sum over any product table, compiled for the CPU.

A table that is not affine in either operand's bits (logarithmic multipliers, approximate
compressors and full adders, imported designs) has no exact separable plan
(:mod:`dse.nn._separable`), so every product is a table lookup. This kernel makes that
lookup the whole inner loop, in the manner of AdaPT's CPU kernels (Danopoulos et al.,
"AdaPT: Fast emulation of approximate DNN accelerators in PyTorch", IEEE TCAD 2023): the
weights are fixed within a step, so for each weight code the kernel takes the table's row
over activation codes (``Pᵀ[w]``, a few hundred int32 entries, resident in L1) and gathers
from it along a contiguous line of activation codes, four output channels per activation
load. Sums are integers in an int32 accumulator (int64 where ``K·max|P|`` could overflow
it), so the result equals the reference gather bit for bit.

Every layer type is one direct convolution over int16 codes, ``(B, C, H, W)`` with weights
``(Bw, O, C/groups, KH, KW)``: a 1-D convolution has ``H = 1``, a linear layer is a 1×1
convolution over one "image" whose positions are the batch rows, and a matmul is that with
one weight per batch element (``Bw = B``). No im2col is materialised: a task (one image, one
group, four output channels) reads its image's channels straight from the padded codes,
which stay in L2.

Backward for gradient tables with no exact factors (e.g. LUT-2D, see
:mod:`dse.nn._gradients`): the same loops gather from the float64 gradient tables; sums
are float64, in another order than the reference (agreement to float64 round-off).

The kernels run on numba's threads (``prange``), set to torch's thread count per call;
they are compiled once and cached on disk (``cache=True``). :func:`general_accumulate` and
:func:`general_grads` are the one dispatch point: a GPU backend would answer there for its
device; today a non-CPU device or a missing numba returns None and the caller gathers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dse._jit import HAVE_NUMBA, jit
from dse.nn._gradients import gradient
from dse.nn._ops import ConvOp, LinearOp, MatmulOp

__all__ = ["general_accumulate", "general_available", "general_grads"]

_BLOCK = 4  # output channels sharing one activation load (measured: 4 beats 1 by ~2x)
INT32_SAFE = 2**31 - 1


def _fwd(
    x: Any, w: Any, pt: Any, sh: int, sw: int, dh: int, dw: int, groups: int, out: Any
) -> None:
    """``out[b, o, y, x] = Σ_{c, ky, kx} pt[w[., o, c, ky, kx], x[b, c, y·sh + ky·dh, ...]]``."""
    nb, _c, _hp, _wp = x.shape
    nbw, no, cg, kh, kw = w.shape
    oh, ow = out.shape[2], out.shape[3]
    og = no // groups
    nob = (og + _BLOCK - 1) // _BLOCK
    for t in numba.prange(nb * groups * nob):
        b = t // (groups * nob)
        g = (t // nob) % groups
        o0 = g * og + (t % nob) * _BLOCK
        o1 = min(o0 + _BLOCK, g * og + og)
        bw = b if nbw > 1 else 0
        for o in range(o0, o1):
            out[b, o] = 0
        for ci in range(cg):
            c = g * cg + ci
            for ky in range(kh):
                for kx in range(kw):
                    base = kx * dw
                    if o1 - o0 == _BLOCK:
                        r0 = pt[w[bw, o0, ci, ky, kx]]
                        r1 = pt[w[bw, o0 + 1, ci, ky, kx]]
                        r2 = pt[w[bw, o0 + 2, ci, ky, kx]]
                        r3 = pt[w[bw, o0 + 3, ci, ky, kx]]
                        for oy in range(oh):
                            xr = x[b, c, oy * sh + ky * dh]
                            a0 = out[b, o0, oy]
                            a1 = out[b, o0 + 1, oy]
                            a2 = out[b, o0 + 2, oy]
                            a3 = out[b, o0 + 3, oy]
                            for ox in range(ow):
                                v = xr[base + ox * sw]
                                a0[ox] += r0[v]
                                a1[ox] += r1[v]
                                a2[ox] += r2[v]
                                a3[ox] += r3[v]
                    else:
                        for o in range(o0, o1):
                            row = pt[w[bw, o, ci, ky, kx]]
                            for oy in range(oh):
                                xr = x[b, c, oy * sh + ky * dh]
                                acc = out[b, o, oy]
                                for ox in range(ow):
                                    acc[ox] += row[xr[base + ox * sw]]


def _grad_x(
    x: Any, w: Any, gat: Any, g: Any, sh: int, sw: int, dh: int, dw: int, groups: int, gx: Any
) -> None:
    """``gx[b, c, iy, ix] = Σ g[b, o, oy, ox]·gat[w[., o, c, ky, kx], x[b, c, iy, ix]]``."""
    nb = x.shape[0]
    nbw, no, cg, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    og = no // groups
    for t in numba.prange(nb * groups):  # a task owns its image's channels of one group
        b = t // groups
        grp = t % groups
        bw = b if nbw > 1 else 0
        for ci in range(cg):
            c = grp * cg + ci
            gx[b, c] = 0.0
            for ky in range(kh):
                for kx in range(kw):
                    base = kx * dw
                    o = grp * og
                    while o < grp * og + og:
                        if o + _BLOCK <= grp * og + og:  # four output channels per load
                            r0 = gat[w[bw, o, ci, ky, kx]]
                            r1 = gat[w[bw, o + 1, ci, ky, kx]]
                            r2 = gat[w[bw, o + 2, ci, ky, kx]]
                            r3 = gat[w[bw, o + 3, ci, ky, kx]]
                            for oy in range(oh):
                                iy = oy * sh + ky * dh
                                xr = x[b, c, iy]
                                g0 = g[b, o, oy]
                                g1 = g[b, o + 1, oy]
                                g2 = g[b, o + 2, oy]
                                g3 = g[b, o + 3, oy]
                                dst = gx[b, c, iy]
                                for ox in range(ow):
                                    ix = base + ox * sw
                                    v = xr[ix]
                                    dst[ix] += (
                                        g0[ox] * r0[v] + g1[ox] * r1[v] + g2[ox] * r2[v]
                                    ) + g3[ox] * r3[v]
                            o += _BLOCK
                        else:
                            row = gat[w[bw, o, ci, ky, kx]]
                            for oy in range(oh):
                                iy = oy * sh + ky * dh
                                xr = x[b, c, iy]
                                gr = g[b, o, oy]
                                dst = gx[b, c, iy]
                                for ox in range(ow):
                                    ix = base + ox * sw
                                    dst[ix] += gr[ox] * row[xr[ix]]
                            o += 1


def _grad_w(
    x: Any, w: Any, gbt: Any, g: Any, sh: int, sw: int, dh: int, dw: int, groups: int, gw: Any
) -> None:
    """``gw[., o, c, ky, kx] = Σ_{b, oy, ox} g[b, o, oy, ox]·gbt[w[., o, c, ky, kx], x[...]]``."""
    nb = x.shape[0]
    nbw, no, cg, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    og = no // groups
    for t in numba.prange(nbw * no):  # a task owns one output channel's weights
        bw = t // no
        o = t % no
        c0 = (o // og) * cg
        b0, b1 = (bw, bw + 1) if nbw > 1 else (0, nb)
        for ci in range(cg):
            for ky in range(kh):
                for kx in range(kw):
                    row = gbt[w[bw, o, ci, ky, kx]]
                    base = kx * dw
                    total = 0.0
                    for b in range(b0, b1):
                        for oy in range(oh):
                            xr = x[b, c0 + ci, oy * sh + ky * dh]
                            gr = g[b, o, oy]
                            for ox in range(ow):
                                total += gr[ox] * row[xr[base + ox * sw]]
                    gw[bw, o, ci, ky, kx] = total


if HAVE_NUMBA:
    import numba

    _fwd_kernel = jit(_fwd, parallel=True)
    # float sums in any order: the reference's order is not kept anyway (see the docstring)
    _grad_x_kernel = jit(_grad_x, parallel=True, fastmath={"reassoc", "contract"})
    _grad_w_kernel = jit(_grad_w, parallel=True, fastmath={"reassoc", "contract"})
else:  # pragma: no cover - the gather reference runs instead
    _fwd_kernel = _grad_x_kernel = _grad_w_kernel = None


def general_available(device: torch.device) -> bool:
    """Whether the general kernel runs on ``device`` (the CPU, with numba)."""
    return HAVE_NUMBA and device.type == "cpu"


def _threads() -> None:
    # numba's pool follows torch's setting (e.g. a fine-tune's threads=), within its own size
    limit = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at import
    numba.set_num_threads(max(1, min(torch.get_num_threads(), limit)))


def _as_conv(op: Any, ia: torch.Tensor, ib: torch.Tensor) -> tuple[Any, ...] | None:
    """``(x, w, strides, dilations, groups)`` in the kernel's 2-D convolution form, as numpy.

    ``x``: int16 codes ``(B, C, H, W)``; ``w``: int16 ``(Bw, O, Cg, KH, KW)``.
    """
    if isinstance(op, ConvOp):
        x = ia if op.nd == 2 else ia.unsqueeze(2)
        w = ib if op.nd == 2 else ib.unsqueeze(2)
        stride = op.stride if op.nd == 2 else (1, *op.stride)
        dil = op.dilation if op.nd == 2 else (1, *op.dilation)
        xs = x.to(torch.int16).contiguous()
        ws = w.to(torch.int16).contiguous().unsqueeze(0)
        return xs.numpy(), ws.numpy(), stride, dil, op.groups
    if isinstance(op, LinearOp):  # (n, k) @ (o, k).T: a 1x1 convolution over n positions
        xs = ia.to(torch.int16).t().contiguous().view(1, ia.shape[1], 1, ia.shape[0])
        ws = ib.to(torch.int16).contiguous().view(1, ib.shape[0], ib.shape[1], 1, 1)
        return xs.numpy(), ws.numpy(), (1, 1), (1, 1), 1
    if isinstance(op, MatmulOp):  # (..., m, k) @ (..., k, n): one weight set per batch element
        if ia.shape[:-2] != ib.shape[:-2]:
            return None  # broadcast batch dimensions: the gather handles them
        m, k = ia.shape[-2:]
        n = ib.shape[-1]
        xs = ia.to(torch.int16).reshape(-1, m, k).transpose(1, 2).contiguous()
        ws = ib.to(torch.int16).reshape(-1, k, n).transpose(1, 2).contiguous()
        return (
            xs.view(-1, k, 1, m).numpy(),
            ws.view(-1, n, k, 1, 1).numpy(),
            (1, 1),
            (1, 1),
            1,
        )
    return None


def _out_shape(x: np.ndarray, w: np.ndarray, stride: Any, dil: Any) -> tuple[int, int]:
    kh, kw = w.shape[3:]
    oh = (x.shape[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (x.shape[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    return oh, ow


def _from_conv(op: Any, y: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """The kernel's ``(B, O, OH, OW)`` result in the op's output shape."""
    if isinstance(op, ConvOp):
        return y if op.nd == 2 else y.squeeze(2)
    if isinstance(op, LinearOp):  # (1, O, 1, n) -> (n, O)
        return y.view(y.shape[1], -1).t()
    return y.view(y.shape[0], y.shape[1], -1).transpose(1, 2).reshape(*ia.shape[:-1], ib.shape[-1])


def _tables(table: Any, key: tuple[Any, ...], build: Any) -> Any:
    """Kernel-ready tables, cached on the :class:`~dse.nn._separable.ValueTable`."""
    cache = table.__dict__.setdefault("_kernel", {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def general_accumulate(
    op: Any, table: Any, ia: torch.Tensor, ib: torch.Tensor
) -> torch.Tensor | None:
    """``Σ P[ia, ib]`` per output as float64 (exact), or None where the kernel cannot run.

    ``table`` is the layer's :class:`~dse.nn._separable.ValueTable`; its largest magnitude
    picks an int32 accumulator wherever no sum can overflow one.
    """
    if not general_available(ia.device):
        return None
    conv = _as_conv(op, ia, ib)
    if conv is None:
        return None
    x, w, stride, dil, groups = conv
    reduction = int(np.prod(w.shape[2:]))
    dtype = np.int32 if reduction * max(table.max_abs, 1) <= INT32_SAFE else np.int64
    pt = _tables(table, ("P", dtype), lambda: np.ascontiguousarray(table.P.T, dtype=dtype))
    out = np.empty((x.shape[0], w.shape[1], *_out_shape(x, w, stride, dil)), dtype=dtype)
    _threads()
    _fwd_kernel(x, w, pt, stride[0], stride[1], dil[0], dil[1], groups, out)
    return _from_conv(op, torch.from_numpy(out), ia, ib).double()


def general_grads(
    op: Any,
    table: Any,
    estimator: str,
    half_window: int,
    ia: torch.Tensor,
    ib: torch.Tensor,
    g_a: torch.Tensor | None,
    g_b: torch.Tensor | None,
) -> tuple[torch.Tensor | None, torch.Tensor | None] | None:
    """The gather backward ``(Σ_out g_a·GA[ia, ib], Σ_out g_b·GB[ia, ib])`` in float64.

    ``GA``/``GB``: the estimator's gradient tables over values (``table.grad_tables``);
    ``g_a``/``g_b``: the output gradient scaled for each side (None: that side is not
    needed). Shapes are those of :meth:`dse.nn._ops.BilinearOp.gather_grads`; None where
    the kernel cannot run.
    """
    if not general_available(ia.device):
        return None
    conv = _as_conv(op, ia, ib)
    if conv is None:
        return None
    x, w, stride, dil, groups = conv

    def build() -> tuple[np.ndarray, np.ndarray]:
        ga, gb = table.grad_tables(estimator, half_window)
        return np.ascontiguousarray(ga.T, np.float64), np.ascontiguousarray(gb.T, np.float64)

    # keyed by the estimator object: a name registered again gets new tables
    gat, gbt = _tables(table, ("grad", estimator, gradient(estimator), half_window), build)
    _threads()
    grad_a = grad_b = None
    if g_a is not None:
        gx = np.empty(x.shape, dtype=np.float64)
        gk = _grad_as_conv(op, g_a)
        _grad_x_kernel(x, w, gat, gk, stride[0], stride[1], dil[0], dil[1], groups, gx)
        grad_a = _grad_x_back(op, torch.from_numpy(gx), ia)
    if g_b is not None:
        gw = np.empty(w.shape, dtype=np.float64)
        gk = _grad_as_conv(op, g_b)
        _grad_w_kernel(x, w, gbt, gk, stride[0], stride[1], dil[0], dil[1], groups, gw)
        grad_b = _grad_w_back(op, torch.from_numpy(gw), ib)
    return grad_a, grad_b


def _grad_as_conv(op: Any, g: torch.Tensor) -> np.ndarray:
    """The output gradient as float64 ``(B, O, OH, OW)``, the kernel's output layout."""
    g = g.double()
    if isinstance(op, ConvOp):
        shaped = g if op.nd == 2 else g.unsqueeze(2)
    elif isinstance(op, LinearOp):  # (n, O) -> (1, O, 1, n)
        shaped = g.t().reshape(1, g.shape[1], 1, g.shape[0])
    else:  # (..., m, n) -> (B, n, 1, m)
        m, n = g.shape[-2:]
        shaped = g.reshape(-1, m, n).transpose(1, 2).reshape(-1, n, 1, m)
    return shaped.contiguous().numpy()


def _grad_x_back(op: Any, gx: torch.Tensor, ia: torch.Tensor) -> torch.Tensor:
    if isinstance(op, ConvOp):
        return gx.view(ia.shape)
    if isinstance(op, LinearOp):  # (1, k, 1, n) -> (n, k)
        return gx.view(ia.shape[1], ia.shape[0]).t()
    m, k = ia.shape[-2:]
    return gx.view(-1, k, m).transpose(1, 2).reshape(ia.shape)


def _grad_w_back(op: Any, gw: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    if isinstance(op, ConvOp):
        return gw.view(ib.shape)
    if isinstance(op, LinearOp):
        return gw.view(ib.shape)
    k, n = ib.shape[-2:]
    return gw.view(-1, n, k).transpose(1, 2).reshape(ib.shape)
