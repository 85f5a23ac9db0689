"""Library spaces: one multiplier per layer group out of a given set (ALWANN)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.errors import ConfigError, DseError
from dse.search._genome import Gene, Genome
from dse.search._space import Space, _groups
from dse.search._space_config import LibrarySpaceConfig

if TYPE_CHECKING:
    from dse.design import Design

__all__ = ["LibrarySpace"]


class LibrarySpace(Space):
    """Choose, per layer group, one multiplier of a library (ALWANN, Mrazek et al. ICCAD 2019).

    The first entry is the reference (exact) design of the space; genome value ``k``
    for a group picks entry ``k``.
    """

    def __init__(
        self,
        config: LibrarySpaceConfig,
        *,
        name: str,
        where: str = "<space>",
        root: Path | None = None,
    ) -> None:
        self.name = name
        self.where = where
        self.model = config
        self.config = config.model_dump(mode="json")
        self.root = root or Path.cwd()
        self.signed = config.signed
        self.width_a = config.width
        self.width_b = config.width_b or config.width
        self.group_names, self.group_weights, self.group_layers = _groups(config.groups)
        names = [e.name for e in config.entries]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: field entries: entry names must be unique")
        self.entry_names = tuple(names)
        for i, e in enumerate(config.entries):
            for p in [
                *(e.verilog or []),
                *(e.netlist or []),
                *([e.lut] if e.lut else []),
                *([e.metrics] if e.metrics else []),
            ]:
                if not (self.root / p).exists():
                    raise ConfigError(
                        f"{where}: field entries.{i}.{e.name}: file {p!r} does not exist"
                    )
        self._loaded: dict[int, Design] = {}
        genes = []
        for gi, gname in enumerate(self.group_names):
            genes.append(
                Gene(
                    f"{gname}.multiplier" if len(self.group_names) > 1 else "multiplier",
                    "choice",
                    choices=self.entry_names,
                    group=gi,
                )
            )
        self.genes = tuple(genes)

    def entry(self, index: int) -> Design:
        """Library entry ``index`` as a design (loaded once)."""
        if index not in self._loaded:
            self._loaded[index] = self._load(index)
        return self._loaded[index]

    def _load(self, index: int) -> Design:
        from dse.design import GraphDesign, NetlistDesign, TableDesign, netlist_key

        e = self.model.entries[index]
        where = f"{self.where}: field entries.{index}"
        wa, wb, signed = self.width_a, self.width_b, self.signed
        if e.spec:
            from dse.arith import from_spec

            try:
                g = from_spec(e.spec)
            except DseError as exc:
                raise ConfigError(f"{where}.spec: {exc}") from None
            if (g.width_a, g.width_b, g.signed) != (wa, wb, signed):
                raise ConfigError(
                    f"{where}.spec: {e.spec!r} is not a {wa}x{wb} {'signed' if signed else 'unsigned'} multiplier"
                )
            return GraphDesign(g, e.name)
        files = e.netlist or e.verilog
        if files:
            from dse.netlist import read_netlist

            net = read_netlist([self.root / p for p in files])
            return NetlistDesign(e.name, netlist_key(net), signed, wa, wb, net)
        assert e.lut is not None
        lut = np.load(self.root / e.lut)
        if lut.shape != (1 << wa, 1 << wb):
            raise ConfigError(f"{where}.lut: shape {lut.shape}, expected {(1 << wa, 1 << wb)}")
        report = json.loads((self.root / e.metrics).read_text()) if e.metrics else None
        key = hashlib.blake2b(
            np.ascontiguousarray(lut, dtype=np.int64).tobytes(), digest_size=20
        ).hexdigest()
        return TableDesign(e.name, key, signed, wa, wb, lut, report)

    def decode(self, genome: Genome) -> tuple[Design, ...]:
        self.check(genome)
        return tuple(self.entry(v) for v in genome.values)

    def encode(self, design: Any) -> Genome:
        """The genome that picks a library entry per layer group.

        ``design``: an entry's name (or its ``spec:`` text, or a design with the same
        structural hash as an entry); a list gives one per layer group, a single one
        stands for every group. Raises :class:`ConfigError` naming the design and the
        entries when it is not in the library.
        """
        groups = len(self.group_names)
        items = list(design) if isinstance(design, (list, tuple)) else [design] * groups
        if len(items) != groups:
            raise ConfigError(
                f"{self.where}: give one entry per layer group ({groups}), got {len(items)}"
            )
        return Genome.of(self._entry_index(item) for item in items)

    def _entry_index(self, item: Any) -> int:
        if isinstance(item, str):
            if item in self.entry_names:
                return self.entry_names.index(item)
            for i, e in enumerate(self.model.entries):
                if e.spec and e.spec.replace(" ", "") == item.replace(" ", ""):
                    return i
        else:
            wanted = getattr(item, "structural_hash", None)
            for i in range(len(self.entry_names)):
                if wanted is not None and self.entry(i).structural_hash == wanted:
                    return i
        shown = item if isinstance(item, str) else getattr(item, "name", type(item).__name__)
        raise ConfigError(
            f"{self.where}: design {shown!r} is not an entry of the library; entries: "
            f"{', '.join(self.entry_names)}"
        )
