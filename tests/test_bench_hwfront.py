"""benchmarks/bench_hwfront.py: the reference front of public designs and the front
helpers (hypervolume, dominance), on 4x4 multipliers and hand-made fronts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    path = REPO / "benchmarks" / "bench_hwfront.py"
    spec = importlib.util.spec_from_file_location("bench_hwfront", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_hwfront"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pool4(bench):
    return bench.reference_pool(4)


def _dominates(p, q) -> bool:
    return p[0] <= q[0] and p[1] <= q[1] and p != q


def test_reference_front_is_non_dominated_within_the_bound(bench, pool4):
    front = pool4.front()
    assert len(front) >= 5
    values = [p.values for p in front]
    assert len(set(values)) == len(values)
    for p in values:
        assert not any(_dominates(q, p) for q in values)
        assert p[1] <= bench.NMED_BOUND
    # and nothing in the pool within the bound dominates a front point
    inside = [p.values for p in pool4.points if p.nmed <= bench.NMED_BOUND]
    assert all(not any(_dominates(q, p) for q in inside) for p in values)
    # a point of the pool the front leaves out is dominated by (or equal to) one on it
    for q in inside:
        assert any(p == q or _dominates(p, q) for p in values)


def test_reference_front_holds_the_cheapest_exact_design(bench, pool4):
    front = pool4.front()
    exact = [p for p in pool4.points if p.family == "exact"]
    assert {p.label for p in exact} >= {"dadda:4", "array:4", "wallace:4,adder=kogge-stone"}
    assert all(p.nmed == 0.0 for p in exact)
    cheapest = min(exact, key=lambda p: p.rel_power)
    on_front = [p for p in front if p.nmed == 0.0]
    assert [p.rel_power for p in on_front] == [cheapest.rel_power]
    # rel_power's unit is the exact Dadda/ripple design
    assert next(p.rel_power for p in exact if p.label == "dadda:4") == 1.0


def test_reference_covers_every_family(bench):
    families = {c.family for c in bench.reference_candidates(4)}
    assert families == {
        "exact",
        "truncate",
        "loa",
        "bam",
        "log",
        "truncate+bam",
        "truncate+loa",
        "bam+loa",
        "approx-c42",
        "approx-fa",
    }
    labels = {c.label for c in bench.reference_candidates(4)}
    assert {"mitchell:4", "ilm:4", "array:4,bam=2:3", "dadda:4,truncate=3,compensate=1"} <= labels


def test_reference_is_costed_as_a_study_costs_a_design(bench, pool4):
    """The same figures as dse.search.Evaluator gives the same structure in a space."""
    from dse.arith import from_spec
    from dse.search import Evaluator, Genome, parse_objective, space_from_dict

    space = space_from_dict(
        {
            "name": "mul4u",
            "base": {"generator": "dadda", "width": 4},
            "knobs": {"truncate": {"low": 0, "high": 3}, "loa": {"low": 0, "high": 4}},
        },
        name="mul4u",
    )
    evaluator = Evaluator(space, [parse_objective(n, "test") for n in bench.OBJECTIVES])
    names = [g.name for g in space.genes]
    genome = Genome.of(2 if n == "truncate" else 3 if n == "loa" else 0 for n in names)
    ev = evaluator.evaluate(genome)

    spec = "dadda:4,truncate=2,loa=3"
    costing = bench.Costing.of_study(0)
    power, nmed = costing.power_and_nmed(from_spec(spec))
    assert power / pool4.exact_power_uw == pytest.approx(ev.metrics["rel_power"], rel=1e-12)
    assert nmed == pytest.approx(ev.metrics["nmed"], rel=1e-12)
    assert pool4.exact_power_uw == pytest.approx(evaluator.exact_power(), rel=1e-12)
    point = next(p for p in pool4.points if p.label == spec)
    assert point.values == pytest.approx(ev.values, rel=1e-12)


def _pts(bench, *values):
    return [bench.FrontPoint(p, n, f"p{i}") for i, (p, n) in enumerate(values)]


def test_pareto_front_of_a_hand_made_set(bench):
    pts = _pts(bench, (0.5, 0.01), (0.4, 0.02), (0.6, 0.02), (0.4, 0.02), (0.1, 0.06), (1.0, 0.0))
    front = bench.pareto_front(pts)
    assert [p.values for p in front] == [(0.4, 0.02), (0.5, 0.01), (1.0, 0.0)]
    assert front[0].label == "p1"  # of two equal points the first is kept


def test_hypervolume_of_hand_made_fronts(bench):
    # normalised: (rel_power / 1.0, nmed / 0.05); reference (1, 1)
    assert bench.hypervolume_of(_pts(bench, (0.5, 0.025))) == pytest.approx(0.25)
    two = _pts(bench, (0.5, 0.025), (0.25, 0.0375))
    assert bench.hypervolume_of(two) == pytest.approx(0.25 + 0.25 * 0.25)
    # outside the reference box counts for nothing
    assert bench.hypervolume_of(_pts(bench, (1.2, 0.01), (0.5, 0.06))) == 0.0
    assert bench.hypervolume_of([]) == 0.0


def test_dominated_fraction_on_hand_made_fronts(bench):
    reference = _pts(bench, (0.5, 0.02), (0.3, 0.04), (0.8, 0.001), (1.0, 0.0))
    ours = _pts(
        bench,
        (0.4, 0.02),  # dominates (0.5, 0.02): better power, same NMED
        (0.3, 0.04),  # ties (0.3, 0.04): covered, not dominated
        (0.9, 0.0005),  # dominates nothing
    )
    assert bench.dominated_fraction(ours, reference) == (0.25, 0.5)
    assert bench.dominated_fraction(reference, reference) == (0.0, 1.0)
    assert bench.dominated_fraction([], reference) == (0.0, 0.0)
    assert bench.dominated_fraction(ours, []) == (0.0, 0.0)
    # values equal to 9 significant digits are a tie, not a win by float noise
    noisy = _pts(bench, (0.5 - 1e-13, 0.02))
    assert bench.dominated_fraction(noisy, reference[:1]) == (0.0, 1.0)


def test_recipe_plan_skips_unknown_spaces_and_honours_overrides(bench):
    recipe = {
        "*": {"backend": {"name": "nsga2"}},
        "mul8u_tram": None,
        "mul8u_compressor": {"backend": {"name": "random"}},
        "mul8u_nothere": {"backend": {"name": "nsga2"}},
    }
    plan, notes = bench.recipe_plan(recipe, ["mul8u_compressor", "mul8u_pp", "mul8u_tram"], "r")
    assert plan == [
        ("mul8u_compressor", {"backend": {"name": "random"}}),
        ("mul8u_pp", {"backend": {"name": "nsga2"}}),
    ]
    assert notes == [
        "recipe r: space 'mul8u_nothere' is not a shipped 8x8 unsigned structure space; skipped"
    ]


def test_a_recipe_naming_an_unknown_back_end_is_one_clear_error(bench):
    from dse.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^recipe r, space mul8u_pp: field backend\.1\.name: "):
        bench.study_config(
            "x",
            "mul8u_pp",
            {"backend": [{"name": "nsga2", "trials": 10}, {"name": "no-such-back-end"}]},
            seconds=1.0,
            evals=None,
            seed=0,
            where="recipe r, space mul8u_pp",
        )


def test_shipped_spaces_are_8x8_unsigned_single_multiplier_structures(bench):
    names, notes = bench.shipped_spaces()
    assert {"mul8u_pp", "mul8u_compressor"} <= set(names)
    assert "mul8u_tram_layers" not in names
    assert any("mul8u_tram_layers" in n for n in notes)


def test_genome_summary_names_the_changed_genes(bench):
    from dse.search import Genome, load_space

    space = load_space(REPO / "search_spaces" / "mul8u_pp.yaml")
    assert bench.genome_summary(space, space.exact_genome()) == "exact"
    values = list(space.exact_genome().values)
    names = [g.name for g in space.genes]
    values[names.index("truncate")] = 3
    values[names.index("prune.7.7")] = 1
    values[names.index("prune.6.7")] = 1
    assert bench.genome_summary(space, Genome.of(values)) == "prune×2 truncate=3"
