"""Switching-activity power, area and delay of a netlist over a cell library.

The model (equations in ``docs/power.md``):

* **Mapping** (:func:`map_to_cells`): the netlist is covered with library cells by
  function (:mod:`dse.eval._techmap`: cut enumeration, Boolean matching, full and
  half adders found from any gates that compute them, area-oriented cover), so the
  same circuit gets the same cells whoever wrote its netlist. Buffers are wires,
  constants are tie-offs (no cell), as in a synthesised netlist.
* **Switching power** (Najm, "A survey of power estimation techniques in VLSI
  circuits", IEEE TVLSI 2(4), 1994, eq. 1): ``P_sw = Σ_n α_n · ½ C_n V² / T`` with
  ``α_n`` the net's toggles per clock from simulating the operand trace (exact,
  zero-delay) and ``C_n`` = fan-out pin capacitances + wire-load capacitance (the
  library's default wire-load model, by pin fan-out) + the output load on product
  bits.
* **Internal power**: per cell output, ``α_out · E_int / T`` where ``E_int`` is the
  Liberty ``internal_power`` energy per output transition (mean of rise and fall) at
  the stated input slew and the net's actual load, averaged over the input pins
  weighted by each pin's toggle rate times its sensitisation probability; plus the
  input pins' hidden energy per input toggle (Liberty Reference Manual,
  "internal_power group": values are energies per transition excluding load
  charging).
* **Leakage**: state-dependent ``leakage_power`` values weighted by the probability
  of each input minterm, inputs treated as independent with their simulated static
  probabilities.
* **Area**: Σ cell areas. **Delay**: longest path with NLDM lookups (bilinear in
  input slew and output load) per arc, slews propagated one step from a first
  estimate at the typical slew; primary inputs driven by the library's BUF cell
  (as the reference flow's ``set_driving_cell``).

Units: µW, fJ, fF, ns, µm². ``fJ / ns = µW``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from dse.errors import ConfigError
from dse.eval import _power_kernels
from dse.eval._library import MAX_PINS, CellLibrary
from dse.eval._techmap import techmap
from dse.netlist import Netlist, Op

__all__ = [
    "CellMapping",
    "PowerEstimate",
    "estimate_power",
    "map_to_cells",
]


@dataclass(frozen=True, eq=False)
class CellMapping:
    """A netlist mapped onto library cells, as flat arrays.

    Nets ``0 .. n_orig-1`` are the netlist's own nets; nets from ``n_orig`` on are
    internal nets of decompositions. ``inst_*`` are per cell instance; ``drv_*`` per
    driven net (a multi-output cell has one row per output).
    """

    library: CellLibrary
    n_orig: int
    n_nets: int
    inst_role: np.ndarray  # (I,) role index
    inst_in: np.ndarray  # (I, MAX_PINS) input nets in role pin order, -1 unused
    drv_inst: np.ndarray  # (D,) instance
    drv_ro: np.ndarray  # (D,) role-output index of the library
    drv_net: np.ndarray  # (D,) net driven
    port_nets: np.ndarray  # output-port nets (aliases resolved), one per port bit
    input_nets: np.ndarray  # primary-input nets
    alias: np.ndarray  # (n_orig,) net -> net actually carrying it (buffers are wires)
    int_fanin: np.ndarray  # (N_int, 4) original nets an internal net is a function of
    int_table: np.ndarray  # (N_int, 16) bool truth table of it over those nets
    pin_cap_ff: np.ndarray  # (n_nets,) Σ input-pin capacitance on the net
    fanout: np.ndarray  # (n_nets,) pin fan-out incl. output ports
    wire_cap_ff: np.ndarray  # (n_nets,) wire-load capacitance
    port_count: np.ndarray  # (n_nets,) number of output-port bits on the net
    cells: dict[str, int] = field(default_factory=dict)
    #: drivers in topological order (every driver after those of its input nets)
    drv_order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    area_um2: float = 0.0
    names: tuple[str, ...] = ()

    @property
    def n_instances(self) -> int:
        return int(self.inst_role.shape[0])

    def to_verilog(self, netlist: Netlist, module: str | None = None) -> str:
        """The mapped netlist as structural Verilog instantiating the library cells."""
        lib = self.library
        table = lib.table
        name = module or netlist.name
        net_name: dict[int, str] = {}
        base = 0
        ports: list[str] = []
        decls: list[str] = []
        for pname, width in netlist.input_ports:
            for i in range(width):
                net_name[base + i] = f"{pname}[{i}]"
            base += width
            ports.append(pname)
            decls.append(f"  input [{width - 1}:0] {pname};")
        for pname, nets in netlist.output_ports:
            ports.append(pname)
            decls.append(f"  output [{len(nets) - 1}:0] {pname};")

        def nm(n: int) -> str:
            return net_name.get(int(n), f"n{int(n)}")

        body: list[str] = []
        wires = sorted({int(n) for n in self.drv_net})
        for w in wires:
            decls.append(f"  wire n{w};")
        out_of_inst: dict[int, dict[int, int]] = {}
        for d in range(self.drv_inst.shape[0]):
            k = int(self.drv_ro[d])
            ro_out = next(key for key, v in lib.ro_index.items() if v == k)[1]
            out_of_inst.setdefault(int(self.drv_inst[d]), {})[ro_out] = int(self.drv_net[d])
        for i in range(self.n_instances):
            role = lib.roles[int(self.inst_role[i])]
            spec = table["roles"][role]
            conns = [f".{pin}({nm(self.inst_in[i, k])})" for k, pin in enumerate(spec["inputs"])]
            outs = out_of_inst.get(i, {})
            conns += [
                f".{pin}({nm(outs[k])})" for k, pin in enumerate(spec["outputs"]) if k in outs
            ]
            body.append(f"  {spec['cell']} u{i} ({', '.join(conns)});")
        off = 0
        for pname, nets in netlist.output_ports:
            for i, _ in enumerate(nets):
                n = int(self.port_nets[off + i])
                if n >= netlist.n_inputs and netlist.ops[n - netlist.n_inputs] in (
                    Op.CONST0,
                    Op.CONST1,
                ):
                    val = int(netlist.ops[n - netlist.n_inputs] == Op.CONST1)
                    body.append(f"  assign {pname}[{i}] = 1'b{val};")
                else:
                    body.append(f"  assign {pname}[{i}] = {nm(n)};")
            off += len(nets)
        return "\n".join([f"module {name} ({', '.join(ports)});", *decls, *body, "endmodule", ""])


@dataclass(frozen=True)
class PowerEstimate:
    """Power (µW at the given clock period), area (µm²) and delay (ns) of one netlist.

    ``power_uw = dynamic_uw + leakage_uw`` and ``dynamic_uw = internal_uw +
    switching_uw``; ``cells`` counts library cells by name.
    """

    power_uw: float
    dynamic_uw: float
    internal_uw: float
    switching_uw: float
    leakage_uw: float
    area_um2: float
    delay_ns: float
    cells: dict[str, int]


_CACHE: weakref.WeakKeyDictionary[Netlist, dict[int, CellMapping]] = weakref.WeakKeyDictionary()


def map_to_cells(netlist: Netlist, library: CellLibrary | None = None) -> CellMapping:
    """Cover ``netlist`` with ``library``'s cells by function (cached per netlist and
    library): :func:`dse.eval._techmap.techmap`, the same pass for every netlist
    whatever wrote it."""
    library = library or CellLibrary.default()
    per_nl = _CACHE.get(netlist)
    if per_nl is not None and id(library) in per_nl:
        return per_nl[id(library)]
    m = _techmap_netlist(netlist, library)
    _CACHE.setdefault(netlist, {})[id(library)] = m
    return m


def _cell_cover(
    library: CellLibrary,
    n_in: int,
    n_orig: int,
    n_nets: int,
    roles_arr: np.ndarray,
    ins_arr: np.ndarray,
    drv_inst: np.ndarray,
    drv_ro: np.ndarray,
    drv_net: np.ndarray,
    port_nets: np.ndarray,
    alias: np.ndarray,
    int_fanin: np.ndarray,
    int_table: np.ndarray,
    pin_cap: np.ndarray,
    fanout: np.ndarray,
    port_count: np.ndarray,
    drv_order: np.ndarray,
) -> CellMapping:
    """The :class:`CellMapping` both cover paths end in: cell counts, wire loads, area."""
    counts = np.bincount(roles_arr, minlength=len(library.roles))
    cells: dict[str, int] = {}
    for r in np.flatnonzero(counts).tolist():
        name = library.role_cell[r]
        cells[name] = cells.get(name, 0) + int(counts[r])
    return CellMapping(
        library=library,
        n_orig=n_orig,
        n_nets=n_nets,
        inst_role=roles_arr,
        inst_in=ins_arr,
        drv_inst=drv_inst,
        drv_ro=drv_ro,
        drv_net=drv_net,
        port_nets=port_nets,
        input_nets=np.arange(n_in, dtype=np.int64),
        alias=alias,
        int_fanin=int_fanin,
        int_table=int_table,
        pin_cap_ff=pin_cap,
        fanout=fanout,
        wire_cap_ff=library.wire_cap_ff(fanout),
        port_count=port_count,
        cells=cells,
        area_um2=float(library.role_area[roles_arr].sum()),
        drv_order=drv_order,
    )


def _techmap_netlist(netlist: Netlist, library: CellLibrary) -> CellMapping:
    """The cell cover of ``netlist`` by :func:`~dse.eval._techmap.techmap`, with its loads."""
    n_in = netlist.n_inputs
    n_orig = n_in + netlist.n_gates
    out_nets = np.array([n for _, nets in netlist.output_ports for n in nets], dtype=np.int64)
    (
        alias,
        roles_arr,
        ins_arr,
        drv_inst,
        drv_ro,
        drv_net,
        int_fanin,
        int_table,
        int_rank,
        n_nets,
        _,
    ) = techmap(netlist.ops, netlist.fanin, n_in, out_nets, library)
    n_nets = int(n_nets)
    # sort keys: 16 per original net, internal nets just below the net they serve
    rank = np.concatenate([np.arange(n_orig, dtype=np.int64) * 16 + 15, int_rank])
    if _power_kernels.HAVE_NUMBA:
        pin_cap, port_count, fanout, port_nets, drv_order, _ = _power_kernels.loads_kernel(
            ins_arr, roles_arr, library.role_pin_cap, alias, out_nets, n_nets, drv_net, rank
        )
        return _cell_cover(
            library, n_in, n_orig, n_nets, roles_arr, ins_arr, drv_inst, drv_ro, drv_net,
            port_nets, alias, int_fanin, int_table, pin_cap, fanout, port_count, drv_order,
        )
    return _finish_cover(
        netlist, library, alias, roles_arr, ins_arr, drv_inst, drv_ro, drv_net, int_fanin,
        int_table, rank, n_nets,
    )


def _finish_cover(
    netlist: Netlist,
    library: CellLibrary,
    alias: np.ndarray,
    roles_arr: np.ndarray,
    ins_arr: np.ndarray,
    drv_inst: np.ndarray,
    drv_ro: np.ndarray,
    drv_net: np.ndarray,
    int_fanin: np.ndarray,
    int_table: np.ndarray,
    rank: np.ndarray,
    n_nets: int,
) -> CellMapping:
    """Loads, fan-outs, cell counts and area of a cover, with numpy (the reference path)."""
    n_in = netlist.n_inputs
    n_orig = n_in + netlist.n_gates
    # Nets 0..n_orig-1 are numbered topologically, and a decomposition's internal
    # nets sit between its gate's inputs and its output: rank every driven net.
    drv_order = np.argsort(rank[drv_net], kind="stable")
    port_nets = np.array(
        [alias[n] for _, nets in netlist.output_ports for n in nets], dtype=np.int64
    )
    valid = ins_arr >= 0
    pin_caps = library.role_pin_cap[roles_arr]
    pin_cap = np.bincount(ins_arr[valid], weights=pin_caps[valid], minlength=n_nets)
    port_count = np.bincount(port_nets, minlength=n_nets).astype(np.float64)
    fanout = np.bincount(ins_arr[valid], minlength=n_nets).astype(np.float64) + port_count
    return _cell_cover(
        library, n_in, n_orig, n_nets, roles_arr, ins_arr, drv_inst, drv_ro, drv_net, port_nets,
        alias, int_fanin, int_table, pin_cap, fanout, port_count, drv_order,
    )


# Minterm-pair bookkeeping for internal-net activity (4 inputs -> 16 x 16 pairs).
_M = np.arange(16)
_BITS = ((_M[:, None] >> np.arange(4)) & 1).astype(np.int64)  # (16, 4)


def _internal_activity(
    m: CellMapping, tr: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Toggle rate and static probability of decomposition-internal nets.

    These nets are not in the simulated netlist, so they are derived from their
    input nets (which are): inputs as independent stationary two-state Markov chains
    (toggle ``α``, probability ``p``; ``P(0→1) = P(1→0) = α/2``), the exact
    zero-delay toggle probability ``Σ P(m → m') [f(m) ≠ f(m')]`` over minterm pairs.
    """
    fi = m.int_fanin
    valid = fi >= 0
    pi = np.where(valid, p[np.maximum(fi, 0)], 0.0)
    ti = np.where(valid, tr[np.maximum(fi, 0)], 0.0)
    ti = np.minimum(ti, 2 * np.minimum(pi, 1 - pi))
    # joint[k][a, b] = P(x_k = a now, x_k = b next)
    j00 = 1 - pi - ti / 2
    j11 = pi - ti / 2
    j01 = ti / 2
    jk = np.stack([np.stack([j00, j01], -1), np.stack([j01, j11], -1)], -2)  # (N,4,2,2)
    pair = np.ones((fi.shape[0], 16, 16))
    for k in range(4):
        pair *= jk[:, k][:, _BITS[:, k]][:, :, _BITS[:, k]]
    f = m.int_table
    flip = f[:, :, None] != f[:, None, :]
    toggle = (pair * flip).sum(axis=(1, 2))
    prob = (pair.sum(axis=2) * f).sum(axis=1)
    return toggle, prob


def _lerp_index(axis: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index and fraction of ``x`` on per-row axes (linear extrapolation)."""
    k = axis.shape[-1]
    j = np.clip((x[..., None] >= axis).sum(-1) - 1, 0, k - 2)
    lo = np.take_along_axis(axis, j[..., None], -1)[..., 0]
    hi = np.take_along_axis(axis, j[..., None] + 1, -1)[..., 0]
    return j, (x - lo) / (hi - lo)


def estimate_power(
    netlist: Netlist,
    toggle_rate: np.ndarray,
    one_prob: np.ndarray,
    library: CellLibrary | None = None,
    *,
    clock_period_ns: float = 1.0,
    output_load_ff: float = 1.0,
    include_input_nets: bool = True,
    with_delay: bool = True,
) -> PowerEstimate:
    """Power, area and delay of ``netlist`` for the given per-net activity.

    Args:
        netlist: the gate-level netlist.
        toggle_rate: ``(netlist.n_nets,)`` toggles per clock cycle per net (one operand
            pair applied per cycle), e.g. from :func:`dse.eval._sim.toggle_statistics`.
        one_prob: ``(netlist.n_nets,)`` static probability of each net being 1.
        library: cell library; default :meth:`CellLibrary.default` (NanGate 45 nm).
        clock_period_ns: clock period ``T``; dynamic power scales with ``1/T``.
        output_load_ff: external load on every product bit (the reference flow's
            ``set_load``).
        include_input_nets: count the switching power of the primary-input nets'
            load (fan-out pins and wires), which the multiplier presents to its
            drivers; OpenSTA charges it to no instance of the design.
        with_delay: compute the critical-path delay (else ``delay_ns`` is ``nan``).

    Raises:
        ConfigError: activity arrays of the wrong shape, non-positive period.
    """
    library = library or CellLibrary.default()
    if not clock_period_ns > 0:
        raise ConfigError(f"clock_period_ns must be > 0, got {clock_period_ns}")
    if output_load_ff < 0:
        raise ConfigError(f"output_load_ff must be >= 0, got {output_load_ff}")
    tr0 = np.asarray(toggle_rate, dtype=np.float64)
    p0 = np.asarray(one_prob, dtype=np.float64)
    if tr0.shape != (netlist.n_nets,) or p0.shape != (netlist.n_nets,):
        raise ConfigError(
            f"toggle_rate and one_prob must have shape ({netlist.n_nets},) (one value per "
            f"net of {netlist.name!r}), got {tr0.shape} and {p0.shape}"
        )
    m = map_to_cells(netlist, library)
    L = library
    v2 = L.voltage * L.voltage
    if m.n_nets > m.n_orig:
        tr = np.empty(m.n_nets)
        p = np.empty(m.n_nets)
        tr[: m.n_orig] = tr0
        p[: m.n_orig] = p0
        if _power_kernels.HAVE_NUMBA:
            ti, pi = _power_kernels.activity_kernel(m.int_fanin, m.int_table, tr0, p0)
        else:
            ti, pi = _internal_activity(m, tr0, p0)
        tr[m.n_orig :] = ti
        p[m.n_orig :] = pi
    else:
        tr, p = tr0, p0

    load = m.pin_cap_ff + m.wire_cap_ff + m.port_count * output_load_ff
    # switching: nets driven by cells (+ primary inputs)
    sw_fj = 0.5 * v2 * float(np.dot(tr[m.drv_net], load[m.drv_net]))
    if include_input_nets:
        sw_fj += 0.5 * v2 * float(np.dot(tr[m.input_nets], load[m.input_nets]))

    if _power_kernels.HAVE_NUMBA:
        int_fj, leak_nw = _internal_and_leakage(m, load, tr, p)
    else:
        int_fj, leak_nw = _internal_and_leakage_reference(m, load, tr, p)
    in_nets = m.inst_in[m.drv_inst]
    valid = in_nets >= 0

    period = clock_period_ns
    internal_uw = int_fj / period
    switching_uw = sw_fj / period
    leakage_uw = leak_nw * 1e-3
    delay = _delay(m, load, in_nets, valid) if with_delay else float("nan")
    dynamic = internal_uw + switching_uw
    return PowerEstimate(
        power_uw=dynamic + leakage_uw,
        dynamic_uw=dynamic,
        internal_uw=internal_uw,
        switching_uw=switching_uw,
        leakage_uw=leakage_uw,
        area_um2=m.area_um2,
        delay_ns=delay,
        cells=dict(m.cells),
    )


def _internal_and_leakage_reference(
    m: CellMapping, load: np.ndarray, tr: np.ndarray, p: np.ndarray
) -> tuple[float, float]:
    """Internal energy per cycle (fJ) and leakage (nW), in numpy (the reference)."""
    # internal energy per output transition, by pin, at the stated slew and actual load
    L = m.library
    ro = m.drv_ro
    d_load = load[m.drv_net]
    j, t = _lerp_index(L.ro_energy_axis[ro], d_load)
    e0 = L.ro_energy[ro, :, j]
    e1 = L.ro_energy[ro, :, j + 1]
    e_pin = e0 + t[:, None] * (e1 - e0)  # (D, MAX_PINS)
    in_nets = m.inst_in[m.drv_inst]
    valid = in_nets >= 0
    safe_in = np.maximum(in_nets, 0)
    tr_in = np.where(valid, tr[safe_in], 0.0)
    sens = L.ro_sens[ro]
    w = tr_in * sens
    wsum = w.sum(1)
    ssum = sens.sum(1)
    e_out = np.where(
        wsum > 0,
        (w * e_pin).sum(1) / np.where(wsum > 0, wsum, 1.0),
        (sens * e_pin).sum(1) / np.where(ssum > 0, ssum, 1.0),
    )
    int_fj = float(np.dot(tr[m.drv_net], e_out))
    inst_valid = m.inst_in >= 0
    inst_tr = np.where(inst_valid, tr[np.maximum(m.inst_in, 0)], 0.0)
    int_fj += float((inst_tr * L.role_hidden_fj[m.inst_role]).sum())

    # leakage: minterm probabilities over each instance's pins
    inst_p = np.where(inst_valid, p[np.maximum(m.inst_in, 0)], 0.0)
    n_pins = int(L.role_n_inputs[m.inst_role].max()) if m.n_instances else 0
    mp = np.ones((m.n_instances, 1))
    for k in range(n_pins):
        pk = inst_p[:, k : k + 1]
        mp = np.concatenate([mp * (1 - pk), mp * pk], axis=1)
    leak_nw = float((mp * L.role_leak_mt[m.inst_role, : mp.shape[1]]).sum())
    return int_fj, leak_nw


def _internal_and_leakage(
    m: CellMapping, load: np.ndarray, tr: np.ndarray, p: np.ndarray
) -> tuple[float, float]:
    """:func:`_internal_and_leakage_reference` with the per-element work compiled; the
    sums stay numpy's (``dot``, ``sum``), so both give the same floats."""
    L = m.library
    n_pins = int(L.role_n_inputs[m.inst_role].max()) if m.n_instances else 0
    e_out, hid, leak = _power_kernels.power_kernel(
        m.drv_ro,
        m.drv_net,
        m.drv_inst,
        m.inst_in,
        m.inst_role,
        load,
        tr,
        p,
        L.ro_energy_axis,
        L.ro_energy,
        L.ro_sens,
        L.role_hidden_fj,
        L.role_leak_mt,
        n_pins,
    )
    int_fj = float(np.dot(tr[m.drv_net], e_out))
    int_fj += float(hid.sum())
    return int_fj, float(leak.sum())


def _delay(m: CellMapping, load: np.ndarray, in_nets: np.ndarray, valid: np.ndarray) -> float:
    """Longest input→output path (ns): the compiled kernel, else the numpy reference."""
    if not _power_kernels.HAVE_NUMBA:
        return _delay_reference(m, load, in_nets, valid)
    L = m.library
    common = L.common_slew_axis
    slew_axis = L.ro_slew_axis if common is None else _common_axes(L)
    buf = L.ro_index[("BUF", 0)] if L.has("BUF") else -1
    return float(
        _power_kernels.delay_kernel(
            m.drv_ro,
            m.drv_net,
            in_nets,
            m.drv_order,
            load,
            m.input_nets,
            m.port_nets,
            m.n_nets,
            buf,
            L.ro_load_axis,
            slew_axis,
            L.ro_trans_typ,
            L.ro_delay_typ,
            L.ro_delay,
            L.ro_trans,
        )
    )


_COMMON_AXES: weakref.WeakKeyDictionary[CellLibrary, np.ndarray] = weakref.WeakKeyDictionary()


def _common_axes(library: CellLibrary) -> np.ndarray:
    """The library's shared slew axis repeated per role output (what the kernel indexes)."""
    axes = _COMMON_AXES.get(library)
    if axes is None:
        assert library.common_slew_axis is not None
        axes = np.ascontiguousarray(
            np.broadcast_to(library.common_slew_axis, library.ro_slew_axis.shape)
        )
        _COMMON_AXES[library] = axes
    return axes


def _delay_reference(
    m: CellMapping, load: np.ndarray, in_nets: np.ndarray, valid: np.ndarray
) -> float:
    """Longest input→output path (ns): NLDM lookups, slews propagated one step."""
    L = m.library
    if m.drv_net.size == 0:
        return 0.0
    ro = m.drv_ro
    n_d = ro.size
    d_load = load[m.drv_net]
    safe_in = np.maximum(in_nets, 0)
    slew = np.zeros(m.n_nets)
    arr = np.zeros(m.n_nets)
    # primary inputs: driven by the library's BUF at the typical slew
    if L.has("BUF") and m.input_nets.size:
        b = L.ro_index[("BUF", 0)]
        pl = load[m.input_nets]
        jb, tb = _lerp_index(np.broadcast_to(L.ro_load_axis[b], (pl.size, L.N_LOAD)), pl)
        for src, dst in ((L.ro_trans_typ, slew), (L.ro_delay_typ, arr)):
            v0 = src[b, 0, jb]
            dst[m.input_nets] = v0 + tb * (src[b, 0, jb + 1] - v0)
    j, t = _lerp_index(L.ro_load_axis[ro], d_load)
    # first-pass slews at the typical input slew
    tt0 = L.ro_trans_typ[ro, :, j]
    tt = tt0 + t[:, None] * (L.ro_trans_typ[ro, :, j + 1] - tt0)
    slew[m.drv_net] = np.where(valid, tt, 0.0).max(1)
    # tables at the actual load as functions of input slew, one row per (driver, pin)
    t3 = t[:, None, None]
    d0 = L.ro_delay[ro, :, :, j]
    dl = (d0 + t3 * (L.ro_delay[ro, :, :, j + 1] - d0)).reshape(n_d * MAX_PINS, -1)
    s0 = L.ro_trans[ro, :, :, j]
    sl = (s0 + t3 * (L.ro_trans[ro, :, :, j + 1] - s0)).reshape(n_d * MAX_PINS, -1)
    rows = np.arange(n_d * MAX_PINS)
    common = L.common_slew_axis
    s_axis = None if common is not None else np.repeat(L.ro_slew_axis[ro], MAX_PINS, axis=0)

    def at_slew(table: np.ndarray, s_in: np.ndarray) -> np.ndarray:
        if common is not None:
            i = np.clip(np.searchsorted(common, s_in, side="right") - 1, 0, common.size - 2)
            lo_x = common[i]
            u = (s_in - lo_x) / (common[i + 1] - lo_x)
        else:
            assert s_axis is not None
            i, u = _lerp_index(s_axis, s_in)
        lo = table[rows, i]
        return np.asarray(lo + u * (table[rows, i + 1] - lo))

    flat_valid = valid.ravel()
    flat_in = safe_in.ravel()
    s_new = np.where(flat_valid, at_slew(sl, slew[flat_in]), 0.0)
    slew[m.drv_net] = s_new.reshape(n_d, MAX_PINS).max(1)  # one refinement step
    d = np.where(flat_valid, at_slew(dl, slew[flat_in]), -np.inf).reshape(n_d, MAX_PINS)
    out = m.drv_net
    cur = arr[out]
    for _ in range(n_d + 1):
        new = (arr[safe_in] + d).max(1)
        if not (new != cur).any():
            break
        arr[out] = new
        cur = new
    return float(arr[m.port_nets].max()) if m.port_nets.size else 0.0
