"""A knob defined outside the package is one registration away from specs and spaces."""

from collections.abc import Iterator
from typing import Any

import pytest

from dse.arith import KNOBS, GeneSpec, Knob, RangeConfig, check_range, from_spec, register_knob
from dse.errors import ConfigError
from dse.search import Genome, space_from_dict


class EvenTruncate(Knob):
    """Toy knob: truncate an even number of columns (value ``v`` drops ``2v``)."""

    name = "even_truncate"
    kind = "matrix"
    space_config = RangeConfig

    def parse(self, value: Any) -> int:
        return int(value)

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        return {"truncate": 2 * self.parse(value)}

    def genes(self, base: Any, config: Any, where: str) -> list[GeneSpec]:
        check_range(where, f"knobs.{self.name}", config, 0, (base.width_p - 1) // 2)
        return [GeneSpec(self.name, "ordinal", config.low, config.high)]

    def decode(self, genes: Any, values: Any, chosen: Any, base: Any) -> Any:
        return values[0] or None


@pytest.fixture
def toy_knob() -> Iterator[Knob]:
    knob = register_knob(EvenTruncate())
    try:
        yield knob
    finally:
        del KNOBS[knob.name]


def test_toy_knob_in_a_spec(toy_knob: Knob) -> None:
    graph = from_spec("dadda:6,even_truncate=2")
    assert graph.info["spec"].truncate == 4
    assert graph.structural_hash == from_spec("dadda:6,truncate=4").structural_hash


def test_toy_knob_in_a_space(toy_knob: Knob) -> None:
    data = {
        "base": {"generator": "dadda", "width": 6},
        "knobs": {"truncate": {"high": 2}, "even_truncate": {"high": 2}, "compensate": True},
    }
    space = space_from_dict(data, where="toy.yaml", name="toy")
    # registry order: the built-in matrix knobs, then the new one
    assert [g.name for g in space.genes] == ["truncate", "compensate", "even_truncate"]
    (design,) = space.decode(Genome.of([0, 0, 2]))
    design.graph.validate()
    assert design.graph.info["spec"].truncate == 4
    assert design.structural_hash == from_spec("dadda:6,truncate=4").structural_hash
    assert design.lut().shape == (64, 64)
    with pytest.raises(ConfigError, match=r"toy\.yaml: field knobs\.even_truncate: range 0\.\.9"):
        space_from_dict(
            {"base": {"generator": "dadda", "width": 6}, "knobs": {"even_truncate": {"high": 9}}},
            where="toy.yaml",
        )


def test_a_new_knob_leaves_other_spaces_as_stored(toy_knob: Knob) -> None:
    data = {"base": {"generator": "dadda", "width": 4}, "knobs": {"truncate": {"high": 2}}}
    with_toy = space_from_dict(data, where="x.yaml", name="x")
    del KNOBS[toy_knob.name]
    try:
        without = space_from_dict(data, where="x.yaml", name="x")
    finally:
        register_knob(toy_knob)
    assert with_toy.config == without.config
    assert with_toy.fingerprint == without.fingerprint
