"""The study summary's hypervolume reference follows the space's product width."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.search import (
    hypervolume,
    hypervolume_reference,
    load_stored_study,
    pareto_trials,
    reference_point,
    run,
    stored_config,
    study_config_from_dict,
)

SPACE_6X6 = {
    "name": "mul6u",
    "base": {"generator": "dadda", "width": 6},
    "knobs": {"prune": {}, "truncate": {"low": 0, "high": 4}},
}


def test_med_reference_of_a_6x6_study_uses_its_12_bit_product(
    tmp_path: Path, unique_name: str
) -> None:
    cfg = study_config_from_dict(
        {
            "name": unique_name,
            "space": SPACE_6X6,
            "objectives": ["power_uw", "med"],
            "backend": {"name": "random"},
            "budget": {"trials": 6},
            "seed": 2,
        }
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    summary = run(cfg, storage=url)
    study = load_stored_study(unique_name, url)
    ref, scale = hypervolume_reference(study, stored_config(study))
    # med's reference is 5 % of the 6x6 product range 2**12, not of an 8x8's 2**16
    assert scale[1] == pytest.approx(0.05 * 2**12) == 204.8
    assert ref[1] == 1.0
    objectives = stored_config(study).parsed_objectives()
    front = [t.values for t in pareto_trials(study)]
    expected = hypervolume(front, objectives, ref, scale)
    assert summary.hypervolume == expected
    wrong = reference_point(objectives, study.user_attrs["dse:exact"], {}, 16)
    assert expected != hypervolume(front, objectives, *wrong)


def test_study_design_decodes_a_stored_trial(tmp_path: Path, make_study, unique_name: str) -> None:
    from dse.search import load_space, study_design

    url = f"sqlite:///{tmp_path / 's.db'}"
    run(make_study(unique_name, backend="random", options="{}", trials=3), storage=url)
    study = load_stored_study(unique_name, url)
    space = load_space(tmp_path / "mul4u.yaml")
    for t in study.get_trials():
        designs = study_design(unique_name, t.number, storage=url)
        assert len(designs) == 1
        assert space.design_hash(designs) == t.user_attrs["structural_hash"]
    from dse.errors import StudyStateError

    with pytest.raises(StudyStateError, match="has no trial 3"):
        study_design(study, 3)


@pytest.mark.parametrize("constrained", [False, True])
def test_pareto_trials_are_optunas_best_trials_as_copies(constrained: bool) -> None:
    import optuna
    from optuna.trial import TrialState, create_trial

    study = optuna.create_study(directions=["minimize", "maximize"])
    rng = __import__("random").Random(5)
    for k in range(60):
        x = rng.randint(0, 9)
        values = [float(x), float(x - rng.randint(0, 2))]  # a trade-off, ties and repeats
        attrs = {"constraints": [rng.choice([-1.0, 0.0, 0.5])]} if constrained else {}
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE if k % 7 else TrialState.FAIL,
                values=values if k % 7 else None,
                system_attrs=attrs,
            )
        )
    best = sorted(study.best_trials, key=lambda t: (tuple(t.values), t.number))
    front = pareto_trials(study)
    assert front == best and len(front) > 1
    front[0].user_attrs["changed"] = 1  # a copy: the study's trial keeps its attributes
    assert "changed" not in study.trials[front[0].number].user_attrs
