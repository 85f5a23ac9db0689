"""Compiled inner loops of the power/area/delay model (numba).

The numpy implementations in :mod:`dse.eval._power` (the ``*_reference`` functions) are
the reference; these kernels do the same work without per-gate Python overhead and are
tested to agree with them bit for bit: floating-point work is written in the
reference's operation order, and sums the reference leaves to numpy replay numpy's
pairwise order. When numba is not installed, or ``DSE_NO_NUMBA=1`` is set, the
reference implementations run instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA, jit

__all__ = [
    "HAVE_NUMBA",
    "activity_kernel",
    "delay_kernel",
    "loads_kernel",
    "power_kernel",
]


def _jit(fn: Any) -> Any:
    return jit(fn)


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
    """The per-net loads of a mapping as ``_finish_cover`` computes them with numpy:
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
    _pairwise_block_inner = _jit(_pairwise_block)
    _pairwise_inner = _jit(_pairwise)

delay_kernel = _jit(_delay)
power_kernel = _jit(_power)
loads_kernel = _jit(_loads)
activity_kernel = _jit(_activity)
