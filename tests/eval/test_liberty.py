"""The Liberty reader: parsing, units, file:line errors, and the NanGate file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from dse.errors import DataError
from dse.eval import CellLibrary, read_liberty, read_liberty_cells
from dse.netlist import liberty_function_table, parse_liberty_text

REPO = Path(__file__).resolve().parents[2]
LIB_GZ = REPO.parent / "shared" / "data" / "nangate45" / "NangateOpenCellLibrary_typical.lib.gz"

TINY = r"""
/* a tiny library */
library (tiny) {
  time_unit : "1ps" ;
  capacitive_load_unit (1, pf) ;
  leakage_power_unit : "1pW" ;
  voltage_unit : "1V" ;
  nom_voltage : 0.9 ;
  lu_table_template (t2) {
    variable_1 : input_net_transition ;
    variable_2 : total_output_net_capacitance ;
    index_1 ("10, 100") ;
    index_2 ("0.001, 0.01") ;
  }
  cell (NAND2_T) {
    area : 2.0 ;
    cell_leakage_power : 5000 ;
    leakage_power () { when : "!A & !B" ; value : 1000 ; }
    leakage_power () { when : "A | B" ; value : 6000 ; }
    pin (A) { direction : input ; capacitance : 0.002 ; }
    pin (B) { direction : input ; capacitance : 0.003 ; }
    pin (Y) {
      direction : output ;
      function : "(A B)'" ;
      timing () {
        related_pin : "A B" ;
        cell_rise (t2) { values ("20, 40", \
                                 "30, 50") ; }
        cell_fall (t2) { values ("10, 20", "15, 25") ; }
        rise_transition (t2) { values ("5, 10", "6, 11") ; }
        fall_transition (t2) { values ("5, 10", "6, 11") ; }
      }
      internal_power () {
        related_pin : "A" ;
        rise_power (t2) { values ("0.001, 0.002", "0.003, 0.004") ; }
        fall_power (t2) { values ("0.001, 0.002", "0.003, 0.004") ; }
      }
    }
  }
  cell (INV_T) {
    area : 1.0 ;
    pin (A) { direction : input ; capacitance : 0.001 ; }
    pin (Y) { direction : output ; function : "!A" ; }
  }
}
"""


def test_tiny_library_units_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "tiny.lib"
    path.write_text(TINY)
    lib = read_liberty(path)
    assert lib.voltage == pytest.approx(0.9)
    nand = lib.cells["NAND2_T"]
    assert nand.pins == {"A": "input", "B": "input", "Y": "output"}
    assert nand.capacitance == pytest.approx({"A": 2.0, "B": 3.0})  # pF -> fF
    assert nand.leakage_nw == pytest.approx(5.0)  # pW -> nW
    assert [w for w, _ in nand.leakage_states] == ["!A & !B", "A | B"]
    assert len(nand.timing) == 2  # "A B" -> one arc per related pin
    rise = nand.timing[0].cell_rise
    assert rise is not None
    np.testing.assert_allclose(rise.index_1, [0.01, 0.1])  # ps -> ns
    np.testing.assert_allclose(rise.index_2, [1.0, 10.0])  # pF -> fF
    assert rise.lookup(0.01, 1.0) == pytest.approx(0.02)
    assert rise.lookup(0.055, 5.5) == pytest.approx(0.035)  # bilinear
    (arc,) = nand.internal_power
    assert arc.related_pin == "A"
    # energy unit = capacitive_load_unit × voltage_unit² = pF·V² = 1000 fJ
    assert arc.rise_power is not None and arc.rise_power.values[0, 0] == pytest.approx(1.0)
    tt = liberty_function_table(nand.functions["Y"], ["A", "B"])
    assert tt.tolist() == [True, True, True, False]


def test_read_liberty_cells_shape(tmp_path: Path) -> None:
    path = tmp_path / "tiny.lib.gz"
    with gzip.open(path, "wt") as f:
        f.write(TINY)
    cells = read_liberty_cells(path)
    assert cells["INV_T"].functions == {"Y": "!A"}
    assert cells["NAND2_T"].inputs == ("A", "B") and cells["NAND2_T"].outputs == ("Y",)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("library (x) {\n  area : ;\n}\n", 2, "attribute 'area' has no value"),
        ("library (x) {\n  cell (a) {\n    area : 1 ;\n", 2, "is never closed"),
        ("library (x) {\n  pin (a) { direction input ; }\n}\n", 2, "expected ':' or '\\('"),
        ("library (x) {\n\n  cell (a) { area : 1 ; } }\n}\n", 4, "text after the end"),
        ("library (x) {\n  a : 1 ; \\ b : 2 ;\n}\n", 2, "unexpected character"),
    ],
)
def test_syntax_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.lib"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"^{path}:{line}: .*{message}"):
        read_liberty(path)


def test_bad_values_name_the_line(tmp_path: Path) -> None:
    text = TINY.replace("area : 2.0", "area : two")
    path = tmp_path / "bad.lib"
    path.write_text(text)
    line = text[: text.index("cell (NAND2_T)")].count("\n") + 1
    with pytest.raises(DataError, match=rf"^{path}:{line}: cell NAND2_T area must be a number"):
        read_liberty(path)


def test_missing_file_and_missing_cells(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_liberty(tmp_path / "nope.lib")
    path = tmp_path / "tiny.lib"
    path.write_text(TINY)
    with pytest.raises(DataError, match=r"no cell implements BUF"):
        CellLibrary.from_liberty(path)


def test_parse_text_groups() -> None:
    top = parse_liberty_text(TINY)
    assert top.kind == "library" and top.args == ("tiny",)
    assert [g.args[0] for g in top.subgroups("cell")] == ["NAND2_T", "INV_T"]
    assert top.complex_attrs["capacitive_load_unit"] == [("1", "pf")]


def test_nangate_file() -> None:
    if not LIB_GZ.exists():
        pytest.skip("the NanGate Liberty (../shared/data/nangate45/) is absent")
    lib = read_liberty(LIB_GZ)
    assert len(lib.cells) == 134
    fa = lib.cells["FA_X1"]
    assert fa.area == pytest.approx(4.256)
    assert fa.functions == {"CO": "((A & B) | (CI & (A | B)))", "S": "(CI ^ (A ^ B))"}
    assert fa.capacitance["A"] == pytest.approx(3.745709)
    assert len(fa.leakage_states) == 8
    assert lib.default_wire_load == "5K_hvratio_1_1"
    # cross-check a few numbers against PyPI's liberty-parser where it is installed
    liberty = pytest.importorskip("liberty.parser")
    with gzip.open(LIB_GZ, "rt") as f:
        ref = liberty.parse_liberty(f.read())
    for group in ref.get_groups("cell"):
        name = str(group.args[0]).strip('"')
        if name in ("NAND2_X1", "XOR2_X1", "HA_X1"):
            assert float(group["area"]) == pytest.approx(lib.cells[name].area)
