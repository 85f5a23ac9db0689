"""Back-end pipelines, nsga2's seed_from, the tram back end and genomes of mapped designs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

from dse.errors import ConfigError
from dse.search import load_space, load_study_config, make_backend, resume, run

from .conftest import SPACES, write_study

REPO = Path(__file__).resolve().parents[2]


def _write_pipeline(tmp_path: Path, name: str, trials: int = 14, first: int = 5) -> Path:
    p = write_study(tmp_path, name, trials=trials)
    text = p.read_text().splitlines()
    text = [line for line in text if not line.startswith("backend:")]
    text.append("backend:")
    text.append(f"  - {{name: random, trials: {first}}}")
    text.append("  - {name: nsga2, options: {population_size: 6, seed_from: random}}")
    p.write_text("\n".join(text) + "\n")
    return p


def test_pipeline_runs_stages_in_order_and_seeds_nsga2(tmp_path: Path, unique_name: str) -> None:
    p = _write_pipeline(tmp_path, unique_name)
    url = f"sqlite:///{tmp_path / 's.db'}"
    summary = run(p, storage=url)
    assert summary.backend == "random+nsga2" and summary.complete == 14
    study = optuna.load_study(study_name=unique_name, storage=url)
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    tags = [t.user_attrs["backend"] for t in trials]
    assert tags[:5] == ["optuna.random"] * 5 and set(tags[5:]) == {"pymoo.nsga2"}
    assert study.user_attrs["dse:stage:0:done"] is True
    # the seeds' figures are reused: NSGA-II's first generation evaluated only what the
    # random stage had not recorded (population 6 = exact + up to 5 seeds)
    random_keys = {t.user_attrs["genome_key"] for t in trials[:5]}
    first_gen = [t for t in trials[5:] if t.user_attrs.get("generation") == 1]
    assert not random_keys & {t.user_attrs["genome_key"] for t in first_gen}
    assert len(first_gen) <= 6 - len(random_keys - {None}) + 1


def test_pipeline_resume_continues_the_running_stage(tmp_path: Path, unique_name: str) -> None:
    p = _write_pipeline(tmp_path, unique_name, trials=20, first=4)
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(p, storage=url, trials=3)  # stops inside the random stage
    study = optuna.load_study(study_name=unique_name, storage=url)
    assert "dse:stage:0:done" not in study.user_attrs
    summary = resume(unique_name, storage=url)
    study = optuna.load_study(study_name=unique_name, storage=url)
    tags = [t.user_attrs["backend"] for t in sorted(study.get_trials(), key=lambda t: t.number)]
    assert tags.count("optuna.random") == 4 and summary.complete == 20


def test_seeded_sampling_puts_seeds_after_the_exact_design(pp_space) -> None:
    from dse.search import Genome

    # private: the NSGA-II sampling operator is checked on its own
    from dse.search._backends._pymoo_nsga2 import GenomeSampling

    defaults = [pp_space.default_value(i) for i in range(len(pp_space.genes))]
    seeds = [pp_space.random_genome(np.random.default_rng(k), 0.2) for k in range(3)]
    sampling = GenomeSampling(pp_space.genes, defaults, (0.1, 0.2), [Genome.of(defaults), *seeds])
    X = sampling._do(None, 8, random_state=np.random.default_rng(0))
    assert X[0, 0] == Genome.of(defaults)
    assert [X[k, 0] for k in (1, 2, 3)] == seeds  # the exact design is not repeated
    assert len({X[k, 0].key for k in range(8)}) >= 6


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("[{name: random}, {name: random}]", "appears twice"),
        ("{name: nsga2, trials: 3}", "backend.trials"),
        ("[{name: tpe}, {name: random}]", "at most one Optuna-sampler"),
        ("{name: nsga2, options: {seed_from: magic}}", "unknown back end 'magic'"),
        ("{name: tram, options: {n_designs: 1}}", "n_designs"),
        ("{name: tram, options: {schedule: list}}", "needs lambdas"),
        ("{name: tram, options: {lambda_range: [1, 0.1]}}", "lambda_range"),
        ("{name: tram, options: {moves: all}}", "moves"),
    ],
)
def test_bad_pipelines_are_one_line_errors(
    tmp_path: Path, unique_name: str, backend: str, message: str
) -> None:
    p = write_study(tmp_path, unique_name)
    text = [line for line in p.read_text().splitlines() if not line.startswith("backend:")]
    p.write_text("\n".join([*text, f"backend: {backend}"]) + "\n")
    with pytest.raises(ConfigError, match=message):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}")


def test_tram_backend_refuses_spaces_it_cannot_map_into(tmp_path: Path, unique_name: str) -> None:
    p = write_study(tmp_path, unique_name, space=str(SPACES / "mul8u_pp.yaml"))
    text = [line for line in p.read_text().splitlines() if not line.startswith("backend:")]
    p.write_text("\n".join([*text, "backend: {name: tram}"]) + "\n")
    with pytest.raises(ConfigError, match="cell knobs"):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}")


def test_encode_cells_round_trips_and_names_bad_cells() -> None:
    space = load_space(SPACES / "mul8u_tram_layers.yaml")
    cells = list(space.cell_options())
    edits = [{cells[0]: "zero.cout+sum", cells[3]: "ama1"}, {cells[5]: "zero.sum"}]
    genome = space.encode_cells(edits)
    conv, fc = space.decode(genome)
    assert {e[1] for e in conv.graph.info["edits"]} == {cells[0], cells[3]}
    assert [e[1:] for e in fc.graph.info["edits"]] == [(cells[5], "sum")]
    with pytest.raises(ConfigError, match="has no gene"):
        space.encode_cells([{"pp_0_0": "zero.sum"}, {}])
    with pytest.raises(ConfigError, match="not offered"):
        space.encode_cells([{cells[0]: "loa_or"}, {}])
    with pytest.raises(ConfigError, match="one mapping per layer group"):
        space.encode_cells([{}])


@pytest.mark.parametrize("moves", ["published", "rich"])
def test_mapping_restricted_to_a_space_gives_its_genome(moves: str) -> None:
    from dse.tram import map_theta

    space = load_space(SPACES / "mul8u_tram.yaml")
    theta = np.zeros(15)
    theta[:6] = 1.0
    theta[6:8] = 0.5
    res = map_theta(theta, 8, moves=moves, bases=("dadda",), allowed=space.cell_options())
    assert res.edits  # θ removes whole columns: the walk keeps edits
    (decoded,) = space.decode(space.encode_cells([res.cell_options()]))
    assert decoded.structural_hash == res.graph.structural_hash
    free = map_theta(theta, 8, moves=moves, bases=("dadda",))
    assert free.mse <= res.mse + 1e-9 or free.edits != res.edits


def test_shipped_tram_study_is_a_pipeline() -> None:
    cfg = load_study_config(REPO / "studies" / "tram_nsga2.yaml")
    assert [s.name for s in cfg.stages] == ["tram", "nsga2"]
    assert cfg.stages[1].options["seed_from"] == "tram"
    assert make_backend("tram", cfg.stages[0].options).settings()["power"] == "calibrated"


@pytest.mark.slow
def test_tram_then_nsga2_per_layer_groups_end_to_end(tmp_path: Path, unique_name: str) -> None:
    """TRAM designs of a two-group space are trials of the study, NSGA-II starts from
    them, the merged front names each point's back end, and a TRAM trial exports as one
    netlist per layer group, each equal to its product table."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from dse.cli import cli
    from dse.eval import product_table
    from dse.netlist import read_verilog

    p = tmp_path / "tn.yaml"
    p.write_text(
        f"name: {unique_name}\n"
        f"space: {SPACES / 'mul8u_tram_layers.yaml'}\n"
        "model: cnn1d\ndata: mnist1d\n"
        "finetune: {steps: 3, grad: lut1d}\n"
        "objectives: [accuracy_drop, power_uw]\n"
        "constraints: ['nmed <= 0.2']\n"
        "power: {distribution: network}\n"
        "backend:\n"
        "  - {name: tram, trials: 3, options: {lambdas: [0.02, 0.3, 2.0], phase1_steps: 8, "
        "power: ratio}}\n"
        "  - {name: nsga2, options: {population_size: 4, seed_from: tram}}\n"
        "budget: {trials: 8}\n"
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(p, storage=url)
    study = optuna.load_study(study_name=unique_name, storage=url)
    tram = [t for t in study.get_trials() if t.user_attrs["backend"] == "tram"]
    assert tram and all(t.user_attrs["accuracy_source"] == "backend" for t in tram)
    assert all(set(t.user_attrs["tram"]["thetas"]) == {"conv", "fc"} for t in tram)
    assert all(len(t.user_attrs["group_hashes"]) == 2 for t in tram)
    assert all(t.user_attrs["finetune"]["grad"] == "lut1d" for t in tram)
    res = CliRunner().invoke(cli, ["pareto", unique_name, "--storage", url, "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and {r["backend"] for r in rows} <= {"tram", "pymoo.nsga2"}
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "export",
            unique_name,
            "--storage",
            url,
            "--trial",
            str(tram[0].number),
            "--format",
            "verilog",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    bundle = next(out.iterdir())
    for group in ("conv", "fc"):
        (v,) = bundle.glob(f"*_{group}.v")
        lut = np.load(next(bundle.glob(f"*_{group}.npy")))
        assert np.array_equal(product_table(read_verilog([v]), 8, 8, signed=False), lut)


def test_backend_shorthand_and_error_locations() -> None:
    from dse.search import study_config_from_dict

    base = {
        "space": {"base": {"generator": "dadda", "width": 4}, "knobs": {"truncate": {"high": 3}}},
        "objectives": ["power_uw"],
    }
    cfg = study_config_from_dict({**base, "backend": ["random", {"name": "nsga2"}]}, where="s")
    assert [b.name for b in cfg.stages] == [
        "random",
        "nsga2",
    ] and cfg.backend_name == "random+nsga2"
    assert study_config_from_dict({**base, "backend": "tpe"}, where="s").backend_name == "tpe"
    with pytest.raises(ConfigError, match=r"^s: field backend\.1\.name: .*'cmaes'"):
        study_config_from_dict({**base, "backend": ["random", {"name": "cmaes"}]}, where="s")
    with pytest.raises(ConfigError, match=r"^s: field backend\.0\.trials: "):
        study_config_from_dict({**base, "backend": [{"name": "random", "trials": 0}]}, where="s")
