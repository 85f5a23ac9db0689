"""The genome: a fixed-length vector of small integers shared by every back end.

A search space (see :mod:`dse.search._space`) lists its genes; a genome gives each
gene an integer value. The encoding is flat and fixed-length on purpose: Optuna's
samplers (NSGA-II, TPE, GP) model only fixed, intersection search spaces, and pymoo's
operators work best on explicit objects. Both back ends therefore see the same
object, and :meth:`Gene.label` / :meth:`Gene.index` translate a value to the Optuna
parameter shown in optuna-dashboard and back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from dse.errors import ConfigError

__all__ = ["Gene", "GeneKind", "Genome"]

GeneKind = Literal["bit", "ordinal", "choice"]


@dataclass(frozen=True)
class Gene:
    """One free decision of a search space.

    Attributes:
        name: the Optuna parameter name (unique in a space), e.g. ``prune.3.2``.
        kind: ``bit`` (0/1, e.g. keep or prune a partial product), ``ordinal`` (an
            integer range, e.g. the truncation point; mutation moves it by small steps)
            or ``choice`` (one of ``choices``, e.g. a cell's replacement; unordered).
        low, high: the inclusive value range (``0 .. len(choices)-1`` for a choice).
        choices: labels of a ``choice`` gene (stored as the Optuna parameter).
        column: the product column the gene acts on (partial product ``a_i b_j`` is
            column ``i+j``; a cell its own column); ``None`` for global genes. The
            column-range crossover exchanges genes by this field.
        group: the layer group the gene belongs to (0 when there is one multiplier).
    """

    name: str
    kind: GeneKind
    low: int = 0
    high: int = 1
    choices: tuple[str, ...] = ()
    column: int | None = None
    group: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("bit", "ordinal", "choice"):
            raise ConfigError(
                f"gene {self.name!r}: kind must be bit, ordinal or choice, got {self.kind!r}"
            )
        if self.kind == "choice":
            if len(self.choices) < 1:
                raise ConfigError(f"gene {self.name!r}: a choice gene needs at least one choice")
            object.__setattr__(self, "low", 0)
            object.__setattr__(self, "high", len(self.choices) - 1)
        if self.kind == "bit" and (self.low, self.high) != (0, 1):
            raise ConfigError(f"gene {self.name!r}: a bit gene ranges over 0..1")
        if self.low > self.high:
            raise ConfigError(f"gene {self.name!r}: low {self.low} > high {self.high}")

    @property
    def size(self) -> int:
        """Number of distinct values."""
        return self.high - self.low + 1

    def label(self, value: int) -> Any:
        """The Optuna parameter value of ``value`` (a string for choice genes)."""
        return self.choices[value] if self.kind == "choice" else int(value)

    def index(self, param: Any) -> int:
        """Inverse of :meth:`label`; raises :class:`ConfigError` for a value out of range."""
        if self.kind == "choice":
            try:
                return self.choices.index(str(param))
            except ValueError:
                raise ConfigError(
                    f"parameter {self.name!r}: {param!r} is not one of {list(self.choices)}"
                ) from None
        value = int(param)
        if not self.low <= value <= self.high:
            raise ConfigError(
                f"parameter {self.name!r}: {value} is outside [{self.low}, {self.high}]"
            )
        return value

    def distribution(self) -> Any:
        """The Optuna distribution of this gene's parameter."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        return IntDistribution(self.low, self.high)


@dataclass(frozen=True)
class Genome:
    """An immutable assignment of a value to every gene of a space.

    Genomes are shared between pymoo individuals and must never be mutated in place;
    operators build new ones. ``key`` is a canonical content hash.
    """

    values: tuple[int, ...]

    @classmethod
    def of(cls, values: Iterable[Any]) -> Genome:
        return cls(tuple(int(v) for v in values))

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> int:
        return self.values[i]

    @cached_property
    def key(self) -> str:
        """Canonical hash of the values (20 hex digits); computed once per genome (the
        run loop, the back end's cache and the records ask for it several times)."""
        return hashlib.blake2b(self.to_json().encode(), digest_size=10).hexdigest()

    def __getstate__(self) -> dict[str, Any]:
        # the values only: a pickled genome (in a checkpoint) is as before the cached key
        return {"values": self.values}

    def to_json(self) -> str:
        """Compact canonical JSON (small enough for any storage's attribute column)."""
        return json.dumps(list(self.values), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | Sequence[int]) -> Genome:
        data = json.loads(text) if isinstance(text, str) else list(text)
        return cls.of(data)

    def replace(self, changes: dict[int, int]) -> Genome:
        """A new genome with some positions changed."""
        values = list(self.values)
        for i, v in changes.items():
            values[i] = int(v)
        return Genome(tuple(values))
