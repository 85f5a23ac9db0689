"""The final carry-propagate adder of a multiplier: ripple-carry or Kogge-Stone parallel
prefix (P. M. Kogge, H. S. Stone, IEEE Trans. Computers C-22(8), 1973), optionally with
a lower-part-OR low part (LOA; H. R. Mahdiani et al., IEEE TCAS-I 57(4), 2010) and
carry-chain cuts (segmented adders; see :mod:`dse.arith._cut`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from dse.arith._graph import GraphBuilder, Node, Signal, node_factory
from dse.errors import GraphError

if TYPE_CHECKING:
    from dse.arith._generators import MultiplierSpec

__all__: list[str] = []


_ZERO_NODE = Node("const0", role="const")


class _AdderNames:
    """The final adder's cell names for one product width, as :meth:`GraphBuilder.cell`
    gives them: every prefix of the final adder names one cell, so each ends in ``_0``."""

    def __init__(self, width_p: int) -> None:
        cols = range(width_p)
        self.loa_or = [f"loa_or_c{c}_0" for c in cols]
        self.loa_and = [f"loa_and_c{c}_0" for c in cols]
        # ripple cells: name, (name, "sum"), (name, "cout")
        self.cpa = {
            k: [(n, (n, "sum"), (n, "cout")) for n in (f"cpa_{k}_c{c}_0" for c in cols)]
            for k in ("fa", "ha")
        }
        self.pg = [f"pg_c{c}_0" for c in cols]
        self.cut_gen = [f"cut_gen_c{c}_0" for c in cols]
        self.sum = [f"sum_c{c}_0" for c in cols]
        # prefix positions: at most one per column plus the carry-in
        dists = [1 << k for k in range(width_p.bit_length() + 1)]
        self.gray = {d: [f"ks_gray_d{d}_i{i}_0" for i in range(width_p + 1)] for d in dists}
        self.black = {d: [f"ks_black_d{d}_i{i}_0" for i in range(width_p + 1)] for d in dists}


@functools.lru_cache(maxsize=64)
def _adder_names(width_p: int) -> _AdderNames:
    return _AdderNames(width_p)


def _final_adder(
    gb: GraphBuilder, cols: dict[int, list[Signal]], spec: MultiplierSpec
) -> list[Signal]:
    width_p = spec.width_a + spec.width_b
    zero = "zero"
    nodes = gb.nodes
    if zero not in nodes:
        nodes[zero] = _ZERO_NODE
    zsig: Signal = (zero, "y")
    names = _adder_names(width_p)
    # Cells are added as GraphBuilder.cell would (same names, same nodes), without its
    # per-call counter and formatting: this runs on every rebuild of a tree.
    counter = gb._counter

    def add(name: str, node: Node) -> str:
        if name in nodes or name[:-2] in counter:
            raise GraphError(f"node {name!r} added twice")
        nodes[name] = node
        return name

    result: list[Signal] = []
    carry: Signal | None = None
    empty: list[Signal] = []
    for c in range(min(spec.loa, width_p)):
        ins = cols.get(c, empty)
        if len(ins) == 0:
            result.append(zsig)
        elif len(ins) == 1:
            result.append(ins[0])
        else:
            # LOA: the low part's sum is a bitwise OR; its top AND feeds the carry-in.
            cell = add(names.loa_or[c], node_factory("or2", "cpa")((ins[0], ins[1]), None))
            result.append((cell, "y"))
        if c == spec.loa - 1 and len(ins) >= 2:
            cell = add(names.loa_and[c], node_factory("and2", "cpa")((ins[0], ins[1]), None))
            carry = (cell, "y")
    start = len(result)
    cuts = dict(spec.cuts)
    if carry is not None and cuts.get(start) == "zero":
        # a cut where the LOA part ends drops its carry ("gen" speculates the same
        # AND of the column below that the LOA carry already is)
        carry = None
    if spec.adder == "ripple":
        make_fa, make_ha = node_factory("fa", "cpa"), node_factory("ha", "cpa")
        fa_names, ha_names = names.cpa["fa"], names.cpa["ha"]
        for c in range(start, width_p):
            ins = cols.get(c, empty)
            if cuts and c > start and c in cuts:
                carry = _cut_carry(cuts[c], cols.get(c - 1, empty), names.cut_gen[c], add)
            if carry is not None:
                ins = [*ins, carry]
                carry = None
            n = len(ins)
            if n == 0:
                result.append(zsig)
            elif n == 1:
                result.append(ins[0])
            else:
                if n == 3:
                    cell, s_sig, c_sig = fa_names[c]
                    add(cell, make_fa(tuple(ins), c))
                else:
                    cell, s_sig, c_sig = ha_names[c]
                    add(cell, make_ha(tuple(ins), c))
                result.append(s_sig)
                carry = c_sig if c + 1 < width_p else None
        return result
    # Kogge-Stone over the columns from the first one that has two bits.
    low = start
    while low < width_p and len(cols.get(low, empty)) < 2 and carry is None:
        ins = cols.get(low, empty)
        result.append(ins[0] if ins else zsig)
        low += 1
    if low >= width_p:
        return result
    make_pg = node_factory("pg", "cpa")
    for c in range(low, width_p):
        ins = cols.get(c, empty)
        x = ins[0] if ins else zsig
        y = ins[1] if len(ins) > 1 else zsig
        add(names.pg[c], make_pg((x, y), c))
    # cuts act on carries between columns the prefix network spans
    ks_cuts = tuple((c, m) for c, m in spec.cuts if c > low)
    cells, tail = _kogge_stone_network(width_p, low, carry, ks_cuts)
    if not nodes.keys().isdisjoint(cells) or (counter and any(n[:-2] in counter for n in cells)):
        raise GraphError(f"node names of the Kogge-Stone adder ({', '.join(cells)}) added twice")
    nodes.update(cells)
    result.extend(tail)
    return result


def _cut_carry(
    mode: str, below: list[Signal], name: str, add: Callable[[str, Node], str]
) -> Signal | None:
    """The carry a ripple adder passes into a cut column: none, or the generate
    (AND) of the column below's two bits, read before that column's carry-in."""
    if mode == "zero" or len(below) < 2:
        return None
    return (add(name, node_factory("and2", "cpa")((below[0], below[1]), None)), "y")


@functools.lru_cache(maxsize=256)
def _kogge_stone_network(
    width_p: int,
    low: int,
    carry: Signal | None,
    cuts: tuple[tuple[int, str], ...] = (),
) -> tuple[dict[str, Node], tuple[Signal, ...]]:
    """The prefix cells and sum XORs of a Kogge-Stone adder over columns ``low`` and
    up, in the order they are added, and its sum bits.

    They read only the adder's pg cells (named by column) and the carry-in, so they
    are the same (names and nodes, which are immutable) in every build with the same
    ``(width_p, low, carry, cuts)``: rebuilds share them instead of making them again.

    A cut at column ``k`` (``low < k``) makes position ``k - 1`` a prefix boundary: its
    group propagate is 0, so no span reaching column ``k`` or above looks further
    down, and its group generate is its own ``g`` (``gen``) or 0 (``zero``). The sum
    bit of column ``k - 1`` still uses its real propagate.
    """
    names = _adder_names(width_p)
    cells: dict[str, Node] = {}

    def add(name: str, node: Node) -> str:
        if name in cells:
            raise GraphError(f"node {name!r} added twice")
        cells[name] = node
        return name

    gen: list[Signal | None] = []
    prop: list[Signal | None] = []
    if carry is not None:
        gen.append(carry)  # carry-in as a position with p = 0
        prop.append(None)
    first = len(gen)
    for c in range(low, width_p):
        gen.append((names.pg[c], "g"))
        prop.append((names.pg[c], "p"))
    p_bits = list(prop)
    zsig: Signal = ("zero", "y")
    for col, mode in cuts:
        pos = first + col - 1 - low
        prop[pos] = None
        if mode == "zero":
            gen[pos] = zsig
    dist = 1
    n_pos = len(gen)
    make_gray = node_factory("gray", "cpa")
    make_black = node_factory("black", "cpa")
    while dist < n_pos:
        new_g, new_p = list(gen), list(prop)
        gray_names, black_names = names.gray[dist], names.black[dist]
        for i in range(dist, n_pos):
            if prop[i] is None:
                continue  # span already reaches position 0
            gh, ph, gl, pl = gen[i], prop[i], gen[i - dist], prop[i - dist]
            assert gh is not None and ph is not None and gl is not None
            if pl is None and gl == zsig:
                # the span below ends at a cut with no carry: (g, p) = (gh, 0)
                new_g[i], new_p[i] = gh, None
            elif pl is None:
                cell = add(gray_names[i], make_gray((gh, ph, gl), None))
                new_g[i], new_p[i] = (cell, "g"), None
            else:
                cell = add(black_names[i], make_black((gh, ph, gl, pl), None))
                new_g[i], new_p[i] = (cell, "g"), (cell, "p")
        gen, prop = new_g, new_p
        dist *= 2
    make_xor = node_factory("xor2", "cpa")
    tail: list[Signal] = []
    for k, c in enumerate(range(low, width_p)):
        pos = first + k
        p = p_bits[pos]
        assert p is not None
        if pos == 0:
            tail.append(p)
        else:
            g_prev = gen[pos - 1]
            assert g_prev is not None
            if g_prev == zsig:  # no carry into this column (a cut)
                tail.append(p)
                continue
            cell = add(names.sum[c], make_xor((p, g_prev), c))
            tail.append((cell, "y"))
    return cells, tuple(tail)
