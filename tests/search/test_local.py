"""The ``local`` back end: Pareto local search after NSGA-II or alone, resumable and
deterministic, never evaluating a recorded design twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from dse.errors import ConfigError
from dse.search import Genome, load_space, make_backend, resume, run

from .conftest import write_study


def _pipeline(tmp_path: Path, name: str, *, trials: int, first: int, local: str = "{}") -> Path:
    """A hardware-only 4x4 study: NSGA-II for ``first`` trials, then ``local``."""
    p = write_study(tmp_path, name, trials=trials)
    text = [line for line in p.read_text().splitlines() if not line.startswith("backend:")]
    text += [
        "backend:",
        f"  - {{name: nsga2, trials: {first}, options: {{population_size: 8}}}}",
        f"  - {{name: local, options: {local}}}",
    ]
    p.write_text("\n".join(text) + "\n")
    return p


def _trials(name: str, url: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=url)
    return sorted(study.get_trials(), key=lambda t: t.number)


def _front(trials: list[optuna.trial.FrozenTrial]) -> np.ndarray:
    """The feasible non-dominated (power, NMED) points of ``trials``."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    feasible = [t for t in trials if all(v <= 0 for v in t.constraints.values())]
    F = np.asarray([t.values for t in feasible], float)
    return np.unique(F[NonDominatedSorting().do(F, only_non_dominated_front=True)], axis=0)


def _hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref)(points))


def test_local_search_improves_the_front_of_nsga2(tmp_path: Path, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    summary = run(_pipeline(tmp_path, unique_name, trials=64, first=24), storage=url)
    assert summary.complete == 64 and summary.backend == "nsga2+local"
    trials = _trials(unique_name, url)
    tags = [t.user_attrs["backend"] for t in trials]
    assert tags[:24] == ["pymoo.nsga2"] * 24 and set(tags[24:]) == {"local"}
    start, final = _front(trials[:24]), _front(trials)
    # every starting point is weakly dominated by a final one (the final front is at
    # least as good everywhere) and the local search found points the start lacked
    for p in start:
        assert any(np.all(q <= p) for q in final)
    new = [tuple(q) for q in final if not any(np.array_equal(q, p) for p in start)]
    assert new
    local_points = {tuple(t.values) for t in trials[24:]}
    assert set(new) <= local_points
    ref = np.max(np.vstack([start, final]), axis=0) * 1.1 + 1e-6
    assert _hypervolume(final, ref) > _hypervolume(start, ref)


def test_local_search_never_evaluates_a_recorded_design(tmp_path: Path, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(_pipeline(tmp_path, unique_name, trials=60, first=16), storage=url)
    trials = _trials(unique_name, url)
    keys = [t.user_attrs["genome_key"] for t in trials]
    assert len(set(keys)) == len(keys)
    earlier = {t.user_attrs["structural_hash"] for t in trials[:16]}
    local = [t.user_attrs["structural_hash"] for t in trials[16:]]
    assert len(set(local)) == len(local) and not earlier & set(local)


def test_pipeline_resumes_inside_the_local_stage(tmp_path: Path, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = _pipeline(tmp_path, unique_name, trials=50, first=16)
    first = run(p, storage=url, trials=30)  # stops inside the local stage
    assert first.complete == 30
    study = optuna.load_study(study_name=unique_name, storage=url)
    assert study.user_attrs["dse:stage:0:done"] is True
    assert "dse:stage:1:done" not in study.user_attrs
    summary = resume(unique_name, storage=url)
    trials = _trials(unique_name, url)
    tags = [t.user_attrs["backend"] for t in trials]
    assert summary.complete == 50 == len(trials)
    assert tags.count("pymoo.nsga2") == 16 and tags.count("local") == 34
    keys = [t.user_attrs["genome_key"] for t in trials]
    assert len(set(keys)) == len(keys)  # the resumed search knew what was recorded


def test_same_seed_same_trials(tmp_path: Path, unique_name: str) -> None:
    runs = []
    for k in range(2):
        url = f"sqlite:///{tmp_path / f'run{k}.db'}"
        run(_pipeline(tmp_path, f"{unique_name}_{k}", trials=40, first=12), storage=url)
        runs.append(
            [
                (t.user_attrs["genome_key"], tuple(t.values))
                for t in _trials(f"{unique_name}_{k}", url)
            ]
        )
    assert runs[0] == runs[1]


def test_local_alone_starts_from_the_exact_design_and_ends_when_explored(
    tmp_path: Path, unique_name: str, make_study
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = make_study(
        unique_name,
        backend="local",
        options="{evals_per_design: 3, moves: [flip], max_front: 2}",
        trials=500,
    )
    summary = run(p, storage=url)
    trials = _trials(unique_name, url)
    exact = load_space(tmp_path / "mul4u.yaml").exact_genome()
    assert Genome.from_json(trials[0].user_attrs["genome"]) == exact
    # every explored member was evaluated with at most 3 one-bit neighbours, and the
    # search stopped on its own before the budget
    assert summary.stop_reason == "done" and 1 < summary.complete < 500
    genes = load_space(tmp_path / "mul4u.yaml").genes
    bits = [i for i, g in enumerate(genes) if g.kind == "bit"]
    for t in trials[1:]:
        g = Genome.from_json(t.user_attrs["genome"])
        assert all(v == 0 for i, v in enumerate(g.values) if i not in bits)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"evals_per_design": 0}, r"evals_per_design must be an integer >= 1, got 0"),
        ({"moves": ["flip", "swap"]}, r"moves: 'swap' is not a move; give some of flip, step"),
        ({"moves": []}, r"moves: give at least one of"),
        ({"pairs": -1}, r"pairs must be an integer >= 0"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1"),
        ({"max_front": 0}, r"max_front must be an integer >= 1"),
        ({"seed_from": "magic"}, r"seed_from: unknown back end 'magic'"),
        ({"seed_from": "study:"}, r"seed_from: 'study:' names no study"),
        ({"evals_per_design": "many"}, r"option 'evals_per_design' of local: expected int"),
        ({"steps": 3}, r"unknown option 'steps' for local; known: evals_per_design"),
    ],
)
def test_bad_options_are_one_line_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^backend\.options: " + message) as err:
        make_backend("local", options)
    assert "\n" not in str(err.value)


def test_settings_are_stored_with_the_study(tmp_path: Path, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(_pipeline(tmp_path, unique_name, trials=20, first=12, local="{pairs: 2}"), storage=url)
    stored = optuna.load_study(study_name=unique_name, storage=url).user_attrs["dse:backend"]
    local = stored["stages"][1]
    assert local["name"] == "local" and local["pairs"] == 2
    assert local["moves"] == ["flip", "step", "choice", "pair"]
