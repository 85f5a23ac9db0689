"""``dse export``: write a generated multiplier as Verilog, BLIF, C, JSON or a LUT."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from dse.cli._common import build_from_options, describe, generator_options
from dse.errors import DseError

FORMATS = ("verilog", "blif", "c", "json", "npy")


@click.command("export")
@generator_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="what to write")
@click.option(
    "-o", "--output", "output", type=click.Path(path_type=Path), required=True, help="output file"
)
@click.option(
    "--module", default=None, help="module/model/function name (default: derived from the spec)"
)
def export_command(
    gen: str | None,
    width: int | None,
    width_b: int | None,
    signed: bool | None,
    adder: str,
    knobs: tuple[str, ...],
    fmt: str,
    output: Path,
    module: str | None,
) -> None:
    """Export a generated multiplier (the same generator options as ``dse eval``).

    Netlist formats are checked before they are written: the text is read back and
    simulated, and must give the product table of the graph bit for bit.
    """
    from dse.eval import product_table
    from dse.netlist._lower import lower

    graph = build_from_options(gen, width, width_b, signed, adder, knobs)
    source = describe(str(gen), int(width or 0), width_b, signed, adder, knobs)
    name = module or "mul_" + "".join(ch if ch.isalnum() else "_" for ch in source).strip("_")
    netlist = lower(graph, name=name)
    output.parent.mkdir(parents=True, exist_ok=True)
    exhaustive = graph.width_p <= 24
    if fmt == "npy":
        if not exhaustive:
            raise DseError(
                f"a {graph.width_a}x{graph.width_b} table is too large to export as .npy"
            )
        np.save(output, product_table(netlist, graph.width_a, graph.width_b, signed=graph.signed))
    elif fmt == "json":
        output.write_text(json.dumps(graph.to_dict(), indent=1) + "\n")
    elif fmt == "verilog":
        from dse.netlist._verilog import read_verilog, write_verilog

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
        from dse.netlist._blif import write_blif

        output.write_text(write_blif(netlist))
    else:
        from dse.netlist._cmodel import write_c

        output.write_text(write_c(netlist))
    click.echo(
        f"wrote {output} ({fmt}, {graph.width_a}x{graph.width_b}, {netlist.gate_count} gates)"
    )
