"""Port conventions shared by the netlist readers and the evaluator.

dse takes a multiplier's first two input ports as its operands and its first output
port as the product. Netlists written bit by bit (yosys ``write_blif``, or Verilog
after ``splitnets -ports``) have one 1-bit port per bit instead, named ``a[0]``,
``a_0`` or ``a0``; :func:`group_bit_ports` turns those back into vector ports so that
both readers give the evaluator the ports it expects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dse.errors import ConfigError, NetlistError, NetlistParseError
from dse.netlist._netlist import Netlist, Op, netlist_from_gates

__all__ = ["group_bit_ports", "operand_widths"]

# <prefix>[<i>], <prefix>_<i>, <prefix><i>; the prefix is lazy so that all trailing
# digits are the index (``x10`` is bit 10 of ``x``). No leading zeros: ``a_01`` is a
# name, not a bit.
_BIT_NAME = re.compile(r"(.+?)(?:\[(0|[1-9]\d*)\]|_(0|[1-9]\d*)|(0|[1-9]\d*))\Z", re.S)


def _split_bit_name(name: str) -> tuple[str, str, int] | None:
    """``(prefix, style, index)`` of a port named like one bit of a vector, else None."""
    # a Verilog escaped identifier (``\a[0] ``) is how yosys writes a bit-blasted port
    m = _BIT_NAME.match(name[1:] if name.startswith("\\") else name)
    if m is None:
        return None
    prefix, bracket, under, bare = m.groups()
    if bracket is not None:
        return prefix, "[]", int(bracket)
    if under is not None:
        return prefix, "_", int(under)
    return prefix, "", int(bare)


def group_bit_ports(ports: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, list[str]]]:
    """Group 1-bit ports named as the bits of one vector into that vector port.

    Ports ``p[0] … p[n-1]``, ``p_0 … p_{n-1}`` or ``p0 … p{n-1}`` (one naming style per
    prefix, ``n >= 2``, every bit from 0 present once, each a 1-bit port, and no other
    port already called ``p``) become one port ``p`` of width ``n``, bit 0 the LSB, at
    the position of its first member. Everything else is returned unchanged, so a
    netlist with vector ports keeps its ports exactly.

    Args:
        ports: ``(port name, bit net names LSB first)`` in declaration order.

    Returns:
        The ports in the same form, grouped.
    """
    names = {p for p, _ in ports}
    members: dict[tuple[str, str], list[tuple[int, int]]] = {}  # key -> [(index, position)]
    for pos, (port, bits) in enumerate(ports):
        if len(bits) != 1:
            continue
        split = _split_bit_name(port)
        if split is not None:
            members.setdefault(split[:2], []).append((split[2], pos))
    groups: dict[int, tuple[str, list[int]]] = {}  # first position -> (prefix, positions)
    taken: set[int] = set()
    prefixes = [prefix for prefix, _ in members]
    for (prefix, _style), found in members.items():
        indices = sorted(i for i, _ in found)
        if (
            len(found) < 2
            or indices != list(range(len(found)))
            or prefix in names  # a port of that name exists: not a vector of its bits
            or prefixes.count(prefix) > 1  # a_0 … and a0 …: ambiguous, leave both
        ):
            continue
        order = [pos for _, pos in sorted(found)]
        groups[min(order)] = (prefix, order)
        taken.update(order)
    out: list[tuple[str, list[str]]] = []
    for pos, (port, port_bits) in enumerate(ports):
        if pos in groups:
            prefix, order = groups[pos]
            out.append((prefix, [ports[k][1][0] for k in order]))
        elif pos not in taken:
            out.append((port, list(port_bits)))
    return out


def _port_list(ports: Sequence[tuple[str, int]], limit: int = 6) -> str:
    shown = [f"{p} ({w} bit{'s' if w != 1 else ''})" for p, w in ports[:limit]]
    if len(ports) > limit:
        shown.append(f"… {len(ports) - limit} more")
    return ", ".join(shown)


def operand_widths(netlist: Netlist) -> tuple[int, int]:
    """The widths of the two operands of a multiplier netlist: its two input ports.

    Raises:
        ConfigError: the netlist has fewer or more than two input ports; when they are
            1-bit ports, the message says how to name operand bits so that the readers
            group them (:func:`group_bit_ports`).
    """
    ports = netlist.input_ports
    if len(ports) == 2:
        return ports[0][1], ports[1][1]
    what = f"netlist {netlist.name!r} has {len(ports)} input port{'s' if len(ports) != 1 else ''}"
    if ports:
        what += f": {_port_list(ports)}"
    hint = (
        "dse reads a multiplier as two operand input ports (the first is a, the second b) "
        "and takes no other inputs"
    )
    if sum(1 for _, w in ports if w == 1) >= 2:
        hint += (
            "; these are 1-bit ports: declare vector ports (input [7:0] a) or name the "
            "bits of each operand a[0] … a[7], a_0 … a_7 or a0 … a7 (every bit from 0), "
            "which the readers group into one port"
        )
    raise ConfigError(f"{what}; {hint}")


def netlist_from_read_gates(
    name: str,
    input_ports: Sequence[tuple[str, Sequence[str]]],
    output_ports: Sequence[tuple[str, Sequence[str]]],
    gates: Sequence[tuple[str, Op | int, Sequence[str], str]],
) -> Netlist:
    """:func:`netlist_from_gates` for a reader: 1-bit ports named ``a[0]`` / ``a_0`` /
    ``a0`` (a bit-blasted netlist) become vector ports, and a structural error (a loop,
    an undriven net) is a :class:`NetlistParseError` with the file and line."""
    try:
        return netlist_from_gates(
            name, group_bit_ports(input_ports), group_bit_ports(output_ports), gates
        )
    except NetlistParseError:
        raise
    except NetlistError as e:
        raise NetlistParseError(str(e)) from e
