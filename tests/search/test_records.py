"""A stored trial's attributes read back as a TrialRecord and write out unchanged; the
index finds recorded results by genome and fine-tunes by structural hash."""

from __future__ import annotations

from pathlib import Path

import optuna

from dse.search import TrialRecord, run

# private: the trial index is checked on its own
from dse.search._records import StoredResult, TrialIndex


def test_stored_attrs_round_trip(tmp_path: Path, make_study, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(make_study(unique_name, trials=10), storage=url)
    study = optuna.load_study(study_name=unique_name, storage=url)
    for t in study.get_trials():
        record = TrialRecord.from_attrs(t.user_attrs)
        assert record.to_attrs() == t.user_attrs
        assert record.backend == "pymoo.nsga2" and record.generation is not None
        assert record.structural_hash == t.user_attrs["structural_hash"]


def test_index_first_trial_wins_and_skips_backend_training() -> None:
    def result(number: int, genome: list[int], **attrs: object) -> StoredResult:
        record = TrialRecord.from_attrs(
            {"backend": "b", "genome": str(genome).replace(" ", ""), "seed": 0, **attrs}
        )
        return StoredResult(number, record, (1.0,), {})

    index = TrialIndex()
    tram = {"accuracy": {"acc": 1}, "accuracy_source": "backend", "structural_hash": "h"}
    index.add_all(
        [
            result(2, [0, 1], structural_hash="h", accuracy={"acc": 3}),
            result(0, [0, 1], **tram),
            result(1, [1, 1], structural_hash="h", accuracy={"acc": 2}),
        ]
    )
    found = index.by_genome(TrialRecord.from_attrs({"genome": "[0,1]"}).genome.key)
    assert found is not None and found.number == 0
    finetuned = index.finetune("h")
    assert finetuned is not None and finetuned.number == 1  # TRAM's own training is not reused
    assert [r.number for r in index.results()] == [0, 1, 2] and index.knows(2)
