"""The power/area/delay view of a Liberty (``.lib``/``.lib.gz``) cell library.

The file syntax is read by :func:`dse.netlist.parse_liberty_text` into generic
:class:`~dse.netlist.LibertyGroup` trees; this module extracts per cell what dse's
power/area/delay model needs: area, pin directions and capacitances, output
functions, state-dependent leakage, NLDM timing arcs and internal-power tables
(*Liberty User Guides and Reference Manual Suite*, version 2017.06).

Units are normalised on reading: time in ns, capacitance in fF, leakage in nW,
internal energy in fJ (Liberty's internal-power unit is ``capacitive_load_unit ×
voltage_unit²``, Liberty Reference Manual, "internal_power group"), voltage in V.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dse.errors import DataError
from dse.netlist import LibertyGroup, liberty_pin_groups, parse_liberty_text, read_liberty_text

__all__ = [
    "InternalPowerArc",
    "LibertyCell",
    "LibertyLibrary",
    "LibertyTable",
    "TimingArc",
    "WireLoad",
    "read_liberty",
    "read_liberty_cells",
]

# ----------------------------------------------------------------------------------------
# Cell-level view


@dataclass(frozen=True)
class LibertyTable:
    """An NLDM lookup table in canonical units (ns, fF, fJ).

    ``index_1`` is the first template variable (for the tables read here: input slew),
    ``index_2`` the second (output load) or empty for 1-D tables; ``values`` has shape
    ``(len(index_1), len(index_2))`` (2-D), ``(len(index_1),)`` (1-D) or ``()``
    (scalar).
    """

    index_1: np.ndarray
    index_2: np.ndarray
    values: np.ndarray
    variables: tuple[str, ...] = ()

    def lookup(self, slew_ns: float, load_ff: float = 0.0) -> float:
        """Bilinear interpolation with linear extrapolation, as NLDM tools do."""
        return float(_interp_table(self, slew_ns, load_ff))


def _interp_1d(axis: np.ndarray, values: np.ndarray, x: float) -> np.ndarray:
    """Piecewise-linear interpolation along the first axis of ``values``, extrapolating."""
    if axis.size == 1:
        return values[0]
    i = int(np.clip(np.searchsorted(axis, x) - 1, 0, axis.size - 2))
    t = (x - axis[i]) / (axis[i + 1] - axis[i])
    return values[i] + t * (values[i + 1] - values[i])


def _interp_table(table: LibertyTable, x1: float, x2: float) -> np.ndarray:
    vals = table.values
    if vals.ndim == 0:
        return vals
    # Liberty templates may index load first; normalise so that x1 is slew, x2 load.
    if table.variables and table.variables[0].endswith("capacitance"):
        x1, x2 = x2, x1
    row = _interp_1d(table.index_1, vals, x1)
    if vals.ndim == 1:
        return row
    return _interp_1d(table.index_2, row, x2)


@dataclass(frozen=True)
class TimingArc:
    """A combinational ``timing()`` group of an output pin (NLDM delay/slew tables)."""

    pin: str
    related_pin: str
    when: str
    timing_sense: str
    cell_rise: LibertyTable | None
    cell_fall: LibertyTable | None
    rise_transition: LibertyTable | None
    fall_transition: LibertyTable | None


@dataclass(frozen=True)
class InternalPowerArc:
    """An ``internal_power()`` group: energy (fJ) per transition of ``pin``.

    On an output pin with ``related_pin`` it is the energy of one output rise/fall
    caused by that input (load charging excluded); on an input pin (``related_pin``
    empty) it is the energy of one input transition (hidden power).
    """

    pin: str
    related_pin: str
    when: str
    rise_power: LibertyTable | None
    fall_power: LibertyTable | None


@dataclass(frozen=True)
class LibertyCell:
    """The parts of a Liberty ``cell`` group that dse uses, in canonical units.

    Attributes:
        name: cell name, e.g. ``"NAND2_X1"``.
        area: cell area (the library's area unit, µm² for NanGate).
        pins: pin name -> direction (``"input"``, ``"output"``, ``"inout"``, ``"internal"``).
        functions: output pin -> Liberty Boolean function string (e.g. ``"!(A1 & A2)"``).
        capacitance: input pin -> pin capacitance (fF).
        leakage_nw: ``cell_leakage_power`` (nW), ``None`` when absent.
        leakage_states: ``(when, nW)`` per state-dependent ``leakage_power`` group.
        timing: the timing arcs of the output pins.
        internal_power: internal-power groups of all pins.
        line: line of the ``cell`` group in the file.
    """

    name: str
    area: float
    pins: dict[str, str]
    functions: dict[str, str]
    capacitance: dict[str, float]
    leakage_nw: float | None
    leakage_states: tuple[tuple[str, float], ...]
    timing: tuple[TimingArc, ...]
    internal_power: tuple[InternalPowerArc, ...]
    line: int = 0

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(p for p, d in self.pins.items() if d == "input")

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(p for p, d in self.pins.items() if d == "output")


@dataclass(frozen=True)
class WireLoad:
    """A ``wire_load`` group: net length per fan-out, capacitance per unit length."""

    name: str
    capacitance: float  # fF per unit length (after unit scaling)
    resistance: float
    slope: float
    fanout_length: tuple[tuple[int, float], ...]

    def capacitance_ff(self, fanout: np.ndarray) -> np.ndarray:
        """Estimated wire capacitance (fF) of nets with the given fan-outs.

        Liberty wire-load semantics: length from the ``fanout_length`` table,
        interpolated between entries and extrapolated with ``slope`` beyond the last.
        """
        fo = np.asarray(fanout, dtype=np.float64)
        if not self.fanout_length:
            length = fo * self.slope
        else:
            xs = np.array([f for f, _ in self.fanout_length], dtype=np.float64)
            ys = np.array([ln for _, ln in self.fanout_length], dtype=np.float64)
            length = np.interp(fo, xs, ys)
            beyond = fo > xs[-1]
            length = np.where(beyond, ys[-1] + (fo - xs[-1]) * self.slope, length)
            length = np.where(fo <= 0, 0.0, length)
        return np.asarray(length * self.capacitance, dtype=np.float64)


@dataclass(frozen=True)
class LibertyLibrary:
    """A parsed Liberty library: cells plus the library-level data dse uses."""

    name: str
    path: str
    voltage: float
    cells: dict[str, LibertyCell]
    wire_loads: dict[str, WireLoad]
    default_wire_load: str | None


_TIME_SCALE = {"1ps": 1e-3, "10ps": 1e-2, "100ps": 1e-1, "1ns": 1.0, "10ns": 10.0, "1us": 1e3}
_POWER_SCALE = {
    "1pw": 1e-3,
    "10pw": 1e-2,
    "100pw": 1e-1,
    "1nw": 1.0,
    "10nw": 10.0,
    "100nw": 100.0,
    "1uw": 1e3,
    "1mw": 1e6,
    "1w": 1e9,
}
_CAP_SCALE = {"ff": 1.0, "pf": 1e3, "nf": 1e6}
_VOLT_SCALE = {"1v": 1.0, "1mv": 1e-3, "100mv": 1e-1, "10mv": 1e-2}


def _float(value: str, where: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{where}: {what} must be a number, got {value!r}") from None


def _floats(text: str, where: str, what: str) -> np.ndarray:
    try:
        return np.array([float(x) for x in text.replace(",", " ").split()], dtype=np.float64)
    except ValueError:
        raise DataError(f"{where}: {what} must be a list of numbers, got {text!r}") from None


@dataclass
class _Context:
    path: str
    templates: dict[str, LibertyGroup]
    time: float
    cap: float
    energy: float
    leak: float


def _table(group: LibertyGroup, ctx: _Context, scale: float, *, energy: bool) -> LibertyTable:
    where = f"{ctx.path}:{group.line}"
    tmpl_name = group.args[0] if group.args else ""
    tmpl = ctx.templates.get(tmpl_name)
    variables: list[str] = []
    if tmpl is not None:
        variables = [tmpl.attrs[k] for k in ("variable_1", "variable_2") if k in tmpl.attrs]

    def index(k: str) -> np.ndarray:
        got = group.complex_attrs.get(k)
        if got:
            raw = _floats(" ".join(got[0]), where, f"{group.kind} {k}")
        elif tmpl is not None and tmpl.complex_attrs.get(k):
            raw = _floats(" ".join(tmpl.complex_attrs[k][0]), where, f"template {tmpl_name} {k}")
        else:
            return np.zeros(0)
        var = variables[int(k[-1]) - 1] if len(variables) >= int(k[-1]) else ""
        return raw * (ctx.cap if var.endswith("capacitance") else ctx.time)

    vals_attr = group.complex_attrs.get("values")
    if not vals_attr:
        raise DataError(f"{where}: table {group.kind} has no 'values'")
    rows = [_floats(r, where, f"{group.kind} values") for r in vals_attr[0]]
    i1, i2 = index("index_1"), index("index_2")
    if tmpl_name == "scalar" or (i1.size == 0 and i2.size == 0):
        values = np.array(rows[0][0] if rows and rows[0].size else 0.0)
    elif i2.size == 0:
        values = np.concatenate(rows)
        if values.size != i1.size:
            raise DataError(
                f"{where}: {group.kind} has {values.size} values for {i1.size} index_1 points"
            )
    else:
        if len(rows) != i1.size or any(r.size != i2.size for r in rows):
            raise DataError(
                f"{where}: {group.kind} values are not {i1.size}×{i2.size} as its indices say"
            )
        values = np.stack(rows)
    return LibertyTable(i1, i2, values * scale, tuple(variables))


def _opt_table(
    group: LibertyGroup, kind: str, ctx: _Context, scale: float, *, energy: bool = False
) -> LibertyTable | None:
    for g in group.subgroups(kind):
        return _table(g, ctx, scale, energy=energy)
    return None


def _cell(group: LibertyGroup, ctx: _Context) -> LibertyCell:
    where = f"{ctx.path}:{group.line}"
    if not group.args:
        raise DataError(f"{where}: cell group without a name")
    name = group.args[0]
    area = _float(group.attrs.get("area", "0"), where, f"cell {name} area")
    pins: dict[str, str] = {}
    functions: dict[str, str] = {}
    caps: dict[str, float] = {}
    timing: list[TimingArc] = []
    power: list[InternalPowerArc] = []
    for pin, g in liberty_pin_groups(group):
        pwhere = f"{ctx.path}:{g.line}"
        direction = g.attrs.get("direction", "")
        pins[pin] = direction
        if "function" in g.attrs:
            functions[pin] = g.attrs["function"]
        if direction in ("input", "inout"):
            caps[pin] = (
                _float(g.attrs.get("capacitance", "0"), pwhere, f"{name}/{pin} capacitance")
                * ctx.cap
            )
        for t in g.subgroups("timing"):
            ttype = t.attrs.get("timing_type", "combinational")
            if not ttype.startswith("combinational"):
                continue
            for rel in t.attrs.get("related_pin", "").split():
                timing.append(
                    TimingArc(
                        pin=pin,
                        related_pin=rel,
                        when=t.attrs.get("when", ""),
                        timing_sense=t.attrs.get("timing_sense", ""),
                        cell_rise=_opt_table(t, "cell_rise", ctx, ctx.time),
                        cell_fall=_opt_table(t, "cell_fall", ctx, ctx.time),
                        rise_transition=_opt_table(t, "rise_transition", ctx, ctx.time),
                        fall_transition=_opt_table(t, "fall_transition", ctx, ctx.time),
                    )
                )
        for p in g.subgroups("internal_power"):
            rise = _opt_table(p, "rise_power", ctx, ctx.energy, energy=True)
            fall = _opt_table(p, "fall_power", ctx, ctx.energy, energy=True)
            if rise is None and fall is None:
                rise = fall = _opt_table(p, "power", ctx, ctx.energy, energy=True)
            related = p.attrs.get("related_pin", "").split() or [""]
            for rel in related:
                power.append(InternalPowerArc(pin, rel, p.attrs.get("when", ""), rise, fall))
    leak_states: list[tuple[str, float]] = []
    for g in group.subgroups("leakage_power"):
        value = _float(g.attrs.get("value", "nan"), f"{ctx.path}:{g.line}", "leakage value")
        leak_states.append((g.attrs.get("when", ""), value * ctx.leak))
    leak = group.attrs.get("cell_leakage_power")
    return LibertyCell(
        name=name,
        area=area,
        pins=pins,
        functions=functions,
        capacitance=caps,
        leakage_nw=None if leak is None else _float(leak, where, "cell_leakage_power") * ctx.leak,
        leakage_states=tuple(leak_states),
        timing=tuple(timing),
        internal_power=tuple(power),
        line=group.line,
    )


def _unit(text: str | None, table: Mapping[str, float], default: float, where: str) -> float:
    if text is None:
        return default
    key = text.replace(" ", "").lower()
    if key not in table:
        raise DataError(f"{where}: unsupported unit {text!r} (expected one of {sorted(table)})")
    return table[key]


def library_from_group(top: LibertyGroup, path: str) -> LibertyLibrary:
    """Extract the cell-level view from a parsed top-level ``library`` group."""
    where = f"{path}:{top.line}"
    if top.kind != "library":
        raise DataError(f"{where}: top-level group is {top.kind!r}, expected 'library'")
    time = _unit(top.attrs.get("time_unit"), _TIME_SCALE, 1.0, where)
    leak = _unit(top.attrs.get("leakage_power_unit"), _POWER_SCALE, 1.0, where)
    cap = 1.0
    if "capacitive_load_unit" in top.complex_attrs:
        args = top.complex_attrs["capacitive_load_unit"][0]
        if len(args) != 2:
            raise DataError(f"{where}: capacitive_load_unit needs (value, unit), got {args}")
        cap = _float(args[0], where, "capacitive_load_unit") * _unit(
            args[1], _CAP_SCALE, 1.0, where
        )
    volt = _unit(top.attrs.get("voltage_unit"), _VOLT_SCALE, 1.0, where)
    templates = {
        g.args[0]: g
        for g in top.groups
        if g.kind in ("lu_table_template", "power_lut_template") and g.args
    }
    ctx = _Context(path, templates, time, cap, cap * volt * volt, leak)
    voltage = None
    for g in top.subgroups("operating_conditions"):
        if (
            "voltage" in g.attrs
            and g.args
            and g.args[0] == top.attrs.get("default_operating_conditions", g.args[0])
        ):
            voltage = _float(g.attrs["voltage"], f"{path}:{g.line}", "voltage")
    if voltage is None:
        voltage = _float(top.attrs.get("nom_voltage", "nan"), where, "nom_voltage")
    if not np.isfinite(voltage):
        raise DataError(
            f"{where}: library has neither nom_voltage nor operating_conditions voltage"
        )
    voltage *= volt
    wire_loads: dict[str, WireLoad] = {}
    for g in top.subgroups("wire_load"):
        gw = f"{path}:{g.line}"
        fl = tuple(
            (int(_float(a[0], gw, "fanout")), _float(a[1], gw, "length"))
            for a in g.complex_attrs.get("fanout_length", [])
            if len(a) >= 2
        )
        wire_loads[g.args[0]] = WireLoad(
            name=g.args[0],
            capacitance=_float(g.attrs.get("capacitance", "0"), gw, "capacitance") * cap,
            resistance=_float(g.attrs.get("resistance", "0"), gw, "resistance"),
            slope=_float(g.attrs.get("slope", "0"), gw, "slope"),
            fanout_length=tuple(sorted(fl)),
        )
    cells: dict[str, LibertyCell] = {}
    for g in top.subgroups("cell"):
        c = _cell(g, ctx)
        cells[c.name] = c
    default_wl = top.attrs.get("default_wire_load")
    return LibertyLibrary(
        name=top.args[0] if top.args else "",
        path=path,
        voltage=float(voltage),
        cells=cells,
        wire_loads=wire_loads,
        default_wire_load=default_wl if default_wl in wire_loads else None,
    )


def read_liberty(path: str | os.PathLike[str]) -> LibertyLibrary:
    """Read a Liberty file (``.lib`` or ``.lib.gz``).

    Raises:
        DataError: the file is missing or malformed; the message names ``file:line``.
    """
    p = os.fspath(path)
    return library_from_group(parse_liberty_text(read_liberty_text(p), p), p)


def read_liberty_cells(path: str | os.PathLike[str]) -> dict[str, LibertyCell]:
    """The cells of a Liberty file by name (``read_liberty(path).cells``).

    ``read_liberty_cells(path)["NAND2_X1"].functions == {"ZN": "!(A1 & A2)"}``.
    """
    return read_liberty(path).cells
