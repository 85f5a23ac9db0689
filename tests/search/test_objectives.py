"""Objectives, constraints and the staged evaluation (hardware first, fine-tune cached)."""

from __future__ import annotations

from typing import Any

import pytest

from dse.errors import ConfigError
from dse.search import Evaluator, parse_constraint, parse_objective


class FakeAccuracy:
    """Stands in for dse.nn: accuracy falls with the multiplier's error; counts fine-tunes."""

    def __init__(self) -> None:
        self.calls = 0

    def finetune(self, design: Any, reports: Any, group_layers: Any) -> dict[str, Any]:
        self.calls += 1
        nmed = float(reports[0].nmed)
        return {
            "acc_float": 0.95,
            "acc_exact_q": 0.94,
            "acc_axm_before": 0.9 - nmed,
            "acc_axm_after": 0.94 - 2 * nmed,
            "finetune": {"epochs": 1},
        }

    def operand_histograms(self) -> tuple[list[float], list[float]]:
        return [1.0] * 16, [1.0] * 16


def test_parse_objective_and_constraint() -> None:
    o = parse_objective("power", "s.yaml")
    assert o.name == "power_uw" and o.direction == "minimize"
    assert parse_objective({"name": "accuracy"}, "s").direction == "maximize"
    c = parse_constraint("accuracy_drop <= 1", "s")
    assert c.value(0.5) < 0 < c.value(1.5)
    c2 = parse_constraint({"metric": "accuracy", "min": 90}, "s")
    assert c2.value(91) < 0 < c2.value(89)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("joules", r"unknown metric 'joules'"),
        ("nmed < 0.1", r"constraint .nmed < 0.1. is not of the form"),
        ({"name": "nmed", "dir": 1}, r"an objective is"),
    ],
)
def test_bad_objective_or_constraint(item: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml: field x: " + message):
        (parse_constraint if isinstance(item, str) and "<" in item else parse_objective)(
            item, "f.yaml: field x"
        )


def test_hardware_only_evaluation(small_space) -> None:
    ev = Evaluator(
        small_space,
        [parse_objective("power_uw", "s"), parse_objective("nmed", "s")],
        [parse_constraint("nmed <= 0.01", "s")],
    )
    exact = ev.evaluate(small_space.exact_genome())
    assert exact.feasible and exact.values[1] == 0.0
    assert exact.metrics["rel_power"] == pytest.approx(1.0)
    names = [g.name for g in small_space.genes]
    worse = small_space.exact_genome().replace({names.index("truncate"): 3})
    e = ev.evaluate(worse)
    assert not e.feasible and "nmed <= 0.01 violated" in e.reason
    assert e.constraints["nmed_max"] > 0 and e.attrs["cv_nmed_max"] > 0
    assert e.values[0] < exact.values[0]


def test_staged_evaluation_skips_fine_tune_and_caches_by_structure(small_space) -> None:
    acc = FakeAccuracy()
    ev = Evaluator(
        small_space,
        [parse_objective("accuracy_drop", "s"), parse_objective("power_uw", "s")],
        [parse_constraint("nmed <= 0.01", "s"), parse_constraint("accuracy_drop <= 1", "s")],
        accuracy=acc,
    )
    names = [g.name for g in small_space.genes]
    bad = small_space.exact_genome().replace({names.index("truncate"): 3})
    e = ev.evaluate(bad)
    assert acc.calls == 0 and e.attrs["finetune_skipped"] and not e.feasible
    assert e.reason.startswith("hardware stage")
    assert e.values[0] == 100.0  # worst accuracy drop, recorded as infeasible
    ok = ev.evaluate(small_space.exact_genome())
    assert acc.calls == 1 and ok.feasible and ok.values[0] == pytest.approx(0.0)
    # a different genome with the same structure: prune a partial product inside the truncated
    # columns vs. not pruning it -- both decode to the same graph, no second fine-tune
    t1 = small_space.exact_genome().replace({names.index("truncate"): 1})
    t1p = t1.replace({names.index("prune.0.0"): 1})
    assert small_space.decode(t1)[0].structural_hash == small_space.decode(t1p)[0].structural_hash
    ev.evaluate(t1)
    calls = acc.calls
    again = ev.evaluate(t1p)
    assert acc.calls == calls and again.attrs["finetune_cache_hit"]


def test_lookup_reuses_stored_fine_tunes(small_space) -> None:
    acc = FakeAccuracy()
    stored = {"acc_float": 0.9, "acc_exact_q": 0.9, "acc_axm_before": 0.8, "acc_axm_after": 0.85}
    ev = Evaluator(
        small_space, [parse_objective("accuracy", "s")], accuracy=acc, lookup=lambda h: stored
    )
    e = ev.evaluate(small_space.exact_genome())
    assert acc.calls == 0 and e.values[0] == pytest.approx(85.0)


def test_accuracy_objective_needs_a_model(small_space) -> None:
    with pytest.raises(ConfigError, match="need a model and data"):
        Evaluator(small_space, [parse_objective("accuracy_drop", "s")])


def test_back_end_accuracies_override_the_fine_tune_without_caching(small_space) -> None:
    """A back end that trains the network itself (TRAM) hands its accuracies over; the
    study's fine-tune is not run, and the figures are not reused for the same structure."""
    acc = FakeAccuracy()
    ev = Evaluator(
        small_space,
        [parse_objective("accuracy_drop", "s"), parse_objective("power_uw", "s")],
        accuracy=acc,
    )
    own = {"acc_float": 0.95, "acc_exact_q": 0.94, "acc_axm_before": 0.5, "acc_axm_after": 0.92}
    genome = small_space.exact_genome()
    e = ev.evaluate(genome, accuracy=own)
    assert acc.calls == 0 and e.values[0] == pytest.approx(2.0)
    assert e.attrs["accuracy"]["acc_axm_before"] == 0.5 and not e.attrs["finetune_cache_hit"]
    again = ev.evaluate(genome)  # the study's own fine-tune of the same structure
    assert acc.calls == 1 and again.values[0] == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="lacks"):
        ev.evaluate(genome, accuracy={"acc_float": 0.9})
