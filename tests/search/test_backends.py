"""Back ends: structure-aware operators, determinism, every evaluation recorded as a trial."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dse.errors import ConfigError
from dse.search import Genome, make_backend, pareto_rows_of, run

# private: the NSGA-II operators are checked on their own
from dse.search._backends._pymoo_nsga2 import (
    ColumnRangeCrossover,
    StructuralDuplicateElimination,
    StructureMutation,
    canonical,
)


def test_mutation_edits_knobs_and_is_deterministic(pp_space) -> None:
    mut = StructureMutation(pp_space.genes, rate=2.0)
    X = np.full((6, 1), None, dtype=object)
    for i in range(6):
        X[i, 0] = pp_space.exact_genome()
    a = mut._do(None, X, random_state=np.random.default_rng(5))
    b = mut._do(None, X, random_state=np.random.default_rng(5))
    assert [x[0] for x in a] == [x[0] for x in b]
    for x in a:
        g = x[0]
        assert isinstance(g, Genome) and g != pp_space.exact_genome()
        for gene, v in zip(pp_space.genes, g.values, strict=True):
            assert gene.low <= v <= gene.high


def test_crossover_exchanges_column_ranges(pp_space) -> None:
    genes = pp_space.genes
    ones = Genome.of(g.high for g in genes)
    zeros = pp_space.exact_genome()
    X = np.full((2, 1, 1), None, dtype=object)
    X[0, 0, 0], X[1, 0, 0] = ones, zeros
    cx = ColumnRangeCrossover(genes, 16)
    Y = cx._do(None, X, random_state=np.random.default_rng(1))
    c0, c1 = Y[0, 0, 0], Y[1, 0, 0]
    # children are complementary, and column genes swap as contiguous column ranges
    for i in range(len(genes)):
        assert {c0[i], c1[i]} == {ones[i], zeros[i]}
    swapped_cols = {
        g.column for i, g in enumerate(genes) if g.column is not None and c0[i] != ones[i]
    }
    if swapped_cols:
        assert swapped_cols == set(range(min(swapped_cols), max(swapped_cols) + 1))


def test_canonical_repair_and_structural_duplicates(small_space) -> None:
    names = [g.name for g in small_space.genes]
    t2 = small_space.exact_genome().replace({names.index("truncate"): 2})
    t2p = t2.replace({names.index("prune.0.0"): 1})
    assert t2p != t2 and canonical(small_space, t2p) == t2
    dedup = StructuralDuplicateElimination(
        key=lambda g: small_space.design_hash(small_space.decode(g))
    )

    class Ind:
        def __init__(self, g: Genome) -> None:
            self.X = [g]

    flags = dedup._do([Ind(t2), Ind(t2p), Ind(small_space.exact_genome())], None, np.zeros(3, bool))
    assert list(flags) == [False, True, False]


def test_backend_options_are_validated() -> None:
    with pytest.raises(
        ConfigError, match=r"backend\.options: population_size must be an integer >= 4"
    ):
        make_backend("nsga2", {"population_size": 2})
    with pytest.raises(
        ConfigError, match=r"backend\.options: unknown option 'bogus' for tpe; known:"
    ):
        make_backend("tpe", {"bogus": 1})
    with pytest.raises(ConfigError, match=r"backend\.name: unknown back end 'cmaes'"):
        make_backend("cmaes")
    assert make_backend("optuna-nsga2", {"population_size": 10}).settings()["population_size"] == 10


@pytest.mark.parametrize("backend", ["nsga2", "optuna-nsga2", "optuna-nsga3", "tpe", "random"])
def test_every_back_end_records_every_evaluation(
    tmp_path: Path, backend: str, unique_name: str, make_study
) -> None:
    import optuna

    opts = "{population_size: 8}" if "nsga" in backend else "{}"
    study = make_study(unique_name, backend=backend, options=opts, trials=20)
    url = f"sqlite:///{tmp_path / 's.db'}"
    summary = run(study, storage=url)
    assert summary.complete == 20 and summary.failed == 0
    st = optuna.load_study(study_name=unique_name, storage=url)
    trials = st.get_trials()
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    for t in trials:
        assert (
            t.user_attrs["backend"].endswith(backend.replace("optuna-", "")) or backend == "nsga2"
        )
        assert {"genome", "genome_key", "structural_hash", "hw", "seed", "feasible"} <= set(
            t.user_attrs
        )
        assert set(t.constraints) == {"nmed_max"}
        assert t.params  # the genome as Optuna parameters
    assert st.metric_names == ["power_uw", "nmed"]


@pytest.mark.parametrize("backend", ["nsga2", "optuna-nsga2"])
def test_same_seed_same_front(tmp_path: Path, backend: str, unique_name: str, make_study) -> None:
    fronts = []
    for k in range(2):
        study = make_study(f"{unique_name}_{k}", backend=backend, trials=32, seed=7)
        run(study, storage=f"sqlite:///{tmp_path / f'run{k}.db'}")
        fronts.append(
            [
                (r["structural_hash"], r["power_uw"], r["nmed"])
                for r in pareto_rows_of(
                    f"{unique_name}_{k}", f"sqlite:///{tmp_path / f'run{k}.db'}"
                )
            ]
        )
    assert fronts[0] == fronts[1] and len(fronts[0]) >= 2
