"""The flat, levelised gate-level netlist that every multiplier lowers to.

Modelled on Amaranth's NIR (``hdl/_nir.py``): integer nets, a list of single-output
gates in topological order, deterministic so that tests can compare netlists as text.

Net numbering: nets ``0 .. n_inputs-1`` are the primary-input bits, port after port,
LSB first; gate ``g`` drives net ``n_inputs + g``. Every gate's fan-in nets are smaller
than its own net, so one pass in gate order evaluates the whole circuit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dse.errors import NetlistError
from dse.netlist import _kernels
from dse.netlist._ops import (
    _ARITY_INT,
    _ARITY_NP,  # noqa: F401  (lowering reads it from here)
    _SYMMETRIC_INT,
    _TRUTH,
    Op,
    _bit_eval,  # noqa: F401  (the gates' 0/1 reference, read with the tables above)
    arity_array,
    gate_op,
)

__all__ = [
    "GROUP_SIGNATURES",
    "Netlist",
    "NetlistBuilder",
    "netlist_from_gates",
]


# The adder cells lowering marks as groups: the member gates' ops, in order, over the
# same fan-in (``FA``: sum, carry; ``HA``: sum, carry). The marks are hints for readers
# of the netlist; costing finds adders by function and does not read them.
GROUP_SIGNATURES: dict[str, tuple[Op, ...]] = {
    "FA": (Op.XOR3, Op.MAJ),
    "HA": (Op.XOR, Op.AND),
}


_GROUP_SIGNATURES_INT = {k: tuple(int(o) for o in v) for k, v in GROUP_SIGNATURES.items()}


@dataclass(frozen=True, eq=False)
class Netlist:
    """A combinational gate-level netlist in levelised array form.

    Attributes:
        name: module name (used by the writers).
        input_ports: ``(name, width)`` per input port, in order; the first two are the
            multiplier's operands ``a`` and ``b``.
        output_ports: ``(name, nets)`` per output port, nets LSB first.
        ops: ``uint8`` array, one gate-op code per gate (an :class:`Op` or a gate added
            with :func:`~dse.netlist.register_gate_op`), in topological order.
        fanin: ``int32`` array of shape ``(gates, 4)``: the fan-in nets, ``-1`` unused.
        groups: gates lowering built as one adder cell, as ``(kind, (gate, ...))``
            with kind a key of :data:`GROUP_SIGNATURES` (a hint: the technology
            mapper finds adders by function whatever the marks say).
        net_names: optional readable names for nets (kept by readers and lowering).
    """

    name: str
    input_ports: tuple[tuple[str, int], ...]
    output_ports: tuple[tuple[str, tuple[int, ...]], ...]
    ops: np.ndarray
    fanin: np.ndarray
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
    net_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        """Number of primary-input bits."""
        return sum(w for _, w in self.input_ports)

    @property
    def n_gates(self) -> int:
        return int(self.ops.shape[0])

    @property
    def n_nets(self) -> int:
        return self.n_inputs + self.n_gates

    @property
    def gate_count(self) -> int:
        """Gates excluding constants and buffers (what a synthesis tool would keep)."""
        # CONST0, CONST1 and BUF are ops 0, 1 and 2: everything above counts
        return int(np.count_nonzero(self.ops > Op.BUF))

    def input_nets(self, port: str) -> tuple[int, ...]:
        """The nets of input port ``port``, LSB first."""
        base = 0
        for name, width in self.input_ports:
            if name == port:
                return tuple(range(base, base + width))
            base += width
        raise NetlistError(f"netlist {self.name!r} has no input port {port!r}")

    def levels(self) -> np.ndarray:
        """Logic depth of every net (primary inputs and constants are level 0)."""
        lev = np.zeros(self.n_nets, dtype=np.int32)
        n_in = self.n_inputs
        for g in range(self.n_gates):
            fan = self.fanin[g]
            arity = _ARITY_INT[int(self.ops[g])]
            if arity:
                lev[n_in + g] = 1 + max(int(lev[f]) for f in fan[:arity])
        return lev

    def check(self) -> None:
        """Validate array shapes, arity and topological order; raise :class:`NetlistError`."""
        n_in = self.n_inputs
        if self.fanin.shape != (self.n_gates, 4):
            raise NetlistError(f"netlist {self.name!r}: fanin must have shape (gates, 4)")
        for g in range(self.n_gates):
            op = gate_op(int(self.ops[g]))
            arity = op.arity
            for k in range(4):
                f = int(self.fanin[g, k])
                if k < arity and not (0 <= f < n_in + g):
                    raise NetlistError(
                        f"netlist {self.name!r}: gate {g} ({op.name}) input {k} reads net {f}, "
                        f"which is not driven before it"
                    )
        for port, nets in self.output_ports:
            for i, n in enumerate(nets):
                if not 0 <= n < self.n_nets:
                    raise NetlistError(f"netlist {self.name!r}: output {port}[{i}] is undriven")

    def to_text(self) -> str:
        """A deterministic, readable dump (for golden tests and debugging)."""
        lines = [f"netlist {self.name}"]
        for name, width in self.input_ports:
            lines.append(f"  input {name}[{width}]")
        n_in = self.n_inputs
        for g in range(self.n_gates):
            op = gate_op(int(self.ops[g]))
            ins = ", ".join(str(int(f)) for f in self.fanin[g, : op.arity])
            lines.append(f"  {n_in + g} = {op.name}({ins})")
        for name, nets in self.output_ports:
            lines.append(f"  output {name} = [{', '.join(map(str, nets))}]")
        for kind, gates in self.groups:
            lines.append(f"  group {kind} {list(gates)}")
        return "\n".join(lines)


class NetlistBuilder:
    """Builds a :class:`Netlist` gate by gate, folding constants and sharing equal gates.

    Structural hashing (one gate per distinct ``(op, fan-in)``) and constant folding
    keep lowering simple: a knob that ties a signal to 0 just feeds a constant, and
    the logic that only served it disappears when :meth:`build` drops dead gates.
    """

    def __init__(self, name: str, input_ports: Sequence[tuple[str, int]]) -> None:
        self.name = name
        self.input_ports = tuple((str(p), int(w)) for p, w in input_ports)
        self._n_in = sum(w for _, w in self.input_ports)
        self._ops: list[int] = []
        # fan-in nets of all gates back to back (each gate has its op's arity): one
        # list of ints becomes an array much faster than a list of tuples
        self._flat: list[int] = []
        self._table: dict[tuple[int, tuple[int, ...]], int] = {}
        self._const: dict[int, int] = {}  # net -> constant value, for folding
        self._inverse: dict[int, int] = {}  # net -> the net it inverts
        self._groups: list[tuple[str, tuple[int, ...]]] = []
        self.net_names: dict[int, str] = {}
        self.const0 = self.gate(Op.CONST0)
        self.const1 = self.gate(Op.CONST1)

    def input(self, port: str) -> tuple[int, ...]:
        base = 0
        for name, width in self.input_ports:
            if name == port:
                return tuple(range(base, base + width))
            base += width
        raise NetlistError(f"builder {self.name!r} has no input port {port!r}")

    def constant(self, value: int) -> int:
        return self.const1 if value else self.const0

    def _raw(self, op: Op | int, ins: tuple[int, ...]) -> int:
        """Add (or reuse) a gate exactly as given: no folding, no sorting."""
        o = int(op)
        key = (o, ins)
        net = self._table.get(key)
        if net is None:
            net = self._n_in + len(self._ops)
            self._ops.append(o)
            self._flat.extend(ins)
            self._table[key] = net
            if o <= 1:
                self._const[net] = o
            elif o == 3:
                self._inverse[net] = ins[0]
        return net

    def inv(self, a: int) -> int:
        return self.gate(Op.INV, a)

    def gate(self, op: Op | int, *ins: int) -> int:
        """Add (or reuse) a gate and return its output net, after constant folding."""
        # Hot path of lowering: plain ints and C-level set operations, no Enum calls.
        o = int(op)
        if len(ins) != _ARITY_INT[o]:
            raise NetlistError(f"{gate_op(o).name} takes {_ARITY_INT[o]} inputs, got {len(ins)}")
        if ins and not self._const.keys().isdisjoint(ins):
            consts = [self._const.get(i) for i in ins]
            if all(c is not None for c in consts):
                m = 0
                for k, c in enumerate(consts):
                    m |= int(c) << k  # type: ignore[arg-type]
                return self.constant(_TRUTH[o][m])
            folded = self._fold(Op(o), ins, consts) if o < len(Op) else None
            if folded is not None:
                return folded
        if o == 2:  # BUF
            return ins[0]
        if o == 3 and ins[0] in self._inverse:  # INV(INV(x)) = x
            return self._inverse[ins[0]]
        if o in _SYMMETRIC_INT:
            ins = tuple(sorted(ins))
        elif o == 17 and ins[0] == ins[1]:  # MUX(x, x, s) = x
            return ins[0]
        key = (o, ins)
        net = self._table.get(key)
        if net is None:
            # _raw inlined: this is the commonest path of lowering (a new gate)
            net = self._n_in + len(self._ops)
            self._ops.append(o)
            self._flat.extend(ins)
            self._table[key] = net
            if o == 3:
                self._inverse[net] = ins[0]
            elif o <= 1:
                self._const[net] = o
        return net

    def gates_over(self, ops: Sequence[int], ins: Sequence[int]) -> tuple[int, ...]:
        """``tuple(self.gate(op, *ins) for op in ops)`` for symmetric ``ops``, sorting and
        checking the shared fan-in once (the half/full-adder hot path of lowering)."""
        t = tuple(ins)
        const = self._const
        if any(o not in _SYMMETRIC_INT or len(t) != _ARITY_INT[o] for o in ops) or not (
            const.keys().isdisjoint(t)
        ):
            return tuple(self.gate(o, *t) for o in ops)
        t = tuple(sorted(t))
        table = self._table
        out = []
        for o in ops:
            key = (o, t)
            net = table.get(key)
            if net is None:
                net = self._n_in + len(self._ops)
                self._ops.append(o)
                self._flat.extend(t)
                table[key] = net
            out.append(net)
        return tuple(out)

    def _fold(self, op: Op, ins: tuple[int, ...], consts: list[int | None]) -> int | None:
        """Simplify a gate with some constant inputs into a smaller gate."""
        live = [i for i, c in zip(ins, consts, strict=True) if c is None]
        vals = [c for c in consts if c is not None]
        if op in (Op.AND, Op.AND3, Op.NAND, Op.NAND3):
            if 0 in vals:
                return self.constant(0 if op in (Op.AND, Op.AND3) else 1)
            return self._and_like(live, invert=op in (Op.NAND, Op.NAND3))
        if op in (Op.OR, Op.OR3, Op.NOR, Op.NOR3):
            if 1 in vals:
                return self.constant(1 if op in (Op.OR, Op.OR3) else 0)
            return self._or_like(live, invert=op in (Op.NOR, Op.NOR3))
        if op in (Op.XOR, Op.XOR3, Op.XNOR, Op.XNOR3):
            parity = sum(int(v) for v in vals) % 2
            if op in (Op.XNOR, Op.XNOR3):
                parity ^= 1
            out = live[0] if len(live) == 1 else self.gate(Op.XOR, *live)
            return self.inv(out) if parity else out
        if op is Op.MAJ:
            if len(vals) >= 2:
                if vals[0] == vals[1]:
                    return self.constant(int(vals[0]))
                return live[0]
            return self.gate(Op.AND, *live) if vals[0] == 0 else self.gate(Op.OR, *live)
        if op is Op.MUX:
            a, b, s = ins
            ca, cb, cs = consts
            if cs is not None:
                return b if cs else a
            if ca is not None and cb is not None:
                return s if (ca, cb) == (0, 1) else self.inv(s) if (ca, cb) == (1, 0) else a
            if ca == 0:
                return self.gate(Op.AND, b, s)
            if ca == 1:
                return self.gate(Op.OR, b, self.inv(s))
            if cb == 0:
                return self.gate(Op.AND, a, self.inv(s))
            if cb == 1:
                return self.gate(Op.OR, a, s)
        if op in (Op.AOI21, Op.OAI21, Op.AOI22, Op.OAI22):
            # Expand into AND/OR/INV and let those fold.
            if op is Op.AOI21:
                t = self.gate(Op.OR, self.gate(Op.AND, ins[0], ins[1]), ins[2])
            elif op is Op.OAI21:
                t = self.gate(Op.AND, self.gate(Op.OR, ins[0], ins[1]), ins[2])
            elif op is Op.AOI22:
                t = self.gate(
                    Op.OR, self.gate(Op.AND, ins[0], ins[1]), self.gate(Op.AND, ins[2], ins[3])
                )
            else:
                t = self.gate(
                    Op.AND, self.gate(Op.OR, ins[0], ins[1]), self.gate(Op.OR, ins[2], ins[3])
                )
            return self.inv(t)
        return None

    def _and_like(self, live: list[int], invert: bool) -> int:
        if len(live) == 1:
            out = live[0]
            return self.inv(out) if invert else out
        if len(live) == 2:
            return self.gate(Op.NAND if invert else Op.AND, *live)
        return self.gate(Op.NAND3 if invert else Op.AND3, *live)

    def _or_like(self, live: list[int], invert: bool) -> int:
        if len(live) == 1:
            out = live[0]
            return self.inv(out) if invert else out
        if len(live) == 2:
            return self.gate(Op.NOR if invert else Op.OR, *live)
        return self.gate(Op.NOR3 if invert else Op.OR3, *live)

    def group(self, kind: str, nets: Sequence[int]) -> None:
        """Mark gates driving ``nets`` as one multi-output cell (kept only if still valid)."""
        self._groups.append((kind, tuple(nets)))

    def name_net(self, net: int, name: str) -> None:
        self.net_names.setdefault(net, name)

    def build(self, output_ports: Sequence[tuple[str, Sequence[int]]]) -> Netlist:
        """Drop gates no output depends on, renumber, and return the netlist."""
        if _kernels.HAVE_NUMBA:
            return self._build_compiled(output_ports)
        return self._build_reference(output_ports)

    def _rows(self) -> list[tuple[int, ...]]:
        """Each gate's fan-in nets, unpacked from the flat list."""
        rows: list[tuple[int, ...]] = []
        flat = self._flat
        pos = 0
        for o in self._ops:
            k = _ARITY_INT[o]
            rows.append(tuple(flat[pos : pos + k]))
            pos += k
        return rows

    def _build_compiled(self, output_ports: Sequence[tuple[str, Sequence[int]]]) -> Netlist:
        """:meth:`_build_reference` with the per-gate loops compiled (same netlist)."""
        n_grp = len(self._groups)
        grp_sig = np.full((n_grp, 2), -1, dtype=np.int64)
        grp_nets = np.zeros((n_grp, 2), dtype=np.int64)
        for i, (kind, nets) in enumerate(self._groups):
            sig = _GROUP_SIGNATURES_INT.get(kind)
            if sig is not None and len(sig) == len(nets) == 2:
                grp_sig[i] = sig
                grp_nets[i] = nets
        return _finish_compiled(
            self.name,
            self.input_ports,
            np.array(self._ops, dtype=np.uint8),
            np.array(self._flat, dtype=np.int64),
            output_ports,
            [kind for kind, _ in self._groups],
            grp_sig,
            grp_nets,
            self.net_names,
        )

    def _build_reference(self, output_ports: Sequence[tuple[str, Sequence[int]]]) -> Netlist:
        """:meth:`build` in plain Python (the reference, and the path without numba)."""
        n_in = self._n_in
        src_ops = self._ops
        src_fanin = self._rows()
        n_gates = len(src_ops)
        live = bytearray(n_in + n_gates)
        stack = [n for _, nets in output_ports for n in nets]
        while stack:
            n = stack.pop()
            if live[n]:
                continue
            live[n] = 1
            if n >= n_in:
                stack.extend(src_fanin[n - n_in])
        new_id = list(range(n_in)) + [-1] * n_gates
        ops: list[int] = []
        fanin: list[list[int]] = []
        pads: tuple[list[int], ...] = ([-1, -1, -1, -1], [-1, -1, -1], [-1, -1], [-1], [])
        for g in range(n_gates):
            if not live[n_in + g]:
                continue
            new_id[n_in + g] = n_in + len(ops)
            ops.append(src_ops[g])
            row = [new_id[f] for f in src_fanin[g]]
            fanin.append(row + pads[len(row)])
        groups: list[tuple[str, tuple[int, ...]]] = []
        seen: set[int] = set()
        for kind, nets in self._groups:
            # Keep a group only if its gates survived folding unchanged: the expected
            # ops over one shared fan-in, not claimed by another group.
            sig = _GROUP_SIGNATURES_INT.get(kind)
            if sig is None or len(sig) != len(nets):
                continue
            gates = [new_id[n] - n_in if n >= n_in else -1 for n in nets]
            if min(gates) < 0:
                continue
            first = fanin[gates[0]]
            ok = True
            for g, op in zip(gates, sig, strict=True):
                if ops[g] != op or fanin[g] != first or g in seen:
                    ok = False
                    break
            if ok:
                seen.update(gates)
                groups.append((kind, tuple(gates)))
        names = {new_id[n]: s for n, s in self.net_names.items() if new_id[n] >= 0}
        netlist = Netlist(
            name=self.name,
            input_ports=self.input_ports,
            output_ports=tuple(
                (str(p), tuple(new_id[n] for n in nets)) for p, nets in output_ports
            ),
            ops=np.asarray(ops, dtype=np.uint8),
            fanin=np.asarray(fanin, dtype=np.int32).reshape(len(ops), 4),
            groups=tuple(groups),
            net_names=names,
        )
        return netlist


def _finish_compiled(
    name: str,
    input_ports: tuple[tuple[str, int], ...],
    src_ops: np.ndarray,
    flat: np.ndarray,
    output_ports: Sequence[tuple[str, Sequence[int]]],
    group_kinds: Sequence[str],
    grp_sig: np.ndarray,
    grp_nets: np.ndarray,
    net_names: Mapping[int, str],
) -> Netlist:
    """The compiled end of :meth:`NetlistBuilder.build` on the builder's state as
    arrays (also the end of compiled lowering, which never holds a builder)."""
    n_in = sum(w for _, w in input_ports)
    ports = [(str(p), list(nets)) for p, nets in output_ports]
    out_nets = np.array([n for _, nets in ports for n in nets], dtype=np.int64)
    ops, new_fanin, new_id, keep = _kernels.build_kernel(
        src_ops, flat, arity_array(), n_in, out_nets, grp_sig, grp_nets
    )
    groups: list[tuple[str, tuple[int, ...]]] = []
    if len(group_kinds):
        kept = new_id[grp_nets[keep.astype(bool)]] - n_in
        names = [kind for kind, k in zip(group_kinds, keep.tolist(), strict=True) if k]
        groups = [(kind, (g0, g1)) for kind, (g0, g1) in zip(names, kept.tolist(), strict=True)]
    out_ids = new_id[out_nets].tolist() if out_nets.size else []
    output: list[tuple[str, tuple[int, ...]]] = []
    pos = 0
    for p, port_nets in ports:
        output.append((p, tuple(out_ids[pos : pos + len(port_nets)])))
        pos += len(port_nets)
    names_map: dict[int, str] = {}
    if net_names:
        ids = new_id.tolist()
        names_map = {ids[n]: s for n, s in net_names.items() if ids[n] >= 0}
    return Netlist(
        name=name,
        input_ports=input_ports,
        output_ports=tuple(output),
        ops=ops,
        fanin=new_fanin,
        groups=tuple(groups),
        net_names=names_map,
    )


def netlist_from_gates(
    name: str,
    input_ports: Sequence[tuple[str, Sequence[str]]],
    output_ports: Sequence[tuple[str, Sequence[str]]],
    gates: Iterable[tuple[str, int, Sequence[str], str]],
) -> Netlist:
    """Build a netlist from named gates given in any order (what readers produce).

    Args:
        input_ports: ``(port, [bit net names LSB first])``.
        output_ports: ``(port, [bit net names LSB first])``; a name may be ``"1'b0"``
            or ``"1'b1"`` for a constant.
        gates: ``(output net name, op, [input net names], where)`` where ``where`` is a
            location such as ``"mul.v:12"`` used in error messages.

    Raises:
        NetlistError: a net driven twice, an undriven net that is read, or a
            combinational loop (the message lists the whole cycle).
    """
    drivers: dict[str, tuple[int, tuple[str, ...], str]] = {}
    pi_index: dict[str, int] = {}
    port_widths: list[tuple[str, int]] = []
    for port, bits in input_ports:
        port_widths.append((port, len(bits)))
        for bit in bits:
            pi_index[bit] = len(pi_index)
    for out, op, ins, where in gates:
        if out in pi_index:
            raise NetlistError(f"{where}: net {out!r} is an input port bit and cannot be driven")
        if out in drivers:
            raise NetlistError(f"{where}: net {out!r} is driven twice (first at {drivers[out][2]})")
        drivers[out] = (gate_op(op).code, tuple(ins), where)
    builder = NetlistBuilder(name, port_widths)
    resolved: dict[str, int] = {"1'b0": builder.const0, "1'b1": builder.const1}
    resolved.update(pi_index)
    state: dict[str, int] = {}  # 1 = on stack, 2 = done

    def resolve(root: str, reader: str) -> int:
        if root in resolved:
            return resolved[root]
        # Iterative depth-first search: netlists can be deep (long ripple chains).
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            net, k = stack.pop()
            if net in resolved:
                continue
            if net not in drivers:
                where = drivers[path[-1]][2] if path else reader
                raise NetlistError(f"{where}: net {net!r} is read but never driven")
            op, ins, where = drivers[net]
            if k == 0:
                if state.get(net) == 1:
                    cycle = [*path[path.index(net) :], net]
                    raise NetlistError(f"{where}: combinational loop: {' -> '.join(cycle)}")
                state[net] = 1
                path.append(net)
            if k < len(ins):
                stack.append((net, k + 1))
                child = ins[k]
                if child not in resolved:
                    if state.get(child) == 1:
                        cycle = [*path[path.index(child) :], child]
                        raise NetlistError(
                            f"{drivers[child][2]}: combinational loop: {' -> '.join(cycle)}"
                        )
                    stack.append((child, 0))
                continue
            resolved[net] = builder.gate(op, *(resolved[i] for i in ins))
            builder.name_net(resolved[net], net)
            state[net] = 2
            path.pop()
        return resolved[root]

    # Gates are built in the order given, so a netlist written in topological order
    # reads back gate for gate as it was written (same numbering, hence the same cover
    # and the same figures); a gate read before it is defined is built on demand.
    # Only the output ports' fan-in cone is built (and checked), as before.
    cone: set[str] = set()
    todo = [bit for _, bits in output_ports for bit in bits]
    while todo:
        net = todo.pop()
        if net in cone or net not in drivers:
            continue
        cone.add(net)
        todo.extend(drivers[net][1])
    for out in drivers:
        if out in cone:
            resolve(out, drivers[out][2])
    outs: list[tuple[str, list[int]]] = []
    for port, bits in output_ports:
        outs.append((port, [resolve(bit, f"output {port}") for bit in bits]))
    return builder.build(outs)
