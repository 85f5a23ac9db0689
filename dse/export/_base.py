"""The export-format interface and its registry."""

from __future__ import annotations

import abc
import re
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from dse.errors import ConfigError
from dse.eval import product_table
from dse.netlist import Netlist, operand_widths

__all__ = [
    "FORMATS",
    "ExportFormat",
    "ExportableDesign",
    "export_format",
    "netlist_of",
    "netlist_table",
    "register_format",
]


class ExportableDesign(Protocol):
    """What export reads from a design: any :class:`dse.design.Design` has it."""

    @property
    def name(self) -> str: ...

    @property
    def width_a(self) -> int: ...

    @property
    def width_b(self) -> int: ...

    @property
    def signed(self) -> bool: ...

    def netlist(self) -> Netlist | None: ...

    def lut(self) -> np.ndarray: ...


class ExportFormat(abc.ABC):
    """One file format designs are written in.

    A format is one module: a subclass that sets the class attributes and implements
    :meth:`write` and :meth:`read`, and one :func:`register_format` call with an
    instance. :func:`dse.export.export_designs` and ``dse export --format NAME`` find it
    by :attr:`name`.

    Life cycle, for every design a caller exports:

    1. :meth:`check` for every design and every format, before any file is written, so
       that a design a format cannot hold stops the export with nothing half written;
    2. :meth:`write` the file;
    3. :meth:`read` it back (unless the caller passed ``check=False``) and compare what it
       holds with the design's product table, entry by entry.
    """

    #: the name ``--format`` takes and the registry key
    name: ClassVar[str]
    #: appended to the design's name for the file written into a folder
    suffix: ClassVar[str]
    #: one line for ``dse export --help``
    description: ClassVar[str]
    #: whether the format writes gates (a design with no netlist, a table-only library
    #: entry, cannot be written in it)
    needs_netlist: ClassVar[bool] = False

    def check(self, design: ExportableDesign) -> None:
        """Raise :class:`~dse.errors.ConfigError` (one line naming the design) when the
        format cannot hold ``design``. The default refuses a design without a netlist
        where :attr:`needs_netlist` is set; formats with limits on widths or signedness
        add theirs."""
        if self.needs_netlist:
            netlist_of(design, self.name)

    @abc.abstractmethod
    def write(self, design: ExportableDesign, path: Path) -> None:
        """Write ``design`` to ``path`` (exactly that name; the folder exists)."""

    @abc.abstractmethod
    def read(self, path: Path, *, signed: bool) -> np.ndarray | None:
        """The product table a file of this format holds, shape ``(2**wa, 2**wb)``, int64,
        indexed by the operands' raw bit patterns (as :meth:`Design.lut`), or ``None``
        where dse has no reader for the format (the file is then not checked).

        Args:
            signed: read the product as two's complement (a netlist does not say).
        """


#: every registered format by name, in registration order (``--format`` lists them so)
FORMATS: dict[str, ExportFormat] = {}

_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")


def register_format(fmt: ExportFormat, *, replace: bool = False) -> ExportFormat:
    """Add ``fmt`` to :data:`FORMATS` under ``fmt.name`` and return it.

    Raises:
        ValueError: the name is not lower-case letters, digits, ``-`` and ``_``, the
            suffix does not start with ``.``, or the name is taken (unless ``replace``).
    """
    if not isinstance(fmt, ExportFormat):
        raise ValueError(f"register_format: expected an ExportFormat, got {type(fmt).__name__}")
    name = getattr(fmt, "name", "")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"register_format: format name must match [a-z][a-z0-9_-]*, got {name!r}")
    if not str(getattr(fmt, "suffix", "")).startswith("."):
        raise ValueError(f"register_format: {name}: suffix must start with '.'")
    if name in FORMATS and not replace:
        raise ValueError(f"register_format: format {name!r} is already registered")
    FORMATS[name] = fmt
    return fmt


def export_format(fmt: str | ExportFormat) -> ExportFormat:
    """The registered format named ``fmt`` (an :class:`ExportFormat` is returned as is)."""
    if isinstance(fmt, ExportFormat):
        return fmt
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ConfigError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}") from None


def netlist_table(netlist: Netlist, *, signed: bool) -> np.ndarray:
    """The exhaustive product table of a netlist read back from a file (operand widths
    from its two input ports)."""
    width_a, width_b = operand_widths(netlist)
    return product_table(netlist, width_a, width_b, signed=signed)


def netlist_of(design: ExportableDesign, format_name: str) -> Netlist:
    """``design.netlist()``, refused in one line for a table-only design."""
    netlist = design.netlist()
    if netlist is None:
        raise ConfigError(
            f"{design.name}: a table-only design has no netlist to write as {format_name}"
        )
    return netlist
