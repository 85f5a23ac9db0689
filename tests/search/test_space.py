"""Search spaces: loading, validation messages, genome encoding and deterministic decoding."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dse.errors import ConfigError
from dse.search import Genome, load_space, space_from_dict

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"

SHIPPED = sorted(SPACES.glob("*.yaml"))


def test_at_least_three_structure_spaces_ship() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"mul8u_pp", "mul8u_compressor", "mul8s_booth"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_space_loads_and_decodes(path: Path) -> None:
    space = load_space(path)
    assert space.name == path.stem
    exact = space.decode(space.exact_genome())
    if hasattr(space, "base"):
        assert exact[0].structural_hash == space.base.structural_hash
    rng = np.random.default_rng(0)
    for _ in range(5):
        g = space.random_genome(rng, density=0.3)
        graphs = space.decode(g)
        assert len(graphs) == len(space.group_names)  # one multiplier per layer group
        for design in graphs:
            design.graph.validate()
        # deterministic: decoding twice gives the same structures
        assert [x.structural_hash for x in space.decode(g)] == [x.structural_hash for x in graphs]


def test_booth_space_is_signed() -> None:
    space = load_space(SPACES / "mul8s_booth.yaml")
    assert space.signed and space.width_a == 8


def test_params_round_trip(pp_space) -> None:
    rng = np.random.default_rng(3)
    g = pp_space.random_genome(rng)
    params = pp_space.to_params(g)
    assert pp_space.from_params(params) == g
    assert set(params) == set(pp_space.distributions())
    assert Genome.from_json(g.to_json()) == g
    assert len(g.key) == 20


def test_prune_gene_prunes_that_partial_product(pp_space) -> None:
    names = [gene.name for gene in pp_space.genes]
    i = names.index("prune.0.0")
    g = pp_space.exact_genome().replace({i: 1})
    (design,) = pp_space.decode(g)
    assert (0, 0) in design.graph.info["spec"].pruned


def test_cell_genes_address_cells_by_column_and_position() -> None:
    space = load_space(SPACES / "mul8u_tram.yaml")
    names = [gene.name for gene in space.genes]
    assert all(re.fullmatch(r"cell\.(fa|ha)\.c\d+\.\d+", n) for n in names)
    i = next(k for k, n in enumerate(names) if n.startswith("cell.fa."))
    choice = space.genes[i].choices.index("zero.cout")
    (design,) = space.decode(space.exact_genome().replace({i: choice}))
    assert design.graph.info["edits"] and design.graph.info["edits"][0][0] == "zero"


def test_layer_groups_replicate_the_genome(tmp_path: Path) -> None:
    data = {
        "base": {"generator": "dadda", "width": 4},
        "knobs": {"truncate": {"low": 0, "high": 3}},
        "groups": [{"name": "conv"}, {"name": "fc", "layers": ["fc*"]}],
    }
    space = space_from_dict(data, where="x.yaml", name="x")
    assert [g.name for g in space.genes] == ["conv.truncate", "fc.truncate"]
    a, b = space.decode(Genome.of([0, 2]))
    assert a.structural_hash != b.structural_hash
    assert space.group_layers[1] == ("fc*",)


def test_library_space(tmp_path: Path) -> None:
    from dse.arith import from_spec
    from dse.design import evaluate

    lut = evaluate(from_spec("dadda:4,truncate=2")).lut
    np.save(tmp_path / "t2.npy", lut)
    (tmp_path / "lib.yaml").write_text(
        "kind: library\nwidth: 4\nentries:\n"
        "  - {name: exact, spec: 'dadda:4'}\n"
        "  - {name: trunc2, lut: t2.npy}\n"
        "groups: [{name: a}, {name: b}]\n"
    )
    space = load_space(tmp_path / "lib.yaml")
    a, b = space.decode(Genome.of([0, 1]))
    assert a.graph is not None and b.lut() is not None
    assert space.to_params(Genome.of([1, 0])) == {"a.multiplier": "trunc2", "b.multiplier": "exact"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"base": {"generator": "dadda"}, "knobs": {"squash": {}}},
            r"field knobs\.squash: unknown knob 'squash'",
        ),
        (
            {"base": {"generator": "dadda", "width": "eight"}, "knobs": {"loa": {"high": 3}}},
            r"field base\.width: ",
        ),
        (
            {"base": {"generator": "dadda"}, "knobs": {"truncate": {"low": 0, "high": 40}}},
            r"field knobs\.truncate: range 0\.\.40",
        ),
        ({"base": {"generator": "dadda"}, "kobs": {}}, r"field kobs: unknown key 'kobs'"),
        (
            {"base": {"generator": "nope"}, "knobs": {"loa": {"high": 2}}},
            r"field base: unknown generator 'nope'",
        ),
        ({"base": {"generator": "dadda"}, "knobs": {}}, r"field knobs: no free knob"),
        (
            {"base": {"generator": "dadda"}, "knobs": {"cells": {"options": {"fa": ["ama9"]}}}},
            r"field knobs\.cells\.options\.fa: 'ama9' is not an approximate fa cell",
        ),
        (
            {"base": {"generator": "dadda"}, "knobs": {"cells": {"options": {"fa": ["zero.x"]}}}},
            r"field knobs\.cells\.options\.fa: 'zero\.x' names output 'x'",
        ),
        (
            {"base": {"generator": "c42tree"}, "knobs": {"truncate": {"high": 2}}},
            r"field knobs\.truncate: generator 'c42tree' has no partial-product matrix",
        ),
        (
            {"base": {"generator": "dadda"}, "knobs": {"truncate": {"low": 5, "high": 2}}},
            r"field knobs\.truncate: .*low",
        ),
    ],
)
def test_bad_space_names_file_and_field(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^bad\.yaml: " + message):
        space_from_dict(data, where="bad.yaml")


def test_missing_space_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_space("no/such/space.yaml")


def test_a_genome_key_is_kept_but_not_pickled() -> None:
    import hashlib
    import pickle

    g = Genome.of([3, 0, 1])
    expected = hashlib.blake2b(b"[3,0,1]", digest_size=10).hexdigest()
    assert g.key == expected and g.key is g.key  # computed once
    back = pickle.loads(pickle.dumps(g))  # a checkpoint holds the values only
    assert back == g and back.key == expected
    assert pickle.dumps(g) == pickle.dumps(Genome.of([3, 0, 1]))
