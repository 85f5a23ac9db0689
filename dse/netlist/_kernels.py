"""Compiled inner loop of :meth:`NetlistBuilder.build` (numba), with a Python fall-back.

Kept apart from :mod:`dse.eval._kernels` because :mod:`dse.eval` imports
:mod:`dse.netlist`. When numba is missing, or ``DSE_NO_NUMBA=1`` is set, the
builder's own Python loop runs instead; tests check the two agree.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["HAVE_NUMBA", "build_kernel"]

try:  # pragma: no cover - exercised by whichever environment runs the tests
    if os.environ.get("DSE_NO_NUMBA"):
        raise ImportError("disabled by DSE_NO_NUMBA")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def _build(
    ops: np.ndarray,
    flat: np.ndarray,
    arity: np.ndarray,
    n_in: int,
    out_nets: np.ndarray,
    grp_sig: np.ndarray,
    grp_nets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dead-gate removal, renumbering and group checks of a builder's gates.

    Args:
        ops: ``(G,)`` op per gate; flat: the gates' fan-in nets back to back, gate
            ``g`` having ``arity[ops[g]]`` of them.
        out_nets: every output-port net.
        grp_sig: ``(K, 2)`` the ops a group's two gates must have (``-1``: reject).
        grp_nets: ``(K, 2)`` the nets of each group's gates.

    Returns:
        new ops, new fan-in, ``new_id`` per old net (``-1`` for dropped gates), and per
        group whether it survives (``1``) — the rules of the Python loop exactly.
    """
    n_g = ops.shape[0]
    fanin = np.full((n_g, 4), -1, dtype=np.int64)
    pos = 0
    for g in range(n_g):
        for k in range(arity[ops[g]]):
            fanin[g, k] = flat[pos]
            pos += 1
    live = np.zeros(n_in + n_g, dtype=np.bool_)
    for i in range(out_nets.shape[0]):
        live[out_nets[i]] = True
    # fan-in nets are smaller than a gate's own net: one backward sweep marks all
    for g in range(n_g - 1, -1, -1):
        if live[n_in + g]:
            for k in range(4):
                f = fanin[g, k]
                if f >= 0:
                    live[f] = True
    new_id = np.full(n_in + n_g, -1, dtype=np.int64)
    for n in range(n_in):
        new_id[n] = n
    n_new = 0
    for g in range(n_g):
        if live[n_in + g]:
            new_id[n_in + g] = n_in + n_new
            n_new += 1
    new_ops = np.empty(n_new, dtype=np.uint8)
    new_fanin = np.full((n_new, 4), -1, dtype=np.int32)
    for g in range(n_g):
        j = new_id[n_in + g]
        if j < 0:
            continue
        j -= n_in
        new_ops[j] = ops[g]
        for k in range(4):
            f = fanin[g, k]
            if f >= 0:
                new_fanin[j, k] = new_id[f]
    n_grp = grp_sig.shape[0]
    keep = np.zeros(n_grp, dtype=np.int64)
    seen = np.zeros(n_new + 1, dtype=np.bool_)
    for i in range(n_grp):
        if grp_sig[i, 0] < 0:
            continue
        ok = True
        for m in range(2):
            n = grp_nets[i, m]
            if n < n_in or new_id[n] < 0:
                ok = False
        if not ok:
            continue
        g0 = new_id[grp_nets[i, 0]] - n_in
        for m in range(2):
            g = new_id[grp_nets[i, m]] - n_in
            if new_ops[g] != grp_sig[i, m] or seen[g]:
                ok = False
                break
            for k in range(4):
                if new_fanin[g, k] != new_fanin[g0, k]:
                    ok = False
            if not ok:
                break
        if ok:
            for m in range(2):
                seen[new_id[grp_nets[i, m]] - n_in] = True
            keep[i] = 1
    return new_ops, new_fanin, new_id, keep


def _jit(fn: Any) -> Any:
    if not HAVE_NUMBA:
        return None
    return numba.njit(cache=True, nogil=True)(fn)


build_kernel = _jit(_build)
