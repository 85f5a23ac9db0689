"""A back end is one registration: a toy one defined here, outside the package, runs a
study end to end through the session's loop, with its options checked like any other's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import optuna
import pytest

from dse.errors import ConfigError
from dse.search import (
    BACKENDS,
    Backend,
    Genome,
    Proposal,
    Result,
    Session,
    load_space,
    load_study_config,
    make_backend,
    register_backend,
    run,
)


class DefaultsThenRandom(Backend):
    """The exact design first, then random genomes that change about ``density`` of
    the genes (the way a grid or a design-of-experiments proposer plugs in)."""

    name: ClassVar[str] = "toy-dtr"
    built: ClassVar[list[DefaultsThenRandom]] = []

    def __init__(self, *, density: float = 0.2) -> None:
        if not 0 < density <= 1:
            raise ConfigError(f"density must be in (0, 1], got {density!r}")
        self.built.append(self)
        self.density = density
        self.told: list[Result] = []
        self._rng: np.random.Generator | None = None

    def settings(self) -> dict[str, float]:
        return {"density": self.density}

    def ask(self, session: Session, n: int) -> list[Proposal]:
        if self._rng is None:
            self._rng = np.random.default_rng(session.seed)
            return [Proposal(session.space.exact_genome())]
        space, rng = session.space, self._rng
        out = []
        for _ in range(min(n, 3)):
            values = [
                int(rng.integers(g.low, g.high + 1))
                if rng.random() < self.density
                else space.default_value(i)
                for i, g in enumerate(space.genes)
            ]
            out.append(Proposal(Genome.of(values)))
        return out

    def tell(
        self, session: Session, proposals: Sequence[Proposal], results: Sequence[Result]
    ) -> None:
        self.told.extend(results)


@pytest.fixture
def toy() -> Iterator[list[DefaultsThenRandom]]:
    DefaultsThenRandom.built.clear()
    register_backend("toy-dtr", DefaultsThenRandom)
    yield DefaultsThenRandom.built
    BACKENDS.pop("toy-dtr")


def test_a_registered_backend_runs_a_study(
    toy, make_study, unique_name: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = make_study(unique_name, backend="toy-dtr", options="{density: 0.3}", trials=7)
    summary = run(p, storage=url)
    assert summary.complete == 7 and summary.backend == "toy-dtr"
    study = optuna.load_study(study_name=unique_name, storage=url)
    trials = study.get_trials()
    assert all(t.user_attrs["backend"] == "toy-dtr" for t in trials)
    exact = load_space(tmp_path / "mul4u.yaml").exact_genome()
    assert Genome.from_json(trials[0].user_attrs["genome"]) == exact
    assert len({t.user_attrs["genome_key"] for t in trials}) > 1
    # the session told the back end every result it recorded (the one that ran)
    assert sum(len(b.told) for b in toy) == 7


def test_the_registry_checks_names_and_options(toy, make_study, unique_name: str) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'densty' for toy-dtr.*'density'"):
        make_backend("toy-dtr", {"densty": 0.3})
    with pytest.raises(ConfigError, match=r"option 'density' of toy-dtr: expected float"):
        make_backend("toy-dtr", {"density": "high"})
    with pytest.raises(
        ConfigError,
        match=r"field backend\.name: unknown back end 'toy-dt'; known: .*toy-dtr "
        r"\(did you mean 'toy-dtr'\?\)",
    ):
        load_study_config(make_study(unique_name, backend="toy-dt", options="{}"))
    with pytest.raises(ConfigError, match="already registered"):
        register_backend("toy-dtr", DefaultsThenRandom)
