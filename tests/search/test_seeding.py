"""Designs written as specs become genomes (``Space.encode``), and searches start from
them, from another study's front, or from a library's entries (``seed_from``)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from dse.arith import from_spec
from dse.errors import ConfigError
from dse.search import Genome, load_space, run, space_from_dict

from .conftest import write_study

# a 6x6 space with every built-in knob free: prune, truncate, compensate, bam, loa, cells
SPACE6 = {
    "name": "mul6u",
    "base": {"generator": "dadda", "width": 6},
    "knobs": {
        "prune": {},
        "truncate": {"high": 4},
        "compensate": True,
        "bam": {"hbl": {"high": 3}, "vbl": {"high": 6}},
        "loa": {"high": 5},
        "cells": {"options": {"fa": ["zero.sum", "zero.cout", "zero.sum+cout", "ama1"]}},
    },
}


def _cells(spec: str, kind: str) -> list[str]:
    g = from_spec(spec)
    return [n for n in g.topological_order if g[n].kind == kind and g[n].role == "tree"]


def _roundtrip_specs() -> list[str]:
    matrix = "dadda:6,truncate=2,loa=3,prune=4:1"
    fa, fa_t2 = _cells("dadda:6", "fa"), _cells(matrix, "fa")
    return [
        "dadda:6",
        "dadda:6,prune=0:5;3:3;5:0",
        "dadda:6,truncate=3",
        "dadda:6,truncate=3,compensate=1",
        "dadda:6,prune=2:2,compensate=1",
        "dadda:6,bam=2:4",
        "dadda:6,loa=4",
        f"dadda:6,approx={fa[0]}:ama1",
        f"dadda:6,zero={fa[1]}.sum;{fa[1]}.cout;{fa[3]}.cout",
        # the cells a matrix knob's rebuilt tree names, with other knobs at once
        f"{matrix},approx={fa_t2[2]}:ama1,zero={fa_t2[0]}.sum",
    ]


@pytest.mark.parametrize("spec", _roundtrip_specs())
def test_encode_inverts_decode_for_each_knob(spec: str) -> None:
    space = space_from_dict(SPACE6, where="mul6u.yaml", name="mul6u")
    genome = space.encode(spec)
    (design,) = space.decode(genome)
    assert design.structural_hash == from_spec(spec).structural_hash
    # a built graph encodes to the same genome as its spec
    assert space.encode(from_spec(spec)) == genome


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dadda:6,truncate=5", r"knob truncate=5 is not a value of its genes \(truncate 0\.\.4\)"),
        ("dadda:6,bam=4:1", r"knob bam=4:1 is not a value of its genes \(bam\.hbl 0\.\.3"),
        ("dadda:6,loa=7", r"knob loa=7 is not a value of its genes"),
        (
            "wallace:6",
            r"it is an unsigned wallace:6x6 multiplier, the space's base is an unsigned dadda",
        ),
        ("dadda:6,adder=kogge-stone", r"final adder 'kogge-stone'"),
        ("dadda:6,approx=@FA:ama2", r"knob approx: cell '.*': option 'ama2' is not offered"),
        ("dadda:6,zero=@FA.sum,approx=@FA:ama1", r"both replaced and has an output tied to 0"),
        ("dadda:6,approx=@HA:ha", r"knob approx: cell '.*' has no gene in this space"),
        (
            "dadda:6,truncate=x",
            r"knob 'truncate': expected an integer",
        ),
    ],
)
def test_a_design_outside_the_space_names_the_knob(spec: str, message: str) -> None:
    space = space_from_dict(SPACE6, where="mul6u.yaml", name="mul6u")
    spec = spec.replace("@FA", _cells("dadda:6", "fa")[0]).replace(
        "@HA", _cells("dadda:6", "ha")[0]
    )
    with pytest.raises(ConfigError, match=r"^mul6u\.yaml: design .*" + message) as err:
        space.encode(spec)
    assert "\n" not in str(err.value)


def test_knobs_not_free_or_fixed_are_named() -> None:
    data = {
        "base": {"generator": "dadda", "width": 6, "fixed": {"truncate": 2}},
        "knobs": {"prune": {}, "loa": {"high": 4}},
    }
    space = space_from_dict(data, where="f.yaml", name="f")
    spec = "dadda:6,truncate=2,loa=3,prune=0:0;3:3"  # (0, 0) lies in a truncated column
    assert space.decode(space.encode(spec))[0].structural_hash == from_spec(spec).structural_hash
    with pytest.raises(ConfigError, match=r"knob bam='1:1': bam is not free in this space"):
        space.encode("dadda:6,truncate=2,bam=1:1")
    with pytest.raises(ConfigError, match=r"knob truncate='3': truncate is fixed to 2"):
        space.encode("dadda:6,truncate=3")
    with pytest.raises(ConfigError, match=r"base always applies truncate=2; the design does not"):
        space.encode("dadda:6,loa=1")


def test_library_spaces_encode_entry_names(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(
        "kind: library\nwidth: 4\nentries:\n"
        "  - {name: exact, spec: 'dadda:4'}\n"
        "  - {name: trunc2, spec: 'dadda:4,truncate=2'}\n"
        "  - {name: loa3, spec: 'dadda:4,loa=3'}\n"
        "groups: [{name: a}, {name: b}]\n"
    )
    space = load_space(tmp_path / "lib.yaml")
    assert space.encode("loa3") == Genome.of([2, 2])
    assert space.encode(["trunc2", "dadda:4, loa=3"]) == Genome.of([1, 2])
    assert space.encode(from_spec("dadda:4,truncate=2")) == Genome.of([1, 1])
    with pytest.raises(
        ConfigError, match=r"design 'loa9' is not an entry of the library; entries: exact"
    ):
        space.encode("loa9")


def _study(tmp_path: Path, name: str, backend: str, options: str, trials: int) -> Path:
    return write_study(tmp_path, name, backend=backend, options=options, trials=trials)


def test_nsga2_and_local_start_from_specs(tmp_path: Path, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    seeds = "['dadda:4,truncate=2', 'dadda:4,prune=3:3']"
    studies = {
        "nsga2": _study(
            tmp_path, f"{unique_name}_n", "nsga2", f"{{population_size: 6, seed_from: {seeds}}}", 12
        ),
        "local": _study(
            tmp_path, f"{unique_name}_l", "local", f"{{seed_from: {seeds}, batch_size: 4}}", 12
        ),
    }
    space = load_space(tmp_path / "mul4u.yaml")
    wanted = [
        space.exact_genome(),
        space.encode("dadda:4,truncate=2"),
        space.encode("dadda:4,prune=3:3"),
    ]
    for backend, p in studies.items():
        run(p, storage=url)
        name = f"{unique_name}_{backend[0]}"
        trials = sorted(
            optuna.load_study(study_name=name, storage=url).trials, key=lambda t: t.number
        )
        assert [Genome.from_json(t.user_attrs["genome"]) for t in trials[:3]] == wanted, backend
    # local explored the seeds' neighbourhoods: a trial one or two genes from a seed
    later = [Genome.from_json(t.user_attrs["genome"]) for t in trials[3:]]
    assert any(
        sum(a != b for a, b in zip(g.values, wanted[2].values, strict=True)) <= 2 for g in later
    )


def test_a_bad_seed_spec_is_one_line(tmp_path: Path, unique_name: str) -> None:
    p = _study(tmp_path, unique_name, "local", "{seed_from: ['dadda:4,truncate=5']}", 8)
    with pytest.raises(ConfigError, match=r"^seed_from 'dadda:4,truncate=5': .*knob truncate=5"):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}")


def test_local_starts_from_another_studys_front(tmp_path: Path, unique_name: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(_study(tmp_path, f"{unique_name}_a", "nsga2", "{population_size: 8}", 24), storage=url)
    a = optuna.load_study(study_name=f"{unique_name}_a", storage=url)
    front = [Genome.from_json(t.user_attrs["genome"]) for t in a.best_trials]
    # same space: the front's genomes, re-evaluated in this study, are its first trials
    name_b = f"{unique_name}_b"
    run(
        _study(tmp_path, name_b, "local", f"{{seed_from: 'study:{unique_name}_a'}}", 40),
        storage=url,
    )
    b = sorted(optuna.load_study(study_name=name_b, storage=url).trials, key=lambda t: t.number)
    head = {Genome.from_json(t.user_attrs["genome"]) for t in b[: 1 + len(front)]}
    assert set(front) <= head
    # another space (truncation fixed at 1): the designs that fit are encoded into it
    other = tmp_path / "mul4u_t1.yaml"
    other.write_text(
        "name: mul4u_t1\nbase: {generator: dadda, width: 4}\n"
        "knobs: {prune: {}, truncate: {low: 0, high: 3}, loa: {high: 3}}\n"
    )
    p = write_study(
        tmp_path,
        f"{unique_name}_c",
        backend="nsga2",
        options=f"{{population_size: 30, seed_from: 'study:{unique_name}_a'}}",
        trials=30,
        space=str(other),
    )
    run(p, storage=url)
    c = optuna.load_study(study_name=f"{unique_name}_c", storage=url)
    plain = {  # the designs of a's front without cell edits, which the other space holds
        t.user_attrs["structural_hash"]
        for t in a.best_trials
        if all(v == "exact" for k, v in t.params.items() if k.startswith("cell."))
    }
    assert plain and plain <= {t.user_attrs["structural_hash"] for t in c.trials}
    with pytest.raises(ConfigError, match=r"seed_from 'study:nope': no study 'nope'"):
        run(
            _study(tmp_path, f"{unique_name}_d", "local", "{seed_from: 'study:nope'}", 4),
            storage=url,
        )


def test_nsga2_starts_from_library_entries(tmp_path: Path, unique_name: str) -> None:
    (tmp_path / "lib.yaml").write_text(
        "kind: library\nwidth: 4\nentries:\n"
        "  - {name: exact, spec: 'dadda:4'}\n"
        "  - {name: trunc2, spec: 'dadda:4,truncate=2'}\n"
        "  - {name: loa3, spec: 'dadda:4,loa=3'}\n"
        "  - {name: trunc1, spec: 'dadda:4,truncate=1'}\n"
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = write_study(
        tmp_path,
        unique_name,
        backend="nsga2",
        options="{population_size: 4, seed_from: ['entry:loa3', 'entry:trunc1']}",
        trials=3,
        space="lib.yaml",
    )
    run(p, storage=url)
    trials = sorted(
        optuna.load_study(study_name=unique_name, storage=url).trials, key=lambda t: t.number
    )
    assert [t.params["multiplier"] for t in trials] == ["exact", "loa3", "trunc1"]
    p = write_study(
        tmp_path,
        f"{unique_name}_bad",
        backend="local",
        options="{seed_from: 'entry:nope'}",
        trials=3,
        space="lib.yaml",
    )
    with pytest.raises(ConfigError, match=r"seed_from 'entry:nope': .*'nope' is not an entry"):
        run(p, storage=url)
