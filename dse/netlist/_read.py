"""Reading a netlist file whatever its format: gate-level Verilog or BLIF.

Every place that takes a multiplier as a netlist file (``dse eval FILES``, ``dse
finetune --multiplier FILE``, library search spaces) reads it through
:func:`read_netlist`, so each accepts every format dse reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from dse.errors import NetlistParseError
from dse.netlist._netlist import Netlist

__all__ = ["NETLIST_FORMATS", "NETLIST_SUFFIXES", "netlist_format", "read_netlist"]

PathLike = str | os.PathLike[str]
Format = Literal["verilog", "blif"]

#: The formats :func:`read_netlist` reads, as named in messages.
NETLIST_FORMATS: dict[Format, str] = {
    "verilog": "gate-level Verilog (.v, .sv: 'module ...')",
    "blif": "BLIF (.blif: '.model', '.names' ...)",
}
#: File name endings taken as a netlist of that format without looking inside.
NETLIST_SUFFIXES: dict[str, Format] = {".v": "verilog", ".sv": "verilog", ".blif": "blif"}

_HEAD = 1 << 16  # enough to get past any header comment
# What may precede the first statement: blanks, comments of either language, Verilog
# attributes and compiler directives (`timescale ...).
_SKIP = re.compile(r"(?:\s+|#[^\n]*|//[^\n]*|/\*.*?\*/|\(\*.*?\*\)|`[^\n]*)*", re.S)
_BLIF_START = re.compile(r"\.(?:model|inputs|outputs|names|gate|subckt|end|latch)\b")
_VERILOG_START = re.compile(r"(?:module|macromodule|primitive)\b")


def _sniff(head: str) -> Format | None:
    """The format that the first statement of ``head`` belongs to, if it is telling."""
    start = _SKIP.match(head)
    pos = start.end() if start else 0
    if _BLIF_START.match(head, pos):
        return "blif"
    if _VERILOG_START.match(head, pos):
        return "verilog"
    return None


def _expected() -> str:
    return "expected " + " or ".join(NETLIST_FORMATS.values())


def netlist_format(path: PathLike) -> Format:
    """The format of the netlist file ``path``: its content where the first statement
    tells (a ``.v`` file holding BLIF is BLIF), else its name ending.

    Raises:
        NetlistParseError: the file cannot be read or is in neither format; the
            message names the formats dse reads.
    """
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(_HEAD).decode("utf-8", errors="replace")
    except OSError as e:
        raise NetlistParseError(f"{p}: cannot read netlist file: {e.strerror}") from e
    found = _sniff(head) or NETLIST_SUFFIXES.get(p.suffix.lower())
    if found is None:
        raise NetlistParseError(f"{p}: not a netlist format dse reads; {_expected()}")
    return found


def read_netlist(
    paths: PathLike | Iterable[PathLike],
    *,
    cells: Iterable[PathLike] = (),
    liberty: PathLike | None = None,
    top: str | None = None,
) -> Netlist:
    """Read a gate-level netlist in any format dse reads (see :data:`NETLIST_FORMATS`).

    Each file's format comes from :func:`netlist_format`; several files must share
    one (e.g. a netlist and its cell modules as Verilog), as they are read together.

    Args:
        paths: one netlist file or several.
        cells: Verilog files defining cell modules the netlist instantiates.
        liberty: a Liberty file whose cells' ``function`` attributes define cells.
        top: the top module (Verilog) or model (BLIF).

    Returns:
        The flat netlist: input ports in order (the first two are the operands), then
        the outputs (the first is the product).

    Raises:
        NetlistParseError: an unreadable file, an unknown format, files of several
            formats, or whatever the reader of the format raises (``file:line``).
    """
    items = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not items:
        raise NetlistParseError(f"no netlist file given; {_expected()}")
    formats = {p: netlist_format(p) for p in items}
    kinds = set(formats.values())
    if len(kinds) > 1:
        listing = ", ".join(f"{p} ({fmt})" for p, fmt in formats.items())
        raise NetlistParseError(f"netlist files of several formats read together: {listing}")
    if kinds == {"blif"}:
        from dse.netlist._blif import read_blif

        return read_blif(items, cells=cells, liberty=liberty, top=top)
    from dse.netlist._verilog import read_verilog

    return read_verilog(items, cells=cells, liberty=liberty, top=top)
