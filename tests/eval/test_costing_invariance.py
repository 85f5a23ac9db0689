"""Same circuit, same cost: power, area and delay do not depend on where a netlist came
from — evaluated straight from the generator's graph, or written by ``dse export`` as
Verilog or BLIF and read back (gate groups and net names lost, gates re-expressed by
the writers' assign expressions and SOP covers).

Designs: every knob family (Hypothesis-free, seeded draws of prune, truncate +
compensation, broken array, LOA, zeroed outputs, approximate compressors, logarithmic
multipliers) and random genomes of every shipped 8x8 search space.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from dse.arith import CELL_TYPES, MultiplierGraph, apply_knobs, from_spec, generate, lower
from dse.design import evaluate
from dse.eval import evaluate_netlist
from dse.netlist import read_blif_text, read_verilog_text, write_blif, write_verilog
from dse.search import load_space

SPACES = sorted((Path(__file__).resolve().parents[2] / "search_spaces").glob("*.yaml"))


def _knob_family_designs(rng: random.Random, n: int) -> list[tuple[str, MultiplierGraph]]:
    approx_fa = sorted(k for k, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact)
    out: list[tuple[str, MultiplierGraph]] = []
    families = ["prune", "truncate", "bam", "loa", "zero", "approx", "log", "booth", "mixed"]
    for i in range(n):
        family = families[i % len(families)]
        gen = rng.choice(["array", "dadda", "wallace"])
        adder = rng.choice(["ripple", "kogge-stone"])
        if family == "log":
            spec = rng.choice(["mitchell:8", "ilm:8", "mitchell:8,signed", "ilm:8,signed"])
            out.append((f"log:{spec}", from_spec(spec)))
            continue
        if family == "booth":
            base = generate("booth", 8, signed=rng.random() < 0.5, adder=adder)
        else:
            base = generate(gen, 8, signed=family == "mixed" and rng.random() < 0.5, adder=adder)
        knobs: dict[str, object] = {}
        if family in ("prune", "mixed", "booth"):
            rows, cols = base.info["spec"].pp_grid
            knobs["prune"] = [
                (rng.randrange(rows), rng.randrange(cols)) for _ in range(rng.randint(1, 10))
            ]
        if family in ("truncate", "mixed", "booth"):
            knobs["truncate"] = rng.randint(1, 8)
            if rng.random() < 0.5:
                knobs["compensate"] = "1"
        if family == "bam" and base.info["spec"].encoding != "booth":
            knobs["bam"] = (rng.randint(0, 4), rng.randint(0, 10))
        if family in ("loa", "mixed"):
            knobs["loa"] = rng.randint(1, 7)
        graph = apply_knobs(base, knobs) if knobs else base
        cells = [n for n in graph.topological_order if graph[n].kind in ("fa", "ha")]
        if family in ("zero", "mixed") and cells:
            picks = rng.sample(cells, min(3, len(cells)))
            graph = apply_knobs(
                graph, {"zero": [f"{c}.{rng.choice(['sum', 'cout'])}" for c in picks]}
            )
        fas = [n for n in graph.topological_order if graph[n].kind == "fa"]
        if family in ("approx", "mixed") and fas and approx_fa:
            picks = rng.sample(fas, min(4, len(fas)))
            graph = apply_knobs(graph, {"approx": [f"{c}:{rng.choice(approx_fa)}" for c in picks]})
        out.append((f"{family}:{graph.info.get('generator', gen)}", graph))
    return out


def _space_designs(rng: np.random.Generator, per_space: int) -> list[tuple[str, MultiplierGraph]]:
    out: list[tuple[str, MultiplierGraph]] = []
    for path in SPACES:
        space = load_space(path)
        for _ in range(per_space):
            for design in space.decode(space.random_genome(rng)):
                out.append((path.stem, design.graph))
    return out


def _designs() -> list[tuple[str, MultiplierGraph]]:
    designs = _knob_family_designs(random.Random(11), 140)
    designs += _space_designs(np.random.default_rng(12), 14)
    return designs


DESIGNS = _designs()


def test_enough_designs_from_every_family_and_space() -> None:
    assert len(DESIGNS) >= 200
    labels = {label.split(":")[0] for label, _ in DESIGNS}
    assert {p.stem for p in SPACES} <= labels
    assert {"prune", "truncate", "bam", "loa", "zero", "approx", "log", "booth", "mixed"} <= labels


def _same_cost(label: str, a: object, b: object, how: str) -> None:
    for field in ("power_uw", "area_um2", "delay_ns"):
        x, y = getattr(a, field), getattr(b, field)
        assert y == pytest.approx(x, rel=0.01), f"{label} via {how}: {field} {x} -> {y}"
    assert a.cells == b.cells, f"{label} via {how}: cells {a.cells} -> {b.cells}"  # type: ignore[attr-defined]
    assert np.array_equal(a.lut, b.lut)  # type: ignore[attr-defined]


@pytest.mark.parametrize("chunk", range(4))
def test_generator_verilog_and_blif_cost_the_same(chunk: int) -> None:
    for label, graph in DESIGNS[chunk::4]:
        ours = evaluate(graph)
        nl = lower(graph)
        via_v = read_verilog_text(write_verilog(nl), filename=f"{label}.v")
        via_b = read_blif_text(write_blif(nl), filename=f"{label}.blif")
        for how, theirs in (("verilog", via_v), ("blif", via_b)):
            _same_cost(label, ours, evaluate_netlist(theirs, signed=graph.signed), how)
