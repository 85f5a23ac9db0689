"""Compiled inner loops of the evaluator (numba), with numpy fall-backs.

The numpy implementations in :mod:`dse.eval._sim`, :mod:`dse.eval._metrics` and
:mod:`dse.eval._power` (the ``*_reference`` functions) are the reference; these
kernels do the same work without per-gate Python overhead and are tested to agree
with them bit for bit: floating-point work is written in the reference's operation
order, and sums the reference leaves to numpy stay numpy's (or replay its pairwise
order). The one exception is the fused table-and-metrics kernel (``_lut_metrics``):
its integer sums are exact and its relative-error sums are taken in another order,
within 1e-12 of the reference. When numba is not installed, or ``DSE_NO_NUMBA=1`` is set, the reference
implementations run instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "HAVE_NUMBA",
    "activity_kernel",
    "delay_kernel",
    "loads_kernel",
    "lut_kernel",
    "lut_metrics_kernel",
    "metrics_kernel",
    "power_kernel",
    "read_kernel",
    "sim_kernel",
    "toggle_kernel",
]

from dse._jit import HAVE_NUMBA, jit


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


def _seg(axis: np.ndarray, x: float) -> int:
    """Segment of ``x`` on a sorted axis: ``count(axis <= x) - 1`` clipped to ``[0, k-2]``
    (what ``_lerp_index`` and ``searchsorted(side="right") - 1`` compute)."""
    k = axis.shape[0]
    j = -1
    for i in range(k):
        if x >= axis[i]:
            j += 1
    return min(max(j, 0), k - 2)


def _delay(
    drv_ro: np.ndarray,
    drv_net: np.ndarray,
    in_nets: np.ndarray,
    order: np.ndarray,
    load: np.ndarray,
    input_nets: np.ndarray,
    port_nets: np.ndarray,
    n_nets: int,
    buf_ro: int,
    load_axis: np.ndarray,
    slew_axis: np.ndarray,
    trans_typ: np.ndarray,
    delay_typ: np.ndarray,
    delay_tab: np.ndarray,
    trans_tab: np.ndarray,
) -> float:
    """:func:`dse.eval._power._delay_reference` without numpy temporaries.

    Every interpolation is written exactly as the reference writes it
    (``lo + t * (hi - lo)``, same operand order), so the figures agree bit for bit;
    the arrival times take one pass over the drivers in topological ``order``
    instead of relaxing all of them until nothing changes (the same fixpoint).
    """
    n_d = drv_ro.shape[0]
    if n_d == 0:
        return 0.0
    n_pins = in_nets.shape[1]
    n_slew = slew_axis.shape[1]
    slew = np.zeros(n_nets)
    arr = np.zeros(n_nets)
    if buf_ro >= 0:
        for i in range(input_nets.shape[0]):
            n = input_nets[i]
            pl = load[n]
            ax = load_axis[buf_ro]
            jb = _seg(ax, pl)
            tb = (pl - ax[jb]) / (ax[jb + 1] - ax[jb])
            v0 = trans_typ[buf_ro, 0, jb]
            slew[n] = v0 + tb * (trans_typ[buf_ro, 0, jb + 1] - v0)
            v0 = delay_typ[buf_ro, 0, jb]
            arr[n] = v0 + tb * (delay_typ[buf_ro, 0, jb + 1] - v0)
    jd = np.empty(n_d, dtype=np.int64)
    td = np.empty(n_d)
    # first-pass slews at the typical input slew
    for d in range(n_d):
        ro = drv_ro[d]
        x = load[drv_net[d]]
        ax = load_axis[ro]
        j = _seg(ax, x)
        t = (x - ax[j]) / (ax[j + 1] - ax[j])
        jd[d] = j
        td[d] = t
        best = -np.inf
        for k in range(n_pins):
            v = 0.0
            if in_nets[d, k] >= 0:
                tt0 = trans_typ[ro, k, j]
                v = tt0 + t * (trans_typ[ro, k, j + 1] - tt0)
            if v > best:
                best = v
        slew[drv_net[d]] = best
    # one refinement step: every driver's new slew from the first-pass slews
    row = np.empty(n_slew)
    new_slew = np.empty(n_d)
    for d in range(n_d):
        ro = drv_ro[d]
        j = jd[d]
        t = td[d]
        ax = slew_axis[ro]
        best = -np.inf
        for k in range(n_pins):
            v = 0.0
            f = in_nets[d, k]
            if f >= 0:
                for s in range(n_slew):
                    s0 = trans_tab[ro, k, s, j]
                    row[s] = s0 + t * (trans_tab[ro, k, s, j + 1] - s0)
                x = slew[f]
                i = _seg(ax, x)
                u = (x - ax[i]) / (ax[i + 1] - ax[i])
                v = row[i] + u * (row[i + 1] - row[i])
            if v > best:
                best = v
        new_slew[d] = best
    for d in range(n_d):
        slew[drv_net[d]] = new_slew[d]
    # arc delays at the refined slews, then longest paths in topological order
    dly = np.empty((n_d, n_pins))
    for d in range(n_d):
        ro = drv_ro[d]
        j = jd[d]
        t = td[d]
        ax = slew_axis[ro]
        for k in range(n_pins):
            f = in_nets[d, k]
            if f < 0:
                dly[d, k] = -np.inf
                continue
            for s in range(n_slew):
                d0 = delay_tab[ro, k, s, j]
                row[s] = d0 + t * (delay_tab[ro, k, s, j + 1] - d0)
            x = slew[f]
            i = _seg(ax, x)
            u = (x - ax[i]) / (ax[i + 1] - ax[i])
            dly[d, k] = row[i] + u * (row[i + 1] - row[i])
    for q in range(n_d):
        d = order[q]
        best = -np.inf
        for k in range(n_pins):
            f = in_nets[d, k]
            v = arr[f if f >= 0 else 0] + dly[d, k]
            if v > best:
                best = v
        arr[drv_net[d]] = best
    out = 0.0
    for i in range(port_nets.shape[0]):
        v = arr[port_nets[i]]
        if i == 0 or v > out:
            out = v
    return out


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


def _pairwise_block(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise float64 sum of ``a[lo:lo+n]`` for ``n <= 128`` (``pairwise_sum``
    in its ``loops_utils``: a plain loop below 8 terms, else eight accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


_pairwise_block_inner: Any = _pairwise_block


def _pairwise(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's ``sum`` of a contiguous ``a[lo:lo+n]``, bit for bit, for the sizes used
    here (16 and 256 terms; above 128 numpy halves at a multiple of 8). Written
    without recursion, which compiled and cached kernels handle badly."""
    if n <= 128:
        return _pairwise_block_inner(a, lo, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_block_inner(a, lo, n2) + _pairwise_block_inner(a, lo + n2, n - n2)


_pairwise_inner: Any = _pairwise


def _activity(
    fanin: np.ndarray, table: np.ndarray, tr: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``_internal_activity`` of :mod:`dse.eval._power`, element by element in the
    reference's operation order and with its (pairwise) sums."""
    n = fanin.shape[0]
    toggle = np.empty(n)
    prob = np.empty(n)
    jk = np.empty((4, 2, 2))
    pair = np.empty(256)
    row = np.empty(16)
    for q in range(n):
        for k in range(4):
            f = fanin[q, k]
            pk = p[f] if f >= 0 else 0.0
            tk = tr[f] if f >= 0 else 0.0
            tk = min(tk, 2 * min(pk, 1 - pk))
            j01 = tk / 2
            jk[k, 0, 0] = 1 - pk - tk / 2
            jk[k, 0, 1] = j01
            jk[k, 1, 0] = j01
            jk[k, 1, 1] = pk - tk / 2
        for m in range(16):
            for m2 in range(16):
                v = 1.0
                for k in range(4):
                    v *= jk[k, (m >> k) & 1, (m2 >> k) & 1]
                pair[m * 16 + m2] = v
        for m in range(16):
            row[m] = _pairwise_inner(pair, m * 16, 16) * (1.0 if table[q, m] else 0.0)
        prob[q] = _pairwise_inner(row, 0, 16)
        for m in range(16):
            for m2 in range(16):
                if table[q, m] == table[q, m2]:
                    pair[m * 16 + m2] = 0.0
        toggle[q] = _pairwise_inner(pair, 0, 256)
    return toggle, prob


def _loads(
    ins: np.ndarray,
    roles: np.ndarray,
    pin_cap_of: np.ndarray,
    alias: np.ndarray,
    out_nets: np.ndarray,
    n_nets: int,
    drv_net: np.ndarray,
    rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The per-net loads of a mapping as ``_finish_mapping`` computes them with numpy:
    pin capacitance summed in instance-then-pin order (``bincount``'s order), port
    and pin fan-outs, aliased port nets, and the drivers sorted by rank (ranks are
    distinct, so any sort gives the stable order)."""
    pin_cap = np.zeros(n_nets)
    pin_count = np.zeros(n_nets)
    for i in range(ins.shape[0]):
        r = roles[i]
        for k in range(ins.shape[1]):
            f = ins[i, k]
            if f >= 0:
                pin_cap[f] += pin_cap_of[r, k]
                pin_count[f] += 1.0
    port_nets = np.empty(out_nets.shape[0], dtype=np.int64)
    port_count = np.zeros(n_nets)
    for i in range(out_nets.shape[0]):
        n = alias[out_nets[i]]
        port_nets[i] = n
        port_count[n] += 1.0
    fanout = pin_count + port_count
    keys = np.empty(drv_net.shape[0], dtype=np.int64)
    top = 0
    for d in range(drv_net.shape[0]):
        keys[d] = rank[drv_net[d]]
        top = max(top, keys[d])
    # a stable counting sort by rank (ranks are below 8 per net): linear, and numba's
    # argsort would cost a second and a half of compile time
    start = np.zeros(top + 2, dtype=np.int64)
    for d in range(drv_net.shape[0]):
        start[keys[d] + 1] += 1
    for r in range(top + 1):
        start[r + 1] += start[r]
    order = np.empty(drv_net.shape[0], dtype=np.int64)
    for d in range(drv_net.shape[0]):
        order[start[keys[d]]] = d
        start[keys[d]] += 1
    return pin_cap, port_count, fanout, port_nets, order, keys


def _power(
    drv_ro: np.ndarray,
    drv_net: np.ndarray,
    drv_inst: np.ndarray,
    inst_in: np.ndarray,
    inst_role: np.ndarray,
    load: np.ndarray,
    tr: np.ndarray,
    p: np.ndarray,
    energy_axis: np.ndarray,
    energy: np.ndarray,
    sens: np.ndarray,
    hidden: np.ndarray,
    leak_mt: np.ndarray,
    n_pins: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-driver internal energy per output transition, per-pin hidden energy and
    per-minterm leakage of :func:`dse.eval._power.estimate_power`, element by element
    as its numpy reference computes them (the caller sums them the same way)."""
    n_d = drv_ro.shape[0]
    n_i = inst_role.shape[0]
    n_p = inst_in.shape[1]
    e_out = np.empty(n_d)
    e_pin = np.empty(n_p)
    w = np.empty(n_p)
    for d in range(n_d):
        ro = drv_ro[d]
        x = load[drv_net[d]]
        ax = energy_axis[ro]
        j = _seg(ax, x)
        t = (x - ax[j]) / (ax[j + 1] - ax[j])
        inst = drv_inst[d]
        wsum = 0.0
        ssum = 0.0
        for k in range(n_p):
            e0 = energy[ro, k, j]
            e_pin[k] = e0 + t * (energy[ro, k, j + 1] - e0)
            f = inst_in[inst, k]
            tr_in = tr[f] if f >= 0 else 0.0
            w[k] = tr_in * sens[ro, k]
            wsum += w[k]
            ssum += sens[ro, k]
        acc = 0.0
        if wsum > 0:
            for k in range(n_p):
                acc += w[k] * e_pin[k]
            e_out[d] = acc / wsum
        else:
            for k in range(n_p):
                acc += sens[ro, k] * e_pin[k]
            e_out[d] = acc / (ssum if ssum > 0 else 1.0)
    hid = np.empty((n_i, n_p))
    n_mt = 1 << n_pins
    leak = np.empty((n_i, n_mt))
    for i in range(n_i):
        r = inst_role[i]
        for k in range(n_p):
            f = inst_in[i, k]
            hid[i, k] = (tr[f] if f >= 0 else 0.0) * hidden[r, k]
        for mt in range(n_mt):
            v = 1.0
            for k in range(n_pins):
                f = inst_in[i, k]
                pk = p[f] if f >= 0 else 0.0
                v = v * (pk if (mt >> k) & 1 else 1 - pk)
            leak[i, mt] = v * leak_mt[r, mt]
    return e_out, hid, leak


if HAVE_NUMBA:  # the helpers are called from compiled code, so they are compiled first
    _seg = _jit(_seg)
    _sim_inner = _jit(_sim)
    _pairwise_block_inner = _jit(_pairwise_block)
    _pairwise_inner = _jit(_pairwise)
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
delay_kernel = _jit(_delay)
toggle_kernel = _jit(_toggles)
power_kernel = _jit(_power)
loads_kernel = _jit(_loads)
activity_kernel = _jit(_activity)
read_kernel = _jit(_read)
metrics_kernel = _jit(_metrics)
