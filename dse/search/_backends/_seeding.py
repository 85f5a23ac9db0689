"""Where a search starts: the back ends' ``seed_from`` option.

Each source is one string:

* a back-end name (``tram``, ``nsga2``): the designs that back end recorded in this
  study, the feasible non-dominated ones first;
* ``study:NAME``: the Pareto front of study NAME in the same storage; its genomes are
  taken as they are when its space has this space's fingerprint, else its designs are
  encoded into this space (those outside it are left out);
* a one-line spec (``dadda:8,truncate=3,loa=4``, see :func:`dse.arith.from_spec`): that
  design, encoded into the space (:meth:`~dse.search.StructureSpace.encode`); in a
  space with layer groups, ``SPEC | SPEC`` gives one per group;
* ``entry:NAME``: a library space's entry (``entry:A | entry:B`` per group).

Designs already recorded in the study are reused, not evaluated again; that is the
back end's business (it skips recorded genomes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.errors import ConfigError, DseError
from dse.search._genome import Genome

if TYPE_CHECKING:
    from dse.search._backends._base import Session

__all__ = ["SeedSources"]


@dataclass(frozen=True)
class SeedSources:
    """The validated ``seed_from`` option (see the module docstring)."""

    items: tuple[str, ...] = ()

    @classmethod
    def of(cls, seed_from: Any) -> SeedSources:
        """Check ``seed_from`` (a string or a list of them); :class:`ConfigError` names
        the first source that is none of the four kinds."""
        if seed_from is None:
            items: tuple[str, ...] = ()
        elif isinstance(seed_from, str):
            items = (seed_from,)
        elif isinstance(seed_from, (list, tuple)) and all(isinstance(x, str) for x in seed_from):
            items = tuple(seed_from)
        else:
            raise ConfigError(
                f"seed_from must be a back-end name or a list of them, got {seed_from!r}"
            )
        for item in items:
            kind, value = _kind(item)
            if kind == "unknown":
                from dse.search._backends._factory import unknown_backend

                raise ConfigError(
                    f"seed_from: {unknown_backend(item)} (a source is a back end, "
                    f"'study:NAME', 'entry:NAME' or a design spec such as 'dadda:8,truncate=3')"
                )
            if kind in ("study", "entry") and not value:
                raise ConfigError(f"seed_from: {item!r} names no {kind}")
        return cls(items)

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(x for x in self.items if _kind(x)[0] == "backend")

    def genomes(
        self, session: Session, limit: int | None = None, *, front_only: bool = False
    ) -> list[Genome]:
        """The seeds' genomes, each once, in the order the sources are given (a back
        end's or a study's designs best first); at most ``limit``. ``front_only``: of
        the back ends' designs, only the feasible non-dominated ones."""
        out: dict[str, Genome] = {}
        backends_done = False
        for item in self.items:
            kind, value = _kind(item)
            if kind == "backend":
                # the back ends' designs are ranked together, where the first one stands
                found = [] if backends_done else _from_backends(session, self.backends, front_only)
                backends_done = True
            elif kind == "study":
                found = _from_study(session, value)
            else:
                found = [_encode(session, item, kind)]
            for g in found:
                out.setdefault(g.key, g)
        genomes = list(out.values())
        return genomes if limit is None else genomes[: max(0, limit)]


def _kind(item: str) -> tuple[str, str]:
    """``(kind, value)``: kind is ``backend``, ``study``, ``entry``, ``spec`` or ``unknown``."""
    from dse.search._backends._factory import BACKENDS

    text = item.strip()
    for prefix in ("study", "entry"):
        if text.startswith(prefix + ":"):
            return prefix, text[len(prefix) + 1 :].strip()
    if text in BACKENDS:
        return "backend", text
    from dse.arith import parse_spec

    try:
        for part in text.split("|"):
            parse_spec(part)
    except DseError:
        return "unknown", text
    return "spec", text


def _encode(session: Session, item: str, kind: str) -> Genome:
    """The genome of a spec or ``entry:`` source (``|`` separates layer groups)."""
    parts = [p.strip() for p in item.split("|")]
    if kind == "entry":
        parts = [p.removeprefix("entry:").strip() for p in parts]
    design: Any = parts if len(parts) > 1 else parts[0]
    try:
        return session.space.encode(design)
    except ConfigError as exc:
        raise ConfigError(f"seed_from {item!r}: {exc}") from None


def _ranked(session: Session, results: Sequence[Any], front_only: bool) -> list[int]:
    """Indices of ``results`` best first: feasible before infeasible, then by
    non-domination rank of the minimisation objectives, then in the given order
    (``front_only``: the feasible ones of rank 0 only)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    ev = session.evaluator
    feasible = [all(v <= 0 for v in r.constraints.values()) for r in results]
    F = np.asarray([ev.minimization_matrix(r.values) for r in results], float)
    rank = np.zeros(len(results), int)
    for r, front in enumerate(NonDominatedSorting().do(F)):
        rank[front] = r
    order = sorted(range(len(results)), key=lambda i: (not feasible[i], rank[i], i))
    return [i for i in order if feasible[i] and rank[i] == 0] if front_only else order


def _from_backends(session: Session, sources: Sequence[str], front_only: bool) -> list[Genome]:
    """Genomes recorded in this study by the back ends ``sources``, best first."""

    def from_source(tag: str) -> bool:
        return any(tag == s or tag.endswith("." + s) for s in sources)

    trials = [
        r
        for r in session.refresh_index().results()
        if from_source(r.record.backend) and r.record.genome.values
    ]
    if not trials:
        return []
    return [trials[i].record.genome for i in _ranked(session, trials, front_only)]


def _from_study(session: Session, name: str) -> list[Genome]:
    """The front of study ``name`` in this study's storage, as genomes of this space."""
    from dse.search._front import pareto_trials
    from dse.search._records import TrialRecord
    from dse.search._summary import load_stored_study, space_of, stored_config

    if name == session.study.study_name:
        raise ConfigError(f"seed_from 'study:{name}' names this study itself")
    try:
        other = load_stored_study(name, session.storage_url)
        theirs = space_of(stored_config(other))
    except DseError as exc:
        raise ConfigError(f"seed_from 'study:{name}': {exc}") from None
    same = theirs.fingerprint == session.space.fingerprint
    genomes: list[Genome] = []
    refused: DseError | None = None
    front = pareto_trials(other)
    for t in front:
        genome = TrialRecord.from_attrs(t.user_attrs).genome
        if not genome.values:
            continue
        if same:
            genomes.append(genome)
            continue
        try:
            genomes.append(session.space.encode(theirs.decode(genome)))
        except DseError as exc:  # a design outside this space is left out
            refused = refused or exc
    if front and not genomes:
        raise ConfigError(
            f"seed_from 'study:{name}': no design of its front is in this space ({refused})"
        )
    return genomes
