"""Logarithmic multipliers built from logic cells.

Two generators, registered as ``"mitchell"`` and ``"ilm"``:

**Mitchell** (J. N. Mitchell, "Computer multiplication and division using binary
logarithms", IRE Trans. Electronic Computers EC-11(4):512-517, 1962). An operand
``N = 2**k (1 + x)`` with ``k`` the position of its leading one and ``0 <= x < 1``
has ``log2 N ~ k + x``. The product of ``a = 2**k1 (1 + x1)`` and ``b = 2**k2 (1 + x2)``
is approximated by the antilogarithm of ``k1 + x1 + k2 + x2``::

    P = 2**(k1+k2)   * (1 + x1 + x2)   if x1 + x2 < 1
    P = 2**(k1+k2+1) * (x1 + x2)       otherwise,          P = 0 if a == 0 or b == 0.

With ``f = N - 2**k`` (the bits below the leading one), ``2**(k1+k2) x1 = f1 2**k2``
and ``2**(k1+k2) x2 = f2 2**k1`` are integers, so the full-precision result is an
exact integer (nothing is truncated): with ``t = f1 2**k2 + f2 2**k1``, ``P = 2**(k1+k2)
+ t`` if ``t < 2**(k1+k2)`` else ``P = 2 t`` (:func:`mitchell_reference`).

Hardware: a leading-one detector (priority encoder) gives ``k`` and the leading-zero
count; a barrel shifter of ``mux2`` cells normalises the operand so that its
``width-1`` bits below the leading one are the mantissa ``x``; ripple adders form
``x1 + x2`` (its carry is the ``x1 + x2 >= 1`` case) and ``k1 + k2 + carry``; the
antilogarithm shifts ``1.s`` (``s`` the low mantissa-sum bits) left by that exponent
in a second barrel shifter; the product is ANDed with "both operands non-zero".

**ILM** (Z. Babić, A. Avramović, P. Bulić, "An iterative logarithmic multiplier",
Microprocessors and Microsystems 35(1):23-33, 2011). With residues ``r = N - 2**k``,
``N1 N2 = 2**(k1+k2) + r1 2**k2 + r2 2**k1 + r1 r2``. The basic block drops the last
term: ``P0(N1, N2) = N1 2**k2 + r2 2**k1`` (0 when an operand is 0), computed by two
barrel shifters and an adder with no mantissa-overflow decision. Each correction
stage applies the basic block to the residues and adds the result:
``P = P0(N1, N2) + P0(r1, r2) + ...``; the generator uses one correction stage
(``corrections=1``, the design evaluated in the paper), selectable 0..3 through
:func:`ilm_multiplier`. The error of ``c`` corrections is below ``4**-(c+1)``
relative (25 % for the basic block, 6.25 % with one correction).

Signed operands (``signed=True``) use sign-magnitude around the unsigned core:
each operand is conditionally negated (XOR with its sign bit, then +sign through a
half-adder chain) into an ``n``-bit magnitude (``-2**(n-1)`` gives ``2**(n-1)``), the
magnitudes are multiplied, and the product is negated (XOR with ``sa ^ sb``, +1) in
``n+m``-bit two's complement. So ``P(-a, b) = -P(a, b)``: the error is symmetric.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dse.arith._generators import MAX_WIDTH, MIN_WIDTH
from dse.arith._graph import GraphBuilder, MultiplierGraph, Node, Signal
from dse.arith._registry import register_generator
from dse.errors import ConfigError

__all__ = [
    "ilm_multiplier",
    "ilm_reference",
    "mitchell_multiplier",
    "mitchell_reference",
]

MAX_CORRECTIONS = 3


# ------------------------------------------------------------------ references
def _leading_one(x: np.ndarray) -> np.ndarray:
    """floor(log2 x) for x >= 1 (0 for x == 0), exactly, on int64 arrays."""
    k = np.zeros_like(x)
    y = x.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = y >= (np.int64(1) << step)
        k = np.where(big, k + step, k)
        y = np.where(big, y >> step, y)
    return k


def _signed_wrap(
    core: Callable[[np.ndarray, np.ndarray], np.ndarray],
    a: np.ndarray,
    b: np.ndarray,
    signed: bool,
) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if not signed:
        return core(a, b)
    p = core(np.abs(a), np.abs(b))
    return np.where((a < 0) != (b < 0), -p, p)


def mitchell_reference(a: np.ndarray, b: np.ndarray, *, signed: bool = False) -> np.ndarray:
    """Mitchell's product (see the module docstring) of integer arrays, exactly.

    For ``signed=True`` the operands are two's complement values and the result is
    ``sign(a b) * mitchell(|a|, |b|)``.
    """

    def core(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        k1, k2 = _leading_one(a), _leading_one(b)
        f1, f2 = a - (np.int64(1) << k1), b - (np.int64(1) << k2)
        t = (f1 << k2) + (f2 << k1)
        base = np.int64(1) << (k1 + k2)
        p = np.where(t < base, base + t, 2 * t)
        return np.where((a == 0) | (b == 0), 0, p)

    return _signed_wrap(core, a, b, signed)


def ilm_reference(
    a: np.ndarray, b: np.ndarray, *, corrections: int = 1, signed: bool = False
) -> np.ndarray:
    """Babić et al.'s iterative logarithmic product with ``corrections`` stages."""
    _check_corrections(corrections)

    def block(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k1, k2 = _leading_one(a), _leading_one(b)
        r1 = np.where(a == 0, 0, a - (np.int64(1) << k1))
        r2 = np.where(b == 0, 0, b - (np.int64(1) << k2))
        p0 = np.where((a == 0) | (b == 0), 0, (a << k2) + (r2 << k1))
        return p0, r1, r2

    def core(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        total, r1, r2 = block(a, b)
        for _ in range(corrections):
            p, r1, r2 = block(r1, r2)
            total = total + p
        return total

    return _signed_wrap(core, a, b, signed)


# ------------------------------------------------------------- graph building
class _Logic:
    """Emits logic cells (``column=None``) into a graph, folding constants."""

    def __init__(self, gb: GraphBuilder) -> None:
        self.gb = gb
        gb.add("zero", Node("const0", role="const"))
        gb.add("one", Node("const1", role="const"))
        self.zero: Signal = ("zero", "y")
        self.one: Signal = ("one", "y")

    def _cell(self, prefix: str, kind: str, ins: tuple[Signal, ...]) -> Signal:
        return (self.gb.cell(prefix, kind, ins, None, "logic"), "y")

    def inv(self, x: Signal) -> Signal:
        if x == self.zero:
            return self.one
        if x == self.one:
            return self.zero
        return self._cell("inv", "inv", (x,))

    def and_(self, x: Signal, y: Signal) -> Signal:
        if self.zero in (x, y):
            return self.zero
        if x == self.one:
            return y
        if y == self.one or x == y:
            return x
        return self._cell("and", "and2", (x, y))

    def or_(self, x: Signal, y: Signal) -> Signal:
        if self.one in (x, y):
            return self.one
        if x == self.zero:
            return y
        if y == self.zero or x == y:
            return x
        return self._cell("or", "or2", (x, y))

    def xor(self, x: Signal, y: Signal) -> Signal:
        if x == self.zero:
            return y
        if y == self.zero:
            return x
        if x == self.one:
            return self.inv(y)
        if y == self.one:
            return self.inv(x)
        return self._cell("xor", "xor2", (x, y))

    def mux(self, a: Signal, b: Signal, s: Signal) -> Signal:
        """``s ? b : a``."""
        if a == b or s == self.zero:
            return a
        if s == self.one:
            return b
        if a == self.zero:
            return self.and_(b, s)
        if b == self.zero:
            return self.and_(a, self.inv(s))
        return self._cell("mux", "mux2", (a, b, s))

    def or_all(self, xs: Sequence[Signal]) -> Signal:
        items = list(xs)
        if not items:
            return self.zero
        while len(items) > 1:  # balanced tree
            nxt = [self.or_(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
            if len(items) % 2:
                nxt.append(items[-1])
            items = nxt
        return items[0]

    # --- datapath blocks -------------------------------------------------------
    def leading_one(self, bits: Sequence[Signal]) -> tuple[list[Signal], Signal]:
        """One-hot position of the most significant 1, and "any bit set"."""
        n = len(bits)
        onehot: list[Signal] = [self.zero] * n
        above = self.zero  # OR of the bits above position i
        for i in range(n - 1, -1, -1):
            onehot[i] = self.and_(bits[i], self.inv(above))
            above = self.or_(above, bits[i])
        return onehot, above

    def encode(
        self, onehot: Sequence[Signal], value: Callable[[int], int], width: int
    ) -> list[Signal]:
        """Binary code of ``value(i)`` for the hot position ``i`` (priority encoder)."""
        return [
            self.or_all([h for i, h in enumerate(onehot) if (value(i) >> j) & 1])
            for j in range(width)
        ]

    def shift_left(
        self, bits: Sequence[Signal], amount: Sequence[Signal], width: int
    ) -> list[Signal]:
        """Barrel shifter: ``bits << amount`` kept to ``width`` bits (mux2 stages)."""
        cur = list(bits[:width]) + [self.zero] * max(0, width - len(bits))
        for j, s in enumerate(amount):
            step = 1 << j
            cur = [
                self.mux(cur[i], cur[i - step] if i >= step else self.zero, s) for i in range(width)
            ]
        return cur

    def add(self, x: Sequence[Signal], y: Sequence[Signal], cin: Signal) -> list[Signal]:
        """Ripple-carry sum of two unsigned words plus ``cin``; one bit wider."""
        n = max(len(x), len(y))
        xs = list(x) + [self.zero] * (n - len(x))
        ys = list(y) + [self.zero] * (n - len(y))
        out: list[Signal] = []
        carry = cin
        for a, b in zip(xs, ys, strict=True):
            p = self.xor(a, b)
            out.append(self.xor(p, carry))
            carry = self.or_(self.and_(a, b), self.and_(p, carry))
        out.append(carry)
        return out

    def conditional_negate(self, bits: Sequence[Signal], sign: Signal) -> list[Signal]:
        """``sign ? -x : x`` modulo ``2**len(bits)``: XOR with the sign, then + sign."""
        flipped = [self.xor(b, sign) for b in bits]
        return self.add(flipped, [], sign)[: len(bits)]


def _k_width(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _mitchell_core(lg: _Logic, a: Sequence[Signal], b: Sequence[Signal]) -> list[Signal]:
    n, m = len(a), len(b)
    width_p = n + m
    frac = max(n, m) - 1

    def log_of(x: Sequence[Signal]) -> tuple[list[Signal], list[Signal], Signal]:
        w = len(x)
        onehot, nonzero = lg.leading_one(x)
        k = lg.encode(onehot, lambda i: i, _k_width(w))
        lz = lg.encode(onehot, lambda i: w - 1 - i, _k_width(w))
        normal = lg.shift_left(x, lz, w)  # leading one now at bit w-1
        mant = normal[: w - 1]  # x = mant / 2**(w-1)
        aligned = [lg.zero] * (frac - (w - 1)) + mant  # x = aligned / 2**frac
        return k, aligned, nonzero

    k1, x1, nz1 = log_of(a)
    k2, x2, nz2 = log_of(b)
    s = lg.add(x1, x2, lg.zero)  # frac + 1 bits; the top one is "x1 + x2 >= 1"
    exponent = lg.add(k1, k2, s[frac])
    value = [*s[:frac], lg.one]  # 1.s, i.e. (2**frac + s_low) / 2**frac
    shifted = lg.shift_left(value, exponent, frac + width_p)
    nonzero = lg.and_(nz1, nz2)
    return [lg.and_(bit, nonzero) for bit in shifted[frac : frac + width_p]]


def _ilm_block(
    lg: _Logic, a: Sequence[Signal], b: Sequence[Signal], width_p: int
) -> tuple[list[Signal], list[Signal], list[Signal]]:
    """Basic block: product approximation and the two residues."""
    oh1, nz1 = lg.leading_one(a)
    oh2, nz2 = lg.leading_one(b)
    k1 = lg.encode(oh1, lambda i: i, _k_width(len(a)))
    k2 = lg.encode(oh2, lambda i: i, _k_width(len(b)))
    r1 = [lg.xor(x, h) for x, h in zip(a, oh1, strict=True)]
    r2 = [lg.xor(x, h) for x, h in zip(b, oh2, strict=True)]
    t1 = lg.shift_left(a, k2, width_p)  # N1 * 2**k2
    t2 = lg.shift_left(r2, k1, width_p)  # r2 * 2**k1
    total = lg.add(t1, t2, lg.zero)[:width_p]
    nonzero = lg.and_(nz1, nz2)
    # A residue never has its top bit set (r < 2**k <= 2**(w-1)).
    return [lg.and_(x, nonzero) for x in total], r1[: max(1, len(a) - 1)], r2[: max(1, len(b) - 1)]


def _ilm_core(
    lg: _Logic, a: Sequence[Signal], b: Sequence[Signal], corrections: int
) -> list[Signal]:
    width_p = len(a) + len(b)
    total, r1, r2 = _ilm_block(lg, a, b, width_p)
    for _ in range(corrections):
        p, r1, r2 = _ilm_block(lg, r1, r2, width_p)
        total = lg.add(total, p, lg.zero)[:width_p]
    return total


def _check_widths(width_a: int, width_b: int) -> None:
    for name, w in (("width_a", width_a), ("width_b", width_b)):
        if isinstance(w, bool) or not isinstance(w, int) or not MIN_WIDTH <= w <= MAX_WIDTH:
            raise ConfigError(f"{name} must be an integer in [{MIN_WIDTH}, {MAX_WIDTH}], got {w!r}")


def _check_corrections(corrections: int) -> None:
    if (
        isinstance(corrections, bool)
        or not isinstance(corrections, int)
        or not (0 <= corrections <= MAX_CORRECTIONS)
    ):
        raise ConfigError(
            f"corrections must be an integer in [0, {MAX_CORRECTIONS}], got {corrections!r}"
        )


def _build(
    name: str,
    width_a: int,
    width_b: int,
    signed: bool,
    core: Callable[[_Logic, Sequence[Signal], Sequence[Signal]], list[Signal]],
    extra_info: dict[str, object] | None = None,
) -> MultiplierGraph:
    _check_widths(width_a, width_b)
    gb = GraphBuilder(width_a, width_b, bool(signed))
    for i in range(width_a):
        gb.add(f"a{i}", Node("input", role="input", operand="a", bit=i))
    for j in range(width_b):
        gb.add(f"b{j}", Node("input", role="input", operand="b", bit=j))
    lg = _Logic(gb)
    a: list[Signal] = [(f"a{i}", "y") for i in range(width_a)]
    b: list[Signal] = [(f"b{j}", "y") for j in range(width_b)]
    width_p = width_a + width_b
    if signed:
        sa, sb = a[-1], b[-1]
        product = core(lg, lg.conditional_negate(a, sa), lg.conditional_negate(b, sb))
        product = lg.conditional_negate(product, lg.xor(sa, sb))
    else:
        product = core(lg, a, b)
    for c in range(width_p):
        sig = product[c] if c < len(product) else lg.zero
        gb.add(f"p{c}", Node("output", (sig,), c, role="output", operand="p", bit=c))
    info: dict[str, object] = {"generator": name, "spec": None, "edits": ()}
    info.update(extra_info or {})
    return gb.freeze(info)


def mitchell_multiplier(width_a: int, width_b: int, *, signed: bool = False) -> MultiplierGraph:
    """Mitchell's logarithmic multiplier (full precision; see the module docstring)."""
    return _build("mitchell", width_a, width_b, signed, _mitchell_core)


def ilm_multiplier(
    width_a: int, width_b: int, *, signed: bool = False, corrections: int = 1
) -> MultiplierGraph:
    """Babić et al.'s iterative logarithmic multiplier with ``corrections`` stages."""
    _check_corrections(corrections)
    return _build(
        "ilm",
        width_a,
        width_b,
        signed,
        lambda lg, a, b: _ilm_core(lg, a, b, corrections),
        {"corrections": corrections},
    )


def _mitchell_gen(width_a: int, width_b: int, *, signed: bool, adder: str) -> MultiplierGraph:
    return mitchell_multiplier(width_a, width_b, signed=signed)


def _ilm_gen(width_a: int, width_b: int, *, signed: bool, adder: str) -> MultiplierGraph:
    return ilm_multiplier(width_a, width_b, signed=signed)


register_generator("mitchell", _mitchell_gen)
register_generator("ilm", _ilm_gen)
