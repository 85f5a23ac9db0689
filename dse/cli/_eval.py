"""``dse eval``: the hardware report of one generated multiplier or of Verilog files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from dse.cli._common import (
    WriteError,
    build_from_options,
    describe,
    generator_options,
    note_first_compile,
    writing,
)
from dse.errors import ConfigError, DseError


def _peers(report: Any) -> dict[str, float] | None:
    """The table's figures in TRAM's and EvoApprox's conventions (``None`` where the
    table is sampled, not exhaustive), from the report's metrics (unweighted here)."""
    if report.lut is None:
        return None
    from dse.eval import peer_metrics

    return peer_metrics(
        report.lut, report.width_a, report.width_b, report.signed, metrics=report.metrics
    ).to_dict()


def _print_report(report: Any, title: str) -> None:
    d = report.to_dict()
    peers = _peers(report)
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
    ]
    if peers is not None:
        rows += [
            ("TRAM", f"NMED {peers['tram_nmed']:.4g} / MRED {peers['tram_mred']:.4g}"),
            (
                "EvoApprox",
                f"MAE% {peers['evo_mae_pct']:.4g} / WCE% {peers['evo_wce_pct']:.4g} / "
                f"EP% {peers['evo_ep_pct']:.4g} / MRE% {peers['evo_mre_pct']:.4g} / "
                f"WCRE% {peers['evo_wcre_pct']:.4g}",
            ),
        ]
    rows.append(("hash", d["structural_hash"]))
    for key, value in rows:
        click.echo(f"  {key:<11} {value}")


def _json(report: Any, **extra: Any) -> str:
    """One report as a JSON line: ``report.to_dict()`` plus ``"peers"``
    (:class:`dse.eval.PeerMetrics` as a dict, or null where the table is sampled)."""
    return json.dumps({**extra, **report.to_dict(), "peers": _peers(report)})


#: A reading of a file's product is flagged when the other signedness gives a mean
#: error distance at least this many times smaller. Read with the wrong signedness, a
#: table is off by about 2**(n+m-1) on three pairs in four; over 120 generated 4- to
#: 8-bit designs (exact, truncated, LOA, broken-array) the right reading's MED was 5x
#: to 10**5x (exact: infinitely) smaller than the wrong one's, except for a few 4-bit
#: designs approximated into near noise (within 4x either way), left alone here.
_SIGNEDNESS_FACTOR = 4.0
_SIGNEDNESS_SAMPLES = 1 << 16


def _signedness_warning(report: Any, out_bits: int) -> str | None:
    """A one-line warning when ``report``'s table reads far closer to the exact
    product with the other signedness, else ``None``.

    A netlist file does not say whether its ports are two's complement; ``dse eval``
    reads files unsigned unless told (``--signed``), as for generators. Evaluating a
    signed file unsigned gives plausible-looking figures (ER about 0.75), so rather than
    refusing files without the flag (most libraries are unsigned), the product bits are
    read both ways and the user is told which flag to give when the other reading is
    much closer to exact. Giving the flag explicitly silences it. Up to 2**16 pairs
    (a fixed sample of larger tables) are compared.
    """
    from dse.eval import operand_values

    lut = report.lut
    if lut is None or not 1 < out_bits < 63:
        return None
    wa, wb, signed = report.width_a, report.width_b, report.signed
    flat = lut.ravel()
    if flat.size > _SIGNEDNESS_SAMPLES:
        idx = np.random.default_rng(0).choice(flat.size, _SIGNEDNESS_SAMPLES, replace=False)
    else:
        idx = np.arange(flat.size)
    got = flat[idx].astype(np.int64)
    a, b = idx >> wb, idx & ((1 << wb) - 1)
    raw = got & ((1 << out_bits) - 1)
    other = raw if signed else np.where(raw >> (out_bits - 1), raw - (1 << out_bits), raw)

    def med(values: np.ndarray, as_signed: bool) -> float:
        exact = operand_values(wa, as_signed)[a] * operand_values(wb, as_signed)[b]
        return float(np.abs(values - exact).mean())

    med_this, med_other = med(got, signed), med(other, not signed)
    if not med_other * _SIGNEDNESS_FACTOR <= med_this:
        return None
    this, flag = ("unsigned", "--signed") if not signed else ("signed", "--unsigned")
    that = "signed" if not signed else "unsigned"
    return (
        f"read as {this}, the product is off by {med_this:.4g} on average (MED); read as "
        f"{that}, by {med_other:.4g}: give {flag} if the netlist is {that} (--{this} "
        f"keeps this reading, without this warning)"
    )


def _lut_target(path: Path, name: str) -> Path:
    """The file ``--lut PATH`` writes: PATH when it ends in ``.npy``; NAME.npy inside PATH
    when PATH is an existing folder; else PATH.npy. (``np.save`` appends ``.npy`` to a
    name without it, which turned ``--lut DIR`` into a file ``DIR.npy`` beside the
    folder; choosing the name here lets the command say which file it wrote.)"""
    if path.is_dir():
        return path / f"{name}.npy"
    if path.suffix != ".npy":
        return path.with_name(path.name + ".npy")
    return path


def _save_lut(report: Any, path: Path, option: str = "--lut") -> Path:
    """Write the report's product table to ``path`` (a ``.npy`` file); returns ``path``.
    A path that cannot be written is a one-line :class:`WriteError`."""
    if report.lut is None:
        raise ConfigError(
            f"{option} {path}: a {report.width_a}x{report.width_b} table is too large to store "
            f"exhaustively"
        )
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, report.lut)
    return path


def _said_written(paths: list[Path], as_json: bool) -> None:
    """Say where the tables went: on stdout after a text report, on stderr with
    ``--json`` so that stdout stays one JSON object per line."""
    for path in paths:
        click.echo(f"wrote {path}", err=as_json)


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
    help="write the product table to this .npy file (into a folder: as NAME.npy there)",
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
    signed: bool,
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
    Operands are unsigned unless --signed is given, for generators and files alike; a
    file whose product reads far closer to exact as signed (or the other way round)
    gets a warning on stderr naming the flag. Besides dse's own figures, the report
    gives the table's figures in TRAM's and EvoApprox's conventions ("peers" in JSON).
    """
    from dse.eval import CellLibrary, evaluate, evaluate_netlist

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
        written = []
        if lut_path is not None:
            stem = "mul_" + "".join(ch if ch.isalnum() else "_" for ch in source).strip("_")
            written.append(_save_lut(report, _lut_target(lut_path, stem)))
        if as_json:
            click.echo(_json(report))
        else:
            _print_report(report, source)
        _said_written(written, as_json)
        return
    if gen is not None:
        raise ConfigError("give either Verilog files or --gen, not both")
    if lut_path is not None and len(files) > 1:
        raise ConfigError("--lut takes one file; use --lut-dir DIR for several Verilog files")
    from dse.netlist import read_netlist

    signed_given = (
        click.get_current_context().get_parameter_source("signed")
        is not click.core.ParameterSource.DEFAULT
    )
    if lut_dir is not None:
        if lut_dir.exists() and not lut_dir.is_dir():
            raise ConfigError(f"--lut-dir {lut_dir}: is a file, not a folder")
        with writing(lut_dir):  # before any evaluation: an unwritable folder fails at once
            lut_dir.mkdir(parents=True, exist_ok=True)
    note_first_compile()
    failures = 0
    for path in files:
        try:
            if not path.is_file():
                raise ConfigError(f"{path}: no such file")
            netlist = read_netlist([path], cells=list(cells), liberty=liberty, top=top)
            report = evaluate_netlist(
                netlist,
                signed=signed,
                library=library,
                clock_period_ns=clock_period_ns,
                seed=seed,
                source=str(path),
            )
            written = []
            if lut_path is not None:
                written.append(_save_lut(report, _lut_target(lut_path, path.stem)))
            if lut_dir is not None:
                written.append(_save_lut(report, lut_dir / f"{path.stem}.npy", "--lut-dir"))
            warning = (
                None
                if signed_given
                else _signedness_warning(report, len(netlist.output_ports[0][1]))
            )
            if warning is not None:
                click.echo(f"warning: {path}: {warning}", err=True)
        except WriteError:
            raise  # the same output fails for every file: one line, then stop
        except DseError as exc:
            failures += 1
            message = str(exc)
            if str(path) not in message:
                message = f"{path}: {message}"
            click.echo(f"error: {message}", err=True)
            continue
        if as_json:
            click.echo(_json(report, file=str(path)))
        else:
            _print_report(report, str(path))
        _said_written(written, as_json)
    if failures:
        sys.exit(2)
