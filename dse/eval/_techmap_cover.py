"""The cover of the technology mapper: adder pairs, area-flow cover, cell emission.

Steps 3 and 4 of :mod:`dse.eval._techmap`: a sum and a carry over the same leaves form
a full or half adder; area flow (Cong and Ding's flow-based area estimate as used in
ABC's ``amap``) picks each node's cheapest match, and a second pass re-estimates
fan-outs from the first cover (area recovery). The functions run as Python or, with
numba, compiled into the mapping kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA, jit
from dse.eval._supergates import MAX_STEPS

__all__: list[str] = []


def _adder_pairs(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    arity: np.ndarray,
    out_nets: np.ndarray,
    alias: np.ndarray,
    wire: np.ndarray,
    lev: np.ndarray,
    pe_node: np.ndarray,
    pe_kind: np.ndarray,
    pe_pol: np.ndarray,
    pe_size: np.ndarray,
    pe_l: np.ndarray,
    n_pe: int,
    pair_area: np.ndarray,
    inv_area: float,
) -> tuple[Any, ...]:
    """Nodes outside the outputs' cone dropped, fan-out estimates, full/half-adder pairs."""
    n_g = ops.shape[0]
    n_orig = n_in + n_g
    for v in range(n_orig):  # alias chains (a buffer of a merged net) to their roots
        alias[v] = alias[alias[v]]
    # -- gates outside the outputs' cone are dropped (a writer may have left some):
    # they would only skew the fan-out estimates
    live = np.zeros(n_orig, dtype=np.bool_)
    for i in range(out_nets.shape[0]):
        live[alias[out_nets[i]]] = True
    for g in range(n_g - 1, -1, -1):
        if wire[g]:
            continue
        if not live[n_in + g]:
            wire[g] = True
            continue
        for k in range(arity[ops[g]]):
            live[alias[fanin[g, k]]] = True
    # -- subject-graph fan-out (area-flow estimate) and the leaf nodes
    fo = np.zeros(n_orig)
    for g in range(n_g):
        o = ops[g]
        if not wire[g]:
            for k in range(arity[o]):
                fo[alias[fanin[g, k]]] += 1.0
    for i in range(out_nets.shape[0]):
        fo[alias[out_nets[i]]] += 1.0
    # -- full/half-adder pairs: a sum and a carry over the same leaves (greedy, in
    # the order of the sum nodes, full adders first; each node in at most one pair)
    paired = np.full(n_orig, -1, dtype=np.int64)
    pr_s = np.zeros(n_pe + 1, dtype=np.int64)
    pr_c = np.zeros(n_pe + 1, dtype=np.int64)
    pr_size = np.zeros(n_pe + 1, dtype=np.int64)
    pr_spol = np.zeros(n_pe + 1, dtype=np.int64)
    pr_cpol = np.zeros(n_pe + 1, dtype=np.int64)
    pr_l = np.zeros((n_pe + 1, 3), dtype=np.int64)
    n_pr = 0
    # carries chained per hash bucket of their leaves, so each sum finds its carries
    # without a scan of every entry
    n_bucket = 1
    while n_bucket < 2 * n_pe + 2:
        n_bucket *= 2
    head = np.full(n_bucket, -1, dtype=np.int64)
    chain = np.full(n_pe + 1, -1, dtype=np.int64)
    for f in range(n_pe - 1, -1, -1):
        if pe_kind[f] == 1:
            h = (pe_l[f, 0] * 73856093 + pe_l[f, 1] * 19349663 + pe_l[f, 2] * 83492791) & (
                n_bucket - 1
            )
            chain[f] = head[h]
            head[h] = f
    for e0 in range(2 * n_pe):
        # full adders first: a half adder inside a full adder's cone must not take
        # the nodes the full adder needs
        e = e0 % n_pe
        if (pe_size[e] == 3) != (e0 < n_pe) or pe_kind[e] != 0 or paired[pe_node[e]] >= 0:
            continue
        h = (pe_l[e, 0] * 73856093 + pe_l[e, 1] * 19349663 + pe_l[e, 2] * 83492791) & (n_bucket - 1)
        f = head[h]
        while f >= 0:
            if (
                pe_size[f] != pe_size[e]
                or paired[pe_node[f]] >= 0
                or pe_l[f, 0] != pe_l[e, 0]
                or pe_l[f, 1] != pe_l[e, 1]
                or pe_l[f, 2] != pe_l[e, 2]
            ):
                f = chain[f]
                continue
            pr_s[n_pr] = pe_node[e]
            pr_c[n_pr] = pe_node[f]
            pr_size[n_pr] = pe_size[e]
            pr_spol[n_pr] = pe_pol[e]
            pr_cpol[n_pr] = pe_pol[f]
            for q in range(3):
                pr_l[n_pr, q] = pe_l[e, q]
            # pins by arrival, ties by net: a full adder's deepest leaf on its carry-in,
            # a half adder's on its first pin (the fastest pins of NanGate's cells)
            size = pe_size[e]
            for i in range(1, size if size == 3 else 0):
                j = i
                while j > 0 and (
                    lev[pr_l[n_pr, j - 1]] > lev[pr_l[n_pr, j]]
                    or (
                        lev[pr_l[n_pr, j - 1]] == lev[pr_l[n_pr, j]]
                        and pr_l[n_pr, j - 1] > pr_l[n_pr, j]
                    )
                ):
                    t = pr_l[n_pr, j]
                    pr_l[n_pr, j] = pr_l[n_pr, j - 1]
                    pr_l[n_pr, j - 1] = t
                    j -= 1
            if size == 2 and lev[pr_l[n_pr, 1]] > lev[pr_l[n_pr, 0]]:
                t = pr_l[n_pr, 0]
                pr_l[n_pr, 0] = pr_l[n_pr, 1]
                pr_l[n_pr, 1] = t
            paired[pe_node[e]] = n_pr
            paired[pe_node[f]] = n_pr
            n_pr += 1
            break
    pr_area = np.zeros(n_pr + 1)
    for p in range(n_pr):
        kind = 3 - pr_size[p]  # 0: FA, 1: HA
        pr_area[p] = pair_area[kind] + inv_area * (pr_spol[p] + pr_cpol[p])
    return fo, paired, pr_s, pr_c, pr_size, pr_spol, pr_cpol, pr_l, n_pr, pr_area


def _cover_by_area(
    ops: np.ndarray,
    n_in: int,
    out_nets: np.ndarray,
    alias: np.ndarray,
    wire: np.ndarray,
    cl: np.ndarray,
    cs: np.ndarray,
    ct: np.ndarray,
    nc: np.ndarray,
    fo: np.ndarray,
    paired: np.ndarray,
    pr_s: np.ndarray,
    pr_c: np.ndarray,
    pr_size: np.ndarray,
    pr_l: np.ndarray,
    n_pr: int,
    pr_area: np.ndarray,
    sg_match: np.ndarray,
    sg_area: np.ndarray,
) -> tuple[Any, ...]:
    """The cover: area flow, then area recovery with the first cover's fan-outs.

    The smaller of the two covers is kept.
    """
    n_g = ops.shape[0]
    n_orig = n_in + n_g
    best_c = np.zeros(n_orig, dtype=np.int64)  # chosen cut; -1: pair
    best_g = np.zeros(n_orig, dtype=np.int64)  # supergate; -2 wire, -3 constant
    use_pair = np.zeros(n_pr + 1, dtype=np.bool_)
    af = np.zeros(n_orig)
    req = np.zeros(n_orig, dtype=np.bool_)
    refs = np.zeros(n_orig)
    est = fo.copy()
    keep_c = np.zeros(n_orig, dtype=np.int64)
    keep_g = np.zeros(n_orig, dtype=np.int64)
    keep_pair = np.zeros(n_pr + 1, dtype=np.bool_)
    keep_req = np.zeros(n_orig, dtype=np.bool_)
    keep_area = np.inf
    unmatched = -1
    for _round in range(2):
        for p in range(n_pr):
            use_pair[p] = False
        for g in range(n_g):
            v = n_in + g
            af[v] = 0.0
            best_c[v] = 0
            best_g[v] = -3
            if wire[g]:
                continue
            bestv = np.inf
            for c in range(1, nc[v]):
                tt = ct[v, c]
                size = cs[v, c]
                if size == 0:  # constant
                    cost = 0.0
                    gid = -3
                elif size == 1 and tt == 0xAAAA:  # the node equals its leaf: a wire
                    cost = af[cl[v, c, 0]] / max(est[cl[v, c, 0]], 1.0)
                    gid = -2
                else:
                    gid = sg_match[tt]
                    if gid < 0:
                        continue
                    cost = sg_area[gid]
                    for q in range(size):
                        leaf = cl[v, c, q]
                        cost += af[leaf] / max(est[leaf], 1.0)
                if cost < bestv - 1e-12:
                    bestv = cost
                    best_c[v] = c
                    best_g[v] = gid
            if bestv == np.inf:
                unmatched = v  # not even the gate's own inputs: the library lacks a cell
            af[v] = bestv
            p = paired[v]
            if p >= 0:
                other = pr_c[p] if pr_s[p] == v else pr_s[p]
                if other < v:  # both members known: a pair, if cheaper
                    pcost = pr_area[p]
                    for q in range(pr_size[p]):
                        leaf = pr_l[p, q]
                        pcost += af[leaf] / max(est[leaf], 1.0)
                    if pcost <= af[v] + af[other] + 1e-12:
                        use_pair[p] = True
                        af[v] = 0.5 * pcost
                        af[other] = 0.5 * pcost
        # mark the cover from the outputs back
        for v in range(n_orig):
            req[v] = False
            refs[v] = 0.0
        for i in range(out_nets.shape[0]):
            req[alias[out_nets[i]]] = True
            refs[alias[out_nets[i]]] += 1.0
        cover_area = 0.0
        for v in range(n_orig - 1, n_in - 1, -1):
            if not req[v] or wire[v - n_in]:
                continue
            p = paired[v]
            if p >= 0 and use_pair[p]:
                other = pr_c[p] if pr_s[p] == v else pr_s[p]
                if req[other] and other > v:
                    continue  # instantiated from the other member
                cover_area += pr_area[p]
                for q in range(pr_size[p]):
                    leaf = pr_l[p, q]
                    req[leaf] = True
                    refs[leaf] += 1.0
                continue
            c = best_c[v]
            gid = best_g[v]
            if gid == -3:
                continue
            if gid >= 0:
                cover_area += sg_area[gid]
            for q in range(cs[v, c]):
                leaf = cl[v, c, q]
                req[leaf] = True
                refs[leaf] += 1.0
        if cover_area < keep_area - 1e-12:
            keep_area = cover_area
            for v in range(n_orig):
                keep_c[v] = best_c[v]
                keep_g[v] = best_g[v]
                keep_req[v] = req[v]
            for p in range(n_pr):
                keep_pair[p] = use_pair[p]
        for v in range(n_orig):
            est[v] = refs[v] if refs[v] > 0 else fo[v]
    return keep_c, keep_g, keep_pair, keep_req, keep_area, unmatched


def _emit_cells(
    ops: np.ndarray,
    n_in: int,
    alias: np.ndarray,
    wire: np.ndarray,
    cl: np.ndarray,
    cs: np.ndarray,
    paired: np.ndarray,
    pr_s: np.ndarray,
    pr_c: np.ndarray,
    pr_size: np.ndarray,
    pr_spol: np.ndarray,
    pr_cpol: np.ndarray,
    pr_l: np.ndarray,
    n_pr: int,
    keep_c: np.ndarray,
    keep_g: np.ndarray,
    keep_pair: np.ndarray,
    keep_req: np.ndarray,
    keep_area: float,
    unmatched: int,
    sg_steps: np.ndarray,
    sg_role: np.ndarray,
    sg_ro: np.ndarray,
    sg_refs: np.ndarray,
    sg_table: np.ndarray,
    pair_role: np.ndarray,
    pair_ro: np.ndarray,
    inv_role: int,
    inv_ro: int,
    max_pins: int,
) -> tuple[Any, ...]:
    """The cells of the kept cover in net order, as :func:`techmap` returns them."""
    n_g = ops.shape[0]
    n_orig = n_in + n_g
    net = np.arange(n_orig, dtype=np.int64)  # net carrying each node (wires resolved)
    for v in range(n_in, n_orig):
        if keep_req[v] and ops[v - n_in] > 2 and keep_g[v] == -2:
            p = paired[v]
            if not (p >= 0 and keep_pair[p]):
                net[v] = net[cl[v, keep_c[v], 0]]
    # count first, so the arrays are allocated at their size
    cap_inst = 0
    cap_int = 0
    done = np.zeros(n_pr + 1, dtype=np.bool_)
    for v in range(n_in, n_orig):
        if not keep_req[v] or wire[v - n_in]:
            continue
        p = paired[v]
        if p >= 0 and keep_pair[p]:
            if not done[p]:  # each pair once, from whichever member is required
                done[p] = True
                cap_inst += 1 + pr_spol[p] + pr_cpol[p]
                cap_int += pr_spol[p] + pr_cpol[p]
        elif keep_g[v] >= 0:
            cap_inst += sg_steps[keep_g[v]]
            cap_int += sg_steps[keep_g[v]] - 1
    cap_drv = cap_inst + cap_inst  # a pair's instance drives two nets
    roles_arr = np.empty(cap_inst, dtype=np.int64)
    ins_arr = np.full((cap_inst, max_pins), -1, dtype=np.int64)
    drv_inst = np.empty(cap_drv, dtype=np.int64)
    drv_ro = np.empty(cap_drv, dtype=np.int64)
    drv_net = np.empty(cap_drv, dtype=np.int64)
    int_fanin = np.full((cap_int, 4), -1, dtype=np.int64)
    int_table = np.empty((cap_int, 16), dtype=np.bool_)
    int_rank = np.empty(cap_int, dtype=np.int64)
    n_inst = 0
    n_drv = 0
    n_int = 0
    step_net = np.zeros(MAX_STEPS, dtype=np.int64)
    done[:] = False
    for v in range(n_in, n_orig):
        if not keep_req[v] or wire[v - n_in]:
            continue
        p = paired[v]
        if p >= 0 and keep_pair[p]:
            if done[p]:
                continue
            done[p] = True
            kind = 3 - pr_size[p]
            size = pr_size[p]
            inst = n_inst
            roles_arr[inst] = pair_role[kind]
            for q in range(size):
                ins_arr[inst, q] = net[pr_l[p, q]]
            n_inst += 1
            for half in range(2):
                node = pr_s[p] if half == 0 else pr_c[p]
                pol = pr_spol[p] if half == 0 else pr_cpol[p]
                if pol == 0:
                    out = node
                else:
                    out = n_orig + n_int
                    for q in range(size):
                        int_fanin[n_int, q] = net[pr_l[p, q]]
                    for m in range(16):
                        a0 = m & 1
                        a1 = (m >> 1) & 1
                        a2 = (m >> 2) & 1 if size == 3 else 0
                        if half == 0:
                            bit = a0 ^ a1 ^ a2
                        elif size == 3:
                            bit = (a0 & a1) | (a0 & a2) | (a1 & a2)
                        else:
                            bit = a0 & a1
                        int_table[n_int, m] = bit == 1
                    int_rank[n_int] = node * 16 + 14
                    n_int += 1
                drv_inst[n_drv] = inst
                drv_ro[n_drv] = pair_ro[kind, half]
                drv_net[n_drv] = out
                n_drv += 1
                if pol == 1:
                    roles_arr[n_inst] = inv_role
                    ins_arr[n_inst, 0] = out
                    drv_inst[n_drv] = n_inst
                    drv_ro[n_drv] = inv_ro
                    drv_net[n_drv] = node
                    n_drv += 1
                    n_inst += 1
            continue
        gid = keep_g[v]
        if gid < 0:
            continue  # a wire or a constant: no cell
        c = keep_c[v]
        n_steps = sg_steps[gid]
        for s in range(n_steps):
            roles_arr[n_inst] = sg_role[gid, s]
            for k in range(max_pins):
                r = sg_refs[gid, s, k]
                if r == -99:
                    continue
                ins_arr[n_inst, k] = net[cl[v, c, r]] if r >= 0 else step_net[-r - 1]
            if s == n_steps - 1:
                out = v
            else:
                out = n_orig + n_int
                for q in range(cs[v, c]):
                    int_fanin[n_int, q] = net[cl[v, c, q]]
                for m in range(16):
                    int_table[n_int, m] = sg_table[gid, s, m]
                int_rank[n_int] = v * 16 + s
                n_int += 1
            step_net[s] = out
            drv_inst[n_drv] = n_inst
            drv_ro[n_drv] = sg_ro[gid, s]
            drv_net[n_drv] = out
            n_drv += 1
            n_inst += 1
    alias_out = np.empty(n_orig, dtype=np.int64)
    for v in range(n_orig):
        alias_out[v] = net[alias[v]]
    return (
        alias_out,
        roles_arr,
        ins_arr,
        drv_inst[:n_drv].copy(),
        drv_ro[:n_drv].copy(),
        drv_net[:n_drv].copy(),
        int_fanin,
        int_table,
        int_rank,
        n_orig + n_int,
        keep_area,
        unmatched,
    )


def _cover_steps(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    arity: np.ndarray,
    out_nets: np.ndarray,
    cuts: tuple[Any, ...],
    sg_match: np.ndarray,
    sg_area: np.ndarray,
    sg_steps: np.ndarray,
    sg_role: np.ndarray,
    sg_ro: np.ndarray,
    sg_refs: np.ndarray,
    sg_table: np.ndarray,
    pair_role: np.ndarray,
    pair_ro: np.ndarray,
    pair_area: np.ndarray,
    inv_role: int,
    inv_ro: int,
    inv_area: float,
    max_pins: int,
) -> tuple[Any, ...]:
    """Adder pairs, the area cover and its cells, from the cut steps' results."""
    alias, wire, lev, cl, cs, ct, nc, pe_node, pe_kind, pe_pol, pe_size, pe_l, n_pe = cuts
    fo, paired, pr_s, pr_c, pr_size, pr_spol, pr_cpol, pr_l, n_pr, pr_area = _adder_pairs(
        ops, fanin, n_in, arity, out_nets, alias, wire, lev,
        pe_node, pe_kind, pe_pol, pe_size, pe_l, n_pe, pair_area, inv_area,
    )  # fmt: skip
    keep_c, keep_g, keep_pair, keep_req, keep_area, unmatched = _cover_by_area(
        ops, n_in, out_nets, alias, wire, cl, cs, ct, nc, fo, paired,
        pr_s, pr_c, pr_size, pr_l, n_pr, pr_area, sg_match, sg_area,
    )  # fmt: skip
    return _emit_cells(
        ops, n_in, alias, wire, cl, cs, paired, pr_s, pr_c, pr_size, pr_spol, pr_cpol, pr_l,
        n_pr, keep_c, keep_g, keep_pair, keep_req, keep_area, unmatched,
        sg_steps, sg_role, sg_ro, sg_refs, sg_table, pair_role, pair_ro, inv_role, inv_ro,
        max_pins,
    )  # fmt: skip


if HAVE_NUMBA:
    from numba.extending import register_jitable

    # compiled into cover_steps_kernel (this module's cache); plain Python from Python
    for _step in (_adder_pairs, _cover_by_area, _emit_cells):
        register_jitable(_step)

#: The cover steps compiled, or ``None`` without numba.
cover_steps_kernel: Any = jit(_cover_steps)
