"""``dse export``: write a generated multiplier, or a study's designs, in any registered
export format (:data:`dse.export.FORMATS`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dse.cli._common import build_from_options, describe, generator_options, writing
from dse.design import as_design
from dse.errors import ConfigError, DseError
from dse.export import FORMATS, export_design


class FormatName(click.ParamType):
    """A registered export format, read from the registry when the option is parsed, so
    that a format registered after this module was imported is accepted too."""

    name = "format"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(FORMATS) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in FORMATS:
            return str(value)
        self.fail(f"{value!r} is not one of {', '.join(FORMATS)}", param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in FORMATS if n.startswith(incomplete)]


class _FormatOption(click.Option):
    """``--format``, whose help lists every registered format with its description."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        listed = "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values())
        self.help = f"what to write: {listed}"
        return super().get_help_record(ctx)


@click.command("export")
@click.argument("study", required=False, default=None)
@generator_options
@click.option("--format", "fmt", cls=_FormatOption, type=FormatName(), required=True)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path),
    required=True,
    help="output file (generator) or directory (study: one bundle per design)",
)
@click.option(
    "--module", default=None, help="module/model/function name (default: derived from the spec)"
)
@click.option("--trial", type=int, default=None, help="study: export this trial")
@click.option("--pareto", is_flag=True, help="study: export every design on the Pareto front")
@click.option(
    "--storage", default=None, help="study: storage URL (default sqlite:///dse-studies.db)"
)
def export_command(
    study: str | None,
    gen: str | None,
    width: int | None,
    width_b: int | None,
    signed: bool | None,
    adder: str,
    knobs: tuple[str, ...],
    fmt: str,
    output: Path,
    module: str | None,
    trial: int | None,
    pareto: bool,
    storage: str | None,
) -> None:
    """Export a multiplier in any registered format (netlists, tables, graph JSON).

    Either a generated one (``--gen NAME --width N [--knob ...] -o FILE``) or designs
    of a study (``dse export STUDY --trial N|--pareto -o DIR``: one bundle per design
    with the file, the LUT and a metrics JSON). Every file is checked once written:
    read back, it must give the product table bit for bit.
    """
    if study is not None:
        if gen is not None or knobs:
            raise DseError("give either a study name or --gen options, not both")
        if (trial is None) == (not pareto):
            raise ConfigError("give exactly one of --trial N or --pareto")
        with writing(output):  # an unwritable -o is one line, not a traceback
            from dse.search import export_study  # the study path needs optuna; --gen does not

            dirs = export_study(
                study, output, storage=storage, trial=trial, pareto=pareto, formats=(fmt,)
            )
        click.echo(f"wrote {len(dirs)} bundle(s) under {output}")
        return
    if trial is not None or pareto or storage is not None:
        raise DseError("--trial, --pareto and --storage need a study name: dse export STUDY ...")
    graph = build_from_options(gen, width, width_b, signed, adder, knobs)
    source = describe(str(gen), int(width or 0), width_b, signed, adder, knobs)
    name = module or "mul_" + "".join(ch if ch.isalnum() else "_" for ch in source).strip("_")
    design = as_design(graph, name=name)
    with writing(output):  # one line, not a traceback, for an unwritable -o
        output.parent.mkdir(parents=True, exist_ok=True)
        export_design(design, output, fmt)
    netlist = design.netlist()
    gates = f", {netlist.gate_count} gates" if netlist is not None else ""
    click.echo(f"wrote {output} ({fmt}, {graph.width_a}x{graph.width_b}{gates})")
