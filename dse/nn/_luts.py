"""Reference product tables built in numpy (exact, partial-product pruned, Mitchell).

They follow the team-wide LUT contract: a 2-D ``int64`` array indexed ``[a, b]`` by each
operand's raw bit pattern read as an unsigned number, holding the product's value (two's
complement value for a signed multiplier). These builders exist so that the training code
can be tested and benchmarked without the generator/evaluator packages.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dse.errors import ConfigError

__all__ = ["code_values", "exact_lut", "mitchell_lut", "pruned_lut", "truncated_lut"]

MAX_WIDTH = 12  # 2**24 table entries: beyond that a LUT no longer fits comfortably in memory


def _check_width(name: str, width: int) -> None:
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool):
        raise ConfigError(f"{name} must be an int, got {type(width).__name__}")
    if not 1 <= int(width) <= MAX_WIDTH:
        raise ConfigError(f"{name} must be in 1..{MAX_WIDTH}, got {width}")


def code_values(width: int, signed: bool) -> np.ndarray:
    """Value of every ``width``-bit code 0..2**width-1 (two's complement when ``signed``)."""
    _check_width("width", width)
    codes = np.arange(2**width, dtype=np.int64)
    if signed:
        codes = np.where(codes >= 2 ** (width - 1), codes - 2**width, codes)
    return codes


def exact_lut(width_a: int, width_b: int | None = None, *, signed: bool = False) -> np.ndarray:
    """The accurate multiplier's table, shape ``(2**width_a, 2**width_b)``."""
    width_b = width_a if width_b is None else width_b
    _check_width("width_a", width_a)
    _check_width("width_b", width_b)
    return np.outer(code_values(width_a, signed), code_values(width_b, signed))


def pruned_lut(width_a: int, width_b: int, pruned: Iterable[tuple[int, int]]) -> np.ndarray:
    """Unsigned multiplier that drops the partial products ``a_i·b_j`` listed in ``pruned``.

    The array multiplier sums ``2**(i+j)·a_i·b_j`` over all bit pairs; partial-product
    pruning (e.g. Zervakis et al., "Approximate computing for ML: partial product
    perforation", and EvoApprox truncated multipliers) removes some of them.
    """
    _check_width("width_a", width_a)
    _check_width("width_b", width_b)
    a = np.arange(2**width_a, dtype=np.int64)
    b = np.arange(2**width_b, dtype=np.int64)
    lut = np.outer(a, b)
    for i, j in pruned:
        if not (0 <= i < width_a and 0 <= j < width_b):
            raise ConfigError(
                f"pruned partial product ({i}, {j}) is outside a {width_a}x{width_b} multiplier"
            )
        lut -= (2 ** (i + j)) * np.outer((a >> i) & 1, (b >> j) & 1)
    return lut


def truncated_lut(width: int, columns: int, width_b: int | None = None) -> np.ndarray:
    """Unsigned multiplier with the ``columns`` lowest partial-product columns removed.

    Column ``c`` holds the partial products ``a_i·b_j`` with ``i + j == c``; dropping the
    columns ``0..columns-1`` is the classic truncated multiplier.
    """
    width_b = width if width_b is None else width_b
    _check_width("width", width)
    _check_width("width_b", width_b)
    if not 0 <= columns <= width + width_b - 1:
        raise ConfigError(f"columns must be in 0..{width + width_b - 1}, got {columns}")
    pruned = [(i, j) for i in range(width) for j in range(width_b) if i + j < columns]
    return pruned_lut(width, width_b, pruned)


def mitchell_lut(width: int, width_b: int | None = None) -> np.ndarray:
    """Unsigned Mitchell logarithmic multiplier (Mitchell, IRE Trans. Electron. Comput. 1962).

    For a, b > 0 with ``k = floor(log2 a)``, ``x = a/2**k - 1`` (likewise for b), the product
    is ``2**(k1+k2)·(1+x1+x2)`` if ``x1+x2 < 1`` else ``2**(k1+k2+1)·(x1+x2)``, truncated to
    an integer; a zero operand gives 0. Computed in integers, so it is exact.
    """
    width_b = width if width_b is None else width_b
    _check_width("width", width)
    _check_width("width_b", width_b)
    a = np.arange(2**width, dtype=np.int64)[:, None]
    b = np.arange(2**width_b, dtype=np.int64)[None, :]
    k1 = np.where(a > 0, np.floor(np.log2(np.maximum(a, 1))), 0).astype(np.int64)
    k2 = np.where(b > 0, np.floor(np.log2(np.maximum(b, 1))), 0).astype(np.int64)
    m1 = a - (1 << k1)  # mantissa bits: x1 = m1 / 2**k1
    m2 = b - (1 << k2)
    # x1 + x2 < 1  <=>  m1·2**k2 + m2·2**k1 < 2**(k1+k2); all terms are integers.
    cross = m1 * (1 << k2) + m2 * (1 << k1)
    no_carry = cross < (1 << (k1 + k2))
    product = np.where(no_carry, (1 << (k1 + k2)) + cross, 2 * cross)
    return np.where((a > 0) & (b > 0), product, 0).astype(np.int64)
