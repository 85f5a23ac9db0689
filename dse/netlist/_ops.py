"""The gate-op registry: what every gate function of the netlist means, in one place.

A :class:`GateOp` gives one single-output gate function its name, arity, bitwise truth
function (which is also its bit-parallel simulation: ``~ & | ^`` on ``uint64`` words
evaluate 64 vectors at once) and its forms in each output format: a Verilog
``assign`` expression, a C expression, an optional BLIF cover and optional Verilog gate
primitives. The tables the rest of dse reads — :data:`ARITY`, :data:`SYMMETRIC_OPS`,
the 0/1 truth tables that fold constants, the writers' formats — are derived from the
registry, so a gate's semantics live in one record.

The built-in gates are the members of :class:`Op` (codes 0–21, the values stored in
:attr:`Netlist.ops <dse.netlist.Netlist.ops>`). :func:`register_gate_op` adds a gate
under the next free code (at most 255: ops are ``uint8``)::

    ANDNOT = register_gate_op(
        GateOp("ANDNOT", 2, lambda a, b: a & ~b, verilog="{0} & ~{1}", c="{0} & ({1} ^ 1u)")
    )

Limits: the compiled kernels (numba) keep literal branches for the built-in codes, as
their speed needs integer op codes in the code itself; tests check them against this
registry. A registered gate runs on the interpreted paths: ``dse.eval.simulate`` sends a
netlist that uses one to its numpy reference, the Verilog, BLIF and C writers write it
and the BLIF reader matches covers against it. Lowering never emits one, and the
technology mapper (power, area, delay) rejects it with a one-line error.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.errors import ConfigError

__all__ = [
    "ARITY",
    "SYMMETRIC_OPS",
    "GateOp",
    "Op",
    "gate_op",
    "gate_ops",
    "register_gate_op",
    "unregister_gate_op",
]


class Op(enum.IntEnum):
    """Single-output gate functions. ``MUX(a, b, s) = s ? b : a`` (yosys ``$_MUX_`` order)."""

    CONST0 = 0
    CONST1 = 1
    BUF = 2
    INV = 3
    AND = 4
    OR = 5
    XOR = 6
    NAND = 7
    NOR = 8
    XNOR = 9
    AND3 = 10
    OR3 = 11
    NAND3 = 12
    NOR3 = 13
    XOR3 = 14
    XNOR3 = 15
    MAJ = 16
    MUX = 17
    AOI21 = 18  # !((a & b) | c)
    OAI21 = 19  # !((a | b) & c)
    AOI22 = 20  # !((a & b) | (c & d))
    OAI22 = 21  # !((a | b) & (c | d))


#: Steps of a Verilog gate-primitive form: ``(primitive, output, inputs)``; ``"t<k>"``
#: names a temporary, ``"o"`` the gate's output, digits the gate's inputs.
PrimitiveSteps = tuple[tuple[str, str, tuple[str, ...]], ...]

#: Most inputs of a gate (the netlist's fan-in array has four columns).
MAX_ARITY = 4
_MAX_CODE = 255


@dataclass(frozen=True)
class GateOp:
    """One gate function and its forms in every format dse reads and writes.

    Attributes:
        name: upper-case name, unique (``"AND"``, ``"AOI21"``).
        arity: number of inputs, 1 to 4 (0 only for the built-in constants).
        function: the gate on its inputs with ``~ & | ^`` only, so that it works bit by
            bit on Python ints (the 0/1 value is the result's bit 0) and on ``uint64``
            words (64 vectors at once).
        verilog: a Verilog expression over ``{0}`` … ``{n-1}`` (the ``assign`` form).
        c: a C expression over 0/1 ``uint64_t`` values ``{0}`` … that is 0 or 1.
        blif: the on-set cubes of a BLIF ``.names`` cover; ``None``: the minterms.
        primitives: Verilog gate-primitive steps for ``write_verilog(style="gates")``;
            ``None``: that style cannot write the gate.
        code: the value stored in a netlist's ``ops`` (set on registration).
        symmetric: the output does not depend on the order of the inputs (derived).
    """

    name: str
    arity: int
    function: Callable[..., Any]
    verilog: str
    c: str
    blif: tuple[str, ...] | None = None
    primitives: PrimitiveSteps | None = None
    code: int = -1
    symmetric: bool = field(default=False, compare=False)

    def bit(self, ins: Sequence[int]) -> int:
        """The output on 0/1 inputs (missing inputs read 0)."""
        padded = [*ins[: self.arity], *[0] * (self.arity - len(ins))]
        return int(self.function(*padded)) & 1

    def truth_table(self) -> list[int]:
        """Output for each of 16 minterms: input ``k`` is bit ``k`` of the minterm."""
        return [self.bit([(m >> k) & 1 for k in range(self.arity)]) for m in range(16)]

    def cover(self) -> tuple[str, ...]:
        """The BLIF on-set cubes: :attr:`blif`, or the minterms (first input first)."""
        if self.blif is not None:
            return self.blif
        return tuple(
            "".join(map(str, bits))
            for bits in itertools.product((0, 1), repeat=self.arity)
            if self.bit(bits)
        )


def _symmetric(arity: int, function: Callable[..., Any]) -> bool:
    if arity < 2:
        return False
    table = {bits: int(function(*bits)) & 1 for bits in itertools.product((0, 1), repeat=arity)}
    return all(
        table[bits] == table[tuple(bits[p] for p in perm)]
        for bits in table
        for perm in itertools.permutations(range(arity))
    )


_REGISTRY: list[GateOp] = []
_BY_NAME: dict[str, GateOp] = {}

# Tables derived from the registry, indexed by op code. They are updated in place on
# registration, so the modules that imported them (the builder's hot path) see new ops.
#: ``_ARITY_INT[code]``: the gate's number of inputs.
_ARITY_INT: list[int] = []
#: ``_TRUTH[code][m]``: the output on the inputs whose bit ``k`` is bit ``k`` of ``m``.
_TRUTH: list[list[int]] = []
#: Codes of the gates whose inputs may be reordered.
_SYMMETRIC_INT: set[int] = set()


def register_gate_op(op: GateOp) -> GateOp:
    """Add a gate function to the registry under the next free code; returns it with its code.

    Raises:
        ConfigError: the name is taken, the arity is not 1 to 4, the function does not
            evaluate on 0/1 inputs, or all 256 codes are used.
    """
    return _register(op, builtin=False)


def _register(op: GateOp, *, builtin: bool) -> GateOp:
    name = op.name
    if not name or name != name.upper() or not name.replace("_", "").isalnum():
        raise ConfigError(f"gate op name {name!r}: expected an upper-case identifier")
    if name in _BY_NAME:
        raise ConfigError(f"gate op {name!r} is already registered (code {_BY_NAME[name].code})")
    if not (0 if builtin else 1) <= op.arity <= MAX_ARITY:
        raise ConfigError(f"gate op {name!r}: arity {op.arity}; expected 1 to {MAX_ARITY}")
    code = len(_REGISTRY)
    if code > _MAX_CODE:
        raise ConfigError(f"gate op {name!r}: all {_MAX_CODE + 1} op codes are used")
    try:
        symmetric = _symmetric(op.arity, op.function)
    except Exception as err:  # a user's function: say which op failed, not where
        raise ConfigError(f"gate op {name!r}: function fails on 0/1 inputs ({err})") from None
    entry = GateOp(
        name, op.arity, op.function, op.verilog, op.c, op.blif, op.primitives, code, symmetric
    )
    _REGISTRY.append(entry)
    _BY_NAME[name] = entry
    _ARITY_INT.append(entry.arity)
    _TRUTH.append(entry.truth_table())
    if symmetric:
        _SYMMETRIC_INT.add(code)
    return entry


def unregister_gate_op(name: str) -> None:
    """Remove the gate registered last (codes stay dense), e.g. when a test ends.

    Raises:
        ConfigError: ``name`` is a built-in gate or not the one registered last.
    """
    last = _REGISTRY[-1]
    if last.name != name.upper() or last.code < len(Op):
        raise ConfigError(
            f"gate op {name!r}: only the gate registered last ({last.name}) can be removed, "
            f"and never a built-in one"
        )
    _REGISTRY.pop()
    del _BY_NAME[last.name]
    _ARITY_INT.pop()
    _TRUTH.pop()
    _SYMMETRIC_INT.discard(last.code)


def gate_op(op: int | str) -> GateOp:
    """The registered gate with code or name ``op`` (an :class:`Op` is its code).

    Raises:
        ConfigError: no such gate.
    """
    if isinstance(op, str):
        found = _BY_NAME.get(op.upper())
    else:
        code = int(op)
        found = _REGISTRY[code] if 0 <= code < len(_REGISTRY) else None
    if found is None:
        raise ConfigError(f"unknown gate op {op!r}; known: {', '.join(_BY_NAME)}")
    return found


def gate_ops() -> Iterator[GateOp]:
    """Every registered gate, by code (the built-in :class:`Op` members first)."""
    return iter(tuple(_REGISTRY))


def arity_array() -> np.ndarray:
    """``int64`` arity per op code, for compiled kernels (rebuilt after a registration)."""
    global _ARITY_NP
    if _ARITY_NP.shape[0] != len(_ARITY_INT):
        _ARITY_NP = np.array(_ARITY_INT, dtype=np.int64)
    return _ARITY_NP


def _builtin(
    op: Op,
    function: Callable[..., Any],
    verilog: str,
    c: str,
    blif: tuple[str, ...] | None,
    primitives: PrimitiveSteps | None,
) -> None:
    arity = function.__code__.co_argcount
    entry = _register(GateOp(op.name, arity, function, verilog, c, blif, primitives), builtin=True)
    assert entry.code == op  # the registry's codes are the enum's values


def _p(*steps: tuple[str, str, tuple[str, ...]]) -> PrimitiveSteps:
    return steps


# fmt: off
_builtin(Op.CONST0, lambda: 0, "1'b0", "UINT64_C(0)", (), None)
_builtin(Op.CONST1, lambda: ~0, "1'b1", "UINT64_C(1)", ("",), None)
_builtin(Op.BUF, lambda a: a, "{0}", "{0}", ("1",), _p(("buf", "o", ("0",))))
_builtin(Op.INV, lambda a: ~a, "~{0}", "{0} ^ 1u", ("0",), _p(("not", "o", ("0",))))
_builtin(Op.AND, lambda a, b: a & b, "{0} & {1}", "{0} & {1}", ("11",),
         _p(("and", "o", ("0", "1"))))
_builtin(Op.OR, lambda a, b: a | b, "{0} | {1}", "{0} | {1}", ("1-", "-1"),
         _p(("or", "o", ("0", "1"))))
_builtin(Op.XOR, lambda a, b: a ^ b, "{0} ^ {1}", "{0} ^ {1}", ("10", "01"),
         _p(("xor", "o", ("0", "1"))))
_builtin(Op.NAND, lambda a, b: ~(a & b), "~({0} & {1})", "({0} & {1}) ^ 1u", ("0-", "-0"),
         _p(("nand", "o", ("0", "1"))))
_builtin(Op.NOR, lambda a, b: ~(a | b), "~({0} | {1})", "({0} | {1}) ^ 1u", ("00",),
         _p(("nor", "o", ("0", "1"))))
_builtin(Op.XNOR, lambda a, b: ~(a ^ b), "~({0} ^ {1})", "{0} ^ {1} ^ 1u", ("00", "11"),
         _p(("xnor", "o", ("0", "1"))))
_builtin(Op.AND3, lambda a, b, c: a & b & c, "{0} & {1} & {2}", "{0} & {1} & {2}", ("111",),
         _p(("and", "o", ("0", "1", "2"))))
_builtin(Op.OR3, lambda a, b, c: a | b | c, "{0} | {1} | {2}", "{0} | {1} | {2}",
         ("1--", "-1-", "--1"), _p(("or", "o", ("0", "1", "2"))))
_builtin(Op.NAND3, lambda a, b, c: ~(a & b & c), "~({0} & {1} & {2})",
         "({0} & {1} & {2}) ^ 1u", ("0--", "-0-", "--0"), _p(("nand", "o", ("0", "1", "2"))))
_builtin(Op.NOR3, lambda a, b, c: ~(a | b | c), "~({0} | {1} | {2})",
         "({0} | {1} | {2}) ^ 1u", ("000",), _p(("nor", "o", ("0", "1", "2"))))
_builtin(Op.XOR3, lambda a, b, c: a ^ b ^ c, "{0} ^ {1} ^ {2}", "{0} ^ {1} ^ {2}", None,
         _p(("xor", "t0", ("0", "1")), ("xor", "o", ("t0", "2"))))
_builtin(Op.XNOR3, lambda a, b, c: ~(a ^ b ^ c), "~({0} ^ {1} ^ {2})",
         "{0} ^ {1} ^ {2} ^ 1u", None,
         _p(("xor", "t0", ("0", "1")), ("xnor", "o", ("t0", "2"))))
_builtin(Op.MAJ, lambda a, b, c: (a & b) | (a & c) | (b & c),
         "({0} & {1}) | ({0} & {2}) | ({1} & {2})", "({0} & {1}) | ({0} & {2}) | ({1} & {2})",
         ("11-", "1-1", "-11"),
         _p(("and", "t0", ("0", "1")), ("and", "t1", ("0", "2")), ("and", "t2", ("1", "2")),
            ("or", "o", ("t0", "t1", "t2"))))
_builtin(Op.MUX, lambda a, b, s: a ^ ((a ^ b) & s), "{2} ? {1} : {0}", "{2} ? {1} : {0}",
         ("1-0", "-11"),
         _p(("not", "t0", ("2",)), ("and", "t1", ("0", "t0")), ("and", "t2", ("1", "2")),
            ("or", "o", ("t1", "t2"))))
_builtin(Op.AOI21, lambda a, b, c: ~((a & b) | c), "~(({0} & {1}) | {2})",
         "(({0} & {1}) | {2}) ^ 1u", ("0-0", "-00"),
         _p(("and", "t0", ("0", "1")), ("nor", "o", ("t0", "2"))))
_builtin(Op.OAI21, lambda a, b, c: ~((a | b) & c), "~(({0} | {1}) & {2})",
         "(({0} | {1}) & {2}) ^ 1u", ("00-", "--0"),
         _p(("or", "t0", ("0", "1")), ("nand", "o", ("t0", "2"))))
_builtin(Op.AOI22, lambda a, b, c, d: ~((a & b) | (c & d)), "~(({0} & {1}) | ({2} & {3}))",
         "(({0} & {1}) | ({2} & {3})) ^ 1u", None,
         _p(("and", "t0", ("0", "1")), ("and", "t1", ("2", "3")), ("nor", "o", ("t0", "t1"))))
_builtin(Op.OAI22, lambda a, b, c, d: ~((a | b) & (c | d)), "~(({0} | {1}) & ({2} | {3}))",
         "(({0} | {1}) & ({2} | {3})) ^ 1u", None,
         _p(("or", "t0", ("0", "1")), ("or", "t1", ("2", "3")), ("nand", "o", ("t0", "t1"))))
# fmt: on

_ARITY_NP = np.array(_ARITY_INT, dtype=np.int64)

#: Inputs per built-in gate.
ARITY: dict[Op, int] = {op: _ARITY_INT[op] for op in Op}
#: The built-in gates whose output does not depend on the order of their inputs.
SYMMETRIC_OPS: frozenset[Op] = frozenset(op for op in Op if op in _SYMMETRIC_INT)


def _bit_eval(op: int, ins: Sequence[int]) -> int:
    """The output of gate ``op`` on 0/1 values (missing inputs read 0)."""
    return _REGISTRY[op].bit(ins)
