"""Cell types: the vocabulary of :class:`~dse.arith.MultiplierGraph` nodes.

A cell type names its input and output ports, gives each output a column offset
relative to the cell's column (``None`` for cells that are not arithmetic, e.g.
prefix-adder generate/propagate cells), a reference truth function on 0/1 values
(the "obviously correct" semantics), and a lowering into netlist gates.

New types (the approximate-cell catalogue, user cells) register with
:func:`register_cell_type`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dse.errors import ConfigError
from dse.netlist import ARITY, NetlistBuilder, Op
from dse.netlist import SYMMETRIC_OPS as _SYMMETRIC_INT

__all__ = [
    "CELL_TYPES",
    "CellType",
    "cell_type",
    "register_cell_type",
]

Function = Callable[[Sequence[int]], Sequence[int]]
Lowering = Callable[[NetlistBuilder, Sequence[int]], Sequence[int]]


@dataclass(frozen=True)
class CellType:
    """One kind of graph node.

    Attributes:
        name: unique kind name, e.g. ``"fa"``.
        inputs: input port names, in order.
        outputs: output port names, in order.
        offsets: per output, its column relative to the cell's column (``None`` when
            the output is not an arithmetic bit, e.g. a prefix-adder propagate).
        function: reference semantics on 0/1 values, inputs in port order.
        lower: builds the gates; receives input nets, returns output nets.
        compressor: inputs are bits of the cell's column and the outputs carry their
            weight (half/full adders, 4:2 compressors and their approximations).
        exact: for compressors, whether the weighted output sum equals the input sum.
        symmetric: inputs may be permuted without changing the function (used by the
            structural hash).
        group: the multi-output library cell the lowering forms (``"FA"``/``"HA"``).
        family: cells of one family are interchangeable by approximation knobs
            (e.g. ``"fa"`` and the approximate full adders).
        citation: where the cell comes from.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    offsets: tuple[int | None, ...]
    function: Function
    lower: Lowering
    compressor: bool = False
    exact: bool = True
    symmetric: bool = False
    group: str | None = None
    family: str | None = None
    citation: str = ""

    def truth_table(self) -> list[tuple[int, ...]]:
        """Output tuple for every input combination, input index LSB = first port."""
        rows = []
        for idx in range(1 << len(self.inputs)):
            bits = [(idx >> k) & 1 for k in range(len(self.inputs))]
            rows.append(tuple(int(v) for v in self.function(bits)))
        return rows


CELL_TYPES: dict[str, CellType] = {}

#: Lowerings that are exactly ``tuple(b.gate(op, *inputs) for op in ops)`` with every
#: op symmetric (then, if ``group`` is set, ``b.group(group, outputs)``), keyed by the
#: lowering function: ``lower`` inlines them, skipping two Python calls per node. A
#: cell type re-registered with another lowering simply misses this table.
SAME_FANIN: dict[Lowering, tuple[tuple[int, ...], int, str | None]] = {}


def _same_fanin(low: Lowering, ops: Sequence[Op], group: str | None = None) -> Lowering:
    arity = {ARITY[o] for o in ops}
    assert len(arity) == 1 and all(int(o) in _SYMMETRIC_INT for o in ops)
    SAME_FANIN[low] = (tuple(int(o) for o in ops), arity.pop(), group)
    return low


def register_cell_type(cell: CellType, *, replace: bool = False) -> CellType:
    """Add a cell type to the registry (``replace=True`` to redefine one)."""
    if len(cell.offsets) != len(cell.outputs):
        raise ConfigError(f"cell type {cell.name!r}: one offset per output is required")
    if cell.name in CELL_TYPES and not replace:
        raise ConfigError(f"cell type {cell.name!r} is already registered")
    CELL_TYPES[cell.name] = cell
    return cell


def cell_type(kind: str) -> CellType:
    """Look a cell type up by name, with a helpful error."""
    try:
        return CELL_TYPES[kind]
    except KeyError:
        known = ", ".join(sorted(CELL_TYPES))
        raise ConfigError(f"unknown cell kind {kind!r}; known kinds: {known}") from None


def _gate_cell(
    name: str, op: Op, inputs: tuple[str, ...], fn: Callable[..., int], symmetric: bool = True
) -> CellType:
    def low(b: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
        return (b.gate(op, *n),)

    if int(op) in _SYMMETRIC_INT:
        _same_fanin(low, (op,))
    return CellType(
        name=name,
        inputs=inputs,
        outputs=("y",),
        offsets=(0,),
        function=lambda v: (fn(*v) & 1,),
        lower=low,
        symmetric=symmetric,
    )


_HA_OPS = (int(Op.XOR), int(Op.AND))
_FA_OPS = (int(Op.XOR3), int(Op.MAJ))


def _lower_ha(b: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    # gates_over(ops, n) is gate(op, *n) per op, with the shared checks done once
    s, c = b.gates_over(_HA_OPS, n)
    b.group("HA", (s, c))
    return s, c


def _lower_fa(b: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    s, c = b.gates_over(_FA_OPS, n)
    b.group("FA", (s, c))
    return s, c


_same_fanin(_lower_ha, (Op.XOR, Op.AND), "HA")
_same_fanin(_lower_fa, (Op.XOR3, Op.MAJ), "FA")


def _lower_pg(b: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    return b.gate(Op.AND, *n), b.gate(Op.XOR, *n)


_same_fanin(_lower_pg, (Op.AND, Op.XOR))


def _lower_c42(b: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    s1, cout = _lower_fa(b, (n[0], n[1], n[2]))
    s, carry = _lower_fa(b, (s1, n[3], n[4]))
    return s, carry, cout


def _c42(v: Sequence[int]) -> tuple[int, int, int]:
    x1, x2, x3, x4, cin = v
    s1 = x1 ^ x2 ^ x3
    cout = (x1 & x2) | (x1 & x3) | (x2 & x3)
    return s1 ^ x4 ^ cin, (s1 & x4) | (s1 & cin) | (x4 & cin), cout


def _booth_select(v: Sequence[int]) -> int:
    """Radix-4 Booth partial-product bit: inputs a_j, a_(j-1), b_(2i+1), b_(2i), b_(2i-1)."""
    aj, aj1, b2, b1, b0 = v
    one = b1 ^ b0
    two = (b2 & (1 - b1) & (1 - b0)) | ((1 - b2) & b1 & b0)
    return ((aj & one) | (aj1 & two)) ^ b2


def _lower_booth(b: NetlistBuilder, n: Sequence[int], invert: bool) -> Sequence[int]:
    aj, aj1, b2, b1, b0 = n
    # Encoder gates are shared between all bits of a row by the builder's hashing.
    one = b.gate(Op.XOR, b1, b0)
    two = b.gate(Op.MUX, b.gate(Op.AND, b1, b0), b.gate(Op.NOR, b1, b0), b2)
    sel = b.gate(Op.OR, b.gate(Op.AND, aj, one), b.gate(Op.AND, aj1, two))
    y = b.gate(Op.XOR, sel, b2)
    return (b.inv(y) if invert else y,)


def _register_builtins() -> None:
    reg = register_cell_type
    reg(CellType("input", (), ("y",), (None,), lambda v: (0,), lambda b, n: ()))
    reg(CellType("const0", (), ("y",), (0,), lambda v: (0,), lambda b, n: (b.const0,)))
    reg(CellType("const1", (), ("y",), (0,), lambda v: (1,), lambda b, n: (b.const1,)))
    reg(CellType("output", ("a",), (), (), lambda v: (), lambda b, n: ()))
    reg(_gate_cell("pp_and", Op.AND, ("a", "b"), lambda a, b: a & b, symmetric=False))
    reg(_gate_cell("pp_nand", Op.NAND, ("a", "b"), lambda a, b: 1 - (a & b), symmetric=False))
    reg(
        CellType(
            "booth_pp",
            ("aj", "aj1", "b2", "b1", "b0"),
            ("y",),
            (0,),
            lambda v: (_booth_select(v),),
            lambda b, n: _lower_booth(b, n, False),
            citation="A. D. Booth, Q. J. Mech. Appl. Math. 4(2), 1951; radix-4 (modified) recoding",
        )
    )
    reg(
        CellType(
            "booth_ppn",
            ("aj", "aj1", "b2", "b1", "b0"),
            ("y",),
            (0,),
            lambda v: (1 - _booth_select(v),),
            lambda b, n: _lower_booth(b, n, True),
            citation="complemented sign bit of a Booth row (sign-extension prevention)",
        )
    )
    reg(
        CellType(
            "ha",
            ("a", "b"),
            ("sum", "cout"),
            (0, 1),
            lambda v: (v[0] ^ v[1], v[0] & v[1]),
            _lower_ha,
            compressor=True,
            symmetric=True,
            group="HA",
            family="ha",
        )
    )
    reg(
        CellType(
            "fa",
            ("a", "b", "cin"),
            ("sum", "cout"),
            (0, 1),
            lambda v: (v[0] ^ v[1] ^ v[2], (v[0] & v[1]) | (v[0] & v[2]) | (v[1] & v[2])),
            _lower_fa,
            compressor=True,
            symmetric=True,
            group="FA",
            family="fa",
        )
    )
    reg(
        CellType(
            "c42",
            ("x1", "x2", "x3", "x4", "cin"),
            ("sum", "carry", "cout"),
            (0, 1, 1),
            _c42,
            _lower_c42,
            compressor=True,
            family="c42",
            citation="exact 4:2 compressor from two chained full adders",
        )
    )
    # Logic cells for adders and whole-circuit generators (no column semantics).
    reg(_gate_cell("and2", Op.AND, ("a", "b"), lambda a, b: a & b))
    reg(_gate_cell("or2", Op.OR, ("a", "b"), lambda a, b: a | b))
    reg(_gate_cell("xor2", Op.XOR, ("a", "b"), lambda a, b: a ^ b))
    reg(_gate_cell("nand2", Op.NAND, ("a", "b"), lambda a, b: 1 - (a & b)))
    reg(_gate_cell("nor2", Op.NOR, ("a", "b"), lambda a, b: 1 - (a | b)))
    reg(_gate_cell("xnor2", Op.XNOR, ("a", "b"), lambda a, b: 1 - (a ^ b)))
    reg(_gate_cell("and3", Op.AND3, ("a", "b", "c"), lambda a, b, c: a & b & c))
    reg(_gate_cell("or3", Op.OR3, ("a", "b", "c"), lambda a, b, c: a | b | c))
    reg(_gate_cell("xor3", Op.XOR3, ("a", "b", "c"), lambda a, b, c: a ^ b ^ c))
    reg(_gate_cell("inv", Op.INV, ("a",), lambda a: 1 - a))
    reg(_gate_cell("buf", Op.BUF, ("a",), lambda a: a))
    reg(_gate_cell("mux2", Op.MUX, ("a", "b", "s"), lambda a, b, s: b if s else a, symmetric=False))
    reg(
        CellType(
            "pg",
            ("x", "y"),
            ("g", "p"),
            (None, None),
            lambda v: (v[0] & v[1], v[0] ^ v[1]),
            _lower_pg,
            symmetric=True,
            citation="generate/propagate of a parallel-prefix adder",
        )
    )
    reg(
        CellType(
            "black",
            ("gh", "ph", "gl", "pl"),
            ("g", "p"),
            (None, None),
            lambda v: (v[0] | (v[1] & v[2]), v[1] & v[3]),
            lambda b, n: (
                b.gate(Op.OR, n[0], b.gate(Op.AND, n[1], n[2])),
                b.gate(Op.AND, n[1], n[3]),
            ),
            citation="prefix operator (g, p) o (g', p') = (g | p g', p p')",
        )
    )
    reg(
        CellType(
            "gray",
            ("gh", "ph", "gl"),
            ("g",),
            (None,),
            lambda v: (v[0] | (v[1] & v[2]),),
            lambda b, n: (b.gate(Op.OR, n[0], b.gate(Op.AND, n[1], n[2])),),
            citation="prefix operator, generate only",
        )
    )


_register_builtins()
