"""BLIF and C writers: yosys reads the BLIF back, gcc compiles the C model."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dse.arith import from_spec, lower
from dse.eval import exhaustive_input_words, read_outputs, simulate
from dse.netlist import Netlist, read_verilog, write_blif, write_c

SPECS = [
    "dadda:8",
    "dadda:8,signed",
    "booth:8",
    "array:8,bam=2:6",
    "dadda:8,truncate=6,compensate=1",
    "dadda:8,adder=kogge-stone,loa=4",
]


def lut(nl: Netlist, signed: bool = False) -> np.ndarray:
    wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
    vals = simulate(nl, exhaustive_input_words(wa, wb))
    return read_outputs(nl, vals, 1 << (wa + wb), signed=signed).reshape(1 << wa, 1 << wb)


def test_blif_text_shape() -> None:
    nl = lower(from_spec("array:2"))
    text = write_blif(nl)
    lines = text.splitlines()
    assert lines[1] == ".model mul"
    assert lines[2] == ".inputs a[0] a[1] b[0] b[1]"
    assert lines[3] == ".outputs p[0] p[1] p[2] p[3]"
    assert lines[-1] == ".end"
    # net numbers depend on lowering order: find the AND of a[0], b[0] and its output buffer
    m = re.search(r"^\.names a\[0\] b\[0\] (n\d+)\n11 1$", text, flags=re.M)
    assert m is not None
    assert f".names {m.group(1)} p[0]\n1 1" in text
    assert text == write_blif(lower(from_spec("array:2")))


def test_blif_constants() -> None:
    text = write_blif(lower(from_spec("array:4,truncate=3")))
    # a constant-0 net is a .names with an empty cover
    assert any(
        ln.startswith(".names ") and len(ln.split()) == 2 and not nxt[:1].isdigit()
        for ln, nxt in zip(text.splitlines(), text.splitlines()[1:], strict=False)
    )


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("noexpr", [False, True], ids=["expr", "cells"])
def test_blif_through_yosys(tmp_path: Path, spec: str, noexpr: bool) -> None:
    nl = lower(from_spec(spec))
    signed = "signed" in spec
    (tmp_path / "m.blif").write_text(write_blif(nl))
    # expr: yosys writes its $lut cells as `C >> {s...}`; cells: techmapped to $_AND_ ...
    script = "read_blif -wideports m.blif; "
    script += (
        "techmap; opt_clean; write_verilog -noattr -noexpr y.v"
        if noexpr
        else "write_verilog -noattr y.v"
    )
    res = subprocess.run(
        ["yosys", "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    back = read_verilog(tmp_path / "y.v")
    assert back.input_ports == nl.input_ports
    np.testing.assert_array_equal(lut(back, signed), lut(nl, signed))
    if not noexpr:
        assert back.gate_count == nl.gate_count  # each $lut maps back to one gate


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
def test_yosys_synthesizes_written_verilog(tmp_path: Path) -> None:
    from dse.netlist import write_verilog

    nl = lower(from_spec("booth:8"))
    for style in ("assign", "gates"):
        (tmp_path / f"{style}.v").write_text(write_verilog(nl, style=style))
        res = subprocess.run(
            ["yosys", "-q", "-p", f"read_verilog {style}.v; synth -top mul; write_verilog -noattr s_{style}.v"],
            cwd=tmp_path, capture_output=True, text=True,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        back = read_verilog(tmp_path / f"s_{style}.v")
        np.testing.assert_array_equal(lut(back), lut(nl))


CC = shutil.which("cc") or shutil.which("gcc")

MAIN_C = """
#include <stdint.h>
#include <stdio.h>
uint64_t mul(uint64_t a, uint64_t b);
int main(void) {
    for (uint64_t a = 0; a < 256; a++)
        for (uint64_t b = 0; b < 256; b++) {
            uint64_t p = mul(a, b);
            fwrite(&p, sizeof p, 1, stdout);
        }
    return 0;
}
"""


@pytest.mark.skipif(CC is None, reason="no C compiler")
@pytest.mark.parametrize("spec", SPECS)
def test_c_model_matches_lut(tmp_path: Path, spec: str) -> None:
    assert CC is not None
    nl = lower(from_spec(spec))
    signed = "signed" in spec
    (tmp_path / "mul.c").write_text(write_c(nl, function="mul"))
    (tmp_path / "main.c").write_text(MAIN_C)
    res = subprocess.run(
        [CC, "-std=c99", "-O1", "-Wall", "-Werror", "-o", "t", "mul.c", "main.c"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, check=True).stdout
    got = np.frombuffer(out, dtype=np.uint64).astype(np.int64)
    width = len(nl.output_ports[0][1])
    if signed:
        got = np.where(got >= 1 << (width - 1), got - (1 << width), got)
    np.testing.assert_array_equal(got.reshape(256, 256), lut(nl, signed))


def test_c_model_text() -> None:
    text = write_c(lower(from_spec("array:2")))
    assert "uint64_t mul(uint64_t a, uint64_t b)" in text
    assert text.startswith("/* mul: ")
    assert (
        write_c(lower(from_spec("array:2")), function="2bad name").count("uint64_t _2bad_name(")
        == 1
    )
