"""Study files, storage, and resuming from the storage alone."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from dse.errors import ConfigError, StudyStateError
from dse.search import load_study_config, resume, run, stored_config


def test_study_name_defaults_to_file_stem(tmp_path: Path, make_study) -> None:
    p = make_study("named")
    p.write_text(p.read_text().replace("name: named\n", ""))
    cfg = load_study_config(p)
    assert cfg.name == "named" and cfg.space_data["name"] == "mul4u"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("budget:", "bugdet:"), r"field bugdet: unknown key 'bugdet'"),
        (("seed: 0", "seed: zero"), r"field seed: "),
        (
            ("objectives: [power_uw, nmed]", "objectives: [power_uw, accuracy_drop]"),
            r"field objectives: 'accuracy_drop' is not computable without a network",
        ),
        (
            ("objectives: [power_uw, nmed]", "objectives: [power_uw, joules]"),
            r"field objectives\.1: unknown metric 'joules'",
        ),
        (
            ("constraints: ['nmed <= 0.08']", "constraints: ['accuracy_drop <= 1']"),
            r"field constraints: 'accuracy_drop' is not computable",
        ),
        (("nsga2, options", "cmaes, options"), r"field backend\.name: "),
    ],
)
def test_bad_study_file_names_file_and_field(
    tmp_path: Path, make_study, edit: tuple[str, str], message: str
) -> None:
    p = make_study("bad")
    p.write_text(p.read_text().replace(*edit))
    with pytest.raises(ConfigError, match=r"^" + str(p).replace(".", r"\.") + ": " + message):
        load_study_config(p)


def test_unknown_knob_in_the_space_names_the_space_file(tmp_path: Path, make_study) -> None:
    p = make_study("badknob")
    sp = tmp_path / "mul4u.yaml"
    sp.write_text(sp.read_text().replace("truncate:", "trunc8:"))
    with pytest.raises(ConfigError, match=r"field knobs\.trunc8: unknown knob 'trunc8'"):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}")


def test_unreachable_storage(tmp_path: Path, make_study) -> None:
    p = make_study("unreach")
    with pytest.raises(
        ConfigError,
        match=r"^--storage: storage URL 'postgresql\+psycopg2://u:\*\*\*@127\.0\.0\.1:1/x' is unreachable",
    ):
        run(p, storage="postgresql+psycopg2://u:pw@127.0.0.1:1/x")
    with pytest.raises(ConfigError, match=r"is unreachable"):
        run(p, storage=f"sqlite:///{tmp_path / 'no' / 'dir' / 's.db'}")
    p.write_text(
        p.read_text().replace("storage: {", "storage: {url: 'mysql://nobody@127.0.0.1:1/x', ")
    )
    with pytest.raises(
        ConfigError,
        match=r"field storage\.url: storage URL 'mysql://nobody@127\.0\.0\.1:1/x' is unreachable",
    ):
        run(p)


def test_config_and_state_live_in_the_storage(tmp_path: Path, make_study, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = make_study(
        unique_name,
        backend="optuna-nsga2",
        options="{population_size: 6, crossover_prob: 0.8}",
        trials=12,
        seed=3,
    )
    run(p, storage=url)
    p.unlink()
    (tmp_path / "mul4u.yaml").unlink()  # resume needs nothing but the storage
    study = optuna.load_study(study_name=unique_name, storage=url)
    cfg = stored_config(study)
    assert cfg.backend.options == {"population_size": 6, "crossover_prob": 0.8} and cfg.seed == 3
    s = resume(unique_name, storage=url, trials=24)
    assert s.complete == 24
    from dse.search import open_session

    session = open_session(unique_name, url)
    sampler = session.study.sampler
    assert isinstance(sampler, optuna.samplers.NSGAIISampler)
    assert sampler._population_size == 6
    gens = sorted({t.system_attrs.get("NSGAIISampler:generation") for t in session.study.trials})
    assert (
        gens == list(range(len(gens))) and len(gens) >= 3
    )  # generations continued past the first run's


def test_pymoo_resume_continues_the_generation_count(
    tmp_path: Path, make_study, unique_name: str
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = make_study(unique_name, trials=20, seed=1)
    run(p, storage=url)
    study = optuna.load_study(study_name=unique_name, storage=url)
    first = max(t.user_attrs["generation"] for t in study.trials)
    ck = study.user_attrs["dse:pymoo:checkpoint"]["generation"]
    s = resume(unique_name, storage=url, trials=44)
    assert s.complete == 44
    study = optuna.load_study(study_name=unique_name, storage=url)
    later = [t.user_attrs["generation"] for t in study.trials if t.number >= 20]
    assert min(later) >= ck and max(later) > first  # not restarted at generation 1
    keys = [t.user_attrs["genome_key"] for t in study.trials]
    assert len(keys) == len(set(keys))  # the replayed generation hit the cache


def test_pymoo_resume_reaches_the_same_front_as_an_uninterrupted_run(
    tmp_path: Path, make_study, unique_name: str
) -> None:
    from dse.search import pareto_rows_of

    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    run(make_study(unique_name, trials=40, seed=4), storage=a)
    run(make_study(unique_name, trials=17, seed=4), storage=b)
    resume(unique_name, storage=b, trials=40)
    fa = [(r["structural_hash"], r["nmed"]) for r in pareto_rows_of(unique_name, a)]
    fb = [(r["structural_hash"], r["nmed"]) for r in pareto_rows_of(unique_name, b)]
    assert fa == fb


def test_run_refuses_a_changed_study(tmp_path: Path, make_study, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = make_study(unique_name, trials=8)
    run(p, storage=url)
    p.write_text(p.read_text().replace("nmed <= 0.08", "nmed <= 0.02"))
    with pytest.raises(StudyStateError, match=r"already exists .* different 'constraints'"):
        run(p, storage=url)


def test_resume_unknown_study(tmp_path: Path) -> None:
    with pytest.raises(StudyStateError, match=r"no study 'ghost'"):
        resume("ghost", storage=f"sqlite:///{tmp_path / 's.db'}")


def test_journal_storage_run_and_resume(tmp_path: Path, make_study, unique_name: str) -> None:
    url = f"journal:{tmp_path / 'study.log'}"
    p = make_study(unique_name, backend="random", options="{}", trials=8)
    assert run(p, storage=url).complete == 8
    assert resume(unique_name, storage=url, trials=12).complete == 12


def test_library_space_study(tmp_path: Path, unique_name: str) -> None:
    import json

    import numpy as np

    from dse.arith import from_spec
    from dse.design import evaluate

    rep = evaluate(from_spec("dadda:4,truncate=3"))
    np.save(tmp_path / "t3.npy", rep.lut)
    (tmp_path / "t3.json").write_text(json.dumps(rep.to_dict()))
    (tmp_path / "lib.yaml").write_text(
        "kind: library\nwidth: 4\nentries:\n"
        "  - {name: exact, spec: 'dadda:4'}\n"
        "  - {name: trunc2, spec: 'dadda:4,truncate=2'}\n"
        "  - {name: trunc3, lut: t3.npy, metrics: t3.json}\n"
    )
    (tmp_path / "study.yaml").write_text(
        f"name: {unique_name}\nspace: lib.yaml\nobjectives: [power_uw, nmed]\n"
        "backend: {name: random}\nbudget: {trials: 6}\n"
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(tmp_path / "study.yaml", storage=url)
    study = optuna.load_study(study_name=unique_name, storage=url)
    seen = {t.params["multiplier"]: t.values for t in study.trials}
    assert seen.get("trunc3", [rep.power_uw])[0] == pytest.approx(rep.power_uw)
    assert all(v[1] >= 0 for v in seen.values())
