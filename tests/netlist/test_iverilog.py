"""Icarus Verilog agrees with dse's simulator on exported Verilog (all 65,536 pairs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dse.arith import from_spec, lower
from dse.errors import ToolNotFound
from dse.eval import exhaustive_input_words, read_outputs, simulate
from dse.netlist import Netlist, write_verilog
from dse.testing.iverilog import have_iverilog, iverilog_lut

DATA = Path(__file__).parent / "data"

needs_iverilog = pytest.mark.skipif(not have_iverilog(), reason="Icarus Verilog is not installed")


def lut(nl: Netlist, signed: bool = False) -> np.ndarray:
    wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
    vals = simulate(nl, exhaustive_input_words(wa, wb))
    return read_outputs(nl, vals, 1 << (wa + wb), signed=signed).reshape(1 << wa, 1 << wb)


CASES = [
    ("dadda:8", "assign"),
    ("dadda:8,signed", "gates"),
    ("booth:8", "assign"),
    ("array:8,bam=2:6", "gates"),
    ("dadda:8,truncate=6,compensate=1", "assign"),
    ("dadda:8,adder=kogge-stone,loa=4", "assign"),
]


@pytest.mark.iverilog
@needs_iverilog
@pytest.mark.parametrize(("spec", "style"), CASES)
def test_icarus_matches_lut(spec: str, style: str) -> None:
    nl = lower(from_spec(spec))
    signed = "signed" in spec
    got = iverilog_lut(write_verilog(nl, style=style), 8, 8, signed=signed)
    np.testing.assert_array_equal(got, lut(nl, signed))


@pytest.mark.iverilog
@needs_iverilog
def test_icarus_exact_reference_and_file_input(tmp_path: Path) -> None:
    ref = tmp_path / "ref.v"
    ref.write_text(
        "module ref(input signed [3:0] x, input signed [3:0] y, output signed [7:0] z);\n"
        "  assign z = x * y;\nendmodule\n"
    )
    got = iverilog_lut(ref, 4, 4, signed=True)
    v = np.arange(16)
    v = np.where(v >= 8, v - 16, v)
    np.testing.assert_array_equal(got, np.outer(v, v))


@pytest.mark.iverilog
@needs_iverilog
def test_icarus_with_cell_library() -> None:
    got = iverilog_lut(DATA / "mul2_evo.v", 2, 2, extra_files=[DATA / "pdkgen_cells.v"])
    np.testing.assert_array_equal(got, np.outer(np.arange(4), np.arange(4)))


def test_missing_iverilog_raises_tool_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not have_iverilog()
    with pytest.raises(
        ToolNotFound,
        match=r"^iverilog/vvp not found on PATH; install Icarus Verilog: apt-get install iverilog",
    ):
        iverilog_lut("module m(input a, input b, output p); endmodule", 1, 1)
