"""Technology mapping: cover any gate netlist with library cells by function.

One pass maps every netlist — lowered from a generator, read from Verilog or BLIF,
written by another tool — so that the same circuit gets the same cells, whatever its
gates looked like: a full adder written as one ``XOR3`` and one ``MAJ`` gate, as
ArithsGen's two XORs, two ANDs and an OR, or as an SOP cover from ABC all become one
``FA`` cell. The generators' group markers are not read.

The method is cut-based Boolean matching, as in ABC's mapper (Mishchenko, Chatterjee,
Brayton, "DAG-aware AIG rewriting" DAC'06 and "Improvements to technology mapping for
LUT-based FPGAs" FPGA'06; Mishchenko et al., "Combinational and sequential mapping
with priority cuts", ICCAD'07):

1. **Cuts.** Every gate's cuts are enumerated bottom-up (at most :data:`MAX_CUTS` per
   node, smallest first, dominated cuts dropped), each with its 16-bit truth table
   over the cut's leaves; leaves a function does not depend on are removed, so equal
   functions get equal cuts whatever the gates in between. Cuts grow to 3 leaves; a
   4th is allowed one level deep (from inputs of at most 2 leaves each, as a NOR of
   two ANDs) and at 4-input gates, which keeps prefix adders' reconvergent logic from
   multiplying the cuts.
2. **Matches.** A table from every 4-input truth table to the cheapest implementation
   the library offers: one cell under any pin permutation (inverters absorbed — a
   NOR of two ANDs is an ``AOI22``), one cell plus an output inverter, or a small
   fixed decomposition ("supergate") for functions no single cell computes (XOR3,
   majority, ...).
3. **Multi-output cells.** Two nodes with cuts over the same three leaves computing
   XOR3 and majority (either polarity) form a full adder; over the same two leaves,
   XOR2 and AND2 a half adder (the functional matching of yosys's ``extract_fa``).
4. **Cover by area.** Area flow (Cong and Ding's flow-based area estimate as used in
   ABC's ``amap``) picks each node's cheapest match, a full adder when its area beats
   the two separate covers; a second pass re-estimates fan-outs from the first
   cover (area recovery) and the smaller of the two covers is kept.

The cover minimises area, not power, as a synthesis tool's default mapping does: area
is a property of the circuit alone, so the mapping is the same under every operand
distribution and is computed once per netlist; the power model then prices that
mapping under the simulated activity.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA, jit
from dse.errors import DataError
from dse.eval._library import MAX_PINS, ROLES, CellLibrary
from dse.netlist._netlist import ARITY, Op

__all__ = ["MAX_CUTS", "Supergates", "supergates", "techmap"]

#: Cuts kept per node (besides the trivial one). ABC's priority-cut mapper keeps 8;
#: 5 gives the same covers within 0.02 % of area on random 8x8 designs, at less cost.
MAX_CUTS = 5
#: Candidate cuts considered per node before the best are kept.
_MAX_CAND = 128
#: Decomposition steps of the largest supergate.
_MAX_STEPS = 5

_FULL = 0xFFFF
#: Truth tables of the four cut variables (bit m of a table: the value at minterm m,
#: whose bit k is variable k).
_VAR = (0xAAAA, 0xCCCC, 0xF0F0, 0xFF00)
# Pair functions over the cut's leaves (16-bit tables; variables above the cut size
# do not matter, so the table repeats): sum and carry of full and half adders.
_XOR3, _MAJ3 = 0x9696, 0xE8E8
_XOR2, _AND2 = 0x6666, 0x8888


def _support_tables() -> np.ndarray:
    """``out[tt]``: bit k set when the 4-input table ``tt`` depends on variable k."""
    tt = np.arange(1 << 16, dtype=np.int64)
    out = np.zeros(1 << 16, dtype=np.uint8)
    for k in range(4):
        shift = 1 << k
        mask = _VAR[k]
        hi = (tt & mask) >> shift
        lo = tt & (~mask & _FULL)
        out |= (hi != lo).astype(np.uint8) << k
    return out


# ----------------------------------------------------------------------------------------
# Supergates: the cheapest implementation of every 4-input function


@dataclass(frozen=True, eq=False)
class Supergates:
    """One library's matches as arrays for the mapping kernel.

    ``match[tt]`` is the supergate implementing the 4-input truth table ``tt`` at the
    least area (``-1``: none). A supergate is a short list of cells (``steps``); step
    inputs ``refs`` name a cut variable (``k >= 0``) or an earlier step (``-(t+1)``);
    the last step drives the node. ``table`` holds every step's truth table over the
    cut variables (for the activity of the internal nets).
    """

    match: np.ndarray  # (65536,) supergate id
    area: np.ndarray  # (S,)
    steps: np.ndarray  # (S,)
    role: np.ndarray  # (S, _MAX_STEPS)
    ro: np.ndarray  # (S, _MAX_STEPS) role-output index of each step's output
    refs: np.ndarray  # (S, _MAX_STEPS, MAX_PINS)
    table: np.ndarray  # (S, _MAX_STEPS, 16) bool
    support: np.ndarray  # (65536,) support mask (uint8)
    pair_role: np.ndarray  # (2,) FA, HA role index (-1: not in the library)
    pair_ro: np.ndarray  # (2, 2) role-output index of (sum, carry)
    pair_area: np.ndarray  # (2,)
    inv_role: int
    inv_ro: int
    inv_area: float
    names: tuple[str, ...]  # per supergate, for reading and tests


# A template input is a variable (int) or the output of an earlier step ("t0").
_Ref = int | str
_Template = tuple[tuple[str, tuple[_Ref, ...]], ...]

#: Decompositions for functions no single cell may compute (the library's single
#: cells, with and without an output inverter, are added to these automatically).
_TEMPLATES: tuple[tuple[str, _Template], ...] = (
    ("XOR3", (("XOR2", (0, 1)), ("XOR2", ("t0", 2)))),
    ("XNOR3", (("XOR2", (0, 1)), ("XNOR2", ("t0", 2)))),
    ("XOR4", (("XOR2", (0, 1)), ("XOR2", (2, 3)), ("XOR2", ("t0", "t1")))),
    ("XNOR4", (("XOR2", (0, 1)), ("XOR2", (2, 3)), ("XNOR2", ("t0", "t1")))),
    ("MAJ", (("AOI222", (0, 1, 0, 2, 1, 2)), ("INV", ("t0",)))),
    (
        "MAJ",
        (("NAND2", (0, 1)), ("NAND2", (0, 2)), ("NAND2", (1, 2)), ("NAND3", ("t0", "t1", "t2"))),
    ),
    ("MAJ", (("AND2", (0, 1)), ("OR2", (0, 1)), ("AND2", ("t1", 2)), ("OR2", ("t0", "t2")))),
    ("MUX", (("INV", (2,)), ("AND2", (0, "t0")), ("AND2", (1, 2)), ("OR2", ("t1", "t2")))),
    ("AND3", (("AND2", (0, 1)), ("AND2", ("t0", 2)))),
    ("OR3", (("OR2", (0, 1)), ("OR2", ("t0", 2)))),
    ("NAND3", (("AND2", (0, 1)), ("NAND2", ("t0", 2)))),
    ("NOR3", (("OR2", (0, 1)), ("NOR2", ("t0", 2)))),
    ("AND4", (("AND2", (0, 1)), ("AND2", (2, 3)), ("AND2", ("t0", "t1")))),
    ("OR4", (("OR2", (0, 1)), ("OR2", (2, 3)), ("OR2", ("t0", "t1")))),
    ("NAND4", (("AND2", (0, 1)), ("AND2", (2, 3)), ("NAND2", ("t0", "t1")))),
    ("NOR4", (("OR2", (0, 1)), ("OR2", (2, 3)), ("NOR2", ("t0", "t1")))),
    ("AOI21", (("AND2", (0, 1)), ("NOR2", ("t0", 2)))),
    ("OAI21", (("OR2", (0, 1)), ("NAND2", ("t0", 2)))),
    ("AOI22", (("AND2", (0, 1)), ("AND2", (2, 3)), ("NOR2", ("t0", "t1")))),
    ("OAI22", (("OR2", (0, 1)), ("OR2", (2, 3)), ("NAND2", ("t0", "t1")))),
    ("ANDN", (("INV", (1,)), ("AND2", (0, "t0")))),
    ("ORN", (("INV", (1,)), ("OR2", (0, "t0")))),
    ("NOR2N", (("INV", (1,)), ("NOR2", (0, "t0")))),
    ("NAND2N", (("INV", (1,)), ("NAND2", (0, "t0")))),
)

_SG_CACHE: weakref.WeakKeyDictionary[CellLibrary, Supergates] = weakref.WeakKeyDictionary()
_SUPPORT: np.ndarray | None = None


def _eval(tpl: _Template, perm: tuple[int, ...]) -> list[np.ndarray]:
    """Every step's truth table (16 minterms) with template input ``k`` on cut
    variable ``perm[k]``."""
    idx = np.arange(16)
    x = [((idx >> v) & 1).astype(bool) for v in perm]
    outs: list[np.ndarray] = []
    for role, refs in tpl:
        args = [x[r] if isinstance(r, int) else outs[int(r[1:])] for r in refs]
        outs.append(np.asarray(ROLES[role].function(args)[0], dtype=bool))
    return outs


def _as_int(table: np.ndarray) -> int:
    return int(np.dot(table.astype(np.int64), 1 << np.arange(16, dtype=np.int64)))


def supergates(library: CellLibrary) -> Supergates:
    """The match table of ``library`` (cached per library object)."""
    global _SUPPORT
    sg = _SG_CACHE.get(library)
    if sg is not None:
        return sg
    if _SUPPORT is None:
        _SUPPORT = _support_tables()
    templates: list[tuple[str, _Template]] = []
    for name, role in ROLES.items():
        if role.n_outputs == 1 and role.n_inputs <= 4 and name != "BUF":
            templates.append((name, ((name, tuple(range(role.n_inputs))),)))
    templates.extend(_TEMPLATES)
    if library.has("INV"):
        # the complement of everything, through an output inverter
        for name, tpl in list(templates):
            templates.append((f"~{name}", (*tpl, ("INV", (f"t{len(tpl) - 1}",)))))
        # and 2- and 3-input cells with inverted inputs (AND2 with one inverted input,
        # NOR3 with two, ...): every gate's own function with inverters around it
        for name, role in ROLES.items():
            if role.n_outputs != 1 or not 2 <= role.n_inputs <= 3:
                continue
            for mask in range(1, 1 << role.n_inputs):
                inv = [k for k in range(role.n_inputs) if (mask >> k) & 1]
                invs: list[tuple[str, tuple[_Ref, ...]]] = [("INV", (k,)) for k in inv]
                pins = tuple(f"t{inv.index(k)}" if k in inv else k for k in range(role.n_inputs))
                templates.append((f"{name}/{mask}", (*invs, (name, pins))))
    best_area = np.full(1 << 16, np.inf)
    best: dict[int, tuple[str, _Template, tuple[int, ...], list[np.ndarray]]] = {}
    for name, tpl in templates:
        if len(tpl) > _MAX_STEPS or not all(library.has(r) for r, _ in tpl):
            continue
        cost = float(sum(library.role_area[library.role_index[r]] for r, _ in tpl))
        n_var = 1 + max(r for _, refs in tpl for r in refs if isinstance(r, int))
        for perm in itertools.permutations(range(4), n_var):
            outs = _eval(tpl, perm)
            tt = _as_int(outs[-1])
            # strictly cheaper wins; among equal areas, fewer cells, then the first found
            if cost < best_area[tt] - 1e-12 or (
                abs(cost - best_area[tt]) <= 1e-12 and len(tpl) < len(best[tt][1])
            ):
                best_area[tt] = cost
                best[tt] = (name, tpl, perm, outs)
    keys = sorted(best)
    n = len(keys)
    match = np.full(1 << 16, -1, dtype=np.int16)
    sg_area = np.zeros(n)
    steps = np.zeros(n, dtype=np.int64)
    sg_role = np.zeros((n, _MAX_STEPS), dtype=np.int64)
    ro = np.zeros((n, _MAX_STEPS), dtype=np.int64)
    refs = np.full((n, _MAX_STEPS, MAX_PINS), -99, dtype=np.int64)
    table = np.zeros((n, _MAX_STEPS, 16), dtype=bool)
    names = []
    for i, tt in enumerate(keys):
        name, tpl, perm, outs = best[tt]
        match[tt] = i
        sg_area[i] = best_area[tt]
        steps[i] = len(tpl)
        names.append(name)
        for s, (r, rr) in enumerate(tpl):
            sg_role[i, s] = library.role_index[r]
            ro[i, s] = library.ro_index[(r, 0)]
            for k, ref in enumerate(rr):
                refs[i, s, k] = perm[ref] if isinstance(ref, int) else -(int(ref[1:]) + 1)
            table[i, s] = outs[s]
    pair_role = np.full(2, -1, dtype=np.int64)
    pair_ro = np.zeros((2, 2), dtype=np.int64)
    pair_area = np.zeros(2)
    for i, r in enumerate(("FA", "HA")):
        if library.has(r):
            pair_role[i] = library.role_index[r]
            pair_ro[i] = [library.ro_index[(r, 0)], library.ro_index[(r, 1)]]
            pair_area[i] = library.role_area[library.role_index[r]]
    has_inv = library.has("INV")
    sg = Supergates(
        match=match,
        area=sg_area,
        steps=steps,
        role=sg_role,
        ro=ro,
        refs=refs,
        table=table,
        support=_SUPPORT,
        pair_role=pair_role,
        pair_ro=pair_ro,
        pair_area=pair_area,
        inv_role=library.role_index["INV"] if has_inv else -1,
        inv_ro=library.ro_index[("INV", 0)] if has_inv else -1,
        inv_area=float(library.role_area[library.role_index["INV"]]) if has_inv else np.inf,
        names=tuple(names),
    )
    _SG_CACHE[library] = sg
    return sg


# ----------------------------------------------------------------------------------------
# The kernel (numba-compiled where available; the same code runs as Python otherwise)


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


def _techmap(
    ops: np.ndarray,
    fanin: np.ndarray,
    n_in: int,
    out_nets: np.ndarray,
    sg_match: np.ndarray,
    sg_area: np.ndarray,
    sg_steps: np.ndarray,
    sg_role: np.ndarray,
    sg_ro: np.ndarray,
    sg_refs: np.ndarray,
    sg_table: np.ndarray,
    support: np.ndarray,
    pair_role: np.ndarray,
    pair_ro: np.ndarray,
    pair_area: np.ndarray,
    inv_role: int,
    inv_ro: int,
    inv_area: float,
    arity: np.ndarray,
    max_pins: int,
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
    np.ndarray, np.ndarray, np.ndarray, int, float, int,
]:  # fmt: skip
    n_g = ops.shape[0]
    n_orig = n_in + n_g
    C = MAX_CUTS + 1  # the trivial cut is cut 0
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

    # -- cover: area flow, then area recovery with the first cover's fan-outs
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
            o = ops[g]
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

    # -- emit the cells of the kept cover, in net order
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
    step_net = np.zeros(_MAX_STEPS, dtype=np.int64)
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


if HAVE_NUMBA:  # the helpers are called from compiled code, so they are compiled first
    _op_tt = jit(_op_tt, inline=True)
    _stretch = jit(_stretch, inline=True)  # takes an array: inlined, no reference counting
    _cut_hash = jit(_cut_hash, inline=True)

#: The mapping kernel: compiled, or the same code as Python without numba.
techmap_kernel: Any = jit(_techmap) if HAVE_NUMBA else _techmap

_ARITY_NP = np.array([ARITY[Op(i)] for i in range(len(Op))], dtype=np.int64)


def techmap(
    ops: np.ndarray, fanin: np.ndarray, n_in: int, out_nets: np.ndarray, library: CellLibrary
) -> tuple[Any, ...]:
    """Cover a netlist's gates with ``library``'s cells (see the module docstring).

    Returns ``(alias, roles, inputs, drv_inst, drv_ro, drv_net, int_fanin, int_table,
    int_rank, n_nets, area)``: per net the net that carries it (buffers and wires
    resolved); per cell instance its role and input nets; per driven net its instance
    and role output; per internal net (numbered from ``n_inputs + n_gates`` on) the
    original nets it is a function of and its truth table over them; the nets' sort
    keys; the number of nets; and the cover's area (µm²).
    """
    sg = supergates(library)
    out = techmap_kernel(
        np.ascontiguousarray(ops, dtype=np.int64),
        np.ascontiguousarray(fanin, dtype=np.int64),
        int(n_in),
        np.ascontiguousarray(out_nets, dtype=np.int64),
        sg.match,
        sg.area,
        sg.steps,
        sg.role,
        sg.ro,
        sg.refs,
        sg.table,
        sg.support,
        sg.pair_role,
        sg.pair_ro,
        sg.pair_area,
        int(sg.inv_role),
        int(sg.inv_ro),
        float(sg.inv_area),
        _ARITY_NP,
        MAX_PINS,
    )
    if out[-1] >= 0:
        g = int(out[-1]) - int(n_in)
        raise DataError(
            f"cell library {library.name!r} can implement no cover of gate {g} "
            f"({Op(int(ops[g])).name}); it has {', '.join(library.roles)}"
        )
    return tuple(out[:-1])
