"""The fine-tune objective through dse.nn (the adapter), and the shipped study files."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from dse.search import load_study_config, run

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "studies").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_studies_validate(path: Path) -> None:
    cfg = load_study_config(path)
    assert cfg.name == path.stem and cfg.space_data


def test_quickstart_is_nsga2_on_the_8x8_unsigned_space() -> None:
    cfg = load_study_config(REPO / "studies" / "quickstart.yaml")
    assert cfg.backend.name == "nsga2" and cfg.model == "cnn1d" and cfg.data == "mnist1d"
    assert cfg.space_data["base"] == {
        "generator": "dadda",
        "width": 8,
        "signed": False,
        "adder": "ripple",
    }


@pytest.mark.slow
def test_fine_tune_study_records_accuracies_and_skips_by_hardware(
    tmp_path: Path, unique_name: str
) -> None:
    pytest.importorskip("torch")
    p = tmp_path / "ft.yaml"
    p.write_text(
        f"name: {unique_name}\n"
        f"space: {REPO / 'search_spaces' / 'mul8u_pp.yaml'}\n"
        "model: cnn1d\ndata: mnist1d\n"
        "finetune: {steps: 1}\n"
        "objectives: [accuracy_drop, power_uw]\n"
        "constraints: ['nmed <= 0.01']\n"
        "power: {distribution: network}\n"
        "backend: {name: nsga2, options: {population_size: 4, init_density: [0.3, 0.6]}}\n"
        "budget: {trials: 4}\n"
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(p, storage=url)
    study = optuna.load_study(study_name=unique_name, storage=url)
    trials = study.get_trials()
    tuned = [t for t in trials if "accuracy" in t.user_attrs]
    skipped = [t for t in trials if t.user_attrs.get("finetune_skipped")]
    assert tuned and tuned[0].user_attrs["finetune"]["steps"] == 1
    assert {"acc_float", "acc_exact_q", "acc_axm_before", "acc_axm_after"} <= set(
        tuned[0].user_attrs["accuracy"]
    )
    exact = trials[0]  # the exact design is the first individual
    assert exact.values[0] == pytest.approx(
        100
        * (
            exact.user_attrs["accuracy"]["acc_exact_q"]
            - exact.user_attrs["accuracy"]["acc_axm_after"]
        )
    )
    for t in skipped:
        assert not t.user_attrs["feasible"] and t.user_attrs["infeasible_reason"].startswith(
            "hardware stage"
        )
    assert study.user_attrs["dse:exact"]["power_uw"] > 0
