"""Write designs in the registered formats and check each file by reading it back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from dse.errors import ConfigError, DseError
from dse.eval import MAX_EXHAUSTIVE_BITS
from dse.export._base import ExportableDesign, ExportFormat, export_format

__all__ = ["export_design", "export_designs", "file_stem"]


def file_stem(name: str) -> str:
    """A design's name as a file name and HDL identifier: letters, digits and ``_``."""
    return "".join(ch if ch.isalnum() else "_" for ch in name) or "design"


def _compare(path: Path, fmt: ExportFormat, design: ExportableDesign) -> None:
    if design.width_a + design.width_b > MAX_EXHAUSTIVE_BITS:
        return  # no exhaustive table to compare with
    got = fmt.read(path, signed=design.signed)
    if got is None:
        return
    want = np.asarray(design.lut())
    if got.shape != want.shape:
        path.unlink()
        raise DseError(
            f"{path}: read back, the {fmt.name} file holds a {got.shape[0]}x{got.shape[1]} "
            f"table; the design's is {want.shape[0]}x{want.shape[1]} (file removed)"
        )
    diff = np.argwhere(got != want)
    if diff.size:
        a, b = (int(i) for i in diff[0])
        path.unlink()
        raise DseError(
            f"{path}: read back, the {fmt.name} file differs from the design's table at "
            f"a={a}, b={b}: {int(got[a, b])} instead of {int(want[a, b])} (file removed)"
        )


def export_design(
    design: ExportableDesign,
    path: str | Path,
    fmt: str | ExportFormat,
    *,
    check: bool = True,
) -> Path:
    """Write ``design`` to ``path`` (that exact name) in format ``fmt``.

    With ``check`` the file is read back and compared with the design's product table
    entry by entry; a difference raises :class:`~dse.errors.DseError` naming the file
    and the first differing entry, and the file is removed.
    """
    form = export_format(fmt)
    form.check(design)
    path = Path(path)
    form.write(design, path)
    if check:
        _compare(path, form, design)
    return path


def export_designs(
    designs: Iterable[ExportableDesign],
    out_dir: str | Path,
    formats: Sequence[str | ExportFormat] = ("verilog",),
    *,
    check: bool = True,
) -> list[Path]:
    """Write every design in every format into ``out_dir`` as ``NAME.SUFFIX``.

    Every design is checked against every format before anything is written (a design a
    format cannot hold, two designs with one file name). With ``check`` each file is read
    back and compared with the design's table (:func:`export_design`).

    Returns:
        The files written, design by design in format order.
    """
    designs = list(designs)
    forms = [export_format(f) for f in dict.fromkeys(formats)]
    if not forms:
        raise ConfigError("export_designs: give at least one format")
    suffixes: dict[str, str] = {}
    for form in forms:
        if form.suffix in suffixes:
            raise ConfigError(
                f"formats {suffixes[form.suffix]} and {form.name} both write *{form.suffix}"
            )
        suffixes[form.suffix] = form.name
    stems: dict[str, str] = {}
    for design in designs:
        stem = file_stem(design.name)
        if stem in stems:
            raise ConfigError(
                f"designs {stems[stem]!r} and {design.name!r} would both be written as {stem}.*"
            )
        stems[stem] = design.name
        for form in forms:
            form.check(design)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for design in designs:
        for form in forms:
            path = out / f"{file_stem(design.name)}{form.suffix}"
            form.write(design, path)
            if check:
                _compare(path, form, design)
            written.append(path)
    return written
