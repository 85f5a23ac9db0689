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

__all__ = ["HAVE_NUMBA", "metrics_kernel", "read_kernel", "sim_kernel"]

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


sim_kernel = _jit(_sim)
read_kernel = _jit(_read)
metrics_kernel = _jit(_metrics)
