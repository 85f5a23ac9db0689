"""The gate-op registry: built-in tables agree with it, and a gate added from outside
the package is simulated, written and read back.

Two private imports, on purpose: the numpy reference simulator and the mapper's truth
tables keep literal branches per built-in op code, and are checked here against the
registry they must agree with.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from dse.errors import ConfigError, DataError, NetlistError
from dse.eval import exhaustive_input_words, map_to_cells, simulate

# private: a registered op must reach the reference simulator and the mapper
from dse.eval._sim import simulate_reference

# private: a registered op must reach the reference simulator and the mapper
from dse.eval._techmap_cuts import _op_tt
from dse.netlist import (
    ARITY,
    SYMMETRIC_OPS,
    GateOp,
    Netlist,
    Op,
    gate_op,
    gate_ops,
    netlist_from_gates,
    read_blif_text,
    read_verilog_text,
    register_gate_op,
    unregister_gate_op,
    write_blif,
    write_c,
    write_verilog,
)

_VAR = (0xAAAA, 0xCCCC, 0xF0F0, 0xFF00)


def _one_gate(code: int, arity: int) -> Netlist:
    """A netlist of one gate over inputs ``a`` (``arity`` bits) and ``b`` (1 unused bit)."""
    bits = [f"x{k}" for k in range(arity)]
    return netlist_from_gates(
        "one", [("a", bits), ("b", ["y"])], [("p", ["z"])], [("z", code, bits, "t")]
    )


def test_builtin_tables_come_from_the_registry() -> None:
    builtins = [g for g in gate_ops() if g.code < len(Op)]
    assert [g.code for g in builtins] == [int(op) for op in Op]
    assert [g.name for g in builtins] == [op.name for op in Op]
    assert {op: gate_op(op).arity for op in Op} == ARITY
    assert {op for op in Op if gate_op(op).symmetric} == SYMMETRIC_OPS
    assert gate_op("xor3") is gate_op(Op.XOR3)


@pytest.mark.parametrize("op", [op for op in Op if ARITY[op] > 0], ids=lambda op: op.name)
def test_literal_kernels_agree_with_the_registry(op: Op) -> None:
    spec = gate_op(op)
    # the mapper's 16-bit truth tables
    ins = [_VAR[k] for k in range(spec.arity)] + [0] * (4 - spec.arity)
    want = sum(bit << m for m, bit in enumerate(spec.truth_table()))
    assert _op_tt(int(op), *ins) & 0xFFFF == want
    # the simulators (compiled where numba is, and numpy)
    nl = _one_gate(int(op), spec.arity)
    words = exhaustive_input_words(spec.arity, 1)
    for vals in (simulate(nl, words), simulate_reference(nl, words)):
        got = vals[nl.output_ports[0][1][0]]
        inputs = [words[k] for k in range(spec.arity)]
        np.testing.assert_array_equal(got, spec.function(*inputs))


@pytest.fixture
def andxor() -> Iterator[GateOp]:
    spec = register_gate_op(
        GateOp(
            "ANDXOR",
            3,
            lambda a, b, c: a ^ (b & c),
            verilog="{0} ^ ({1} & {2})",
            c="{0} ^ ({1} & {2})",
        )
    )
    yield spec
    unregister_gate_op("ANDXOR")


def _outputs(nl: Netlist) -> list[int]:
    vals = simulate(nl, exhaustive_input_words(3, 1))
    word = int(vals[nl.output_ports[0][1][0]][0])
    return [(word >> v) & 1 for v in range(16)]


def test_registered_gate_is_simulated_written_and_read(andxor: GateOp) -> None:
    assert andxor.code == len(Op) and not andxor.symmetric
    nl = _one_gate(andxor.code, 3)
    assert nl.ops.tolist() == [andxor.code]
    # vector v: a = bits 1..3 of v, b = bit 0 (the operand order of exhaustive words)
    want = [((v >> 1) & 1) ^ ((v >> 2) & 1 & (v >> 3)) for v in range(16)]
    assert _outputs(nl) == want
    assert "ANDXOR" in nl.to_text()

    # BLIF: the writer uses its minterm cover, the reader matches it back to the gate
    text = write_blif(nl)
    assert ".names a[0] a[1] a[2] n4\n011 0\n" not in text
    assert ".names a[0] a[1] a[2] n4\n" in text and "\n100 1\n" in text
    back = read_blif_text(text)
    assert andxor.code in back.ops.tolist()
    assert _outputs(back) == want

    # Verilog: the writer uses its expression; the reader builds it from built-in gates
    verilog = write_verilog(nl)
    assert "a[0] ^ (a[1] & a[2])" in verilog
    assert _outputs(read_verilog_text(verilog)) == want
    with pytest.raises(NetlistError, match="ANDXOR has no gate-primitive form"):
        write_verilog(nl, style="gates")

    assert "a_0 ^ (a_1 & a_2)" in write_c(nl)


def test_registered_gate_limits(andxor: GateOp) -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register_gate_op(GateOp("ANDXOR", 2, lambda a, b: a, verilog="{0}", c="{0}"))
    with pytest.raises(ConfigError, match="arity 5"):
        register_gate_op(GateOp("WIDE", 5, lambda *x: x[0], verilog="{0}", c="{0}"))
    with pytest.raises(ConfigError, match="only the gate registered last"):
        unregister_gate_op("AND")
    with pytest.raises(DataError, match="gate 0 is a ANDXOR, a registered gate"):
        map_to_cells(_one_gate(andxor.code, 3))


def test_unregistered_gate_is_gone() -> None:
    with pytest.raises(ConfigError, match="unknown gate op 'ANDXOR'"):
        gate_op("ANDXOR")
    assert all(g.code < len(Op) for g in gate_ops())
    assert list(itertools.islice(gate_ops(), 2)) == [gate_op(Op.CONST0), gate_op(Op.CONST1)]
