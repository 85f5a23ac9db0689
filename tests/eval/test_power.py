"""Power/area/delay model: per-cell hand computations from the Liberty tables,
mapping correctness, shipped table == regeneration, argument checks.

Tests that need the full NanGate Liberty read it from ``../shared/data/nangate45/``
and skip when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dse.errors import ConfigError
from dse.eval import (
    PowerEstimate,
    estimate_power,
    map_to_cells,
    pack_operands,
    simulate,
    toggle_statistics,
)

# private: the Liberty tables and activity steps are checked on their own
from dse.eval._liberty import LibertyLibrary, read_liberty

# private: the Liberty tables and activity steps are checked on their own
from dse.eval._library import CellLibrary, cell_table, liberty_md5
from dse.netlist import liberty_function_table

# private: the Liberty tables and activity steps are checked on their own
from dse.netlist._netlist import Netlist, Op, _bit_eval

REPO = Path(__file__).resolve().parents[2]
LIB_GZ = REPO.parent / "shared" / "data" / "nangate45" / "NangateOpenCellLibrary_typical.lib.gz"
SHIPPED = REPO / "dse" / "data" / "nangate45.json"


@pytest.fixture(scope="module")
def liberty() -> LibertyLibrary:
    if not LIB_GZ.exists():
        pytest.skip("the NanGate Liberty (../shared/data/nangate45/) is absent")
    return read_liberty(LIB_GZ)


@pytest.fixture(scope="module")
def library() -> CellLibrary:
    return CellLibrary.default()


# ---------------------------------------------------------------------------------------
# the shipped table


def test_shipped_table_matches_regeneration(liberty: LibertyLibrary) -> None:
    shipped = json.loads(SHIPPED.read_text())
    fresh = cell_table(liberty, source_md5=liberty_md5(LIB_GZ))
    assert json.loads(json.dumps(fresh)) == shipped


def test_from_liberty_equals_default(liberty: LibertyLibrary) -> None:
    a = CellLibrary.from_liberty(LIB_GZ)
    b = CellLibrary.default()
    assert a.roles == b.roles and a.role_cell == b.role_cell
    np.testing.assert_array_equal(a.ro_energy, b.ro_energy)
    np.testing.assert_array_equal(a.ro_delay, b.ro_delay)


def test_default_library_maps_the_x1_cells(library: CellLibrary) -> None:
    want = {
        "INV": "INV_X1", "BUF": "BUF_X1", "AND2": "AND2_X1", "OR2": "OR2_X1",
        "NAND2": "NAND2_X1", "NOR2": "NOR2_X1", "XOR2": "XOR2_X1", "XNOR2": "XNOR2_X1",
        "AND3": "AND3_X1", "OR3": "OR3_X1", "NAND3": "NAND3_X1", "NOR3": "NOR3_X1",
        "MUX2": "MUX2_X1", "AOI21": "AOI21_X1", "OAI21": "OAI21_X1", "AOI22": "AOI22_X1",
        "OAI22": "OAI22_X1", "AOI222": "AOI222_X1", "FA": "FA_X1", "HA": "HA_X1",
    }  # fmt: skip
    assert {r: library.cell_name(r) for r in library.roles} == want
    assert library.voltage == pytest.approx(1.1)
    assert 0.005 < library.power_slew_ns < 0.05


# role -> the gate op(s) it implements, positional inputs in the same order
_ROLE_OPS: dict[str, tuple[Op, ...]] = {
    "INV": (Op.INV,), "AND2": (Op.AND,), "OR2": (Op.OR,), "NAND2": (Op.NAND,),
    "NOR2": (Op.NOR,), "XOR2": (Op.XOR,), "XNOR2": (Op.XNOR,), "AND3": (Op.AND3,),
    "OR3": (Op.OR3,), "NAND3": (Op.NAND3,), "NOR3": (Op.NOR3,), "MUX2": (Op.MUX,),
    "AOI21": (Op.AOI21,), "OAI21": (Op.OAI21,), "AOI22": (Op.AOI22,), "OAI22": (Op.OAI22,),
    "FA": (Op.XOR3, Op.MAJ), "HA": (Op.XOR, Op.AND),
}  # fmt: skip


@pytest.mark.parametrize("role", sorted(_ROLE_OPS))
def test_role_pin_order_implements_the_op(library: CellLibrary, role: str) -> None:
    """The cell's Liberty function, pins in the table's role order, is the gate's op."""
    spec = library.table["roles"][role]
    cell = library.table["cells"][spec["cell"]]
    n = len(spec["inputs"])
    for out_pin, op in zip(spec["outputs"], _ROLE_OPS[role], strict=True):
        tt = liberty_function_table(cell["functions"][out_pin], spec["inputs"])
        for mt in range(1 << n):
            bits = [(mt >> k) & 1 for k in range(n)]
            assert tt[mt] == bool(_bit_eval(op, bits)), (role, out_pin, bits)


# ---------------------------------------------------------------------------------------
# one cell, by hand from the Liberty


def _one_cell_netlist(role: str) -> Netlist:
    ops = _ROLE_OPS[role]
    n = len(ROLE_ARITY[role])
    fanin = np.full((len(ops), 4), -1, dtype=np.int32)
    fanin[:, :n] = np.arange(n)
    groups = ((role, tuple(range(len(ops)))),) if role in ("FA", "HA") else ()
    return Netlist(
        name=f"one_{role}",
        input_ports=(("a", n),),
        output_ports=(("p", tuple(n + g for g in range(len(ops)))),),
        ops=np.array([int(o) for o in ops], dtype=np.uint8),
        fanin=fanin,
        groups=groups,
    )


_N_INPUTS = {
    "INV": 1, "AND2": 2, "OR2": 2, "NAND2": 2, "NOR2": 2, "XOR2": 2, "XNOR2": 2,
    "AND3": 3, "OR3": 3, "NAND3": 3, "NOR3": 3, "MUX2": 3, "AOI21": 3, "OAI21": 3,
    "AOI22": 4, "OAI22": 4, "FA": 3, "HA": 2,
}  # fmt: skip
ROLE_ARITY = {r: tuple(range(n)) for r, n in _N_INPUTS.items()}


def _bilinear(table, slew: float, load: float) -> float:  # type: ignore[no-untyped-def]
    """Textbook NLDM bilinear interpolation, written out independently of the model."""
    x, y, v = table.index_1, table.index_2, table.values
    i = min(max(int(np.searchsorted(x, slew)) - 1, 0), len(x) - 2)
    j = min(max(int(np.searchsorted(y, load)) - 1, 0), len(y) - 2)
    tx = (slew - x[i]) / (x[i + 1] - x[i])
    ty = (load - y[j]) / (y[j + 1] - y[j])
    return float(
        (1 - tx) * (1 - ty) * v[i, j]
        + tx * (1 - ty) * v[i + 1, j]
        + (1 - tx) * ty * v[i, j + 1]
        + tx * ty * v[i + 1, j + 1]
    )


def _when_p(when: str, pins: list[str], probs: dict[str, float]) -> float:
    """P(when) for independent pins with the given probabilities (by enumeration)."""
    if not when:
        return 1.0
    tt = liberty_function_table(when, pins)
    total = 0.0
    for mt in range(1 << len(pins)):
        if tt[mt]:
            pr = 1.0
            for k, pin in enumerate(pins):
                pr *= probs[pin] if (mt >> k) & 1 else 1 - probs[pin]
            total += pr
    return total


@pytest.mark.parametrize("role", sorted(_ROLE_OPS))
def test_one_cell_power_by_hand(liberty: LibertyLibrary, library: CellLibrary, role: str) -> None:
    nl = _one_cell_netlist(role)
    spec = library.table["roles"][role]
    cell = liberty.cells[spec["cell"]]
    pins = list(spec["inputs"])
    n_in = len(pins)
    n_out = len(spec["outputs"])
    rng = np.random.default_rng(len(role))
    tr = np.concatenate([rng.uniform(0.1, 0.6, n_in), rng.uniform(0.05, 0.5, n_out)])
    p = np.concatenate([rng.uniform(0.2, 0.8, n_in), rng.uniform(0.2, 0.8, n_out)])
    period, out_load = 2.0, 1.5
    est = estimate_power(nl, tr, p, library, clock_period_ns=period, output_load_ff=out_load)

    v = liberty.voltage
    wl = liberty.wire_loads[liberty.default_wire_load or ""]
    wire1 = wl.capacitance * dict(wl.fanout_length)[1]  # every net here has fan-out 1
    slew = library.power_slew_ns
    # switching: input nets see one pin + wire; outputs see the port load + wire
    c_in = [cell.capacitance[pin] + wire1 for pin in pins]
    c_out = out_load + wire1
    sw = 0.5 * v * v * (sum(tr[k] * c_in[k] for k in range(n_in)) + sum(tr[n_in:]) * c_out)
    # internal: per output, pins weighted by toggle rate × sensitisation at p = ½
    half = dict.fromkeys(pins, 0.5)
    internal = 0.0
    for o, out_pin in enumerate(spec["outputs"]):
        num = den = 0.0
        for k, pin in enumerate(pins):
            arcs = [a for a in cell.internal_power if a.pin == out_pin and a.related_pin == pin]
            if not arcs:
                continue
            pw = [_when_p(a.when, pins, half) for a in arcs]
            energy = sum(
                w
                * 0.5
                * (_bilinear(a.rise_power, slew, c_out) + _bilinear(a.fall_power, slew, c_out))
                for w, a in zip(pw, arcs, strict=True)
            ) / sum(pw)
            weight = tr[k] * min(sum(pw), 1.0)
            num += weight * energy
            den += weight
        internal += tr[n_in + o] * num / den
    for arc in cell.internal_power:  # hidden power of input pins (zero in NanGate)
        if arc.pin in pins and not arc.related_pin and arc.rise_power is not None:
            e = 0.5 * (
                float(np.interp(slew, arc.rise_power.index_1, arc.rise_power.values))
                + float(np.interp(slew, arc.fall_power.index_1, arc.fall_power.values))
            )  # type: ignore[union-attr]
            internal += tr[pins.index(arc.pin)] * e * _when_p(arc.when, pins, half)
    # leakage: state-dependent, input pins independent with their probabilities
    probs = {pin: p[k] for k, pin in enumerate(pins)}
    leak = sum(_when_p(w, pins, probs) * val for w, val in cell.leakage_states)

    assert est.switching_uw == pytest.approx(sw / period, rel=1e-5)
    assert est.internal_uw == pytest.approx(internal / period, rel=1e-5)
    assert est.leakage_uw == pytest.approx(leak * 1e-3, rel=1e-5)
    assert est.power_uw == pytest.approx(est.dynamic_uw + est.leakage_uw)
    assert est.area_um2 == pytest.approx(cell.area)
    assert est.cells == {cell.name: 1}
    # delay: the worst arc from a BUF-driven input, at least the cell's intrinsic delay
    assert 0 < est.delay_ns < 1.0


# ---------------------------------------------------------------------------------------
# mapping


def _simulate_mapping(nl: Netlist, vals: np.ndarray, library: CellLibrary) -> np.ndarray:
    """Evaluate the mapped cells (fixpoint over instances) from the primary inputs."""
    m = map_to_cells(nl, library)
    out = np.zeros((m.n_nets, vals.shape[1]), dtype=np.uint64)
    out[: nl.n_inputs] = vals[: nl.n_inputs]
    for g in range(nl.n_gates):  # constants are tie-offs, not cells
        if nl.ops[g] == Op.CONST1:
            out[nl.n_inputs + g] = ~np.uint64(0)
    ro_of = {v: k for k, v in library.ro_index.items()}
    spec = library.table
    for _ in range(m.n_nets):
        before = out.copy()
        for d in range(m.drv_net.size):
            role, k = ro_of[int(m.drv_ro[d])]
            ins = [int(x) for x in m.inst_in[m.drv_inst[d]] if x >= 0]
            cell = spec["cells"][spec["roles"][role]["cell"]]
            pin_names = spec["roles"][role]["inputs"]
            fn = cell["functions"][spec["roles"][role]["outputs"][k]]
            tt = liberty_function_table(fn, pin_names)
            res = np.zeros(vals.shape[1], dtype=np.uint64)
            for mt in np.flatnonzero(tt):
                term = ~np.uint64(0) * np.ones(vals.shape[1], dtype=np.uint64)
                for j, net in enumerate(ins):
                    term &= out[net] if (mt >> j) & 1 else ~out[net]
                res |= term
            out[m.drv_net[d]] = res
        if np.array_equal(before, out):
            break
    return out[m.port_nets]


@pytest.mark.parametrize("spec", ["dadda:4", "booth:4,signed", "array:4,signed", "wallace:4,loa=2"])
def test_mapping_is_functionally_the_netlist(library: CellLibrary, spec: str) -> None:
    from dse.arith import from_spec, lower

    nl = lower(from_spec(spec))
    rng = np.random.default_rng(0)
    a = rng.integers(0, 16, 256, dtype=np.uint64)
    b = rng.integers(0, 16, 256, dtype=np.uint64)
    vals = simulate(nl, pack_operands(a, b, 4, 4))
    ports = [n for _, nets in nl.output_ports for n in nets]
    np.testing.assert_array_equal(_simulate_mapping(nl, vals, library), vals[ports])


def _all_ops_netlist() -> Netlist:
    """Every multi-input op standalone (decompositions: XOR3, XNOR3, MAJ) plus a BUF."""
    ops = [Op.XOR3, Op.XNOR3, Op.MAJ, Op.MUX, Op.AOI21, Op.OAI22, Op.NAND3, Op.BUF, Op.AND]
    fan = [[0, 1, 2, -1], [1, 2, 3, -1], [0, 2, 3, -1], [0, 1, 2, -1], [1, 2, 3, -1],
           [0, 1, 2, 3], [0, 1, 3, -1], [6, -1, -1, -1], [11, 4, -1, -1]]  # fmt: skip
    return Netlist(
        name="ops",
        input_ports=(("a", 4),),
        output_ports=(("p", tuple(range(4, 4 + len(ops)))),),
        ops=np.array([int(o) for o in ops], dtype=np.uint8),
        fanin=np.array(fan, dtype=np.int32),
    )


def test_decompositions_are_functionally_correct(library: CellLibrary) -> None:
    nl = _all_ops_netlist()
    words = pack_operands(np.arange(16, dtype=np.uint64), np.zeros(16, dtype=np.uint64), 4, 0)
    vals = simulate(nl, words)
    got = _simulate_mapping(nl, vals, library)
    ports = [n for _, nets in nl.output_ports for n in nets]
    np.testing.assert_array_equal(got, vals[ports])
    m = map_to_cells(nl, library)
    assert m.cells["AOI222_X1"] == 1  # MAJ -> AOI222 + INV
    assert m.cells["XOR2_X1"] == 3  # XOR3 -> 2 XOR2, XNOR3 -> XOR2 + XNOR2
    assert "BUF_X1" not in m.cells  # buffers are wires


def test_internal_net_activity_matches_simulation(library: CellLibrary) -> None:
    """Decomposition-internal nets get the exact toggle rate for independent inputs."""
    nl = _all_ops_netlist()
    rng = np.random.default_rng(3)
    n = 1 << 16
    a = rng.integers(0, 16, n, dtype=np.uint64)
    vals = simulate(nl, pack_operands(a, np.zeros(n, dtype=np.uint64), 4, 0))
    tr, p = toggle_statistics(vals, n)
    # private: the Liberty tables and activity steps are checked on their own
    from dse.eval._power import _internal_activity

    m = map_to_cells(nl, library)
    t_int, p_int = _internal_activity(m, tr, p)
    # internal nets XOR(a0,a1), XOR(a1,a2) and the AOI222 (= !MAJ) of the MAJ gate, computed
    # from the simulated trace directly
    bit = [(a >> np.uint64(k)) & np.uint64(1) for k in range(4)]
    maj = (bit[0] & bit[2]) | (bit[0] & bit[3]) | (bit[2] & bit[3])
    want = [np.mean(x[1:] != x[:-1]) for x in (bit[0] ^ bit[1], bit[1] ^ bit[2], maj)]
    assert sorted(t_int) == pytest.approx(sorted(want), abs=0.01)
    assert np.all((p_int >= 0) & (p_int <= 1))


# ---------------------------------------------------------------------------------------
# behaviour


def _uniform(spec: str, n: int = 4096) -> tuple[Netlist, np.ndarray, np.ndarray]:
    from dse.arith import from_spec, lower

    nl = lower(from_spec(spec))
    wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
    rng = np.random.default_rng(7)
    a = rng.integers(0, 1 << wa, n, dtype=np.uint64)
    b = rng.integers(0, 1 << wb, n, dtype=np.uint64)
    tr, p = toggle_statistics(simulate(nl, pack_operands(a, b, wa, wb)), n)
    return nl, tr, p


def test_estimate_is_consistent_and_scales_with_period() -> None:
    nl, tr, p = _uniform("dadda:8")
    e1 = estimate_power(nl, tr, p)
    e2 = estimate_power(nl, tr, p, clock_period_ns=2.0)
    assert isinstance(e1, PowerEstimate)
    assert e1.power_uw == pytest.approx(e1.internal_uw + e1.switching_uw + e1.leakage_uw)
    assert e2.dynamic_uw == pytest.approx(e1.dynamic_uw / 2)
    assert e2.leakage_uw == pytest.approx(e1.leakage_uw)
    assert e1.cells == {"AND2_X1": 64, "FA_X1": 48, "HA_X1": 8}
    assert e1.area_um2 == pytest.approx(64 * 1.064 + 48 * 4.256 + 8 * 2.66)  # NanGate X1 areas
    assert 0.5 < e1.delay_ns < 3.0
    zero = estimate_power(nl, np.zeros_like(tr), p)
    assert zero.dynamic_uw == 0 and zero.leakage_uw == pytest.approx(e1.leakage_uw)
    more_load = estimate_power(nl, tr, p, output_load_ff=10.0)
    assert more_load.switching_uw > e1.switching_uw and more_load.delay_ns > e1.delay_ns


def test_approximation_lowers_power() -> None:
    exact = estimate_power(*_uniform("dadda:8"))
    trunc = estimate_power(*_uniform("dadda:8,truncate=6"))
    assert trunc.power_uw < exact.power_uw and trunc.area_um2 < exact.area_um2


def test_bad_activity_shape_is_a_config_error() -> None:
    nl, tr, p = _uniform("dadda:4")
    with pytest.raises(ConfigError, match=r"toggle_rate and one_prob must have shape"):
        estimate_power(nl, tr[:-1], p)
    with pytest.raises(ConfigError, match="clock_period_ns"):
        estimate_power(nl, tr, p, clock_period_ns=0.0)


def test_structural_verilog_names_library_cells(library: CellLibrary) -> None:
    nl, _, _ = _uniform("dadda:4")
    text = map_to_cells(nl, library).to_verilog(nl, module="m")
    assert text.startswith("module m (a, b, p);")
    assert text.count("FA_X1 ") == 8 and "HA_X1 " in text and text.rstrip().endswith("endmodule")
