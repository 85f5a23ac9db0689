"""Adding an export format is one module: a toy format defined here, outside the
package, registered and used through export_designs and ``dse export --format``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dse.cli import main
from dse.errors import ConfigError
from dse.export import FORMATS, ExportableDesign, ExportFormat, export_designs, register_format


class ToyFormat(ExportFormat):
    """One ``a b product`` line per operand pair, a CSV by another name."""

    name = "toy"
    suffix = ".toy"
    description = "toy table text"

    def write(self, design: ExportableDesign, path: Path) -> None:
        table = np.asarray(design.lut())
        path.write_text("\n".join(f"{a},{b},{p}" for (a, b), p in np.ndenumerate(table)) + "\n")

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        rows = np.array([line.split(",") for line in path.read_text().split()], dtype=np.int64)
        table = np.zeros((rows[:, 0].max() + 1, rows[:, 1].max() + 1), dtype=np.int64)
        table[rows[:, 0], rows[:, 1]] = rows[:, 2]
        return table


@pytest.fixture
def toy() -> Iterator[ExportFormat]:
    fmt = register_format(ToyFormat())
    try:
        yield fmt
    finally:
        del FORMATS["toy"]


def test_a_registered_format_exports_through_the_library(toy, make_design, tmp_path):
    design = make_design("dadda:4,truncate=2", "m")
    (path,) = export_designs([design], tmp_path, ["toy"])
    assert path == tmp_path / "m.toy"
    np.testing.assert_array_equal(toy.read(path, signed=False), design.lut())


def test_a_registered_format_is_a_cli_format(toy, tmp_path, capsys):
    out = tmp_path / "m.toy"
    main(["export", "--gen", "dadda", "--width", "4", "--format", "toy", "-o", str(out)])
    assert capsys.readouterr().out.startswith(f"wrote {out} (toy, 4x4, ")
    assert out.read_text().splitlines()[-1] == "15,15,225"
    main(["export", "--help"])
    assert "toy: toy table text" in " ".join(capsys.readouterr().out.split())


def test_the_cli_refuses_an_unregistered_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--gen", "dadda", "--width", "4", "--format", "toy", "-o", "x"])
    assert exc.value.code == 2
    assert (
        "'toy' is not one of verilog, verilog-gates, blif, c, npy, json" in capsys.readouterr().err
    )


def test_formats_of_one_export_write_distinct_files(toy, tmp_path):
    other = type("Toy2", (ToyFormat,), {"name": "toy2"})()  # an object needs no registering
    with pytest.raises(ConfigError, match=r"^formats toy and toy2 both write \*\.toy$"):
        export_designs([], tmp_path, ["toy", other])


def test_register_format_checks_its_argument():
    with pytest.raises(ValueError, match="format 'verilog' is already registered"):
        register_format(type("Again", (ToyFormat,), {"name": "verilog"})())
    with pytest.raises(ValueError, match="format name must match"):
        register_format(type("Bad", (ToyFormat,), {"name": "Bad Name"})())
    with pytest.raises(ValueError, match=r"suffix must start with '\.'"):
        register_format(type("Bad", (ToyFormat,), {"name": "bad", "suffix": "x"})())
