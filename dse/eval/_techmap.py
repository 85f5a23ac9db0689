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

import functools
from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA
from dse.errors import DataError
from dse.eval._library import MAX_PINS, CellLibrary
from dse.eval._supergates import Supergates, supergates
from dse.eval._techmap_cover import _cover_steps, cover_steps_kernel
from dse.eval._techmap_cuts import MAX_CUTS, _cut_steps, cut_steps_kernel
from dse.netlist import ARITY, Op, gate_op

__all__ = ["MAX_CUTS", "Supergates", "supergates", "techmap"]


def _run_steps(
    steps: tuple[Any, ...],
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
    """The mapping kernel: the cut steps, then the cover steps (module docstring)."""
    cut_steps, cover_steps = steps
    cuts = cut_steps(ops, fanin, n_in, arity, support, pair_role)
    return cover_steps(
        ops, fanin, n_in, arity, out_nets, cuts, sg_match, sg_area, sg_steps, sg_role, sg_ro,
        sg_refs, sg_table, pair_role, pair_ro, pair_area, inv_role, inv_ro, inv_area, max_pins,
    )  # fmt: skip


#: The mapping kernel as Python: the same code the compiled kernel runs.
_techmap: Any = functools.partial(_run_steps, (_cut_steps, _cover_steps))
#: The mapping kernel: its two halves compiled (each cached with its own module), or
#: the Python steps without numba.
techmap_kernel: Any = (
    functools.partial(_run_steps, (cut_steps_kernel, cover_steps_kernel))
    if HAVE_NUMBA
    else _techmap
)

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
    if ops.size and int(ops.max()) >= len(Op):
        g = int(np.argmax(ops >= len(Op)))
        raise DataError(
            f"gate {g} is a {gate_op(int(ops[g])).name}, a registered gate the technology "
            f"mapper does not take; it maps the built-in gates ({', '.join(o.name for o in Op)})"
        )
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
