"""Options and helpers shared by the hardware subcommands (no torch imported here)."""

from __future__ import annotations

import contextlib
import os
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
    loads the generators' modules, which the CLI otherwise imports only to run."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from dse.arith import GENERATORS

        self.help = f"generator: {', '.join(GENERATORS)}"
        return super().get_help_record(ctx)


#: Value forms of the knobs dse ships, shown in ``--knob``'s help; a registered knob
#: without an entry is listed by name.
_KNOB_EXAMPLES = {
    "truncate": "truncate=4",
    "prune": "prune=0:0;1:0",
    "bam": "bam=2:6",
    "loa": "loa=4",
    "compensate": "compensate=1",
    "zero": "zero=NODE.PORT",
    "approx": "approx=NODE:KIND",
}


class _KnobOption(click.Option):
    """``--knob``, whose help lists every registered knob (read only when help is shown,
    as for ``--gen``), with the value form of the built-in ones."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from dse.arith import KNOBS, LIST_KNOBS

        forms = ", ".join(_KNOB_EXAMPLES.get(name, name) for name in KNOBS)
        lists = ", ".join(name for name in KNOBS if name in LIST_KNOBS)
        self.help = (
            f"approximation knob, repeatable: {forms}; the list knobs ({lists}) given twice "
            f"join their lists, the others take one value"
        )
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
            cls=_KnobOption,
            help="approximation knob, repeatable (every registered one is listed when help "
            "is shown)",
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
    from dse.arith import spec_signed_default

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
    """Whether numba's on-disk cache holds compiled evaluator kernels for the current
    sources (``True`` without numba, or where that cannot be told): when not, the first
    evaluation compiles them, which takes a while.

    Looks for numba's index files (``<module>.<function>-<line>.py<ver>.nbi``) of
    ``dse.netlist`` and ``dse.eval`` where numba keeps them: under ``NUMBA_CACHE_DIR``
    when set, else in each package's ``__pycache__``. A package counts as cached when
    one of its indexes is for this Python and no older than its source file. The worst
    case of a wrong answer is a missing or a needless notice.
    """
    from dse._jit import HAVE_NUMBA

    if not HAVE_NUMBA:
        return True
    import numba

    import dse.eval
    import dse.netlist

    tag = f".py{sys.version_info.major}{sys.version_info.minor}"
    for package in (dse.netlist, dse.eval):
        folder = Path(str(package.__file__)).parent
        cache_dir = getattr(numba.config, "CACHE_DIR", "")  # NUMBA_CACHE_DIR
        if cache_dir:
            # numba keeps each source folder's cache in a subfolder named after it
            root = Path(cache_dir)
            indexes = list(root.glob(f"{folder.name}_*/*.nbi"))
        elif os.access(folder, os.W_OK):
            indexes = list((folder / "__pycache__").glob("*.nbi"))
        else:  # numba caches in a user folder it does not make public
            return True
        if not any(_index_current(index, folder, tag) for index in indexes):
            return False
    return True


def _index_current(index: Path, folder: Path, tag: str) -> bool:
    """Whether a numba cache index is for this Python and no older than its source."""
    if tag not in index.name:
        return False
    source = folder / (index.name.split(".", 1)[0] + ".py")
    try:
        return index.stat().st_mtime >= source.stat().st_mtime
    except OSError:
        return False
