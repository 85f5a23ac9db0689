"""``dse export``: write a generated multiplier as Verilog, BLIF, C, JSON or a LUT."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from dse.cli._common import build_from_options, describe, generator_options, writing
from dse.errors import DseError

FORMATS = ("verilog", "blif", "c", "json", "npy")


@click.command("export")
@click.argument("study", required=False, default=None)
@generator_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="what to write")
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
    """Export a multiplier as Verilog, BLIF, C, JSON or a LUT.

    Either a generated one (``--gen NAME --width N [--knob ...] -o FILE``) or designs
    of a study (``dse export STUDY --trial N|--pareto -o DIR``: one bundle per design
    with the netlist, the LUT and a metrics JSON). Netlists are checked before they
    are written: read back and simulated, they must give the product table bit for bit.
    """
    if study is not None:
        if gen is not None or knobs:
            raise DseError("give either a study name or --gen options, not both")
        from dse.cli._study import export_study

        dirs = export_study(study, output, storage=storage, trial=trial, pareto=pareto, fmt=fmt)
        click.echo(f"wrote {len(dirs)} bundle(s) under {output}")
        return
    if trial is not None or pareto or storage is not None:
        raise DseError("--trial, --pareto and --storage need a study name: dse export STUDY ...")
    from dse.eval import product_table
    from dse.netlist._lower import lower

    graph = build_from_options(gen, width, width_b, signed, adder, knobs)
    source = describe(str(gen), int(width or 0), width_b, signed, adder, knobs)
    name = module or "mul_" + "".join(ch if ch.isalnum() else "_" for ch in source).strip("_")
    netlist = lower(graph, name=name)
    with writing(output):  # one line, not a traceback, for an unwritable -o
        output.parent.mkdir(parents=True, exist_ok=True)
        exhaustive = graph.width_p <= 24
        if fmt == "npy":
            if not exhaustive:
                raise DseError(
                    f"a {graph.width_a}x{graph.width_b} table is too large to export as .npy"
                )
            table = product_table(netlist, graph.width_a, graph.width_b, signed=graph.signed)
            with output.open("wb") as fh:  # the name as given (np.save(PATH) appends .npy)
                np.save(fh, table)
        elif fmt == "json":
            output.write_text(json.dumps(graph.to_dict(), indent=1) + "\n")
        elif fmt == "verilog":
            from dse.netlist import read_verilog, write_verilog

            text = write_verilog(netlist)
            if exhaustive:
                tmp = output.with_suffix(output.suffix + ".check.v")
                tmp.write_text(text)
                try:
                    back = read_verilog([tmp])
                finally:
                    tmp.unlink()
                want = product_table(netlist, graph.width_a, graph.width_b, signed=graph.signed)
                got = product_table(back, graph.width_a, graph.width_b, signed=graph.signed)
                if not np.array_equal(want, got):  # pragma: no cover - a writer bug
                    raise DseError(
                        f"{output}: the written Verilog does not reproduce the product table"
                    )
            output.write_text(text)
        elif fmt == "blif":
            from dse.netlist import write_blif

            output.write_text(write_blif(netlist))
        else:
            from dse.netlist import write_c

            output.write_text(write_c(netlist))
    click.echo(
        f"wrote {output} ({fmt}, {graph.width_a}x{graph.width_b}, {netlist.gate_count} gates)"
    )
