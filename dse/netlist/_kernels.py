"""Compiled inner loops of :meth:`NetlistBuilder.build` and of lowering (numba).

Kept apart from :mod:`dse.eval._kernels` because :mod:`dse.eval` imports
:mod:`dse.netlist`. When numba is missing, or ``DSE_NO_NUMBA=1`` is set, the
builder's own Python loop runs instead; tests check the two agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["HAVE_NUMBA", "build_kernel", "lower_kernel"]

from dse._jit import HAVE_NUMBA, jit


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
    return jit(fn)


build_kernel = _jit(_build)


# --------------------------------------------------------------------------- lowering
# A compiled replay of NetlistBuilder.gate: the same constant folding, structural
# hashing and gate numbering, over arrays. The builder's state: gate ops and fan-in
# (padded with -1), a gate counter, each net's constant value and the net an INV gate
# inverts (-1: none), and an open-addressing table (op, fan-in) -> net.


def _insert(op, a, b, c, d, n_in, st):  # type: ignore[no-untyped-def]
    """``gate`` for a gate none of whose inputs is a constant (the builder's tail)."""
    ops, fan, cnt, const_of, inv_of, hk, hv, arity, sym, _ = st
    if op == 2:  # BUF
        return a
    if op == 3 and inv_of[a] >= 0:  # INV(INV(x)) = x
        return inv_of[a]
    ar = arity[op]
    if sym[op]:
        # sorted(ins) for at most 4 values (pads stay -1 beyond the arity)
        if ar >= 2 and b < a:
            a, b = b, a
        if ar >= 3 and c < b:  # insertion sort: a <= b, then c, then d
            b, c = c, b
            if b < a:
                a, b = b, a
        if ar >= 4 and d < c:
            c, d = d, c
            if c < b:
                b, c = c, b
                if b < a:
                    a, b = b, a
    elif op == 17 and a == b:  # MUX(x, x, s) = x
        return a
    mask = hv.shape[0] - 1
    h = (((op * 1000003 + a) * 1000003 + b) * 1000003 + c) * 1000003 + d
    h = (h ^ (h >> 17)) * 0x9E3779B1
    h = (h ^ (h >> 29)) & mask
    while True:
        net = hv[h]
        if net < 0:
            break
        if hk[h, 0] == op and hk[h, 1] == a and hk[h, 2] == b and hk[h, 3] == c and hk[h, 4] == d:
            return net
        h = (h + 1) & mask
    g = cnt[0]
    cnt[0] = g + 1
    net = n_in + g
    ops[g] = op
    fan[g, 0] = a
    fan[g, 1] = b
    fan[g, 2] = c
    fan[g, 3] = d
    hk[h, 0] = op
    hk[h, 1] = a
    hk[h, 2] = b
    hk[h, 3] = c
    hk[h, 4] = d
    hv[h] = net
    if op == 3:
        inv_of[net] = a
    elif op <= 1:
        const_of[net] = op
    return net


def _gate_basic(op, a, b, c, d, n_in, st):  # type: ignore[no-untyped-def]
    """``gate`` with constant folding for every op but AOI/OAI (see :func:`_gate`):
    the folded forms only ever build gates without constant inputs.

    (It calls the compiled ``_insert`` rather than inlining it: a copy inlined at each
    of its call sites made this kernel take half a minute to compile.)"""
    const_of, arity, truth = st[3], st[7], st[9]
    # int64 values, not literals: numba compiles a separate variant of the callee for
    # each combination of literal arguments it is called with
    none = np.int64(-1)
    ar = arity[op]
    n_const = 0
    m = 0
    live0 = -1
    live1 = -1
    live2 = -1
    n_live = 0
    v0 = -1
    v1 = -1
    par = 0
    has0 = False
    has1 = False
    for k in range(ar):
        x = a if k == 0 else (b if k == 1 else (c if k == 2 else d))
        cv = const_of[x]
        if cv >= 0:
            m |= cv << k
            if n_const == 0:
                v0 = cv
            elif n_const == 1:
                v1 = cv
            n_const += 1
            par += cv
            if cv == 0:
                has0 = True
            else:
                has1 = True
        else:
            if n_live == 0:
                live0 = x
            elif n_live == 1:
                live1 = x
            else:
                live2 = x
            n_live += 1
    if n_const == 0:
        return _insert_call(op, a, b, c, d, n_in, st)
    if n_live == 0:
        return n_in + truth[op, m]
    # NetlistBuilder._fold
    if op == 4 or op == 10 or op == 7 or op == 12:  # AND, AND3, NAND, NAND3
        invert = op == 7 or op == 12
        if has0:
            return n_in + (1 if invert else 0)
        if n_live == 1:
            if invert:
                return _insert_call(np.int64(3), live0, none, none, none, n_in, st)
            return live0
        if n_live == 2:
            return _insert_call(7 if invert else 4, live0, live1, none, none, n_in, st)
        return _insert_call(12 if invert else 10, live0, live1, live2, none, n_in, st)
    if op == 5 or op == 11 or op == 8 or op == 13:  # OR, OR3, NOR, NOR3
        invert = op == 8 or op == 13
        if has1:
            return n_in + (0 if invert else 1)
        if n_live == 1:
            if invert:
                return _insert_call(np.int64(3), live0, none, none, none, n_in, st)
            return live0
        if n_live == 2:
            return _insert_call(8 if invert else 5, live0, live1, none, none, n_in, st)
        return _insert_call(13 if invert else 11, live0, live1, live2, none, n_in, st)
    if op == 6 or op == 14 or op == 9 or op == 15:  # XOR, XOR3, XNOR, XNOR3
        parity = par % 2
        if op == 9 or op == 15:
            parity ^= 1
        out = live0
        if n_live != 1:
            out = _insert_call(np.int64(6), live0, live1, none, none, n_in, st)
        if parity:
            return _insert_call(np.int64(3), out, none, none, none, n_in, st)
        return out
    if op == 16:  # MAJ
        if n_const >= 2:
            if v0 == v1:
                return n_in + v0
            return live0
        return _insert_call(4 if v0 == 0 else 5, live0, live1, none, none, n_in, st)
    if op == 17:  # MUX(a, b, s)
        ca = const_of[a]
        cb = const_of[b]
        cs = const_of[c]
        if cs >= 0:
            return b if cs == 1 else a
        if ca >= 0 and cb >= 0:
            if ca == 0 and cb == 1:
                return c
            if ca == 1 and cb == 0:
                return _insert_call(np.int64(3), c, none, none, none, n_in, st)
            return a
        if ca == 0:
            return _insert_call(np.int64(4), b, c, none, none, n_in, st)
        if ca == 1:
            ns = _insert_call(np.int64(3), c, none, none, none, n_in, st)
            return _insert_call(np.int64(5), b, ns, none, none, n_in, st)
        if cb == 0:
            ns = _insert_call(np.int64(3), c, none, none, none, n_in, st)
            return _insert_call(np.int64(4), a, ns, none, none, n_in, st)
        return _insert_call(np.int64(5), a, c, none, none, n_in, st)
    # _fold returns None for nothing else reachable here; the builder would go on
    return _insert_call(op, a, b, c, d, n_in, st)


def _gate(op, a, b, c, d, n_in, st):  # type: ignore[no-untyped-def]
    """``NetlistBuilder.gate``: AOI/OAI gates with a constant input expand into
    AND/OR/INV that fold (in the builder's order); everything else is ``_gate_basic``."""
    const_of, arity = st[3], st[7]
    none = np.int64(-1)  # not a literal (see _gate_basic)
    if 18 <= op <= 21:
        has_const = False
        all_const = True
        for k in range(arity[op]):
            x = a if k == 0 else (b if k == 1 else (c if k == 2 else d))
            if const_of[x] >= 0:
                has_const = True
            else:
                all_const = False
        if has_const and not all_const:
            if op == 18 or op == 19:
                inner = 4 if op == 18 else 5
                outer = 5 if op == 18 else 4
                t0 = _gate_basic(inner, a, b, none, none, n_in, st)
                t = _gate_basic(outer, t0, c, none, none, n_in, st)
            else:
                inner = 4 if op == 20 else 5
                outer = 5 if op == 20 else 4
                t0 = _gate_basic(inner, a, b, none, none, n_in, st)
                t1 = _gate_basic(inner, c, d, none, none, n_in, st)
                t = _gate_basic(outer, t0, t1, none, none, n_in, st)
            return _gate_basic(np.int64(3), t, none, none, none, n_in, st)
    return _gate_basic(op, a, b, c, d, n_in, st)


def _lower(
    n_in: int,
    width_a: int,
    width_b: int,
    width_p: int,
    n_slots: int,
    node_code: np.ndarray,
    node_bit: np.ndarray,
    node_forced: np.ndarray,
    in_ptr: np.ndarray,
    in_slot: np.ndarray,
    tpl_nin: np.ndarray,
    tpl_step_ptr: np.ndarray,
    tpl_steps: np.ndarray,
    tpl_out_ptr: np.ndarray,
    tpl_out_ref: np.ndarray,
    tpl_out_slot: np.ndarray,
    tpl_grp_ptr: np.ndarray,
    tpl_grps: np.ndarray,
    arity: np.ndarray,
    sym: np.ndarray,
    truth: np.ndarray,
    cap: int,
    grp_sig_of: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``dse.arith.lower``'s loop over a graph in node-table form.

    Nodes come in topological order: ``node_code`` ``-1``/``-3`` for operand-``a``/``b``
    bits, ``-2`` for product bits, else the index of the cell kind's gate template (the
    builder calls its lowering makes, recorded once per kind; see ``_lower.py``).
    Node ``i``'s output port ``p`` is signal slot ``i * K + p`` (``K`` port names);
    ``in_slot[in_ptr[i]:in_ptr[i + 1]]`` are the slots it reads.

    Returns ``status`` (0 ok; else the graph is one the Python loop must handle, to
    raise its own error), the gates' ops and flat fan-in as the builder holds them,
    the groups' ``(signature, nets)`` and each product bit's net (``-1``: none).
    """
    n_nodes = node_code.shape[0]
    ops = np.empty(cap, dtype=np.int64)
    fan = np.empty((cap, 4), dtype=np.int64)
    cnt = np.zeros(1, dtype=np.int64)
    const_of = np.full(n_in + cap, -1, dtype=np.int64)
    inv_of = np.full(n_in + cap, -1, dtype=np.int64)
    hsize = 64
    while hsize < 2 * cap:
        hsize *= 2
    hk = np.empty((hsize, 5), dtype=np.int64)
    hv = np.full(hsize, -1, dtype=np.int64)
    slot_net = np.full(n_slots, -1, dtype=np.int64)
    products = np.full(width_p, -1, dtype=np.int64)
    max_grp = 1
    for i in range(n_nodes):
        code = node_code[i]
        if code >= 0:
            max_grp += tpl_grp_ptr[code + 1] - tpl_grp_ptr[code]
    grp_sig = np.full((max_grp, 2), -1, dtype=np.int64)
    grp_nets = np.zeros((max_grp, 2), dtype=np.int64)
    grp_code = np.full(max_grp, -1, dtype=np.int64)
    n_grp = 0
    status = 0
    # the builder's state, one tuple for the helpers
    st = (ops, fan, cnt, const_of, inv_of, hk, hv, arity, sym, truth)
    # the builder's first two gates: CONST0, CONST1
    none = np.int64(-1)  # not a literal (see _gate_basic)
    _insert_call(np.int64(0), none, none, none, none, n_in, st)
    _insert_call(np.int64(1), none, none, none, none, n_in, st)
    k_slots = n_slots // max(n_nodes, 1)
    ins = np.empty(8, dtype=np.int64)
    refs = np.empty(4, dtype=np.int64)
    step_net = np.empty(tpl_steps.shape[0] + 16, dtype=np.int64)
    for i in range(n_nodes):
        code = node_code[i]
        if code == -1 or code == -3:
            bit = node_bit[i]
            width = width_a if code == -1 else width_b
            if bit < 0 or bit >= width:
                status = 1
                break
            slot_net[i * k_slots] = bit if code == -1 else width_a + bit  # port "y" is slot 0
            continue
        p0 = in_ptr[i]
        n_ins = in_ptr[i + 1] - p0
        if n_ins > 8:
            status = 2
            break
        bad = False
        for k in range(n_ins):
            net = slot_net[in_slot[p0 + k]]
            if net < 0:
                bad = True
            ins[k] = net
        if bad:
            status = 3
            break
        if code == -2:
            if n_ins < 1:
                status = 4
                break
            bit = node_bit[i]
            if 0 <= bit < width_p:
                products[bit] = ins[0]
            continue
        if n_ins != tpl_nin[code]:
            status = 5
            break
        s0 = tpl_step_ptr[code]
        s1 = tpl_step_ptr[code + 1]
        for s in range(s0, s1):
            if cnt[0] + 4 > cap:  # never with the caller's bound; memory safety
                status = 6
                break
            for k in range(4):
                r = tpl_steps[s, 1 + k]
                if r < 0:
                    refs[k] = -1
                elif r < 8:
                    refs[k] = ins[r]
                elif r < 16:
                    refs[k] = n_in + (r - 8)
                else:
                    refs[k] = step_net[r - 16]
            op = tpl_steps[s, 0]
            folds = False
            for k in range(arity[op]):
                if const_of[refs[k]] >= 0:
                    folds = True
            if folds:
                net = _gate(
                    op,
                    refs[0],
                    refs[1],
                    refs[2],
                    refs[3],
                    n_in,
                    st,
                )
            else:  # the common case, inlined: no constant input, nothing to fold
                net = _insert(
                    op,
                    refs[0],
                    refs[1],
                    refs[2],
                    refs[3],
                    n_in,
                    st,
                )
            step_net[s - s0] = net
        if status:
            break
        for j in range(tpl_grp_ptr[code], tpl_grp_ptr[code + 1]):
            gk = tpl_grps[j, 0]
            grp_code[n_grp] = gk
            if gk >= 0:
                grp_sig[n_grp, 0] = grp_sig_of[gk, 0]
                grp_sig[n_grp, 1] = grp_sig_of[gk, 1]
                for m in range(2):
                    r = tpl_grps[j, 1 + m]
                    if r < 8:
                        grp_nets[n_grp, m] = ins[r]
                    elif r < 16:
                        grp_nets[n_grp, m] = n_in + (r - 8)
                    else:
                        grp_nets[n_grp, m] = step_net[r - 16]
            n_grp += 1
        forced = node_forced[i]
        for j in range(tpl_out_ptr[code], tpl_out_ptr[code + 1]):
            o = j - tpl_out_ptr[code]
            r = tpl_out_ref[j]
            if (forced >> o) & 1:
                net = n_in  # const0
            elif r < 8:
                net = ins[r]
            elif r < 16:
                net = n_in + (r - 8)
            else:
                net = step_net[r - 16]
            slot_net[i * k_slots + tpl_out_slot[j]] = net
    n_g = cnt[0]
    flat_len = 0
    for g in range(n_g):
        flat_len += arity[ops[g]]
    flat = np.empty(flat_len, dtype=np.int64)
    pos = 0
    for g in range(n_g):
        for k in range(arity[ops[g]]):
            flat[pos] = fan[g, k]
            pos += 1
    return (
        status,
        ops[:n_g].astype(np.uint8),
        flat,
        grp_code[:n_grp],
        grp_sig[:n_grp],
        grp_nets[:n_grp],
        products,
    )


def _jit_inline(fn: Any) -> Any:
    # inlined at numba's IR level: a call of a compiled function that takes arrays
    # pays reference counting on every array, which here would cost more than the work
    return jit(fn, inline=True)


_insert_call = _jit(_insert)
_insert = _jit_inline(_insert)
_gate_basic = _jit(_gate_basic)
_gate = _jit(_gate)
lower_kernel = _jit(_lower)
