"""Separable forms of a product table over integer operand values: plans and gradient factors.

A layer needs ``Σ_i P(a_i, b_i)`` over its reduction, where ``P`` is the multiplier's
product as a function of the integer operand *values* (see :mod:`dse.nn._quant`). A naive
gather over the table is slow on a CPU, so a *plan* writes the table as a sum of separable
terms, ``P(a, b) = Σ_k c_k·φ_k(a)·ψ_k(b)``, and evaluates the layer as one grouped GEMM over
the ``r`` feature maps (plus a weighted sum over k).

Exact plans (``mode="exact"``): when ``P`` is affine in the bits of one operand, which
holds for the accurate multiplier and for every partial-product-pruned one (the pruned
part ``Σ 2**(i+j)·a_i·b_j`` is linear in ``a``'s bits), we solve for *integer*
coefficients, merge proportional terms (so the accurate product collapses to one term),
pull out each term's gcd into ``c_k``, and split a term's operand into high/low digits
until ``K·max|φ_k|·max|ψ_k| <= 2**24`` for the layer's reduction length ``K``. Every
partial sum in a float32 GEMM is then an integer below 2**24, hence exact in any summation
order; the terms are combined in float64 (exact below 2**53) unless float32 provably
suffices. The result is bit-identical to the integer gather. Tables that are not
bit-affine (e.g. Mitchell's, whose error has rank 127 on 8x8) fall back to the gather.

Int8 evaluation of exact plans (CPU): the same integer terms, written in base-128 digits
so that every feature fits int8, are evaluated as int8×int8→int32 GEMMs
(``torch._int_mm``, oneDNN with VNNI/AMX-INT8 where the CPU has them), several times faster
per multiply-accumulate than float32 and exact while ``K·Σ_k max|φ_k|·max|ψ_k| < 2**31``,
a far looser limit than float32's 2**24, so fewer digit splits are needed. Terms with equal
coefficients share one GEMM with the terms interleaved into the reduction (an
:class:`IntGroup`); convolutions go through an im2col of the int8 features, see
:meth:`dse.nn._ops.ConvOp.apply_int8`. The 8-column truncated 8x8 multiplier is one group
of 7 bit-plane terms (padded to 8). A plan keeps its float32 terms as the fallback, used
on CUDA (where ``_int_mm`` has shape constraints and float32 GEMMs are already fast), for
grouped convolutions, where ``_int_mm`` is missing, and when the float32 plan is cheaper
(the accurate multiplier's single term), by the cost estimate ``INT8_TERM_COST``.

Bounded plans (``mode="bounded"``, rank r): the accurate product exactly as above plus a
rank-r truncated SVD of the error table ``E = P - a·b`` (Eckart–Young). The plan states a
bound on ``|acc_fast - acc_exact|`` per output: ``K·max|E - E_r|`` plus the float32
dot-product rounding bound ``γ_K·K·Σ_k max|φ_k|·max|ψ_k|`` (Higham, *Accuracy and Stability
of Numerical Algorithms*, §3.1).

Gradient factors: an estimator's tables ``∂P/∂a``, ``∂P/∂b`` (:mod:`dse.nn._gradients`)
written as ``Σ_k u_k(a)·v_k(b)`` (:class:`GradFactors`), so the backward is GEMMs too; a
table constant along one operand is one exact term, others a truncated SVD.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import torch

from dse.errors import ConfigError
from dse.nn._gradients import gradient
from dse.nn._multiplier import AxMultiplier
from dse.nn._quant import Encoding

__all__ = ["GradFactors", "IntGroup", "Plan", "ValueTable", "value_table"]

FLOAT32_EXACT = 2**24
INT32_EXACT = 2**31 - 1  # an int32 accumulator holds every integer up to this
FLOAT64_EXACT = 2**53
INT8_MIN, INT8_MAX = -128, 127
# Measured cost of one int8 GEMM term (packing and im2col included) relative to one float32
# term on a CPU with VNNI/AMX-INT8: an int8 plan is used when it is cheaper than the float32
# plan by this estimate (ResNet-20 training step, see docs/training.md).
INT8_TERM_COST = 0.5
# Measured cost of the general kernel (one table lookup per product, dse.nn._lut_kernel)
# relative to one float32 GEMM term, on the same CPU and network: an exact plan whose
# estimated cost exceeds it yields to the general kernel.
GENERAL_COST = 16.0
PlanMode = Literal["exact", "bounded"]


@dataclass(eq=False)
class ValueTable:
    """``P[va - enc_a.vmin, vb - enc_b.vmin]``: the product over integer operand values.

    The multiplier's code-order table re-indexed by the operand values of two encodings
    (sign-magnitude signs applied); it builds and caches the plans of the layers that use it.
    """

    mult: AxMultiplier
    enc_a: Encoding
    enc_b: Encoding
    P: np.ndarray  # int64 (Na, Nb)
    code_a: np.ndarray  # multiplier code of each a value
    code_b: np.ndarray
    sign_a: np.ndarray  # +1/-1 applied after the multiplier (sign-magnitude), else +1
    sign_b: np.ndarray

    def __post_init__(self) -> None:
        self._plans: dict[tuple[object, ...], Plan] = {}
        self._torch: dict[tuple[object, ...], torch.Tensor] = {}
        self.max_abs = int(np.abs(self.P).max()) if self.P.size else 0
        va, vb = self.enc_a.values(), self.enc_b.values()
        self.exact_part = np.outer(va, vb)

    def tensor(self, name: str, device: torch.device) -> torch.Tensor:
        """A table as a torch tensor on ``device`` (cached)."""
        key = (name, str(device))
        if key not in self._torch:
            arrays = {
                "P": self.P,
                "code_a": self.code_a,
                "code_b": self.code_b,
            }
            self._torch[key] = torch.as_tensor(arrays[name]).to(device)
        return self._torch[key]

    def error(self) -> np.ndarray:
        """``P - a·b`` over values (int64)."""
        return self.P - self.exact_part

    def grad_tables(self, estimator: str, half_window: int) -> tuple[np.ndarray, np.ndarray]:
        """``(∂P/∂a, ∂P/∂b)`` over values, from the multiplier's code-order tables.

        With sign-magnitude, ``P = s_a·s_b·f(|a|, |b|)`` so ``∂P/∂a = s_b·f_a(|a|, |b|)``.
        """
        ga, gb = self.mult.grad_tables(estimator, half_window=half_window)
        ca, cb = self.code_a[:, None], self.code_b[None, :]
        sa, sb = self.sign_a[:, None], self.sign_b[None, :]
        da = sa if self.enc_a.kind == "signmag" else 1
        db = sb if self.enc_b.kind == "signmag" else 1
        return sa * sb * ga[ca, cb] * da, sa * sb * gb[ca, cb] * db

    def plan(self, reduction: int, mode: PlanMode = "exact", rank: int = 4) -> Plan:
        """The forward plan for a layer whose outputs sum ``reduction`` products."""
        key = (reduction, mode, rank if mode == "bounded" else 0)
        if key not in self._plans:
            self._plans[key] = _build_plan(self, reduction, mode, rank)
        return self._plans[key]


def value_table(mult: AxMultiplier, enc_a: Encoding, enc_b: Encoding) -> ValueTable:
    """The product over the operand values of ``enc_a`` × ``enc_b`` (cached on ``mult``)."""
    key = ("table", enc_a, enc_b)
    cached = mult._cache.get(key)
    if cached is not None:
        return cached
    code_a, sign_a = enc_a.codes_and_signs()
    code_b, sign_b = enc_b.codes_and_signs()
    table = mult.lut[code_a[:, None], code_b[None, :]] * sign_a[:, None] * sign_b[None, :]
    result = ValueTable(mult, enc_a, enc_b, table, code_a, code_b, sign_a, sign_b)
    mult._cache[key] = result
    return result


# --------------------------------------------------------------------------- plans
@dataclass(eq=False)
class IntGroup:
    """Terms that share one int8 GEMM: ``acc += coef · Σ_red Σ_k a_feats[k, a]·b_feats[k, b]``.

    The ``r`` terms are interleaved into the reduction (``K·r`` long), so one int8×int8→int32
    GEMM evaluates them all; ``r`` is padded with zero features to 1, 2, 4 or a multiple of 8
    so that a value's features pack into one int8/int16/int32/int64 word (see
    :meth:`dse.nn._ops.BilinearOp.apply_int8`). Every feature lies in ``[-128, 127]`` and
    ``K·Σ_k max|φ_k|·max|ψ_k| <= 2**31 - 1``, so the int32 accumulator is exact.
    """

    a_feats: np.ndarray  # int8 (r, Na)
    b_feats: np.ndarray  # int8 (r, Nb)
    coef: int

    @property
    def rank(self) -> int:
        """Features per operand value, padding included."""
        return int(self.a_feats.shape[0])


@dataclass(eq=False)
class Plan:
    """``acc = Σ_k coef_k · GEMM(φ_k(a), ψ_k(b))``, or the gather when ``method == "gather"``.

    ``a_feats``/``b_feats`` hold ``φ_k``/``ψ_k`` as tables over operand values ``(r, N)``.
    ``exact`` says whether the result equals the integer gather bit for bit; otherwise
    ``bound`` is the largest possible ``|acc - acc_exact|`` for one output. ``int_groups``,
    when not empty, is the same exact sum as int8 GEMMs (:class:`IntGroup`), preferred
    wherever the op and device support them; the float32 terms remain the fallback.
    """

    method: Literal["lowrank", "gather"]
    a_feats: np.ndarray
    b_feats: np.ndarray
    coef: np.ndarray  # float64 (r,)
    combine_float64: bool
    exact: bool
    bound: float
    description: str
    int_groups: tuple[IntGroup, ...] = ()
    general: bool = False  # the general kernel is preferred where it runs (see _lut_kernel)

    @property
    def rank(self) -> int:
        """Number of separable terms (GEMMs stacked into the grouped GEMM)."""
        return int(self.a_feats.shape[0])

    def torch_feats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(a_feats.T, b_feats.T, coef)`` on ``device``, float32/float32/float64 (cached)."""
        cache = self.__dict__.setdefault("_dev", {})
        key = str(device)
        if key not in cache:
            cache[key] = (
                torch.as_tensor(self.a_feats.T.copy(), dtype=torch.float32, device=device),
                torch.as_tensor(self.b_feats.T.copy(), dtype=torch.float32, device=device),
                torch.as_tensor(self.coef, dtype=torch.float64, device=device),
            )
        return cache[key]

    def torch_int_feats(self, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
        """``(a_feats.T, b_feats.T, coef)`` per int group, int8 ``(N, r)`` on ``device`` (cached)."""
        cache = self.__dict__.setdefault("_dev_int", {})
        key = str(device)
        if key not in cache:
            cache[key] = [
                (
                    torch.as_tensor(g.a_feats.T.copy(), dtype=torch.int8, device=device),
                    torch.as_tensor(g.b_feats.T.copy(), dtype=torch.int8, device=device),
                    g.coef,
                )
                for g in self.int_groups
            ]
        return cache[key]


def _bit_basis(enc: Encoding) -> np.ndarray:
    """Integer features in which a bit-affine table is linear: ``[1, bit_0, bit_1, ...]``.

    For sign-magnitude the features carry the sign: ``s·[1, bits(|v|)]``; otherwise they are
    the bits of ``v - vmin`` (two's complement codes differ from that only by the sign bit's
    polarity, which is affine).
    """
    v = enc.values()
    if enc.kind == "signmag":
        mag, sign = np.abs(v), np.where(v < 0, -1, 1)
    else:
        mag, sign = v - enc.vmin, np.ones_like(v)
    nbits = max(int(mag.max()).bit_length(), 1)
    cols = [np.ones_like(v)] + [(mag >> i) & 1 for i in range(nbits)]
    return np.stack(cols, axis=1) * sign[:, None]


Term = tuple[np.ndarray, np.ndarray, int]  # (φ over a values, ψ over b values, integer coefficient)


def _affine_terms(P: np.ndarray, basis: np.ndarray) -> list[Term] | None:
    """Integer ``C`` with ``basis @ C == P`` exactly, reduced to few terms; None if none exists."""
    coeffs, *_ = np.linalg.lstsq(basis.astype(np.float64), P.astype(np.float64), rcond=None)
    C = np.rint(coeffs).astype(np.int64)
    if not np.array_equal(basis @ C, P):
        return None
    terms: list[tuple[np.ndarray, np.ndarray]] = [
        (basis[:, k].copy(), C[k].copy()) for k in range(C.shape[0]) if C[k].any()
    ]
    # Merge terms whose coefficient rows are integer multiples of each other: ψ_j = t·ψ_i
    # means φ_i·ψ_i + φ_j·ψ_j = (φ_i + t·φ_j)·ψ_i. This collapses a·b to a single term.
    merged = True
    while merged:
        merged = False
        for i in range(len(terms)):
            for j in range(len(terms)):
                if i == j:
                    continue
                (phi_i, psi_i), (phi_j, psi_j) = terms[i], terms[j]
                pivot = int(np.flatnonzero(psi_i)[0])
                ratio = Fraction(int(psi_j[pivot]), int(psi_i[pivot]))
                if ratio.denominator == 1 and np.array_equal(psi_j, ratio.numerator * psi_i):
                    terms[i] = (phi_i + ratio.numerator * phi_j, psi_i)
                    del terms[j]
                    merged = True
                    break
            if merged:
                break
    out: list[Term] = []
    for phi, psi in terms:
        if not phi.any():
            continue
        g_phi, g_psi = int(np.gcd.reduce(np.abs(phi))), int(np.gcd.reduce(np.abs(psi)))
        out.append((phi // g_phi, psi // g_psi, g_phi * g_psi))
    return out


def _split_digits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``x = hi·2**s + lo`` with ``0 <= lo < 2**s`` and about half the bits in each."""
    shift = max((int(np.abs(x).max()).bit_length() + 1) // 2, 1)
    lo = np.mod(x, 2**shift)
    return (x - lo) >> shift, lo, shift


def _fit_float32(terms: list[Term], reduction: int) -> list[Term]:
    """Split terms until each GEMM's partial sums provably stay below 2**24."""
    limit = FLOAT32_EXACT / reduction
    done: list[Term] = []
    stack = list(terms)
    while stack:
        phi, psi, coef = stack.pop()
        ma, mb = int(np.abs(phi).max()), int(np.abs(psi).max())
        if ma * mb <= limit:
            done.append((phi, psi, coef))
            continue
        if max(ma, mb) <= 1:
            raise ConfigError(f"reduction length {reduction} is too long for an exact float32 GEMM")
        if ma >= mb:
            hi, lo, s = _split_digits(phi)
            stack += [(hi, psi, coef << s), (lo, psi, coef)]
        else:
            hi, lo, s = _split_digits(psi)
            stack += [(phi, hi, coef << s), (phi, lo, coef)]
    return [t for t in reversed(done) if t[0].any() and t[1].any()]


def _int8_digits(x: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """``x = Σ_j d_j·2**s_j`` with every digit ``d_j`` in ``[-128, 127]``.

    Base-128 digits: ``lo = x mod 128`` lies in ``[0, 127]`` and the (signed) rest is split
    again until it fits, so a 9-bit sign-magnitude value takes two digits.
    """
    digits: list[tuple[np.ndarray, int]] = []
    shift = 0
    while int(x.min()) < INT8_MIN or int(x.max()) > INT8_MAX:
        lo = np.mod(x, 128)
        digits.append((lo, shift))
        x = (x - lo) >> 7
        shift += 7
    digits.append((x, shift))
    return [(d, s) for d, s in digits if d.any()]


def _packed_rank(r: int) -> int:
    """Features padded to 1, 2, 4 or a multiple of 8, so they pack into one integer word."""
    for size in (1, 2, 4):
        if r <= size:
            return size
    return -(-r // 8) * 8


def _fit_int8(terms: list[Term], reduction: int) -> tuple[IntGroup, ...]:
    """The exact terms as int8 GEMM groups, or ``()`` if int32 accumulators cannot be exact.

    Each operand feature is written in base-128 digits so that it fits int8; terms with equal
    coefficients share a GEMM while their summed worst case ``K·Σ max|φ|·max|ψ|`` stays within
    int32. The groups are combined in float64, so the whole sum must stay below 2**53.
    """
    split: list[Term] = []
    for phi, psi, coef in terms:
        for dphi, sphi in _int8_digits(phi):
            for dpsi, spsi in _int8_digits(psi):
                split.append((dphi, dpsi, coef << (sphi + spsi)))
    groups: list[IntGroup] = []
    total = 0
    for coef in sorted({c for _, _, c in split}, key=abs):
        pending = [
            (p, q, reduction * int(np.abs(p).max()) * int(np.abs(q).max()))
            for p, q, c in split
            if c == coef
        ]
        while pending:
            chosen: list[tuple[np.ndarray, np.ndarray]] = []
            rest: list[tuple[np.ndarray, np.ndarray, int]] = []
            bound = 0
            for p, q, worst in pending:
                if bound + worst <= INT32_EXACT:
                    chosen.append((p, q))
                    bound += worst
                else:
                    rest.append((p, q, worst))
            if not chosen:
                return ()  # a single term overflows int32 at this reduction length
            pending = rest
            r = _packed_rank(len(chosen))
            a = np.zeros((r, chosen[0][0].shape[0]), dtype=np.int8)
            b = np.zeros((r, chosen[0][1].shape[0]), dtype=np.int8)
            for k, (p, q) in enumerate(chosen):
                a[k], b[k] = p, q
            groups.append(IntGroup(a, b, int(coef)))
            total += abs(int(coef)) * bound
    if total >= FLOAT64_EXACT:
        return ()
    return tuple(groups)


def _exact_terms(table: ValueTable) -> tuple[list[Term], str] | None:
    """The fewest-term integer decomposition over either operand's bits, if one exists."""
    best: tuple[list[Term], str] | None = None
    via_a = _affine_terms(table.P, _bit_basis(table.enc_a))
    if via_a is not None:
        best = (via_a, "affine in activation bits")
    via_b = _affine_terms(table.P.T, _bit_basis(table.enc_b))
    if via_b is not None and (best is None or len(via_b) < len(best[0])):
        best = ([(psi, phi, c) for phi, psi, c in via_b], "affine in weight bits")
    return best


def _lowrank_plan(
    terms: list[Term],
    extra: tuple[np.ndarray, np.ndarray] | None,
    reduction: int,
    exact: bool,
    bound: float,
    description: str,
) -> Plan:
    a_feats = [t[0] for t in terms]
    b_feats = [t[1] for t in terms]
    coef = [float(t[2]) for t in terms]
    total = sum(abs(c) * np.abs(p).max() * np.abs(q).max() for p, q, c in terms) * reduction
    if extra is not None:
        a_feats += list(extra[0])
        b_feats += list(extra[1])
        coef += [1.0] * extra[0].shape[0]
    return Plan(
        method="lowrank",
        a_feats=np.stack(a_feats).astype(np.float64),
        b_feats=np.stack(b_feats).astype(np.float64),
        coef=np.asarray(coef, dtype=np.float64),
        combine_float64=extra is not None or total > FLOAT32_EXACT,
        exact=exact,
        bound=bound,
        description=description,
    )


def _build_plan(table: ValueTable, reduction: int, mode: PlanMode, rank: int) -> Plan:
    if mode not in ("exact", "bounded"):
        raise ConfigError(f"mode must be 'exact' or 'bounded', got {mode!r}")
    if mode == "exact":
        found = _exact_terms(table)
        if found is None:
            return Plan(
                "gather",
                np.zeros((0, table.P.shape[0])),
                np.zeros((0, table.P.shape[1])),
                np.zeros(0),
                True,
                True,
                0.0,
                "general kernel: one table lookup per product, integer sums "
                "(table is not affine in either operand's bits)",
                general=True,
            )
        terms, how = found
        float_terms = _fit_float32(terms, reduction)
        groups = _fit_int8(terms, reduction)
        int_rank = sum(g.rank for g in groups)
        desc = f"exact, {how}: {len(float_terms)} float32 GEMM terms for K={reduction}"
        affine_cost = float(len(float_terms))
        if groups and INT8_TERM_COST * int_rank < len(float_terms):
            affine_cost = INT8_TERM_COST * int_rank
            desc = (
                f"exact, {how}: int8 GEMM, {len(groups)} group(s) of "
                f"{'+'.join(str(g.rank) for g in groups)} terms for K={reduction} "
                f"(else {len(float_terms)} float32 GEMM terms)"
            )
        else:
            groups = ()
        plan = _lowrank_plan(float_terms, None, reduction, True, 0.0, desc)
        plan.int_groups = groups
        if affine_cost > GENERAL_COST:
            plan.general = True
            plan.description = (
                f"general kernel: one table lookup per product, integer sums (cheaper than "
                f"the affine plan, {desc})"
            )
        return plan
    if not isinstance(rank, int) or rank < 0:
        raise ConfigError(f"rank must be an int >= 0, got {rank!r}")
    exact_product = _affine_terms(table.exact_part, _bit_basis(table.enc_a))
    assert exact_product is not None  # a·b is always affine in a's bits
    terms = _fit_float32(exact_product, reduction)
    err = table.error().astype(np.float64)
    u, s, vt = np.linalg.svd(err, full_matrices=False)
    r = min(rank, int((s > s[0] * 1e-12).sum()) if s.size and s[0] > 0 else 0)
    root = np.sqrt(s[:r])
    ua, vb = (u[:, :r] * root).T, (vt[:r].T * root).T
    residual = float(np.abs(err - ua.T @ vb).max()) if r else float(np.abs(err).max())
    # float32 rounding of each error GEMM, Higham's γ_n bound with n = K.
    unit = 2.0**-24
    gamma = reduction * unit / (1 - reduction * unit)
    rounding = sum(gamma * reduction * np.abs(ua[k]).max() * np.abs(vb[k]).max() for k in range(r))
    bound = reduction * residual + rounding
    desc = (
        f"bounded: exact product in {len(terms)} terms + rank-{r} SVD of the error, "
        f"|acc error| <= {bound:.4g} for K={reduction}"
    )
    return _lowrank_plan(
        terms,
        (ua.astype(np.float32).astype(np.float64), vb.astype(np.float32).astype(np.float64)),
        reduction,
        False,
        bound,
        desc,
    )


# --------------------------------------------------------------------------- gradients
@dataclass(eq=False)
class GradFactors:
    """``G(a, b) ≈ Σ_k u_k(a)·v_k(b)``; ``const_a``/``const_b``: u (resp. v) is identically 1."""

    u: np.ndarray  # (r, Na)
    v: np.ndarray  # (r, Nb)
    const_a: bool
    const_b: bool
    max_residual: float
    exact: bool = True  # the factors reproduce the table up to float64 round-off

    def torch_feats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(u.T, v.T)`` as float32 on ``device`` (cached)."""
        cache = self.__dict__.setdefault("_dev", {})
        key = str(device)
        if key not in cache:
            cache[key] = (
                torch.as_tensor(self.u.T.copy(), dtype=torch.float32, device=device),
                torch.as_tensor(self.v.T.copy(), dtype=torch.float32, device=device),
            )
        return cache[key]


def factor_gradient(G: np.ndarray, max_rank: int) -> GradFactors:
    """Factor a gradient table; a table constant along one axis is rank 1 exactly."""
    scale = max(float(np.abs(G).max()), 1e-30)
    if np.allclose(G, G[:1, :], rtol=0, atol=1e-12 * scale):
        return GradFactors(np.ones((1, G.shape[0])), G[:1, :].copy(), True, False, 0.0)
    if np.allclose(G, G[:, :1], rtol=0, atol=1e-12 * scale):
        return GradFactors(G[:, :1].T.copy(), np.ones((1, G.shape[1])), False, True, 0.0)
    u, s, vt = np.linalg.svd(G, full_matrices=False)
    r_needed = int((s > s[0] * 1e-9).sum())
    r = max(1, min(max_rank, r_needed))
    root = np.sqrt(s[:r])
    uu, vv = (u[:, :r] * root).T, (vt[:r].T * root).T
    return GradFactors(
        uu, vv, False, False, float(np.abs(G - uu.T @ vv).max()), exact=r_needed <= max_rank
    )


def grad_factors(
    table: ValueTable, estimator: str, half_window: int, max_rank: int
) -> tuple[GradFactors, GradFactors]:
    """Factored ``(∂P/∂a, ∂P/∂b)`` for the layer's backward (cached on the table)."""
    # keyed by the estimator object too: a name registered again gets new factors
    key = ("gradf", estimator, gradient(estimator), half_window, max_rank)
    cache = table.__dict__.setdefault("_gcache", {})
    if key not in cache:
        ga, gb = table.grad_tables(estimator, half_window)
        cache[key] = (factor_gradient(ga, max_rank), factor_gradient(gb, max_rank))
    return cache[key]
