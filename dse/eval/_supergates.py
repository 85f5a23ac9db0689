"""Supergates: the cheapest implementation of every 4-input function in a cell library.

The match table of the technology mapper (:mod:`dse.eval._techmap`): for every 16-bit
truth table, one cell under any pin permutation (inverters absorbed), one cell plus an
output inverter, or a small fixed decomposition for functions no single cell computes
(XOR3, majority, ...), with its area; and the full/half-adder cells for pairs.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass

import numpy as np

from dse.eval._library import MAX_PINS, ROLES, CellLibrary

__all__ = ["MAX_STEPS", "Supergates", "supergates"]

#: Decomposition steps of the largest supergate.
MAX_STEPS = 5

_FULL = 0xFFFF
#: Truth tables of the four cut variables (bit m of a table: the value at minterm m,
#: whose bit k is variable k).
_VAR = (0xAAAA, 0xCCCC, 0xF0F0, 0xFF00)


def _support_tables() -> np.ndarray:
    """``out[tt]``: bit k set when the 4-input table ``tt`` depends on variable k."""
    tt = np.arange(1 << 16, dtype=np.int64)
    out = np.zeros(1 << 16, dtype=np.uint8)
    for k in range(4):
        shift = 1 << k
        mask = _VAR[k]
        hi = (tt & mask) >> shift
        lo = tt & (~mask & _FULL)
        out |= (hi != lo).astype(np.uint8) << k
    return out


@dataclass(frozen=True, eq=False)
class Supergates:
    """One library's matches as arrays for the mapping kernel.

    ``match[tt]`` is the supergate implementing the 4-input truth table ``tt`` at the
    least area (``-1``: none). A supergate is a short list of cells (``steps``); step
    inputs ``refs`` name a cut variable (``k >= 0``) or an earlier step (``-(t+1)``);
    the last step drives the node. ``table`` holds every step's truth table over the
    cut variables (for the activity of the internal nets).
    """

    match: np.ndarray  # (65536,) supergate id
    area: np.ndarray  # (S,)
    steps: np.ndarray  # (S,)
    role: np.ndarray  # (S, MAX_STEPS)
    ro: np.ndarray  # (S, MAX_STEPS) role-output index of each step's output
    refs: np.ndarray  # (S, MAX_STEPS, MAX_PINS)
    table: np.ndarray  # (S, MAX_STEPS, 16) bool
    support: np.ndarray  # (65536,) support mask (uint8)
    pair_role: np.ndarray  # (2,) FA, HA role index (-1: not in the library)
    pair_ro: np.ndarray  # (2, 2) role-output index of (sum, carry)
    pair_area: np.ndarray  # (2,)
    inv_role: int
    inv_ro: int
    inv_area: float
    names: tuple[str, ...]  # per supergate, for reading and tests


# A template input is a variable (int) or the output of an earlier step ("t0").
_Ref = int | str
_Template = tuple[tuple[str, tuple[_Ref, ...]], ...]

#: Decompositions for functions no single cell may compute (the library's single
#: cells, with and without an output inverter, are added to these automatically).
_TEMPLATES: tuple[tuple[str, _Template], ...] = (
    ("XOR3", (("XOR2", (0, 1)), ("XOR2", ("t0", 2)))),
    ("XNOR3", (("XOR2", (0, 1)), ("XNOR2", ("t0", 2)))),
    ("XOR4", (("XOR2", (0, 1)), ("XOR2", (2, 3)), ("XOR2", ("t0", "t1")))),
    ("XNOR4", (("XOR2", (0, 1)), ("XOR2", (2, 3)), ("XNOR2", ("t0", "t1")))),
    ("MAJ", (("AOI222", (0, 1, 0, 2, 1, 2)), ("INV", ("t0",)))),
    (
        "MAJ",
        (("NAND2", (0, 1)), ("NAND2", (0, 2)), ("NAND2", (1, 2)), ("NAND3", ("t0", "t1", "t2"))),
    ),
    ("MAJ", (("AND2", (0, 1)), ("OR2", (0, 1)), ("AND2", ("t1", 2)), ("OR2", ("t0", "t2")))),
    ("MUX", (("INV", (2,)), ("AND2", (0, "t0")), ("AND2", (1, 2)), ("OR2", ("t1", "t2")))),
    ("AND3", (("AND2", (0, 1)), ("AND2", ("t0", 2)))),
    ("OR3", (("OR2", (0, 1)), ("OR2", ("t0", 2)))),
    ("NAND3", (("AND2", (0, 1)), ("NAND2", ("t0", 2)))),
    ("NOR3", (("OR2", (0, 1)), ("NOR2", ("t0", 2)))),
    ("AND4", (("AND2", (0, 1)), ("AND2", (2, 3)), ("AND2", ("t0", "t1")))),
    ("OR4", (("OR2", (0, 1)), ("OR2", (2, 3)), ("OR2", ("t0", "t1")))),
    ("NAND4", (("AND2", (0, 1)), ("AND2", (2, 3)), ("NAND2", ("t0", "t1")))),
    ("NOR4", (("OR2", (0, 1)), ("OR2", (2, 3)), ("NOR2", ("t0", "t1")))),
    ("AOI21", (("AND2", (0, 1)), ("NOR2", ("t0", 2)))),
    ("OAI21", (("OR2", (0, 1)), ("NAND2", ("t0", 2)))),
    ("AOI22", (("AND2", (0, 1)), ("AND2", (2, 3)), ("NOR2", ("t0", "t1")))),
    ("OAI22", (("OR2", (0, 1)), ("OR2", (2, 3)), ("NAND2", ("t0", "t1")))),
    ("ANDN", (("INV", (1,)), ("AND2", (0, "t0")))),
    ("ORN", (("INV", (1,)), ("OR2", (0, "t0")))),
    ("NOR2N", (("INV", (1,)), ("NOR2", (0, "t0")))),
    ("NAND2N", (("INV", (1,)), ("NAND2", (0, "t0")))),
)

_SG_CACHE: weakref.WeakKeyDictionary[CellLibrary, Supergates] = weakref.WeakKeyDictionary()
_SUPPORT: np.ndarray | None = None


def _eval(tpl: _Template, perm: tuple[int, ...]) -> list[np.ndarray]:
    """Every step's truth table (16 minterms) with template input ``k`` on cut
    variable ``perm[k]``."""
    idx = np.arange(16)
    x = [((idx >> v) & 1).astype(bool) for v in perm]
    outs: list[np.ndarray] = []
    for role, refs in tpl:
        args = [x[r] if isinstance(r, int) else outs[int(r[1:])] for r in refs]
        outs.append(np.asarray(ROLES[role].function(args)[0], dtype=bool))
    return outs


def _as_int(table: np.ndarray) -> int:
    return int(np.dot(table.astype(np.int64), 1 << np.arange(16, dtype=np.int64)))


def supergates(library: CellLibrary) -> Supergates:
    """The match table of ``library`` (cached per library object)."""
    global _SUPPORT
    sg = _SG_CACHE.get(library)
    if sg is not None:
        return sg
    if _SUPPORT is None:
        _SUPPORT = _support_tables()
    templates: list[tuple[str, _Template]] = []
    for name, role in ROLES.items():
        if role.n_outputs == 1 and role.n_inputs <= 4 and name != "BUF":
            templates.append((name, ((name, tuple(range(role.n_inputs))),)))
    templates.extend(_TEMPLATES)
    if library.has("INV"):
        # the complement of everything, through an output inverter
        for name, tpl in list(templates):
            templates.append((f"~{name}", (*tpl, ("INV", (f"t{len(tpl) - 1}",)))))
        # and 2- and 3-input cells with inverted inputs (AND2 with one inverted input,
        # NOR3 with two, ...): every gate's own function with inverters around it
        for name, role in ROLES.items():
            if role.n_outputs != 1 or not 2 <= role.n_inputs <= 3:
                continue
            for mask in range(1, 1 << role.n_inputs):
                inv = [k for k in range(role.n_inputs) if (mask >> k) & 1]
                invs: list[tuple[str, tuple[_Ref, ...]]] = [("INV", (k,)) for k in inv]
                pins = tuple(f"t{inv.index(k)}" if k in inv else k for k in range(role.n_inputs))
                templates.append((f"{name}/{mask}", (*invs, (name, pins))))
    best_area = np.full(1 << 16, np.inf)
    best: dict[int, tuple[str, _Template, tuple[int, ...], list[np.ndarray]]] = {}
    for name, tpl in templates:
        if len(tpl) > MAX_STEPS or not all(library.has(r) for r, _ in tpl):
            continue
        cost = float(sum(library.role_area[library.role_index[r]] for r, _ in tpl))
        n_var = 1 + max(r for _, refs in tpl for r in refs if isinstance(r, int))
        for perm in itertools.permutations(range(4), n_var):
            outs = _eval(tpl, perm)
            tt = _as_int(outs[-1])
            # strictly cheaper wins; among equal areas, fewer cells, then the first found
            if cost < best_area[tt] - 1e-12 or (
                abs(cost - best_area[tt]) <= 1e-12 and len(tpl) < len(best[tt][1])
            ):
                best_area[tt] = cost
                best[tt] = (name, tpl, perm, outs)
    keys = sorted(best)
    n = len(keys)
    match = np.full(1 << 16, -1, dtype=np.int16)
    sg_area = np.zeros(n)
    steps = np.zeros(n, dtype=np.int64)
    sg_role = np.zeros((n, MAX_STEPS), dtype=np.int64)
    ro = np.zeros((n, MAX_STEPS), dtype=np.int64)
    refs = np.full((n, MAX_STEPS, MAX_PINS), -99, dtype=np.int64)
    table = np.zeros((n, MAX_STEPS, 16), dtype=bool)
    names = []
    for i, tt in enumerate(keys):
        name, tpl, perm, outs = best[tt]
        match[tt] = i
        sg_area[i] = best_area[tt]
        steps[i] = len(tpl)
        names.append(name)
        for s, (r, rr) in enumerate(tpl):
            sg_role[i, s] = library.role_index[r]
            ro[i, s] = library.ro_index[(r, 0)]
            for k, ref in enumerate(rr):
                refs[i, s, k] = perm[ref] if isinstance(ref, int) else -(int(ref[1:]) + 1)
            table[i, s] = outs[s]
    pair_role = np.full(2, -1, dtype=np.int64)
    pair_ro = np.zeros((2, 2), dtype=np.int64)
    pair_area = np.zeros(2)
    for i, r in enumerate(("FA", "HA")):
        if library.has(r):
            pair_role[i] = library.role_index[r]
            pair_ro[i] = [library.ro_index[(r, 0)], library.ro_index[(r, 1)]]
            pair_area[i] = library.role_area[library.role_index[r]]
    has_inv = library.has("INV")
    sg = Supergates(
        match=match,
        area=sg_area,
        steps=steps,
        role=sg_role,
        ro=ro,
        refs=refs,
        table=table,
        support=_SUPPORT,
        pair_role=pair_role,
        pair_ro=pair_ro,
        pair_area=pair_area,
        inv_role=library.role_index["INV"] if has_inv else -1,
        inv_ro=library.ro_index[("INV", 0)] if has_inv else -1,
        inv_area=float(library.role_area[library.role_index["INV"]]) if has_inv else np.inf,
        names=tuple(names),
    )
    _SG_CACHE[library] = sg
    return sg
