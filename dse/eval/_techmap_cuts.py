"""Cut enumeration for the technology mapper: structural hashing, cuts, adder candidates.

Steps 1 and 3 of :mod:`dse.eval._techmap`: every gate's cuts bottom-up (at most
:data:`MAX_CUTS` per node, smallest first, dominated cuts dropped) with their 16-bit
truth tables over the cut's leaves, leaves a function does not depend on removed; and
the nodes whose cuts compute a full or half adder's sum or carry. The functions run
as Python or, with numba, compiled into the mapping kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA, jit

__all__ = ["MAX_CUTS"]

#: Cuts kept per node (besides the trivial one). ABC's priority-cut mapper keeps 8;
#: 5 gives the same covers within 0.02 % of area on random 8x8 designs, at less cost.
MAX_CUTS = 5
#: Candidate cuts considered per node before the best are kept.
_MAX_CAND = 128
#: Decomposition steps of the largest supergate.
# Pair functions over the cut's leaves (16-bit tables; variables above the cut size
# do not matter, so the table repeats): sum and carry of full and half adders.
_XOR3, _MAJ3 = 0x9696, 0xE8E8
_XOR2, _AND2 = 0x6666, 0x8888


def _op_tt(op: int, a: int, b: int, c: int, d: int) -> int:
    """A gate's truth table from its inputs' (16-bit tables)."""
    m = 0xFFFF
    if op == 3:
        r = ~a
    elif op == 2:
        r = a
    elif op == 4:
        r = a & b
    elif op == 5:
        r = a | b
    elif op == 6:
        r = a ^ b
    elif op == 7:
        r = ~(a & b)
    elif op == 8:
        r = ~(a | b)
    elif op == 9:
        r = ~(a ^ b)
    elif op == 10:
        r = a & b & c
    elif op == 11:
        r = a | b | c
    elif op == 12:
        r = ~(a & b & c)
    elif op == 13:
        r = ~(a | b | c)
    elif op == 14:
        r = a ^ b ^ c
    elif op == 15:
        r = ~(a ^ b ^ c)
    elif op == 16:
        r = (a & b) | (a & c) | (b & c)
    elif op == 17:
        r = (a & ~c) | (b & c)
    elif op == 18:
        r = ~((a & b) | c)
    elif op == 19:
        r = ~((a | b) & c)
    elif op == 20:
        r = ~((a & b) | (c & d))
    elif op == 21:
        r = ~((a | b) & (c | d))
    elif op == 1:
        r = m
    else:
        r = 0
    return r & m


def _stretch(tt: int, pos: np.ndarray, size: int) -> int:
    """A table over ``size`` variables re-expressed over 4, variable ``k`` moved to
    position ``pos[k]`` (positions increasing): each variable is carried up by swaps
    of adjacent variables, highest first, past variables the table does not use."""
    for k in range(size - 1, -1, -1):
        for i in range(k, pos[k]):
            if i == 0:
                tt = (tt & 0x9999) | ((tt & 0x2222) << 1) | ((tt & 0x4444) >> 1)
            elif i == 1:
                tt = (tt & 0xC3C3) | ((tt & 0x0C0C) << 2) | ((tt & 0x3030) >> 2)
            else:
                tt = (tt & 0xF00F) | ((tt & 0x00F0) << 4) | ((tt & 0x0F00) >> 4)
    return tt


def _cut_hash(tt: int, leaves: np.ndarray, size: int, n_buckets: int) -> int:
    """A cut's bucket in a table of ``n_buckets`` (a power of two): its table and leaves
    mixed in 32 bits, so the products never overflow (and Python agrees with numba)."""
    h = (tt * 2654435761) & 0xFFFFFFFF
    for q in range(size):
        h = ((h ^ leaves[q]) * 1000003) & 0xFFFFFFFF
    return h & (n_buckets - 1)


if HAVE_NUMBA:  # the helpers are called from compiled code, so they are compiled first
    _op_tt = jit(_op_tt, inline=True)
    _stretch = jit(_stretch, inline=True)  # takes an array: inlined, no reference counting
    _cut_hash = jit(_cut_hash, inline=True)


def _strash(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    arity: np.ndarray,
) -> tuple[Any, ...]:
    """Structural hashing: per net the net it equals, whether its gate is a wire, its depth.

    Buffers are wires; a gate equal to an earlier one (same op, same inputs up to order
    where the op is symmetric) or a double inversion is that earlier net, so redundant
    copies a writer left do not change the cover."""
    n_g = ops.shape[0]
    n_orig = n_in + n_g
    sorted_in = np.empty((n_g, 4), dtype=np.int64)
    # -- buffers are wires; a gate equal to an earlier one (same op, same inputs up to
    # order where the op is symmetric) or a double inversion is that earlier net:
    # structural hashing, so redundant copies a writer left do not change the cover
    alias = np.arange(n_orig, dtype=np.int64)
    wire = np.zeros(n_g, dtype=np.bool_)  # buffers, copies, constants: no cell
    n_bucket = 1
    while n_bucket < 2 * n_g + 2:
        n_bucket *= 2
    table = np.full(n_bucket, -1, dtype=np.int64)
    key = np.zeros(4, dtype=np.int64)
    for g in range(n_g):
        o = ops[g]
        v = n_in + g
        if o <= 1:
            wire[g] = True
            continue
        if o == 2:
            alias[v] = alias[fanin[g, 0]]
            wire[g] = True
            continue
        a = arity[o]
        for k in range(4):
            key[k] = alias[fanin[g, k]] if k < a else -1
        if o == 3 and key[0] >= n_in and ops[key[0] - n_in] == 3:
            alias[v] = alias[fanin[key[0] - n_in, 0]]  # INV(INV(x)) = x
            wire[g] = True
            continue
        if (4 <= o <= 16) and a > 1:  # symmetric ops: AND .. MAJ
            for i in range(1, a):
                j = i
                while j > 0 and key[j - 1] > key[j]:
                    t = key[j]
                    key[j] = key[j - 1]
                    key[j - 1] = t
                    j -= 1
        h = (o * 1000003 + key[0] * 73856093 + key[1] * 19349663) ^ (
            key[2] * 83492791 + key[3] * 2654435761
        )
        h = h & (n_bucket - 1)
        while table[h] >= 0:
            e = table[h]
            if ops[e] == o:
                same = True
                for k in range(a):
                    if sorted_in[e, k] != key[k]:
                        same = False
                        break
                if same:
                    break
            h = (h + 1) & (n_bucket - 1)
        if table[h] >= 0:
            alias[v] = n_in + table[h]
            wire[g] = True
            continue
        table[h] = g
        for k in range(4):
            sorted_in[g, k] = key[k]
    # logic depth, to put a full adder's latest input on its fastest pin
    lev = np.zeros(n_orig, dtype=np.int64)
    for g in range(n_g):
        o = ops[g]
        v = n_in + g
        if wire[g]:
            lev[v] = lev[alias[v]]
            continue
        for k in range(arity[o]):
            lev[v] = max(lev[v], lev[alias[fanin[g, k]]] + 1)
    return alias, wire, lev


def _enumerate_cuts(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    arity: np.ndarray,
    alias: np.ndarray,
    wire: np.ndarray,
    lev: np.ndarray,
    support: np.ndarray,
    pair_role: np.ndarray,
) -> tuple[Any, ...]:
    """Every node's cuts with their truth tables, and the adder candidates among them."""
    n_g = ops.shape[0]
    n_orig = n_in + n_g
    C = MAX_CUTS + 1  # the trivial cut is cut 0
    # -- cuts
    # (uninitialised: only cut 0 and the cuts a node keeps are ever read)
    cl = np.empty((n_orig, C, 4), dtype=np.int64)
    cs = np.empty((n_orig, C), dtype=np.int64)
    ct = np.empty((n_orig, C), dtype=np.int64)
    nc = np.zeros(n_orig, dtype=np.int64)
    nprop = np.ones(n_orig, dtype=np.int64)  # leading cuts parents may merge
    # a cut's signature: one bit per leaf (net mod 32); more than 4 bits set in the
    # union of signatures proves the merged cut too large without merging (ABC's filter)
    csig = np.empty((n_orig, C), dtype=np.int64)
    for v in range(n_orig):
        cl[v, 0, 0] = v
        cl[v, 0, 1] = -1
        cl[v, 0, 2] = -1
        cl[v, 0, 3] = -1
        cs[v, 0] = 1
        ct[v, 0] = 0xAAAA
        csig[v, 0] = 1 << (v & 31)
        nc[v] = 1
    cand_l = np.full((_MAX_CAND, 4), -1, dtype=np.int64)
    cand_s = np.zeros(_MAX_CAND, dtype=np.int64)
    cand_t = np.zeros(_MAX_CAND, dtype=np.int64)
    cand_sig = np.zeros(_MAX_CAND, dtype=np.int64)
    cand_key = np.zeros(_MAX_CAND, dtype=np.int64)
    idx = np.zeros(4, dtype=np.int64)
    fan = np.zeros(4, dtype=np.int64)
    merged = np.zeros(8, dtype=np.int64)
    tmp = np.zeros(8, dtype=np.int64)
    pos = np.zeros(4, dtype=np.int64)
    tts = np.zeros(4, dtype=np.int64)
    # functional hashing: up to 4 cuts of each node, as node * 16 + cut (int32, small)
    n_fb = 1
    while n_fb < 8 * n_orig + 8:
        n_fb *= 2
    fb = np.full(n_fb, -1, dtype=np.int32)
    # pair candidates: (kind 0 sum / 1 carry, arity 3 FA / 2 HA, polarity, node, leaves)
    pe_node = np.empty(n_orig * C, dtype=np.int64)
    pe_kind = np.empty(n_orig * C, dtype=np.int64)
    pe_pol = np.empty(n_orig * C, dtype=np.int64)
    pe_size = np.empty(n_orig * C, dtype=np.int64)
    pe_l = np.empty((n_orig * C, 3), dtype=np.int64)
    n_pe = 0
    for g in range(n_g):
        o = ops[g]
        if wire[g]:
            continue
        v = n_in + g
        a = arity[o]
        for k in range(a):
            f = alias[fanin[g, k]]
            while alias[f] != f:  # a buffer of a net merged since
                f = alias[f]
            fan[k] = f
            idx[k] = 0
        n_cand = 0
        while True:
            sig = 0
            ok = True
            total = 0
            for k in range(a):
                sig |= csig[fan[k], idx[k]]
                total += cs[fan[k], idx[k]]
                if total <= 4:
                    continue  # small enough whatever the overlap
                x = sig
                bits = 0
                while x != 0 and bits <= 4:
                    x &= x - 1
                    bits += 1
                if bits > 4:
                    ok = False
                    # no combination with this prefix fits: skip the rest of them
                    for q in range(k + 1, a):
                        idx[q] = nprop[fan[q]] - 1
                    break
            # merge the chosen cut of every fan-in, pruning at more than 4 leaves
            size = 0
            for k in range(a if ok else 0):
                f = fan[k]
                c = idx[k]
                # sorted union of merged[:size] and cl[f, c, :cs[f, c]]
                i = 0
                j = 0
                t = 0
                sf = cs[f, c]
                while i < size or j < sf:
                    if j >= sf or (i < size and merged[i] < cl[f, c, j]):
                        tmp[t] = merged[i]
                        i += 1
                    elif i >= size or cl[f, c, j] < merged[i]:
                        tmp[t] = cl[f, c, j]
                        j += 1
                    else:
                        tmp[t] = merged[i]
                        i += 1
                        j += 1
                    t += 1
                    if t > 4:
                        break
                if t > 4:
                    ok = False
                    # no combination with this prefix fits: skip the rest of them
                    for q in range(k + 1, a):
                        idx[q] = nprop[fan[q]] - 1
                    break
                for q in range(t):
                    merged[q] = tmp[q]
                size = t
            if ok and size == 4 and a < 4:
                # 4-leaf cuts only from inputs of up to 2 leaves each (NOR of two ANDs:
                # AOI22; XOR of two XORs): deeper ones cost much, and buy little
                for k in range(a):
                    if cs[fan[k], idx[k]] > 2:
                        ok = False
            if ok:
                for k in range(a):
                    f = fan[k]
                    c = idx[k]
                    sf = cs[f, c]
                    q = 0
                    for j in range(sf):
                        while merged[q] != cl[f, c, j]:
                            q += 1
                        pos[j] = q
                    if c == 0:  # the trivial cut: the variable itself
                        tts[k] = (0xAAAA, 0xCCCC, 0xF0F0, 0xFF00)[pos[0]]
                    else:
                        tts[k] = _stretch(ct[f, c], pos, sf)
                tt = _op_tt(o, tts[0], tts[1], tts[2], tts[3])
                # drop leaves the function does not depend on
                sup = support[tt]
                if sup != (1 << size) - 1:
                    t = 0
                    for k in range(size):
                        if (sup >> k) & 1:
                            pos[t] = k
                            tmp[t] = merged[k]
                            t += 1
                    # compact: new variable j is old variable pos[j]
                    nt = 0
                    for m in range(16):
                        om = 0
                        for j in range(t):
                            om |= ((m >> j) & 1) << pos[j]
                        nt |= ((tt >> om) & 1) << m
                    tt = nt
                    for q in range(t):
                        merged[q] = tmp[q]
                    size = t
                # duplicates are dropped below, with the dominated cuts
                if n_cand < _MAX_CAND:
                    sig = 0
                    for q in range(4):
                        cand_l[n_cand, q] = merged[q] if q < size else -1
                        if q < size:
                            sig |= 1 << (merged[q] & 31)
                    cand_sig[n_cand] = sig
                    cand_s[n_cand] = size
                    cand_t[n_cand] = tt
                    n_cand += 1
            # next combination (odometer over the fan-ins' cut lists)
            k = a - 1
            while k >= 0:
                idx[k] += 1
                if idx[k] < nprop[fan[k]]:
                    break
                idx[k] = 0
                k -= 1
            if k < 0:
                break
        # keep the gate's own inputs, then the best cuts no kept cut is a subset of (a
        # duplicate included): the smallest, and among equal sizes those whose leaves lie
        # nearest the inputs
        # (through inverters and buffers to the signals they come from), ties in the
        # order found
        for e in range(1, n_cand):
            key = cand_s[e] << 40
            for q in range(cand_s[e]):
                key += lev[cand_l[e, q]] << 20
            cand_key[e] = key + e
        # the gate's own inputs (the first combination) always: it has a match
        cand_key[0] = 0
        for i in range(1, n_cand):  # insertion sort: a few dozen candidates
            t = cand_key[i]
            j = i
            while j > 0 and cand_key[j - 1] > t:
                cand_key[j] = cand_key[j - 1]
                j -= 1
            cand_key[j] = t
        kept = 1
        pe_start = n_pe
        # cuts of up to 3 leaves first (parents merge only these), then 4-leaf cuts,
        # which are matched here but not grown further: 4-input cells (AOI22, ...) are
        # found one level deep, without the cut explosion of reconvergent logic such as
        # prefix adders. The gate's own inputs are kept whatever their number.
        big0 = cand_s[0] == 4
        for i in range(2 * n_cand):
            if i == n_cand:
                nprop[v] = kept
            if kept >= C - (1 if big0 and i < n_cand else 0):
                if i < n_cand:
                    continue
                if not (i == n_cand and big0):
                    break
            e = cand_key[i % n_cand] & 0xFFFFF
            want = cand_s[e]
            if (want == 4) != (i >= n_cand):
                continue
            dominated = False
            sig_e = cand_sig[e]
            for c in range(1, kept):
                sc = cs[v, c]
                if sc > want or (csig[v, c] & ~sig_e) != 0:
                    continue  # a leaf of cut c is not in e
                # is cut c a subset of candidate e?
                sub = True
                for ii in range(sc):
                    found = False
                    for jj in range(want):
                        if cand_l[e, jj] == cl[v, c, ii]:
                            found = True
                            break
                    if not found:
                        sub = False
                        break
                if sub:
                    dominated = True
                    break
            if dominated:
                continue
            for q in range(4):
                cl[v, kept, q] = cand_l[e, q]
            csig[v, kept] = sig_e
            cs[v, kept] = want
            ct[v, kept] = cand_t[e]
            tt = cand_t[e]
            # a full adder's sum or carry over 3 leaves, a half adder's over 2
            kind = -1
            pol = 0
            sum_tt = _XOR3 if want == 3 else _XOR2
            carry_tt = _MAJ3 if want == 3 else _AND2
            if want == 2 or want == 3:
                for half in range(2):
                    ref = sum_tt if half == 0 else carry_tt
                    if tt == ref or tt == (~ref & 0xFFFF):
                        kind = half
                        pol = 0 if tt == ref else 1
            if kind >= 0 and pair_role[3 - want] >= 0:
                pe_node[n_pe] = v
                pe_kind[n_pe] = kind
                pe_pol[n_pe] = pol
                pe_size[n_pe] = want
                for q in range(3):
                    pe_l[n_pe, q] = cand_l[e, q] if q < want else -1
                n_pe += 1
            kept += 1
        nc[v] = kept
        # a node with a cut equal to an earlier node's cut (same leaves, same table)
        # computes the same function: it is that node (functional hashing over cuts,
        # so equal logic written two ways is costed once)
        same_as = -1
        for c in range(1, kept):
            if cs[v, c] < 2:
                continue
            h = _cut_hash(ct[v, c], cl[v, c], cs[v, c], n_fb)
            while fb[h] >= 0:
                u = fb[h] >> 4
                cu = fb[h] & 15
                if ct[u, cu] == ct[v, c] and cs[u, cu] == cs[v, c]:
                    same = True
                    for q in range(cs[v, c]):
                        if cl[u, cu, q] != cl[v, c, q]:
                            same = False
                            break
                    if same:
                        same_as = u
                        break
                h = (h + 1) & (n_fb - 1)
            if same_as >= 0:
                break
        if same_as >= 0:
            alias[v] = same_as
            wire[g] = True
            n_pe = pe_start
            nc[v] = 1
            nprop[v] = 1
            continue
        stored = 0
        for c in range(1, kept):
            if cs[v, c] < 2 or stored == 4:
                continue
            h = _cut_hash(ct[v, c], cl[v, c], cs[v, c], n_fb)
            while fb[h] >= 0:
                h = (h + 1) & (n_fb - 1)
            fb[h] = v * 16 + c
            stored += 1
    return cl, cs, ct, nc, pe_node, pe_kind, pe_pol, pe_size, pe_l, n_pe


def _cut_steps(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    arity: np.ndarray,
    support: np.ndarray,
    pair_role: np.ndarray,
) -> tuple[Any, ...]:
    """Structural hashing, then every node's cuts and the adder candidates among them."""
    alias, wire, lev = _strash(ops, fanin, n_in, arity)
    cl, cs, ct, nc, pe_node, pe_kind, pe_pol, pe_size, pe_l, n_pe = _enumerate_cuts(
        ops, fanin, n_in, arity, alias, wire, lev, support, pair_role
    )
    return alias, wire, lev, cl, cs, ct, nc, pe_node, pe_kind, pe_pol, pe_size, pe_l, n_pe


if HAVE_NUMBA:
    from numba.extending import register_jitable

    # compiled into cut_steps_kernel (this module's cache); plain Python from Python
    for _step in (_strash, _enumerate_cuts):
        register_jitable(_step)

#: The cut steps compiled, or ``None`` without numba.
cut_steps_kernel: Any = jit(_cut_steps)
