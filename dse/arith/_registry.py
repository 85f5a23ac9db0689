"""Generators by name and the one-line multiplier spec used by the CLI and studies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dse.arith._generators import ADDERS, MAX_WIDTH, MIN_WIDTH, multiplier
from dse.arith._graph import MultiplierGraph
from dse.arith._knob import KNOBS
from dse.arith._knobs import apply_knobs
from dse.errors import ConfigError

__all__ = [
    "GENERATORS",
    "Generator",
    "ParsedSpec",
    "from_spec",
    "generate",
    "parse_spec",
    "register_generator",
    "spec_signed_default",
]


class Generator(Protocol):
    def __call__(
        self, width_a: int, width_b: int, *, signed: bool, adder: str
    ) -> MultiplierGraph: ...


def _pp(reduction: str, booth: bool = False) -> Generator:
    def gen(width_a: int, width_b: int, *, signed: bool, adder: str) -> MultiplierGraph:
        return multiplier(
            width_a, width_b, signed=signed, reduction=reduction, adder=adder, booth=booth
        )

    return gen


#: Multiplier generators by name. Log-domain families register themselves here too.
GENERATORS: dict[str, Generator] = {
    "array": _pp("array"),
    "wallace": _pp("wallace"),
    "dadda": _pp("dadda"),
    "booth": _pp("dadda", booth=True),
}


def register_generator(name: str, fn: Callable[..., MultiplierGraph]) -> None:
    """Make a generator available to :func:`generate`, ``dse eval --gen`` and specs."""
    GENERATORS[name] = fn


def _check_width(name: str, value: Any) -> int:
    try:
        w = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if not MIN_WIDTH <= w <= MAX_WIDTH:
        raise ConfigError(f"{name} must be in [{MIN_WIDTH}, {MAX_WIDTH}], got {w}")
    return w


def spec_signed_default(name: str) -> bool:
    """Whether :func:`generate` (and so a spec like ``booth:8``) builds generator
    ``name`` signed when neither ``signed`` nor ``unsigned`` is given: only ``booth``.
    Stored specs rely on it; the command line's ``--signed/--unsigned`` does not (it
    defaults to unsigned for every generator)."""
    return name == "booth"


def generate(
    name: str,
    width_a: int,
    width_b: int | None = None,
    *,
    signed: bool | None = None,
    adder: str = "ripple",
    knobs: dict[str, Any] | None = None,
) -> MultiplierGraph:
    """Build a multiplier by generator name, then apply knobs.

    ``booth`` is signed unless ``signed=False`` is given explicitly.
    """
    if name not in GENERATORS:
        raise ConfigError(f"unknown generator {name!r}; known: {', '.join(sorted(GENERATORS))}")
    wa = _check_width("width", width_a)
    wb = wa if width_b is None else _check_width("width-b", width_b)
    if adder not in ADDERS:
        raise ConfigError(f"unknown adder {adder!r}; known: {', '.join(ADDERS)}")
    is_signed = spec_signed_default(name) if signed is None else bool(signed)
    graph = GENERATORS[name](wa, wb, signed=is_signed, adder=adder)
    return apply_knobs(graph, knobs or {})


_SPEC = re.compile(r"^(?P<gen>[A-Za-z][\w-]*):(?P<wa>\d+)(?:x(?P<wb>\d+))?(?P<rest>(?:,.*)?)$")


@dataclass(frozen=True)
class ParsedSpec:
    """A one-line spec taken apart (see :func:`parse_spec`): the generator, the operand
    widths, the signedness (``None``: the generator's default), the final adder and the
    knob values as written (strings, in the spec's order)."""

    generator: str
    width_a: int
    width_b: int | None
    signed: bool | None
    adder: str
    knobs: dict[str, Any]


def parse_spec(spec: str) -> ParsedSpec:
    """Take a one-line spec apart without building it (syntax as in :func:`from_spec`)."""
    m = _SPEC.match(spec.strip())
    if not m:
        raise ConfigError(
            f"multiplier spec {spec!r} is not of the form GEN:WIDTH[xWIDTH_B][,OPTION...], "
            f"e.g. 'dadda:8,truncate=4'"
        )
    signed: bool | None = None
    adder = "ripple"
    knobs: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in m.group("rest").split(","))):
        if part in ("signed", "unsigned"):
            signed = part == "signed"
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise ConfigError(f"multiplier spec {spec!r}: option {part!r} is not KEY=VALUE")
        if key == "adder":
            adder = value
        elif key in KNOBS:
            knobs[key] = value
        else:
            raise ConfigError(
                f"multiplier spec {spec!r}: unknown option {key!r}; "
                f"known: signed, unsigned, adder, {', '.join(KNOBS)}"
            )
    wb = m.group("wb")
    return ParsedSpec(
        m.group("gen"), int(m.group("wa")), int(wb) if wb else None, signed, adder, knobs
    )


def from_spec(spec: str) -> MultiplierGraph:
    """Build a multiplier from a one-line spec.

    Syntax: ``GEN:WIDTH[xWIDTH_B][,signed|,unsigned][,adder=NAME][,KNOB=VALUE...]``,
    e.g. ``dadda:8``, ``dadda:8x6,truncate=4``, ``booth:8,signed``, ``mitchell:8``.
    List-valued knob values use ``;`` between items: ``prune=0:0;1:0``.
    """
    p = parse_spec(spec)
    return generate(
        p.generator, p.width_a, p.width_b, signed=p.signed, adder=p.adder, knobs=p.knobs
    )
