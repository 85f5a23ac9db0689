"""Compiled inner loops of simulation, product tables and error metrics (numba).

The numpy implementations in :mod:`dse.eval._sim` and :mod:`dse.eval._metrics` (the
``*_reference`` functions) are the reference; these kernels do the same work without
per-gate Python overhead and are tested to agree with them bit for bit: floating-point
work is written in the reference's operation order, and sums the reference leaves to
numpy stay numpy's. The one exception is the fused table-and-metrics kernel
(``_lut_metrics``): its integer sums are exact and its relative-error sums are taken in
another order, within 1e-12 of the reference. When numba is not installed, or
``DSE_NO_NUMBA=1`` is set, the reference implementations run instead. The power
model's kernels are in :mod:`dse.eval._power_kernels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA, jit

__all__ = [
    "HAVE_NUMBA",
    "lut_kernel",
    "lut_metrics_kernel",
    "metrics_kernel",
    "read_kernel",
    "sim_kernel",
    "toggle_kernel",
]


def _jit(fn: Any) -> Any:
    return jit(fn)


def _sim(ops: np.ndarray, fanin: np.ndarray, n_in: int, vals: np.ndarray) -> None:
    n_words = vals.shape[1]
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    zero = np.uint64(0)
    for g in range(ops.shape[0]):
        op = ops[g]
        o = n_in + g
        f0 = max(fanin[g, 0], 0)
        f1 = max(fanin[g, 1], 0)
        f2 = max(fanin[g, 2], 0)
        f3 = max(fanin[g, 3], 0)
        # One tight loop per gate kind, so the compiler can vectorise it.
        if op == 4:
            for w in range(n_words):
                vals[o, w] = vals[f0, w] & vals[f1, w]
        elif op == 6:
            for w in range(n_words):
                vals[o, w] = vals[f0, w] ^ vals[f1, w]
        elif op == 5:
            for w in range(n_words):
                vals[o, w] = vals[f0, w] | vals[f1, w]
        elif op == 3:
            for w in range(n_words):
                vals[o, w] = ~vals[f0, w]
        elif op == 7:
            for w in range(n_words):
                vals[o, w] = ~(vals[f0, w] & vals[f1, w])
        elif op == 8:
            for w in range(n_words):
                vals[o, w] = ~(vals[f0, w] | vals[f1, w])
        elif op == 9:
            for w in range(n_words):
                vals[o, w] = ~(vals[f0, w] ^ vals[f1, w])
        elif op == 14:
            for w in range(n_words):
                vals[o, w] = vals[f0, w] ^ vals[f1, w] ^ vals[f2, w]
        elif op == 15:
            for w in range(n_words):
                vals[o, w] = ~(vals[f0, w] ^ vals[f1, w] ^ vals[f2, w])
        elif op == 16:
            for w in range(n_words):
                a = vals[f0, w]
                b = vals[f1, w]
                vals[o, w] = (a & b) | (vals[f2, w] & (a | b))
        elif op == 17:
            for w in range(n_words):
                a = vals[f0, w]
                vals[o, w] = a ^ ((a ^ vals[f1, w]) & vals[f2, w])
        elif op == 10:
            for w in range(n_words):
                vals[o, w] = vals[f0, w] & vals[f1, w] & vals[f2, w]
        elif op == 11:
            for w in range(n_words):
                vals[o, w] = vals[f0, w] | vals[f1, w] | vals[f2, w]
        elif op == 12:
            for w in range(n_words):
                vals[o, w] = ~(vals[f0, w] & vals[f1, w] & vals[f2, w])
        elif op == 13:
            for w in range(n_words):
                vals[o, w] = ~(vals[f0, w] | vals[f1, w] | vals[f2, w])
        elif op == 18:
            for w in range(n_words):
                vals[o, w] = ~((vals[f0, w] & vals[f1, w]) | vals[f2, w])
        elif op == 19:
            for w in range(n_words):
                vals[o, w] = ~((vals[f0, w] | vals[f1, w]) & vals[f2, w])
        elif op == 20:
            for w in range(n_words):
                vals[o, w] = ~((vals[f0, w] & vals[f1, w]) | (vals[f2, w] & vals[f3, w]))
        elif op == 21:
            for w in range(n_words):
                vals[o, w] = ~((vals[f0, w] | vals[f1, w]) & (vals[f2, w] | vals[f3, w]))
        elif op == 0:
            for w in range(n_words):
                vals[o, w] = zero
        elif op == 1:
            for w in range(n_words):
                vals[o, w] = full
        else:  # BUF
            for w in range(n_words):
                vals[o, w] = vals[f0, w]


_sim_inner: Any = _sim  # the compiled _sim once numba is there (see the end)


def _bits_block(vals: np.ndarray, nets: np.ndarray, out: np.ndarray, block: int) -> None:
    """:func:`_bits` with the rows padded to ``block`` (16, 32 or 64; a constant at each
    call, so the compiler unrolls the swap rounds and folds their masks)."""
    width = nets.shape[0]
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    low = full >> np.uint64(64 - block)
    r = np.zeros(block, dtype=np.uint64)
    for w in range(vals.shape[1]):
        for k in range(block):
            r[k] = vals[nets[k], w] if k < width else np.uint64(0)
        j = block >> 1
        while j > 0:
            sh = np.uint64(j)
            # the low j bits of every 2j-bit group: 0x5555.., 0x3333.., 0x0f0f.., ...
            m = full // ((np.uint64(1) << sh) + np.uint64(1))
            for k0 in range(0, block, 2 * j):
                for k in range(k0, k0 + j):
                    a = r[k]
                    b = r[k + j]
                    t = ((a >> sh) ^ b) & m
                    r[k + j] = b ^ t
                    r[k] = a ^ (t << sh)
            j >>= 1
        # now bit k of row l in block c is bit k of lane block * c + l
        o = out[w * 64 : w * 64 + 64]
        for c in range(64 // block):
            sc = np.uint64(block * c)
            for lane in range(block):
                o[block * c + lane] = np.int64((r[lane] >> sc) & low)


_bits_block_inner: Any = _bits_block


def _bits(vals: np.ndarray, nets: np.ndarray, out: np.ndarray) -> None:
    """Write ``sum_k bit(lane) of net nets[k] << k`` into ``out[64 w + lane]`` for every
    word ``w``: a transpose of the ``width x 64`` bit matrix of each word.

    The rows (product bits, padded with zero rows to a block of 16, 32 or 64) are
    transposed in place by the recursive block swap of Hacker's Delight (H. S. Warren,
    2nd ed., sec. 7-3), all ``64 / block`` blocks of a word at once: ``log2(block)``
    rounds of ``block / 2`` shift-and-xor swaps instead of a test of every bit.
    """
    width = nets.shape[0]
    if width == 0:
        return
    if width <= 16:
        _bits_block_inner(vals, nets, out, 16)
    elif width <= 32:
        _bits_block_inner(vals, nets, out, 32)
    else:
        _bits_block_inner(vals, nets, out, 64)


_bits_inner: Any = _bits


def _read(vals: np.ndarray, nets: np.ndarray, signed: bool, n_vectors: int) -> np.ndarray:
    width = nets.shape[0]
    out = np.zeros(vals.shape[1] * 64, dtype=np.int64)
    _bits_inner(vals, nets, out)
    res = out[:n_vectors]
    if signed and width > 0:
        _sign_extend_inner(res, width)
    return res


def _sign_extend(res: np.ndarray, width: int) -> None:
    """Read ``width``-bit two's complement products (in place)."""
    half = np.int64(1) << (width - 1)
    full = np.int64(1) << width
    for i in range(res.shape[0]):
        if res[i] >= half:
            res[i] -= full


def _block(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    words: np.ndarray,
    nets: np.ndarray,
    buf: np.ndarray,
    out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    """Simulate input words ``start..stop`` of every net in ``buf`` and write the product
    bits of those vectors into ``out`` (one cache-sized block of :func:`_lut`)."""
    span = stop - start
    # a contiguous block (a column slice of buf would defeat vectorisation)
    vals = buf if span == buf.shape[1] else np.empty((buf.shape[0], span), dtype=np.uint64)
    for r in range(n_in):
        for w in range(span):
            vals[r, w] = words[r, start + w]
    _sim_inner(ops, fanin, n_in, vals)
    _bits_inner(vals, nets, out[start * 64 :])


def _lut(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    words: np.ndarray,
    nets: np.ndarray,
    signed: bool,
    n_vectors: int,
    chunk: int,
) -> np.ndarray:
    """``_read(_sim(...))`` over ``chunk`` words at a time: the net values of one chunk
    stay in the first-level cache instead of the whole table's streaming through it.
    Word ``w`` of every net depends on word ``w`` of the inputs only, so chunks are
    independent and the result is the same table."""
    n_words = words.shape[1]
    n_nets = n_in + ops.shape[0]
    width = nets.shape[0]
    out = np.zeros(n_words * 64, dtype=np.int64)
    buf = np.empty((n_nets, chunk), dtype=np.uint64)
    for start in range(0, n_words, chunk):
        _block_inner(ops, fanin, n_in, words, nets, buf, out, start, min(start + chunk, n_words))
    res = out[:n_vectors]
    if signed and width > 0:
        _sign_extend_inner(res, width)
    return res


def _lut_metrics(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    words: np.ndarray,
    nets: np.ndarray,
    signed: bool,
    n_vectors: int,
    chunk: int,
    width_b: int,
    val_a: np.ndarray,
    val_b: np.ndarray,
    inv_a: np.ndarray,
    inv_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_lut` plus the unweighted error sums of :func:`_metrics`, taken from each
    block of the table while it is still in the cache.

    Vector ``i`` is the pair ``a = i >> width_b``, ``b = i & (2**width_b - 1)``, so
    the exact product is ``val_a[a] * val_b[b]`` (no exact table is streamed) and
    ``1/|exact|`` is ``inv_a[a] * inv_b[b]`` (no inverse table either: a relative
    error within a few ulps of the reference's ``|e| / |exact|``).

    Errors of integer products are integers: the count, ``sum|e|``, ``sum e`` and
    ``max|e|`` are summed exactly in int64, ``sum e^2`` exactly in a two-word integer
    (a 12x12 table's can pass 2**63); only the relative error is a float sum. The
    caller asks for this only when ``|e| < 2**24`` (an output no wider than the
    operands together), which bounds every partial sum below.

    Returns the table, ``[n_err, sum|e|, sum e, sum e^2 (high word), sum e^2 (low
    32 bits), max|e|]`` (int64) and ``[sum rel, max rel]`` (float64).
    """
    n_words = words.shape[1]
    n_nets = n_in + ops.shape[0]
    width = nets.shape[0]
    out = np.zeros(n_words * 64, dtype=np.int64)
    buf = np.empty((n_nets, chunk), dtype=np.uint64)
    half = np.int64(1) << (width - 1) if width > 0 else np.int64(0)
    full = np.int64(1) << width
    mask_b = (np.int64(1) << width_b) - 1
    lo32 = 0xFFFFFFFF
    n_err = 0
    s_abs = 0
    s_e = 0
    s2_hi = 0
    s2_lo = 0
    m_abs = 0
    s_rel = 0.0
    m_rel = 0.0
    rel = np.empty(min(int(mask_b) + 1, chunk * 64))
    rel_bits = rel.view(np.int64)
    top = np.zeros(1)
    top_bits = top.view(np.int64)
    for start in range(0, n_words, chunk):
        stop = min(start + chunk, n_words)
        _block_inner(ops, fanin, n_in, words, nets, buf, out, start, stop)
        i = start * 64
        hi = min(stop * 64, n_vectors)
        while i < hi:
            # one run of a single row a: contiguous b, so the loop vectorises
            a = i >> width_b
            b0 = i & mask_b
            seg = min(hi - i, mask_b + 1 - b0)
            ea = val_a[a]
            ia = inv_a[a]
            # views indexed by the loop counter alone: with offsets the compiler cannot
            # prove the indices non-negative, and the loops do not vectorise
            o = out[i : i + seg]
            vb = val_b[b0 : b0 + seg]
            ib = inv_b[b0 : b0 + seg]
            if signed:
                for j in range(seg):
                    v = o[j]
                    o[j] = v - full if v >= half else v
            # integer sums: associative, so the compiler vectorises this loop
            c_err = 0
            c_abs = 0
            c_e = 0
            c_e2 = 0
            c_max = 0
            for j in range(seg):
                e = o[j] - ea * vb[j]
                d = abs(e)
                c_err += 1 if e != 0 else 0
                c_abs += d
                c_e += e
                c_e2 += e * e
                c_max = max(c_max, d)
            # relative errors: a plain sum (compiled with reassociation allowed, so it
            # vectorises) and the maximum over the bit patterns of the terms, which are
            # non-negative floats and so ordered as their int64 views are (a float max
            # does not vectorise); an exact run adds nothing
            r_sum = 0.0
            if c_err:
                for j in range(seg):
                    t = float(abs(o[j] - ea * vb[j])) * ib[j]
                    r_sum += t
                    rel[j] = t
                r_bits = 0
                for j in range(seg):
                    r_bits = max(r_bits, rel_bits[j])
                top_bits[0] = r_bits
            else:
                top_bits[0] = 0
            r_max = top[0]
            n_err += c_err
            s_abs += c_abs
            s_e += c_e
            # a run lies within one block (at most 64 * chunk pairs), so its e^2 sum
            # stays below 2**60 for |e| < 2**24; split into words, no total overflows
            s2_hi += c_e2 >> 32
            s2_lo += c_e2 & lo32
            m_abs = max(m_abs, c_max)
            s_rel += r_sum * ia
            m_rel = max(m_rel, r_max * ia)
            i += seg
    ints = np.array([n_err, s_abs, s_e, s2_hi, s2_lo, m_abs], dtype=np.int64)
    return out[:n_vectors], ints, np.array([s_rel, m_rel])


def _metrics(approx: np.ndarray, exact: np.ndarray, inv_abs: np.ndarray) -> np.ndarray:
    """Unweighted sums: [n_err, sum|e|, sum e, sum e^2, max|e|, sum rel, n_nonzero, max rel].

    A pair without error adds +0.0 to every sum and raises no maximum, so it is
    skipped (only the non-zero-product count needs it): the float sums see the same
    terms in the same order as when every pair is added, and come out identical.
    """
    n_err = 0
    s_abs = 0.0
    s_e = 0.0
    s_e2 = 0.0
    m_abs = 0.0
    s_rel = 0.0
    n_nz = 0
    m_rel = 0.0
    for i in range(approx.shape[0]):
        iv = inv_abs[i]
        if iv > 0:
            n_nz += 1
        ei = approx[i] - exact[i]
        if ei == 0:
            continue
        e = float(ei)
        d = abs(e)
        n_err += 1
        s_abs += d
        s_e += e
        s_e2 += e * e
        if d > m_abs:
            m_abs = d
        if iv > 0:
            r = d * iv
            s_rel += r
            if r > m_rel:
                m_rel = r
    return np.array([float(n_err), s_abs, s_e, s_e2, m_abs, s_rel, float(n_nz), m_rel])


def _toggles(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-net counts of ones and of changes between consecutive lanes (integers)."""
    n_nets, n_words = vals.shape
    ones = np.zeros(n_nets, dtype=np.int64)
    toggles = np.zeros(n_nets, dtype=np.int64)
    for n in range(n_nets):
        c1 = 0
        ct = 0
        carry = np.uint64(0)
        for w in range(n_words):
            v = vals[n, w]
            prev = (v << np.uint64(1)) | carry
            diff = prev ^ v
            if w == 0:
                diff &= ~np.uint64(1)  # lane 0 of the trace has no predecessor
            c1 += _popcount(v)
            ct += _popcount(diff)
            carry = v >> np.uint64(63)
        ones[n] = c1
        toggles[n] = ct
    return ones, toggles


def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


if HAVE_NUMBA:  # the helpers are called from compiled code, so they are compiled first
    _sim_inner = _jit(_sim)
    _bits_block_inner = jit(_bits_block, inline=True)
    _bits_inner = _jit(_bits)
    _sign_extend_inner = _jit(_sign_extend)
    # inlined: a compiled call that takes arrays pays reference counting on each of them
    _block_inner = jit(_block, inline=True)
    _popcount = _jit(_popcount)

sim_kernel: Any = _sim_inner if HAVE_NUMBA else None
lut_kernel = _jit(_lut)
# reassociation lets the relative-error sum vectorise (its order is not the reference's
# anyway); every other figure of this kernel is an integer
lut_metrics_kernel = jit(_lut_metrics, fastmath={"reassoc", "nsz"})
toggle_kernel = _jit(_toggles)
read_kernel = _jit(_read)
metrics_kernel = _jit(_metrics)
