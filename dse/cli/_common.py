"""Options and helpers shared by the hardware subcommands (no torch imported here)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from dse.errors import ConfigError, DseError

F = TypeVar("F", bound=Callable[..., Any])


class WriteError(DseError):
    """An output the user named cannot be written (a folder without write permission,
    a full disk, a file where a folder is needed)."""


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` (or files under it) into
    :class:`WriteError`: ``cannot write PATH: REASON``.

    The message names the output the user gave, not the temporary or parent path the
    error came from (a check file beside it, a folder being created for it).
    """
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise WriteError(f"cannot write {path}: {reason}") from None


class _GeneratorOption(click.Option):
    """``--gen``, whose help lists every registered generator (plug-in families such as
    ``mitchell`` included). The registry is read only when help is shown: importing it
    loads the generators' numeric modules, which the CLI otherwise imports only to run."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from dse.arith._registry import GENERATORS, _ensure_plugins

        _ensure_plugins()
        self.help = f"generator: {', '.join(GENERATORS)}"
        return super().get_help_record(ctx)


def generator_options(fn: F) -> F:
    """``--gen/--width/--width-b/--signed/--adder/--knob``, shared by eval and export."""
    options = [
        click.option(
            "--gen",
            "gen",
            default=None,
            cls=_GeneratorOption,
            help="generator (every registered one is listed when help is shown)",
        ),
        click.option("--width", "width", type=int, default=None, help="bits of operand a (2..16)"),
        click.option(
            "--width-b",
            "width_b",
            type=int,
            default=None,
            help="bits of operand b (default: --width)",
        ),
        click.option(
            "--signed/--unsigned",
            "signed",
            default=False,
            show_default=True,
            help="two's complement operands and product; the same default for every "
            "generator (booth too) and for netlist files",
        ),
        click.option(
            "--adder", default="ripple", show_default=True, help="final adder: ripple, kogge-stone"
        ),
        click.option(
            "--knob",
            "knobs",
            multiple=True,
            metavar="NAME=VALUE",
            help="approximation knob, repeatable: truncate=4, prune=0:0;1:0, bam=2:6, loa=4, "
            "compensate=1, zero=NODE.PORT, approx=NODE:KIND; the list knobs (prune, zero, "
            "approx) given twice join their lists, the others take one value",
        ),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def parse_knobs(items: Sequence[str]) -> dict[str, str]:
    """``--knob NAME=VALUE`` items by name. A list knob (``prune``, ``zero``,
    ``approx``) given again adds its items (``approx=X:k --knob approx=Y:k`` is
    ``approx=X:k;Y:k``); any other knob given twice is refused."""
    from dse.arith import LIST_KNOBS

    knobs: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            raise ConfigError(f"--knob {item!r}: expected NAME=VALUE, e.g. --knob truncate=4")
        if name in knobs:
            if name not in LIST_KNOBS:
                raise ConfigError(
                    f"--knob {name} given twice ({knobs[name]!r} and {value!r}); it takes one "
                    f"value (only {', '.join(sorted(LIST_KNOBS))} take lists)"
                )
            knobs[name] = f"{knobs[name]};{value}"
            continue
        knobs[name] = value
    return knobs


def build_from_options(
    gen: str | None,
    width: int | None,
    width_b: int | None,
    signed: bool | None,
    adder: str,
    knobs: Sequence[str],
) -> Any:
    """The MultiplierGraph described by the generator options."""
    from dse.arith import generate

    if gen is None:
        raise ConfigError("give --gen NAME (and --width N), or Verilog files to evaluate")
    if width is None:
        raise ConfigError(f"--gen {gen} needs --width N")
    graph = generate(gen, width, width_b, signed=signed, adder=adder, knobs=parse_knobs(knobs))
    graph.validate()
    return graph


def describe(
    gen: str, width: int, width_b: int | None, signed: bool | None, adder: str, knobs: Sequence[str]
) -> str:
    """The options as a multiplier spec that :func:`dse.arith.from_spec` reads back as
    the same multiplier (``unsigned`` spelled out only where the spec would otherwise
    mean signed: ``booth``)."""
    from dse.arith._registry import spec_signed_default

    parts = [f"{gen}:{width}" + (f"x{width_b}" if width_b else "")]
    if signed is not None and (signed or spec_signed_default(gen)):
        parts.append("signed" if signed else "unsigned")
    if adder != "ripple":
        parts.append(f"adder={adder}")
    parts.extend(f"{name}={value}" for name, value in parse_knobs(knobs).items())
    return ",".join(parts)


def note_first_compile() -> None:
    """On a terminal, say so before the first evaluation after an install compiles the
    evaluator's kernels (about 20 s, once; numba caches them). Not on pipes or under
    test runners, where the line would mix into machine-read output."""
    if not sys.stderr.isatty():
        return
    if not kernels_cached():
        click.echo(
            "dse: compiling the gate-level evaluation kernels (first run after an install, "
            "about 20 s; cached for later runs)",
            err=True,
        )


def kernels_cached() -> bool:
    """Whether the evaluator's largest kernels are in numba's on-disk cache for the
    current sources (``True`` without numba, or where that cannot be told): when not,
    the first evaluation compiles them, which takes a while.

    Reads numba's cache index the way numba does (``IndexDataCacheFile._load_index``:
    empty when missing, of another numba version, or stale for the source); any change
    in those internals answers ``True``, so the worst case is a missing notice.
    """
    from dse._jit import HAVE_NUMBA

    if not HAVE_NUMBA:
        return True
    try:
        from dse.eval import _kernels as eval_kernels
        from dse.netlist import _kernels as netlist_kernels

        for kernel in (netlist_kernels.lower_kernel, eval_kernels.lut_metrics_kernel):
            if not kernel._cache._cache_file._load_index():
                return False
    except Exception:  # numba internals: never fail an evaluation over them
        return True
    return True
