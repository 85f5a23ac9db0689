"""Where dse's hardware front stands against a reference front of public designs.

Hardware only: objectives ``rel_power`` and ``nmed``, 8x8 unsigned, no fine-tune.

**Costing.** Every design, searched or published, is costed by dse's evaluator the way
a study costs a design: the gate-level power model with uniform operands (the power
section of a study file at its defaults: trace length, clock, and the study's seed),
exhaustive error metrics. ``rel_power`` is power divided by the power of the exact
8x8 Dadda multiplier with a ripple-carry final adder (``dadda:8``), for every space:
a space whose own exact design is another one (the 4:2-compressor tree) has its
trials rescaled to that common reference, so fronts of different spaces combine.

**Reference front.** Built here from the public generators dse implements (nothing is
downloaded), each design costed as above, kept when NMED <= 0.05, then the
non-dominated set:

* exact designs: array, Wallace and Dadda reductions, each with a ripple-carry and a
  Kogge-Stone final adder;
* broken-array multipliers (Mahdiani et al., IEEE TCAS-I 57(4), 2010; the break-level
  convention of ArithsGen, Klhufek et al., 2022): knob ``bam``, every (HBL, VBL);
* truncated multipliers with and without a correction constant (Schulte and
  Swartzlander, 1993): knobs ``truncate``/``compensate`` on array, Wallace and Dadda;
* lower-part-OR adders as the final adder's low part (Mahdiani et al., 2010): ``loa``;
* logarithmic multipliers: Mitchell (IRE Trans. EC-11(4), 1962) and ILM with one
  correction stage (Babic et al., Microprocessors and Microsystems 35(1), 2011);
* combinations the literature uses: truncation + broken array, truncation + LOA,
  broken array + LOA;
* approximate-compressor trees: every 4:2 compressor of dse's 4:2 tree in the columns
  below k replaced by Momeni et al.'s design 1 or 2 (IEEE TC 64(4), 2015), and every
  full adder of the Dadda tree below column k replaced by one approximate full adder
  (AMA1-5: Gupta et al., IEEE TCAD 32(1), 2013; AXA2/3: Yang et al., IEEE NANO 2013).

**dse's front.** The shipped 8x8 unsigned structure spaces (``search_spaces/mul8u_*.yaml``
of kind structure, one multiplier, no layer groups; e.g. ``mul8u_pp``,
``mul8u_compressor``, ``mul8u_tram``, and any ``mul8u_hybrid`` present) are searched
with ``dse.search.run`` on an SQLite file in a temporary folder, each within
``--minutes`` of wall time and ``--evals`` evaluations, with the back end the recipe
gives (:data:`RECIPES`; ``--recipe NAME``). The fronts (feasible, NMED <= 0.05) are
combined into one non-dominated set.

**Baseline** (``--baseline``, on unless ``--quick``): NSGA-II (population 50) on
``mul8u_pp`` for 4,000 evaluations, timed; then the recipe again with the baseline's
wall time as its total time budget (split equally over its spaces), so that
``hv_ratio_vs_baseline`` compares equal time.

**Figures.** Hypervolume: pymoo's exact indicator on the objectives normalised as
``(rel_power / 1.0, nmed / 0.05)`` with the reference point ``(1, 1)`` in that space
(dse's ``hypervolume``/``reference_point`` helpers); a design counts only if it draws
less power than the exact Dadda multiplier and its NMED is below 0.05. The
*dominated reference fraction* is the share of reference-front designs that some
design of dse's front dominates: no worse in both objectives and strictly better in
at least one. Ties (equal in both objectives) do not count as dominated; they count,
with the dominated ones, in ``covered_reference_fraction``. Objective values are
compared after rounding to 9 significant digits (what a study records), so a design
both sides reach is a tie rather than a float-noise win. Evaluations per second are a
study's COMPLETE trials over its wall time (study creation, the exact design's
figures, every trial's storage round trip included).

Usage: ``python benchmarks/bench_hwfront.py [--quick] [--minutes M] [--evals N]
[--recipe NAME] [--no-baseline] [--seed S]``. The last line printed is one JSON
object: ``evals_per_s``, ``hv``, ``front_size``, ``dominated_reference_fraction``,
``covered_reference_fraction``, ``hv_reference``, ``reference_front_size``,
``hv_baseline``, ``hv_equal_time``, ``hv_ratio_vs_baseline``, ``wall_s``, ``spaces``
(per space: evaluations, wall time, evaluations/s, front size, hypervolume) and the
settings.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: Designs above this NMED are left out of every front (and of the hypervolume).
NMED_BOUND = 0.05
OBJECTIVES = ("rel_power", "nmed")
HV_REFERENCE = {"rel_power": 1.0, "nmed": NMED_BOUND}

_NSGA2 = {"name": "nsga2", "options": {"population_size": 50}}
_BOUNDED_LOCAL = {
    "backend": [{**_NSGA2, "trials": 6000}, {"name": "local"}],
    "constraints": [f"nmed <= {NMED_BOUND}"],
}

#: Named recipes: per space, the study-file sections that space's study uses (the
#: back end, and anything else a study file takes: constraints, seed, ...). ``"*"``
#: applies to every shipped 8x8 unsigned structure space; a space's own key overrides
#: it, and ``None`` leaves that space out. A recipe naming a space that is not shipped,
#: or a back end that is not registered, is skipped with one line.
RECIPES: dict[str, dict[str, dict[str, Any] | None]] = {
    # today's search: pymoo NSGA-II, population 50, no constraint (the hypervolume
    # reference and the NMED bound of the fronts do the filtering)
    "nsga2": {"*": {"backend": _NSGA2}},
    # the same with NMED <= 0.05 as a constraint: constrained domination keeps the
    # population inside the region that counts
    "nsga2-bounded": {"*": {"backend": _NSGA2, "constraints": [f"nmed <= {NMED_BOUND}"]}},
    # a global search followed by a memetic local stage, in one study per space
    "nsga2+local": {
        "*": {
            "backend": [
                {**_NSGA2, "trials": 2000},
                {"name": "local"},
            ]
        }
    },
    # the spaces whose fronts reach the combined front (the 4:2-compressor and TRAM
    # spaces do not), searched bounded, then polished by the memetic stage
    "pp+hybrid": {
        "*": None,
        "mul8u_pp": _BOUNDED_LOCAL,
        "mul8u_hybrid": _BOUNDED_LOCAL,
    },
}
DEFAULT_RECIPE = "nsga2"

#: The baseline: today's NSGA-II on mul8u_pp for a fixed number of evaluations.
BASELINE_SPACE = "mul8u_pp"
BASELINE_SECTIONS: dict[str, Any] = {"backend": _NSGA2}
BASELINE_EVALS = 4000

#: NMED levels of the "lowest power within an NMED" table.
NMED_LEVELS = (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


# ---------------------------------------------------------------- fronts and helpers
@dataclass(frozen=True)
class FrontPoint:
    """One design on a front: its two objectives and where it came from."""

    rel_power: float
    nmed: float
    label: str  # a reference design's spec, or "SPACE #TRIAL"
    family: str = ""  # the reference family, or the space
    detail: str = ""  # a searched design's genome summary and structural hash

    @property
    def values(self) -> tuple[float, float]:
        return (self.rel_power, self.nmed)


def _r9(value: float) -> float:
    """``value`` to 9 significant digits, as a study records figures."""
    return float(f"{float(value):.9g}") if math.isfinite(value) else float(value)


def pareto_front(points: Iterable[FrontPoint], bound: float = NMED_BOUND) -> list[FrontPoint]:
    """The non-dominated points with NMED <= ``bound`` (pymoo's non-dominated sorting),
    one per objective vector (the first given), sorted by power."""
    import numpy as np
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    unique: dict[tuple[float, float], FrontPoint] = {}
    for p in points:
        key = (_r9(p.rel_power), _r9(p.nmed))
        if p.nmed <= bound and key not in unique:
            unique[key] = p
    if not unique:
        return []
    keys = list(unique)
    front = NonDominatedSorting().do(np.asarray(keys, float), only_non_dominated_front=True)
    return sorted((unique[keys[i]] for i in front), key=lambda p: (p.rel_power, p.nmed))


def hypervolume_of(points: Sequence[FrontPoint]) -> float:
    """Hypervolume of ``points`` with ``rel_power / 1.0``, ``nmed / 0.05`` and the
    reference point (1, 1) in that normalised space (dse's helpers, pymoo's HV)."""
    from dse.search import hypervolume, parse_objective, reference_point

    objectives = [parse_objective(name, "bench_hwfront") for name in OBJECTIVES]
    ref, scale = reference_point(objectives, {}, HV_REFERENCE)
    return hypervolume([p.values for p in points], objectives, ref, scale)


def dominated_fraction(
    front: Sequence[FrontPoint], reference: Sequence[FrontPoint]
) -> tuple[float, float]:
    """``(dominated, covered)``: the shares of ``reference`` that some point of
    ``front`` dominates (no worse in both objectives, strictly better in one), and
    that it dominates or ties (equal in both). Values are compared at 9 digits."""
    if not reference:
        return 0.0, 0.0
    ours = [(_r9(p.rel_power), _r9(p.nmed)) for p in front]
    dominated = covered = 0
    for r in reference:
        rp, rn = _r9(r.rel_power), _r9(r.nmed)
        weak = [(p, n) for p, n in ours if p <= rp and n <= rn]
        if weak:
            covered += 1
            if any(p < rp or n < rn for p, n in weak):
                dominated += 1
    return dominated / len(reference), covered / len(reference)


def lowest_power(points: Sequence[FrontPoint], nmed: float) -> FrontPoint | None:
    """The point of lowest power with NMED <= ``nmed`` (``None`` if there is none)."""
    ok = [p for p in points if _r9(p.nmed) <= nmed]
    return min(ok, key=lambda p: (p.rel_power, p.nmed)) if ok else None


# ---------------------------------------------------------------- the reference front
@dataclass(frozen=True)
class Candidate:
    """A public design to cost: its family, a readable spec, and how to build it."""

    family: str
    label: str
    build: Callable[[], Any]  # () -> dse.arith.MultiplierGraph


def _spec(family: str, spec: str) -> Candidate:
    from dse.arith import from_spec

    return Candidate(family, spec, partial(from_spec, spec))


def _cells_below(spec: str, cell: str, kind: str, column: int) -> Any:
    """``spec``'s graph with every tree cell of family ``cell`` in a column below
    ``column`` replaced by the cell ``kind``."""
    from dse.arith import from_spec, replace_cell

    graph = from_spec(spec)
    for node in graph.nodes_of(kind=cell, role="tree"):
        col = graph[node].column
        if col is not None and col < column:
            graph = replace_cell(graph, node, kind)
    return graph


def reference_candidates(width: int = 8) -> list[Candidate]:
    """Every public design of the reference, ``width`` x ``width`` unsigned (see the
    module docstring for the families and their papers)."""
    from dse.arith import approximate_kinds

    n, p = width, 2 * width
    # The first spec of a structure names it (later specs of the same structure are
    # skipped), so the simplest families come first: ``bam=0:T`` is ``truncate=T``.
    out: list[Candidate] = []
    for red in ("array", "wallace", "dadda"):
        for adder in ("ripple", "kogge-stone"):
            suffix = f",adder={adder}" if adder != "ripple" else ""
            out.append(_spec("exact", f"{red}:{n}{suffix}"))
    for red in ("array", "wallace", "dadda"):
        for t in range(1, p):
            out.append(_spec("truncate", f"{red}:{n},truncate={t}"))
            out.append(_spec("truncate", f"{red}:{n},truncate={t},compensate=1"))
        for bits in range(1, p):
            out.append(_spec("loa", f"{red}:{n},loa={bits}"))
    for red in ("array", "dadda"):
        for hbl in range(1, n + 1):
            for vbl in range(p + 1):
                out.append(_spec("bam", f"{red}:{n},bam={hbl}:{vbl}"))
    out.append(_spec("log", f"mitchell:{n}"))
    out.append(_spec("log", f"ilm:{n}"))
    # combinations: a broken array's VBL truncates, so truncation + BAM is the
    # truncation point with the HBL rows removed, and the correction constant
    for red in ("array", "wallace", "dadda"):
        for t in range(1, p):
            for comp in ("", ",compensate=1"):
                for hbl in range(1, n + 1):
                    out.append(_spec("truncate+bam", f"{red}:{n},truncate={t}{comp},bam={hbl}:0"))
                for bits in range(t + 1, p):
                    out.append(_spec("truncate+loa", f"{red}:{n},truncate={t}{comp},loa={bits}"))
        for hbl in range(1, n + 1):
            for vbl in range(p + 1):
                for bits in range(vbl + 1, p):
                    out.append(_spec("bam+loa", f"{red}:{n},bam={hbl}:{vbl},loa={bits}"))
    for kind in approximate_kinds("c42"):
        for k in range(1, p):
            label = f"c42tree:{n} {kind} below column {k}"
            out.append(
                Candidate(
                    "approx-c42", label, partial(_cells_below, f"c42tree:{n}", "c42", kind, k)
                )
            )
    for kind in approximate_kinds("fa"):
        for k in range(1, p):
            label = f"dadda:{n} {kind} below column {k}"
            out.append(
                Candidate("approx-fa", label, partial(_cells_below, f"dadda:{n}", "fa", kind, k))
            )
    return out


@dataclass(frozen=True)
class Costing:
    """How a study costs a design (a study file's ``power`` section at its defaults)."""

    trace_vectors: int
    clock_period_ns: float
    seed: int

    @classmethod
    def of_study(cls, seed: int = 0) -> Costing:
        from dse.search import StudyConfig

        power = StudyConfig(space="defaults", objectives=list(OBJECTIVES)).power
        return cls(power.trace_vectors, power.clock_period_ns, seed)

    def power_and_nmed(self, graph: Any) -> tuple[float, float]:
        """``(power_uw, nmed)`` of a graph, as ``dse.search.Evaluator`` reports them."""
        from dse.design import evaluate

        report = evaluate(
            graph,
            trace_vectors=self.trace_vectors,
            seed=self.seed,
            clock_period_ns=self.clock_period_ns,
        )
        return float(report.power_uw), float(report.nmed)

    def exact_power(self, width: int = 8) -> float:
        """Power of the exact ``width``-bit Dadda/ripple multiplier: ``rel_power``'s unit."""
        from dse.arith import generate

        return self.power_and_nmed(generate("dadda", width, signed=False, adder="ripple"))[0]


@dataclass
class ReferencePool:
    """Every distinct reference design, costed; the front is :meth:`front`."""

    width: int
    exact_power_uw: float
    points: list[FrontPoint]
    candidates: int
    seconds: float

    def front(self, bound: float = NMED_BOUND) -> list[FrontPoint]:
        return pareto_front(self.points, bound)


def reference_pool(width: int = 8, *, seed: int = 0) -> ReferencePool:
    """Cost every reference candidate (one evaluation per distinct structure)."""
    t0 = time.perf_counter()
    costing = Costing.of_study(seed)
    exact = costing.exact_power(width)
    seen: set[str] = set()
    points: list[FrontPoint] = []
    candidates = reference_candidates(width)
    for c in candidates:
        graph = c.build()
        key = graph.structural_hash
        if key in seen:  # the same structure under another spec: the first label stays
            continue
        seen.add(key)
        power, nmed = costing.power_and_nmed(graph)
        points.append(FrontPoint(power / exact, nmed, c.label, c.family))
    return ReferencePool(width, exact, points, len(candidates), time.perf_counter() - t0)


# ---------------------------------------------------------------- dse's search
def shipped_spaces() -> tuple[list[str], list[str]]:
    """``(names, notes)``: the shipped 8x8 unsigned one-multiplier structure spaces
    (``search_spaces/mul8u_*.yaml``), and one line per file left out and why."""
    from dse.errors import DseError
    from dse.search import StructureSpace, load_space

    names, notes = [], []
    for path in sorted((REPO / "search_spaces").glob("mul8u_*.yaml")):
        try:
            space = load_space(path)
        except DseError as exc:
            notes.append(f"space {path.stem}: not loadable, left out: {exc}")
            continue
        if not isinstance(space, StructureSpace):
            notes.append(f"space {path.stem}: not a structure space, left out")
        elif len(space.group_names) > 1:
            notes.append(f"space {path.stem}: one multiplier per layer group, left out")
        elif (space.width_a, space.width_b, space.signed) != (8, 8, False):
            notes.append(f"space {path.stem}: not 8x8 unsigned, left out")
        else:
            names.append(path.stem)
    return names, notes


def recipe_plan(
    recipe: Mapping[str, Mapping[str, Any] | None], spaces: Sequence[str], recipe_name: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """``(plan, notes)``: per space, the sections its study takes; a line per entry
    naming a space that is not among ``spaces``."""
    notes = [
        f"recipe {recipe_name}: space {name!r} is not a shipped 8x8 unsigned structure space; skipped"
        for name in recipe
        if name != "*" and name not in spaces
    ]
    plan = []
    for name in spaces:
        sections = recipe.get(name, recipe.get("*"))
        if sections is not None:
            plan.append((name, dict(sections)))
    return plan, notes


def study_config(
    name: str,
    space: str,
    sections: Mapping[str, Any],
    *,
    seconds: float | None,
    evals: int | None,
    seed: int,
    where: str,
) -> Any:
    """The study of one space (raises ``ConfigError`` for an unknown back end etc.)."""
    from dse.search import study_config_from_dict

    budget: dict[str, Any] = {}
    if seconds is not None:
        budget["timeout"] = max(float(seconds), 1.0)
    if evals is not None:
        budget["trials"] = int(evals)
    data = {
        "name": name,
        "space": space,
        "objectives": list(OBJECTIVES),
        "seed": seed,
        "hypervolume": {"reference": HV_REFERENCE},
        **sections,
        "budget": budget,
    }
    return study_config_from_dict(data, where=where, stem=name, root=REPO)


def genome_summary(space: Any, genome: Any) -> str:
    """The genes a design changes, briefly: ``truncate=3 prune×12 cell[ama1×2]``."""
    per_head = Counter(g.name.split(".")[0] for g in space.genes)
    changed: dict[str, list[tuple[Any, int]]] = {}
    for i, (gene, value) in enumerate(zip(space.genes, genome.values, strict=True)):
        if value != space.default_value(i):
            changed.setdefault(gene.name.split(".")[0], []).append((gene, value))
    parts = []
    for head, items in changed.items():
        if per_head[head] == 1 or items[0][0].kind == "ordinal":
            parts += [f"{g.name}={g.label(v)}" for g, v in items]
        elif items[0][0].kind == "bit":
            parts.append(f"{head}×{len(items)}")
        else:
            kinds = Counter(str(g.label(v)) for g, v in items)
            parts.append(f"{head}[{','.join(f'{k}×{c}' for k, c in sorted(kinds.items()))}]")
    return " ".join(parts) or "exact"


@dataclass
class SpaceRun:
    """One space's study: its figures and its front (common ``rel_power``)."""

    space: str
    backend: str
    evals: int
    wall_s: float
    stop: str
    front: list[FrontPoint] = field(default_factory=list)
    #: the space's exact design's power / the exact dadda:8's (its rel_power's rescale)
    exact_scale: float = 1.0

    @property
    def evals_per_s(self) -> float:
        return self.evals / self.wall_s if self.wall_s > 0 else 0.0


def run_space(
    cfg: Any, space_name: str, url: str, costing: Costing, exact_power: float
) -> SpaceRun:
    """Run one study and read its front back, rescaled to the common ``rel_power``."""
    from dse.search import (
        TrialRecord,
        load_space,
        load_stored_study,
        pareto_rows,
        run,
    )

    t0 = time.perf_counter()
    summary = run(cfg, storage=url)
    wall = time.perf_counter() - t0
    space = load_space(REPO / "search_spaces" / f"{space_name}.yaml")
    (own_exact,) = space.decode(space.exact_genome())
    # the study's rel_power is relative to its space's exact design; rescale it
    factor = costing.power_and_nmed(own_exact.graph)[0] / exact_power
    study = load_stored_study(cfg.name, url)
    trials = study.get_trials(deepcopy=False)
    points = []
    for row in pareto_rows(study):
        genome = TrialRecord.from_attrs(trials[row["trial"]].user_attrs).genome
        detail = f"{genome_summary(space, genome)}  {str(row['structural_hash'])[:10]}"
        points.append(
            FrontPoint(
                row["rel_power"] * factor,
                row["nmed"],
                f"{space_name} #{row['trial']}",
                space_name,
                detail,
            )
        )
    return SpaceRun(
        space_name,
        cfg.backend_name,
        summary.complete,
        wall,
        summary.stop_reason or "",
        pareto_front(points),
        factor,
    )


def run_recipe(
    plan: Sequence[tuple[str, dict[str, Any]]],
    *,
    tag: str,
    recipe_name: str,
    seconds: float | None,
    evals: int | None,
    seed: int,
    url: str,
    costing: Costing,
    exact_power: float,
) -> tuple[list[SpaceRun], list[str]]:
    """Each planned space's study; a space whose study does not validate (a back end
    that is not registered, ...) is skipped with one line."""
    from dse.errors import ConfigError

    runs, notes = [], []
    for space, sections in plan:
        where = f"recipe {recipe_name}, space {space}"
        try:
            cfg = study_config(
                f"{space}-{tag}",
                space,
                sections,
                seconds=seconds,
                evals=evals,
                seed=seed,
                where=where,
            )
        except ConfigError as exc:
            notes.append(f"skipped: {exc}")
            print(f"  skipped: {exc}", file=sys.stderr, flush=True)
            continue
        r = run_space(cfg, space, url, costing, exact_power)
        print(
            f"  {tag} {space:<18} {r.backend:<14} {r.evals:>6} evaluations in {r.wall_s:6.1f} s "
            f"({r.evals_per_s:5.1f}/s), front {len(r.front)}, HV {hypervolume_of(r.front):.4f}",
            file=sys.stderr,
            flush=True,
        )
        runs.append(r)
    return runs, notes


# ---------------------------------------------------------------- printing
def _table(title: str, head: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: about a minute in all")
    ap.add_argument("--minutes", type=float, default=None, help="wall time per space (default 10)")
    ap.add_argument(
        "--evals", type=int, default=None, help="evaluations per space (default: no limit)"
    )
    ap.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE)
    ap.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NSGA-II on mul8u_pp for 4,000 evaluations, then the recipe in its time (default: on unless --quick)",
    )
    ap.add_argument("--baseline-evals", type=int, default=BASELINE_EVALS)
    ap.add_argument("--seed", type=int, default=0, help="the studies' seed (and the power trace's)")
    args = ap.parse_args()
    minutes = args.minutes if args.minutes is not None else (0.2 if args.quick else 10.0)
    baseline = args.baseline if args.baseline is not None else not args.quick
    t_all = time.perf_counter()

    costing = Costing.of_study(args.seed)
    pool = reference_pool(8, seed=args.seed)
    reference = pool.front()
    hv_ref = hypervolume_of(reference)
    print(
        f"reference: {pool.candidates} public designs, {len(pool.points)} distinct structures, "
        f"costed in {pool.seconds:.0f} s; front {len(reference)} (NMED <= {NMED_BOUND})",
        file=sys.stderr,
        flush=True,
    )

    spaces, notes = shipped_spaces()
    plan, plan_notes = recipe_plan(RECIPES[args.recipe], spaces, args.recipe)
    notes += plan_notes
    for line in notes:
        print(f"  {line}", file=sys.stderr, flush=True)

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'hwfront.db'}"
        common = {
            "seed": args.seed,
            "url": url,
            "costing": costing,
            "exact_power": pool.exact_power_uw,
        }
        hv_base = hv_equal = None
        base_run: SpaceRun | None = None
        equal_runs: list[SpaceRun] = []
        if baseline:
            base_cfg = study_config(
                f"{BASELINE_SPACE}-baseline",
                BASELINE_SPACE,
                BASELINE_SECTIONS,
                seconds=None,
                evals=args.baseline_evals,
                seed=args.seed,
                where="baseline",
            )
            base_run = run_space(base_cfg, BASELINE_SPACE, url, costing, pool.exact_power_uw)
            hv_base = hypervolume_of(base_run.front)
            print(
                f"  baseline {base_run.evals} evaluations in {base_run.wall_s:.1f} s, HV {hv_base:.4f}",
                file=sys.stderr,
                flush=True,
            )
            share = base_run.wall_s / max(len(plan), 1)
            equal_runs, _ = run_recipe(
                plan, tag="equal-time", recipe_name=args.recipe, seconds=share, evals=None, **common
            )
            hv_equal = hypervolume_of(pareto_front(p for r in equal_runs for p in r.front))
        runs, skipped = run_recipe(
            plan,
            tag="main",
            recipe_name=args.recipe,
            seconds=minutes * 60,
            evals=args.evals,
            **common,
        )
    notes += skipped
    front = pareto_front(p for r in runs for p in r.front)
    hv = hypervolume_of(front)
    dominated, covered = dominated_fraction(front, reference)
    total_evals = sum(r.evals for r in runs)
    total_wall = sum(r.wall_s for r in runs)

    _table(
        f"Reference front: public designs, 8x8 unsigned, NMED <= {NMED_BOUND} "
        f"(rel_power: power / exact dadda:8 power, uniform operands)",
        ["family", "design", "rel_power", "nmed"],
        [(p.family, p.label, f"{p.rel_power:.4f}", f"{p.nmed:.6f}") for p in reference],
    )
    _table(
        f"dse's front: recipe {args.recipe}, {minutes:g} min"
        + (f" / {args.evals} evaluations" if args.evals else "")
        + " per space, combined",
        ["space", "trial", "design (changed genes, structural hash)", "rel_power", "nmed"],
        [
            (p.family, p.label.split("#")[1], p.detail, f"{p.rel_power:.4f}", f"{p.nmed:.6f}")
            for p in front
        ],
    )
    _table(
        "Per space (evaluations/s: COMPLETE trials / the study's wall time)",
        [
            "space",
            "back end",
            "evaluations",
            "wall s",
            "eval/s",
            "front",
            "HV",
            "stopped by",
            "exact power / dadda:8",
        ],
        [
            (
                r.space,
                r.backend,
                r.evals,
                f"{r.wall_s:.1f}",
                f"{r.evals_per_s:.1f}",
                len(r.front),
                _f(hypervolume_of(r.front)),
                r.stop,
                f"{r.exact_scale:.6f}",
            )
            for r in runs
        ],
    )
    rows = []
    for level in NMED_LEVELS:
        ref_best, our_best = lowest_power(reference, level), lowest_power(front, level)
        rows.append(
            (
                f"{level:g}",
                _f(ref_best and ref_best.rel_power),
                ref_best.label if ref_best else "-",
                _f(our_best and our_best.rel_power),
                our_best.family if our_best else "-",
            )
        )
    _table(
        "Lowest rel_power within an NMED (reference vs dse)",
        ["NMED <=", "reference", "reference design", "dse", "dse space"],
        rows,
    )
    not_beaten = [p for p in reference if dominated_fraction(front, [p])[0] == 0.0]
    families = Counter(p.family for p in reference)
    open_ = Counter(p.family for p in not_beaten)
    _table(
        "Reference front by family: designs, and those dse's front does not dominate",
        ["family", "on the reference front", "not dominated by dse"],
        [(f, n, open_.get(f, 0)) for f, n in families.most_common()],
    )
    if 0 < len(not_beaten) <= 25:
        _table(
            "Reference designs dse's front does not dominate",
            ["family", "design", "rel_power", "nmed"],
            [(p.family, p.label, f"{p.rel_power:.4f}", f"{p.nmed:.6f}") for p in not_beaten],
        )
    print(
        f"\nHV (rel_power/1.0, nmed/0.05, reference (1, 1)): dse {hv:.4f} (front {len(front)}), "
        f"reference {hv_ref:.4f} (front {len(reference)}); dse dominates {dominated:.1%} of the "
        f"reference front ({covered:.1%} dominated or tied)"
    )
    ratio = None
    if hv_base is not None and hv_equal is not None and base_run is not None:
        ratio = hv_equal / hv_base if hv_base > 0 else None
        print(
            f"baseline (nsga2, population 50, {base_run.evals} evaluations on {BASELINE_SPACE}): "
            f"HV {hv_base:.4f} in {base_run.wall_s:.1f} s; recipe {args.recipe} in the same time: "
            f"HV {hv_equal:.4f}; ratio {_f(ratio)}"
        )
    for line in notes:
        print(line)

    out = {
        "evals_per_s": round(total_evals / total_wall, 2) if total_wall else 0.0,
        "hv": round(hv, 6),
        "front_size": len(front),
        "dominated_reference_fraction": round(dominated, 4),
        "covered_reference_fraction": round(covered, 4),
        "hv_reference": round(hv_ref, 6),
        "reference_front_size": len(reference),
        "reference_designs": len(pool.points),
        "hv_baseline": None if hv_base is None else round(hv_base, 6),
        "hv_equal_time": None if hv_equal is None else round(hv_equal, 6),
        "hv_ratio_vs_baseline": None if ratio is None else round(ratio, 4),
        "baseline": None
        if base_run is None
        else {
            "evals": base_run.evals,
            "wall_s": round(base_run.wall_s, 1),
            "evals_per_s": round(base_run.evals_per_s, 2),
            "front_size": len(base_run.front),
        },
        "wall_s": round(time.perf_counter() - t_all, 1),
        "recipe": args.recipe,
        "minutes_per_space": minutes,
        "evals_per_space": args.evals,
        "seed": args.seed,
        "spaces": {
            r.space: {
                "backend": r.backend,
                "evals": r.evals,
                "wall_s": round(r.wall_s, 1),
                "evals_per_s": round(r.evals_per_s, 2),
                "front_size": len(r.front),
                "hv": round(hypervolume_of(r.front), 6),
            }
            for r in runs
        },
        "equal_time_spaces": {
            r.space: {
                "evals": r.evals,
                "wall_s": round(r.wall_s, 1),
                "hv": round(hypervolume_of(r.front), 6),
            }
            for r in equal_runs
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
