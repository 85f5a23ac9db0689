"""The bilinear reductions behind the layers, in three forms each.

* ``apply``: the plain float op;
* ``apply_terms``: ``r`` separable terms at once as one grouped GEMM (feature-major);
* ``apply_int8``: ``r`` separable int8 terms at once as one int8×int8→int32 GEMM
  (``torch._int_mm``) with the terms interleaved into the reduction, where supported;
* ``grad_a`` / ``grad_b``: the backward of ``Σ_k u_k(a)·v_k(b)`` with the terms interleaved
  into the reduction dimension, so one GEMM serves every term;
* ``gather`` / ``gather_grads``: the slow reference that indexes the table per product.

Convolutions receive their activation already padded (with the code of real zero), so a
padded position goes through the multiplier exactly like in hardware.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.nn import grad as nn_grad

__all__ = ["BilinearOp", "ConvOp", "LinearOp", "MatmulOp", "int_mm_available"]

_GATHER_BUDGET = 2**24  # elements per gathered chunk (~128 MiB of int64)
_PACK_DTYPES = {1: torch.int8, 2: torch.int16, 4: torch.int32}
_CHUNK_BYTES = 3 * 2**19  # im2col block per int8 GEMM: well within an L2 cache
_int_mm_ok: dict[str, bool] = {}


def int_mm_available(device: torch.device) -> bool:
    """Whether ``torch._int_mm`` runs and is exact on ``device`` (probed once per device type).

    Only CPUs are used: on CUDA the op has shape constraints (M > 16, K and N multiples of
    8) and the float32 path is already fast there, so the GPU keeps the float32 path.
    """
    kind = device.type
    if kind not in _int_mm_ok:
        ok = False
        if kind == "cpu" and hasattr(torch, "_int_mm"):
            try:
                a = torch.tensor([[-128, 127, 3]], dtype=torch.int8)
                b = torch.tensor([[-128], [127], [-7]], dtype=torch.int8)
                ok = int(torch._int_mm(a, b)[0, 0]) == 16384 + 16129 - 21
            except (RuntimeError, NotImplementedError):
                ok = False
        _int_mm_ok[kind] = ok
    return _int_mm_ok[kind]


def _packed(lut: torch.Tensor) -> torch.Tensor:
    """``(N, r)`` int8 features as one word per value: ``(N,)`` int8/16/32 or ``(N, r/8)`` int64.

    Packing lets a feature lookup and the im2col copy move whole words instead of bytes; the
    bytes are reinterpreted, never converted, so the int8 view afterwards is the same data.
    """
    r = lut.shape[1]
    if r in _PACK_DTYPES:
        return lut.view(_PACK_DTYPES[r]).view(lut.shape[0])
    words = lut.view(torch.int64)
    # a 1-D table takes index_select's fast element path instead of its row-copy path
    return words.view(lut.shape[0]) if r == 8 else words


class BilinearOp(ABC):
    """``y = Σ_reduction a ⊗ b`` for one layer type; see the module docstring."""

    @abstractmethod
    def apply(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def apply_terms(self, fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        """``fa``: (*a.shape, r), ``fb``: (*b.shape, r) → (r, *y.shape)."""

    def apply_int8(
        self, ia: torch.Tensor, ib: torch.Tensor, lut_a: torch.Tensor, lut_b: torch.Tensor
    ) -> torch.Tensor | None:
        """``Σ_reduction Σ_k lut_a[ia, k]·lut_b[ib, k]`` → int32 shaped like ``y``, or None.

        ``lut_a``/``lut_b``: int8 ``(N, r)`` with r in 1, 2, 4 or a multiple of 8. None means
        the op cannot do it for these operands (the caller then uses the float32 terms).
        The caller guarantees that the int32 sums cannot overflow.
        """
        return None

    @abstractmethod
    def grad_a(self, g: torch.Tensor, fb: torch.Tensor, a_shape: Sequence[int]) -> torch.Tensor:
        """``∂<g, Σ_k apply(a ⊙ e_k, fb_k)>/∂a`` per term → (*a.shape, r)."""

    @abstractmethod
    def grad_b(self, fa: torch.Tensor, g: torch.Tensor, b_shape: Sequence[int]) -> torch.Tensor:
        """Likewise for b → (*b.shape, r)."""

    @abstractmethod
    def sum_b(self, b: torch.Tensor) -> torch.Tensor:
        """``Σ_reduction b`` broadcastable to the output (for the zero-point correction)."""

    @abstractmethod
    def reduction(self, a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
        """Products summed into each output."""

    @abstractmethod
    def gather(self, ia: torch.Tensor, ib: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Reference: ``Σ table[ia, ib]`` per output, in the table's dtype."""

    @abstractmethod
    def gather_grads(
        self,
        ia: torch.Tensor,
        ib: torch.Tensor,
        ga: torch.Tensor,
        gb: torch.Tensor,
        g: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference backward: ``(Σ_out g·ga[ia, ib], Σ_out g·gb[ia, ib])``."""


class ConvOp(BilinearOp):
    """N-d convolution (1-D or 2-D) with stride, dilation and groups; no padding (pre-padded)."""

    def __init__(
        self, nd: int, stride: Sequence[int], dilation: Sequence[int], groups: int
    ) -> None:
        self.nd = nd
        self.stride = tuple(stride)
        self.dilation = tuple(dilation)
        self.groups = groups
        self._conv = F.conv1d if nd == 1 else F.conv2d

    def apply(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self._conv(a, b, None, self.stride, 0, self.dilation, self.groups)

    def apply_terms(self, fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        r = fa.shape[-1]
        batch, chans = fa.shape[:2]
        # feature-major channels: group (k, g) sees term k of channel group g.
        x = fa.movedim(-1, 1).reshape(batch, r * chans, *fa.shape[2:-1])
        w = fb.movedim(-1, 0).reshape(r * fb.shape[0], *fb.shape[1:-1])
        y = self._conv(x, w, None, self.stride, 0, self.dilation, self.groups * r)
        return y.view(batch, r, fb.shape[0], *y.shape[2:]).movedim(1, 0)

    def apply_int8(
        self, ia: torch.Tensor, ib: torch.Tensor, lut_a: torch.Tensor, lut_b: torch.Tensor
    ) -> torch.Tensor | None:
        # im2col over channels-last packed features: row (b, y, x), column (ky, kx, c, k).
        # Grouped convolutions would need one GEMM per group; they keep the float32 path.
        if self.groups != 1 or not int_mm_available(ia.device):
            return None
        x = ia if self.nd == 2 else ia.unsqueeze(2)
        w = ib if self.nd == 2 else ib.unsqueeze(2)
        stride = self.stride if self.nd == 2 else (1, *self.stride)
        dil = self.dilation if self.nd == 2 else (1, *self.dilation)
        batch, _, height, width = x.shape
        out_ch, _, kh, kw = w.shape
        oh = (height - dil[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (width - dil[1] * (kw - 1) - 1) // stride[1] + 1
        # index_select is much faster than advanced indexing; a channels-last index (as the
        # layers build it) is read without a copy
        feats = torch.index_select(_packed(lut_a), 0, x.permute(0, 2, 3, 1).reshape(-1))
        feats = feats.view(batch, height, width, -1)  # (B, H, W, C·words)
        cw = feats.shape[-1]  # packed words per position
        sb, sh, sw, _ = feats.stride()
        strides = (sb, sh * stride[0], sw * stride[1], sh * dil[0], sw * dil[1], 1)
        b_mat = lut_b[w.permute(0, 2, 3, 1)].reshape(out_ch, -1).t().contiguous()  # (ky·kx·c·k, O)
        # Blocks of whole images, or of output lines when one image is too large: a block's
        # im2col matrix stays in cache between the copy and the GEMM, which halves the time
        # of the early, large layers against one big matrix (and avoids allocating it).
        line_bytes = ow * b_mat.shape[0]
        images = max(1, _CHUNK_BYTES // max(1, oh * line_bytes))
        lines = oh if images > 1 else min(oh, max(1, _CHUNK_BYTES // max(1, line_bytes)))
        lines = -(-oh // -(-oh // lines))  # equal blocks rather than a small remainder
        images = min(images, batch)
        cols = torch.empty(images * lines * ow * kh * kw * cw, dtype=feats.dtype, device=ia.device)
        out = torch.empty(batch * oh * ow, out_ch, dtype=torch.int32, device=ia.device)
        for start in range(0, batch, images):
            n = min(images, batch - start)
            for y0 in range(0, oh, lines):
                h = min(lines, oh - y0)
                patches = feats.as_strided(
                    (n, h, ow, kh, kw, cw), strides, start * sb + y0 * strides[1]
                )
                block = cols[: patches.numel()].view(patches.shape)
                block.copy_(patches)
                first = (start * oh + y0) * ow
                torch._int_mm(
                    block.view(torch.int8).view(n * h * ow, -1),
                    b_mat,
                    out=out[first : first + n * h * ow],
                )
        y = out.view(batch, oh, ow, out_ch).permute(0, 3, 1, 2)
        return y if self.nd == 2 else y.squeeze(2)

    def grad_a(self, g: torch.Tensor, fb: torch.Tensor, a_shape: Sequence[int]) -> torch.Tensor:
        r = fb.shape[-1]
        out_ch, cg = fb.shape[:2]
        # interleaved: input channel c*r + k, so a grouped conv keeps its groups.
        w = fb.movedim(-1, 2).reshape(out_ch, cg * r, *fb.shape[2:-1])
        size = [a_shape[0], a_shape[1] * r, *a_shape[2:]]
        fn = nn_grad.conv1d_input if self.nd == 1 else nn_grad.conv2d_input
        gx = fn(size, w, g, self.stride, 0, self.dilation, self.groups)
        return gx.view(a_shape[0], a_shape[1], r, *a_shape[2:]).movedim(2, -1)

    def grad_b(self, fa: torch.Tensor, g: torch.Tensor, b_shape: Sequence[int]) -> torch.Tensor:
        r = fa.shape[-1]
        x = fa.movedim(-1, 2).reshape(fa.shape[0], fa.shape[1] * r, *fa.shape[2:-1])
        size = [b_shape[0], b_shape[1] * r, *b_shape[2:]]
        fn = nn_grad.conv1d_weight if self.nd == 1 else nn_grad.conv2d_weight
        gw = fn(x, size, g, self.stride, 0, self.dilation, self.groups)
        return gw.view(b_shape[0], b_shape[1], r, *b_shape[2:]).movedim(2, -1)

    def sum_b(self, b: torch.Tensor) -> torch.Tensor:
        return b.sum(dim=tuple(range(1, b.dim()))).view(1, -1, *([1] * self.nd))

    def reduction(self, a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
        k = 1
        for s in b_shape[1:]:
            k *= int(s)
        return k

    def _unfold(self, ia: torch.Tensor, kernel: Sequence[int]) -> tuple[torch.Tensor, list[int]]:
        x = ia if self.nd == 2 else ia.unsqueeze(2)
        stride = (1, *self.stride) if self.nd == 1 else self.stride
        dil = (1, *self.dilation) if self.nd == 1 else self.dilation
        ksize = (1, *kernel) if self.nd == 1 else tuple(kernel)
        cols = F.unfold(x.double(), ksize, dilation=dil, stride=stride).long()
        out = [(x.shape[2 + d] - dil[d] * (ksize[d] - 1) - 1) // stride[d] + 1 for d in range(2)]
        return cols, out

    def gather(self, ia: torch.Tensor, ib: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        batch = ia.shape[0]
        out_ch, _cg = ib.shape[:2]
        kernel = ib.shape[2:]
        cols, out = self._unfold(ia, kernel)  # (B, C*kk, L)
        groups, og = self.groups, out_ch // self.groups
        kg = cols.shape[1] // groups
        length = cols.shape[2]
        cols = cols.view(batch, groups, 1, kg, length)
        w = ib.reshape(groups, og, kg, 1)
        result = torch.empty(batch, groups, og, length, dtype=table.dtype, device=ia.device)
        step = max(1, _GATHER_BUDGET // max(1, groups * og * kg * length))
        for s in range(0, batch, step):
            result[s : s + step] = table[cols[s : s + step], w].sum(dim=3)
        spatial = out if self.nd == 2 else out[1:]
        return result.view(batch, out_ch, *spatial)

    def gather_grads(
        self,
        ia: torch.Tensor,
        ib: torch.Tensor,
        ga: torch.Tensor,
        gb: torch.Tensor,
        g: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = ia.shape[0]
        out_ch = ib.shape[0]
        kernel = ib.shape[2:]
        cols, _ = self._unfold(ia, kernel)
        groups, og = self.groups, out_ch // self.groups
        kg = cols.shape[1] // groups
        length = cols.shape[2]
        cols = cols.view(batch, groups, 1, kg, length)
        w = ib.reshape(groups, og, kg, 1)
        gg = g.reshape(batch, groups, og, 1, length).to(ga.dtype)
        grad_cols = (ga[cols, w] * gg).sum(dim=2).reshape(batch, groups * kg, length)
        grad_w = (gb[cols, w] * gg).sum(dim=(0, 4)).reshape(ib.shape)
        x = ia if self.nd == 2 else ia.unsqueeze(2)
        stride = (1, *self.stride) if self.nd == 1 else self.stride
        dil = (1, *self.dilation) if self.nd == 1 else self.dilation
        ksize = (1, *kernel) if self.nd == 1 else tuple(kernel)
        grad_a = F.fold(grad_cols, x.shape[2:], ksize, dilation=dil, stride=stride)
        return grad_a.view(ia.shape), grad_w


class LinearOp(BilinearOp):
    """``y[n, o] = Σ_k a[n, k]·b[o, k]`` (a is flattened to 2-D by the layer)."""

    def apply(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b.t()

    def apply_terms(self, fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        return torch.bmm(fa.movedim(-1, 0), fb.movedim(-1, 0).transpose(1, 2))

    def apply_int8(
        self, ia: torch.Tensor, ib: torch.Tensor, lut_a: torch.Tensor, lut_b: torch.Tensor
    ) -> torch.Tensor | None:
        if not int_mm_available(ia.device):
            return None
        feats = torch.index_select(_packed(lut_a), 0, ia.reshape(-1))
        a_mat = feats.view(torch.int8).view(ia.shape[0], -1)  # (n, k·r)
        b_mat = lut_b[ib].reshape(ib.shape[0], -1)  # (o, k·r)
        return torch._int_mm(a_mat, b_mat.t().contiguous())

    def grad_a(self, g: torch.Tensor, fb: torch.Tensor, a_shape: Sequence[int]) -> torch.Tensor:
        r = fb.shape[-1]
        return (g @ fb.reshape(fb.shape[0], -1)).view(g.shape[0], -1, r)

    def grad_b(self, fa: torch.Tensor, g: torch.Tensor, b_shape: Sequence[int]) -> torch.Tensor:
        r = fa.shape[-1]
        return (g.t() @ fa.reshape(fa.shape[0], -1)).view(g.shape[1], -1, r)

    def sum_b(self, b: torch.Tensor) -> torch.Tensor:
        return b.sum(dim=1).view(1, -1)

    def reduction(self, a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
        return int(b_shape[1])

    def gather(self, ia: torch.Tensor, ib: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        rows = []
        step = max(1, _GATHER_BUDGET // max(1, ib.numel()))
        for s in range(0, ia.shape[0], step):
            rows.append(table[ia[s : s + step, None, :], ib[None]].sum(dim=2))
        return torch.cat(rows)

    def gather_grads(
        self,
        ia: torch.Tensor,
        ib: torch.Tensor,
        ga: torch.Tensor,
        gb: torch.Tensor,
        g: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        idx = (ia[:, None, :], ib[None])
        gg = g.to(ga.dtype)[:, :, None]
        return (ga[idx] * gg).sum(dim=1), (gb[idx] * gg).sum(dim=0)


class MatmulOp(BilinearOp):
    """``y = a @ b`` over matching leading (batch) dimensions."""

    def apply(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b

    def apply_terms(self, fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        return fa.movedim(-1, 0) @ fb.movedim(-1, 0)

    def apply_int8(
        self, ia: torch.Tensor, ib: torch.Tensor, lut_a: torch.Tensor, lut_b: torch.Tensor
    ) -> torch.Tensor | None:
        if not int_mm_available(ia.device):
            return None
        m, k = ia.shape[-2:]
        n = ib.shape[-1]
        feats = torch.index_select(_packed(lut_a), 0, ia.reshape(-1))
        a_mat = feats.view(torch.int8).view(-1, m, k * lut_a.shape[1])
        # (..., k, n, r) -> (..., k, r, n): the reduction index is k·r + term, as for a
        b_mat = lut_b[ib.reshape(-1, k, n)].transpose(-1, -2).reshape(-1, k * lut_b.shape[1], n)
        out = torch.empty(a_mat.shape[0], m, n, dtype=torch.int32, device=ia.device)
        for i in range(a_mat.shape[0]):  # _int_mm has no batched form
            torch._int_mm(a_mat[i], b_mat[i], out=out[i])
        return out.view(*ia.shape[:-1], n)

    def grad_a(self, g: torch.Tensor, fb: torch.Tensor, a_shape: Sequence[int]) -> torch.Tensor:
        r = fb.shape[-1]
        # fb (..., K, N, r) -> (..., N, K*r)
        w = fb.movedim(-3, -2).reshape(*fb.shape[:-3], fb.shape[-2], -1)
        return (g @ w).view(*a_shape, r)

    def grad_b(self, fa: torch.Tensor, g: torch.Tensor, b_shape: Sequence[int]) -> torch.Tensor:
        r = fa.shape[-1]
        x = fa.reshape(*fa.shape[:-2], -1)  # (..., M, K*r)
        gb = x.transpose(-1, -2) @ g  # (..., K*r, N)
        return gb.view(*b_shape[:-1], r, b_shape[-1]).movedim(-2, -1)

    def sum_b(self, b: torch.Tensor) -> torch.Tensor:
        return b.sum(dim=-2, keepdim=True)

    def reduction(self, a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
        return int(a_shape[-1])

    def gather(self, ia: torch.Tensor, ib: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return table[ia[..., :, :, None], ib[..., None, :, :]].sum(dim=-2)

    def gather_grads(
        self,
        ia: torch.Tensor,
        ib: torch.Tensor,
        ga: torch.Tensor,
        gb: torch.Tensor,
        g: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        idx = (ia[..., :, :, None], ib[..., None, :, :])  # (..., M, K, N)
        gg = g.to(ga.dtype)[..., :, None, :]
        return (ga[idx] * gg).sum(dim=-1), (gb[idx] * gg).sum(dim=-3)
