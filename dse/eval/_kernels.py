"""Compiled inner loops of the evaluator (numba), with numpy fall-backs.

The numpy implementations in :mod:`dse.eval._sim` and :mod:`dse.eval._metrics` are
the reference; these kernels do the same work without per-gate Python overhead and
are tested to agree with them bit for bit. When numba is not installed, or
``DSE_NO_NUMBA=1`` is set, the reference implementations run instead.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = [
    "HAVE_NUMBA",
    "delay_kernel",
    "metrics_kernel",
    "read_kernel",
    "sim_kernel",
    "toggle_kernel",
]

try:  # pragma: no cover - exercised by whichever environment runs the tests
    if os.environ.get("DSE_NO_NUMBA"):
        raise ImportError("disabled by DSE_NO_NUMBA")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def _jit(fn: Any) -> Any:
    if not HAVE_NUMBA:
        return None
    return numba.njit(cache=True, nogil=True)(fn)


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


def _read(vals: np.ndarray, nets: np.ndarray, signed: bool, n_vectors: int) -> np.ndarray:
    width = nets.shape[0]
    n_words = vals.shape[1]
    out = np.zeros(n_words * 64, dtype=np.int64)
    one = np.uint64(1)
    for w in range(n_words):
        base = w * 64
        for k in range(width):
            word = vals[nets[k], w]
            if word == 0:
                continue
            bit = np.int64(1) << k
            for lane in range(64):
                if (word >> np.uint64(lane)) & one:
                    out[base + lane] |= bit
    res = out[:n_vectors]
    if signed and width > 0:
        half = np.int64(1) << (width - 1)
        full = np.int64(1) << width
        for i in range(n_vectors):
            if res[i] >= half:
                res[i] -= full
    return res


def _metrics(approx: np.ndarray, exact: np.ndarray, inv_abs: np.ndarray) -> np.ndarray:
    """Unweighted sums: [n_err, sum|e|, sum e, sum e^2, max|e|, sum rel, n_nonzero, max rel]."""
    n_err = 0.0
    s_abs = 0.0
    s_e = 0.0
    s_e2 = 0.0
    m_abs = 0.0
    s_rel = 0.0
    n_nz = 0.0
    m_rel = 0.0
    for i in range(approx.shape[0]):
        e = float(approx[i] - exact[i])
        d = abs(e)
        if d > 0:
            n_err += 1.0
        s_abs += d
        s_e += e
        s_e2 += e * e
        if d > m_abs:
            m_abs = d
        iv = inv_abs[i]
        if iv > 0:
            n_nz += 1.0
            r = d * iv
            s_rel += r
            if r > m_rel:
                m_rel = r
    return np.array([n_err, s_abs, s_e, s_e2, m_abs, s_rel, n_nz, m_rel])


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


if HAVE_NUMBA:  # the helpers are called from compiled code, so they are compiled first
    _seg = _jit(_seg)
    _popcount = _jit(_popcount)

sim_kernel = _jit(_sim)
delay_kernel = _jit(_delay)
toggle_kernel = _jit(_toggles)
read_kernel = _jit(_read)
metrics_kernel = _jit(_metrics)
