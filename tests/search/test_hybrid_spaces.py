"""Hybrid spaces and the new space options: bias and cut genes, cells per column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dse.arith import lower
from dse.errors import ConfigError
from dse.eval import product_table
from dse.netlist import write_verilog
from dse.search import Genome, load_space, space_from_dict
from dse.testing.iverilog import have_iverilog, iverilog_lut

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
HYBRID = ["mul8u_hybrid", "mul8s_hybrid"]

CELLS = {
    "per": "column",
    "options": {
        "fa": ["ama1", "axa2", "zero.sum", "zero.cout"],
        "ha": ["zero.sum", "zero.cout"],
        "c42": ["momeni_d1", "zero.cout"],
    },
}


def small_hybrid(generator: str, signed: bool, width: int = 5, adder: str = "ripple") -> dict:
    """A hybrid space as the shipped ones, small enough to check every operand pair."""
    cells = dict(CELLS)
    if generator != "c42":
        cells["options"] = {k: v for k, v in CELLS["options"].items() if k != "c42"}
    return {
        "base": {"generator": generator, "width": width, "signed": signed, "adder": adder},
        "knobs": {
            "prune": {"columns": [2, 6]},
            "truncate": {"high": 4},
            "compensate": True,
            "loa": {"high": 4},
            "bias": {"columns": [1, 6], "high": 2},
            "cut": {"columns": [3, 2 * width - 1]},
            "cells": cells,
        },
    }


@pytest.mark.parametrize("name", HYBRID)
def test_hybrid_space_has_every_move_in_one_genome(name: str) -> None:
    space = load_space(SPACES / f"{name}.yaml")
    kinds = {g.name.split(".")[0] for g in space.genes}
    assert {"prune", "truncate", "compensate", "loa", "bias", "cut", "cell"} <= kinds
    assert len(space.genes) <= 100  # a genome NSGA-II handles
    # one gene per (family, column): no per-cell index in the names
    assert all(g.name.count(".") == 2 for g in space.genes if g.name.startswith("cell."))
    assert space.signed == name.startswith("mul8s")


@pytest.mark.parametrize("name", HYBRID)
def test_random_hybrid_genomes_decode_to_designs_whose_netlist_gives_the_lut(name: str) -> None:
    space = load_space(SPACES / f"{name}.yaml")
    rng = np.random.default_rng(7)
    pairs = rng.integers(0, 256, size=(150, 2))
    for _ in range(3):
        (design,) = space.decode(space.random_genome(rng, density=0.3))
        graph = design.graph.validate()
        table = design.lut()
        # the named netlist (the Python lowering) gives the compiled path's table
        named = product_table(design.netlist(), 8, 8, signed=space.signed)
        assert np.array_equal(named, table)
        # and both are the graph's semantics (sampled: 8x8 is too slow to walk in full)
        for a, b in pairs:
            assert table[a, b] == graph.evaluate(int(a), int(b))


@pytest.mark.parametrize(
    ("generator", "signed", "adder"),
    [("c42", False, "ripple"), ("booth", True, "kogge-stone"), ("dadda", True, "ripple")],
)
def test_small_hybrid_genomes_equal_the_graph_exhaustively(
    generator: str, signed: bool, adder: str
) -> None:
    space = space_from_dict(small_hybrid(generator, signed, adder=adder), where="small.yaml")
    rng = np.random.default_rng(3)
    for density in (0.2, 0.5, None):
        (design,) = space.decode(space.random_genome(rng, density=density))
        assert np.array_equal(design.lut(), design.graph.reference_table())


@pytest.mark.iverilog
@pytest.mark.skipif(not have_iverilog(), reason="Icarus Verilog is not installed")
@pytest.mark.parametrize("name", HYBRID)
def test_exported_hybrid_verilog_simulates_to_the_lut(name: str) -> None:
    space = load_space(SPACES / f"{name}.yaml")
    rng = np.random.default_rng(11)
    for _ in range(2):
        (design,) = space.decode(space.random_genome(rng, density=0.3))
        got = iverilog_lut(write_verilog(lower(design.graph)), 8, 8, signed=space.signed)
        np.testing.assert_array_equal(got, design.lut())


def test_a_column_gene_sets_every_cell_of_its_family_in_the_column() -> None:
    data = {
        "base": {"generator": "dadda", "width": 6},
        "knobs": {"cells": {"per": "column", "options": {"fa": ["ama1", "zero.cout"]}}},
    }
    space = space_from_dict(data, where="c.yaml")
    per_cell = space_from_dict(
        {**data, "knobs": {"cells": {"options": {"fa": ["ama1", "zero.cout"]}}}}, where="c.yaml"
    )
    base = space.base
    tree_fas = [n for n in base if base[n].kind == "fa" and base[n].role == "tree"]
    columns = {base[n].column for n in tree_fas}
    assert [g.name for g in space.genes] == [f"cell.fa.c{c}" for c in sorted(columns)]
    assert len(per_cell.genes) > len(space.genes)
    names = [g.name for g in space.genes]
    busiest = max(columns, key=lambda c: sum(base[n].column == c for n in tree_fas))
    i = names.index(f"cell.fa.c{busiest}")
    (design,) = space.decode(space.exact_genome().replace({i: 1}))
    graph = design.graph
    in_column = [n for n in tree_fas if base[n].column == busiest]
    assert len(in_column) > 1
    assert all(graph[n].kind == "ama1" for n in in_column)
    assert sum(graph[n].kind == "ama1" for n in graph) == len(in_column)
    # the same design through the per-cell genome
    cell_names = [g.name for g in per_cell.genes]
    genome = per_cell.exact_genome().replace(
        {k: 1 for k, n in enumerate(cell_names) if n.startswith(f"cell.fa.c{busiest}.")}
    )
    assert per_cell.decode(genome)[0].structural_hash == design.structural_hash


def test_column_genes_encode_cells_only_when_a_column_agrees() -> None:
    data = {
        "base": {"generator": "dadda", "width": 6},
        "knobs": {"cells": {"per": "column", "options": {"fa": ["ama1", "zero.cout"]}}},
    }
    space = space_from_dict(data, where="c.yaml")
    options = space.cell_options()
    base = space.base
    column = max(
        {base[n].column for n in options},
        key=lambda c: sum(base[n].column == c for n in options),
    )
    cells = [n for n in options if base[n].column == column]
    genome = space.encode_cells([{n: "zero.cout" for n in cells}])
    names = [g.name for g in space.genes]
    assert genome.values[names.index(f"cell.fa.c{column}")] == 2
    with pytest.raises(ConfigError, match=r"^c\.yaml: cells .* share gene cell\.fa\.c\d+ "):
        space.encode_cells([{cells[0]: "ama1"}])


def test_default_cell_mode_and_unused_knobs_leave_stored_configurations_as_they_were() -> None:
    data = {
        "base": {"generator": "dadda", "width": 4},
        "knobs": {"truncate": {"high": 2}, "cells": {"options": {"fa": ["ama1"]}}},
    }
    plain = space_from_dict(data, where="x.yaml")
    explicit = space_from_dict(
        {**data, "knobs": {**data["knobs"], "cells": {"per": "cell", "options": {"fa": ["ama1"]}}}},
        where="x.yaml",
    )
    assert "per" not in plain.config["knobs"]["cells"]
    assert "bias" not in plain.config["knobs"] and "cut" not in plain.config["knobs"]
    assert plain.fingerprint == explicit.fingerprint
    column = space_from_dict(
        {
            **data,
            "knobs": {**data["knobs"], "cells": {"per": "column", "options": {"fa": ["ama1"]}}},
        },
        where="x.yaml",
    )
    assert column.config["knobs"]["cells"]["per"] == "column"
    assert column.fingerprint != plain.fingerprint


def test_bias_and_cut_genes_decode_to_their_knobs() -> None:
    space = space_from_dict(small_hybrid("dadda", False, width=6), where="s.yaml")
    names = [g.name for g in space.genes]
    genome = space.exact_genome().replace(
        {names.index("bias.c4"): 2, names.index("cut.c9"): 2, names.index("cut.c7"): 1}
    )
    (design,) = space.decode(genome)
    spec = design.graph.info["spec"]
    assert spec.bias == ((4, 2),)
    assert spec.cuts == ((7, "zero"), (9, "gen"))
    assert space.to_params(genome)["cut.c9"] == "gen"
    assert space.from_params(space.to_params(genome)) == genome
    assert Genome.from_json(genome.to_json()) == genome


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        (
            {"bias": {"columns": [0, 20]}},
            r"^b\.yaml: field knobs\.bias\.columns: 0\.\.20 must lie within 0\.\.7$",
        ),
        ({"bias": {"columns": [0, 3], "high": 9}}, r"^b\.yaml: field knobs\.bias\.high: "),
        (
            {"bias": {"high": 2}},
            r"^b\.yaml: field knobs\.bias\.columns: required field is missing$",
        ),
        (
            {"cut": {"columns": [0, 5]}},
            r"^b\.yaml: field knobs\.cut\.columns: 0\.\.5 must lie within 1\.\.7 ",
        ),
        ({"cut": {"columns": [2, 5], "modes": ["half"]}}, r"^b\.yaml: field knobs\.cut: .*'half'"),
        (
            {"cells": {"per": "row", "options": {"fa": ["ama1"]}}},
            r"^b\.yaml: field knobs\.cells\.per: ",
        ),
        (
            {"bias": {"columns": [0, 3]}, "cut": {"columns": [2, 3]}},
            r"^b\.yaml: field knobs\.bias: generator 'c42tree' has no partial-product matrix",
        ),
    ],
)
def test_space_errors_name_the_file_and_field(knobs: dict, message: str) -> None:
    generator = "c42tree" if "c42tree" in message else "dadda"
    with pytest.raises(ConfigError, match=message) as info:
        space_from_dict(
            {"base": {"generator": generator, "width": 4}, "knobs": knobs}, where="b.yaml"
        )
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name", ["mul8u_hybrid", "mul8s_hybrid", "mul8u_pp", "mul8u_compressor", "mul8s_booth"]
)
def test_a_decoded_design_encodes_back_to_its_structure(name: str) -> None:
    # every knob of the space (bias, cut and cells per column included) reads its value
    # back from a built graph, so a design the space made is a seed it accepts
    space = load_space(SPACES / f"{name}.yaml")
    rng = np.random.default_rng(3)
    for _ in range(8):
        values = [
            int(rng.integers(g.low, g.high + 1))
            if g.kind != "choice"
            else int(rng.integers(len(g.choices)))
            for g in space.genes
        ]
        sparse = [
            v if rng.random() < 0.15 else g.low for v, g in zip(values, space.genes, strict=True)
        ]
        (design,) = space.decode(Genome.of(sparse))
        (again,) = space.decode(space.encode(design.graph))
        assert again.structural_hash == design.structural_hash
