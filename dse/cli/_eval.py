"""``dse eval``: the hardware report of one generated multiplier or of Verilog files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from dse.cli._common import (
    build_from_options,
    describe,
    generator_options,
    note_first_compile,
)
from dse.errors import ConfigError, DseError


def _print_report(report: Any, title: str) -> None:
    d = report.to_dict()
    click.echo(title)
    rows = [
        ("operands", f"{d['width_a']}x{d['width_b']} {'signed' if d['signed'] else 'unsigned'}"),
        ("gates", d["gates"]),
        ("area", f"{d['area_um2']:.2f} um^2"),
        ("delay", f"{d['delay_ns']:.4f} ns"),
        ("power", f"{d['power_uw']:.3f} uW at {d['clock_period_ns']} ns clock"),
        ("error rate", f"{d['er']:.6f}"),
        ("MED / NMED", f"{d['med']:.4g} / {d['nmed']:.4g}"),
        ("MRED", f"{d['mred']:.4g}"),
        ("WCE / WCRE", f"{d['wce']:.6g} / {d['wcre']:.4g}"),
        ("bias", f"{d['bias']:.4g}"),
        ("hash", d["structural_hash"]),
    ]
    for key, value in rows:
        click.echo(f"  {key:<11} {value}")


def _save_lut(report: Any, path: Path) -> None:
    if report.lut is None:
        raise ConfigError(
            f"--lut {path}: a {report.width_a}x{report.width_b} table is too large to store "
            f"exhaustively"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, report.lut)


@click.command("eval")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@generator_options
@click.option(
    "--cells",
    "cells",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Verilog file(s) defining cell modules",
)
@click.option(
    "--liberty",
    type=click.Path(path_type=Path),
    default=None,
    help="Liberty file: cell functions for the reader and the power model",
)
@click.option("--top", default=None, help="top module of the Verilog files")
@click.option(
    "--lut",
    "lut_path",
    type=click.Path(path_type=Path),
    default=None,
    help="write the product table here (.npy)",
)
@click.option(
    "--lut-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="write one table per Verilog file here",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON (one object per line per file)")
@click.option(
    "--period",
    "clock_period_ns",
    type=float,
    default=1.0,
    show_default=True,
    help="clock period in ns",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="seed of the power operand trace"
)
def eval_command(
    files: tuple[Path, ...],
    gen: str | None,
    width: int | None,
    width_b: int | None,
    signed: bool | None,
    adder: str,
    knobs: tuple[str, ...],
    cells: tuple[Path, ...],
    liberty: Path | None,
    top: str | None,
    lut_path: Path | None,
    lut_dir: Path | None,
    as_json: bool,
    clock_period_ns: float,
    seed: int,
) -> None:
    """Evaluate a multiplier: error metrics, power, area and delay.

    Either a generated one (--gen NAME --width N [--knob ...]) or gate-level Verilog
    FILES (operands: the first two input ports, product: the output port, LSB first).
    """
    from dse.eval import evaluate, evaluate_netlist
    from dse.eval._library import CellLibrary

    library = CellLibrary.from_liberty(liberty) if liberty is not None else None
    if not files:
        if lut_dir is not None:
            raise ConfigError("--lut-dir is for Verilog files; use --lut OUT.npy with --gen")
        graph = build_from_options(gen, width, width_b, signed, adder, knobs)
        source = describe(str(gen), int(width or 0), width_b, signed, adder, knobs)
        note_first_compile()
        report = evaluate(
            graph, library=library, clock_period_ns=clock_period_ns, seed=seed, source=source
        )
        if lut_path is not None:
            _save_lut(report, lut_path)
        if as_json:
            click.echo(json.dumps(report.to_dict()))
        else:
            _print_report(report, source)
        return
    if gen is not None:
        raise ConfigError("give either Verilog files or --gen, not both")
    if lut_path is not None and len(files) > 1:
        raise ConfigError("--lut takes one file; use --lut-dir DIR for several Verilog files")
    from dse.netlist import read_netlist

    note_first_compile()
    failures = 0
    for path in files:
        try:
            if not path.is_file():
                raise ConfigError(f"{path}: no such file")
            netlist = read_netlist([path], cells=list(cells), liberty=liberty, top=top)
            report = evaluate_netlist(
                netlist,
                signed=bool(signed),
                library=library,
                clock_period_ns=clock_period_ns,
                seed=seed,
                source=str(path),
            )
            if lut_path is not None:
                _save_lut(report, lut_path)
            if lut_dir is not None:
                _save_lut(report, lut_dir / f"{path.stem}.npy")
        except DseError as exc:
            failures += 1
            message = str(exc)
            if str(path) not in message:
                message = f"{path}: {message}"
            click.echo(f"error: {message}", err=True)
            continue
        if as_json:
            click.echo(json.dumps({"file": str(path), **report.to_dict()}))
        else:
            _print_report(report, str(path))
    if failures:
        sys.exit(2)
