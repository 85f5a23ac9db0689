"""The approximate product-sum of one layer as a torch autograd function.

Forward (Meng et al. and AdaPT-style emulation): the operands arrive as integer table
indices; ``Σ P(a_i, w_i)`` is accumulated exactly, the zero-point term (asymmetric
activations) subtracted and the sum dequantised. ``kernel="fast"`` evaluates it through a
separable plan of :mod:`dse.nn._separable` (int8 or float32 GEMMs); ``kernel="reference"``
gathers from the table per product (slow, int64). Backward: the gradient estimator's tables
(:mod:`dse.nn._gradients`), through their factors or a gather, with the straight-through
estimator for rounding; scales are not learned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from dse.nn._lut_kernel import general_accumulate, general_grads
from dse.nn._ops import BilinearOp
from dse.nn._separable import FLOAT32_EXACT, Plan, ValueTable, grad_factors

__all__ = ["LutProduct", "ProductCall", "embed", "fast_accumulate", "operand_codes"]


class ProductCall:
    """Everything one approximate product-sum needs, shared by forward and backward."""

    acc: torch.Tensor | None = None  # the last integer accumulator (float64), for tests
    path = ""  # how the forward sum ran: reference, gather, general, int8 or float32 (reports)

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def __getattr__(self, name: str) -> Any:  # typed access to the dynamic fields
        raise AttributeError(name)


def embed(idx: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """``feats[idx]`` as ``(*idx.shape, r)``.

    ``index_select`` over the index in its memory order: on a CPU it is several times faster
    than ``F.embedding`` or advanced indexing, and a channels-last index (see
    :func:`operand_codes`) needs no copy. The result keeps the index's layout.
    """
    r = feats.shape[1]
    table = feats.view(-1) if r == 1 else feats  # 1-D: index_select's fast element path
    if idx.dim() > 2:
        last = idx.movedim(1, -1)
        if last.is_contiguous() and not idx.is_contiguous():
            out = torch.index_select(table, 0, last.view(-1)).view(*last.shape, r)
            return out.movedim(-2, 1)
    return torch.index_select(table, 0, idx.reshape(-1)).view(*idx.shape, r)


def operand_codes(values: torch.Tensor, vmin: int, zero: int, pad: tuple[int, ...]) -> torch.Tensor:
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
    inner = tuple(
        [slice(None)] + [slice(lo[d], lo[d] + spatial[d]) for d in range(nd)] + [slice(None)]
    )
    src = values.movedim(1, -1)
    last[inner] = src - vmin if vmin else src
    return last.movedim(-1, 1)


def _combine(terms: torch.Tensor, plan: Plan, coef: torch.Tensor) -> torch.Tensor:
    # in-place accumulation: no r-times-larger float64 temporaries
    acc = torch.zeros(
        terms.shape[1:],
        dtype=torch.float64 if plan.combine_float64 else torch.float32,
        device=terms.device,
    )
    for k, c in enumerate(plan.coef.tolist()):
        acc.add_(terms[k], alpha=c)
    return acc.double()


def fast_accumulate(
    op: BilinearOp, table: ValueTable, plan: Plan, ia: torch.Tensor, ib: torch.Tensor
) -> tuple[torch.Tensor, str]:
    """``Σ P`` per output as float64 through the plan (exact integers when ``plan.exact``).

    Also returns which evaluation ran: ``"gather"``, ``"int8"`` (the plan's int8 groups) or
    ``"float32"`` (its float32 terms, also the fallback where the op or device has no int8 GEMM).
    """
    if plan.general:
        # the one dispatch point of the general kernel; None where it cannot run (no numba,
        # a device it has no backend for), then the plan's own evaluation follows
        acc = general_accumulate(op, table, ia, ib)
        if acc is not None:
            return acc, "general"
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
            terms = op.apply_terms(embed(ia, fa), embed(ib, fb))
        if plan.exact:
            terms = terms.round()  # guards against non-direct conv algorithms (e.g. Winograd)
    else:
        terms = op.apply_terms(embed(ia, fa), embed(ib, fb))
    return _combine(terms, plan, coef), "float32"


def _int_accumulate(
    op: BilinearOp, plan: Plan, ia: torch.Tensor, ib: torch.Tensor
) -> torch.Tensor | None:
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


def _dequant(
    acc: torch.Tensor, scale: torch.Tensor, bound: int, dtype: torch.dtype
) -> torch.Tensor:
    if bound <= FLOAT32_EXACT:
        return (acc.float() * scale.float()).to(dtype)
    return (acc * scale.double()).to(dtype)


class LutProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, call: ProductCall) -> torch.Tensor:
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
    def backward(
        ctx: Any, g: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        call: ProductCall = ctx.call
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
            grads = None
            if call.kernel != "reference":
                grads = general_grads(
                    op,
                    call.table,
                    call.grad,
                    call.half_window,
                    ia,
                    ib,
                    g_a if need_a else None,
                    g_b if need_b else None,
                )
            if grads is not None:
                grad_a = grads[0].float() if grads[0] is not None else None
                grad_b = grads[1].float() if grads[1] is not None else None
            else:
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
                fb = embed(ib, va) * call.s_w_b.unsqueeze(-1)
                per_term = op.grad_a(g, fb, ia.shape)
                grad_a = per_term[..., 0] if fac_a.const_a else (per_term * embed(ia, ua)).sum(-1)
            if need_b:
                ub, vb = fac_b.torch_feats(g.device)
                per_term = op.grad_b(embed(ia, ub), g, ib.shape)
                grad_b = per_term[..., 0] if fac_b.const_b else (per_term * embed(ib, vb)).sum(-1)
                if call.zero != 0:
                    ones = torch.ones(*ia.shape, 1, device=g.device)
                    grad_b = grad_b - call.zero * op.grad_b(ones, g, ib.shape)[..., 0]
                grad_b = grad_b * call.s_a
        if grad_a is not None:
            grad_a = call.crop(grad_a) * call.mask_a
        if grad_b is not None:
            grad_b = grad_b * call.mask_w
        return grad_a, grad_b, None
