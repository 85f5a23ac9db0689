"""Every built-in export format: written, read back and compared with the table; the
peers' table formats byte for byte as their tools read them."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from dse.errors import ConfigError, DseError
from dse.export import FORMATS, export_design, export_designs

UNSIGNED_8 = "dadda:8,truncate=5"  # approximate: products differ from a*b
SIGNED_8 = "booth:8,signed,truncate=3"
SMALL = "wallace:4x6,signed"


def codes_to_values(codes: np.ndarray, width: int) -> np.ndarray:
    return np.where(codes >> (width - 1), codes - (1 << width), codes)


@pytest.mark.parametrize("spec", [UNSIGNED_8, SIGNED_8, SMALL])
def test_every_format_reads_back_the_table(make_design, tmp_path, spec):
    design = make_design(spec, "m")
    table = design.lut()
    for fmt in FORMATS.values():
        try:
            fmt.check(design)
        except ConfigError:
            continue  # refusals are tested per format below
        (path,) = export_designs([design], tmp_path / fmt.name, [fmt.name])
        assert path.name == "m" + fmt.suffix
        got = fmt.read(path, signed=design.signed)
        if got is None:  # the C model: compiled below
            assert fmt.name == "c"
            continue
        np.testing.assert_array_equal(got, table, err_msg=f"{fmt.name} {spec}")


def test_formats_that_hold_every_design_accept_them_all(make_design):
    for spec in (UNSIGNED_8, SIGNED_8, SMALL):
        design = make_design(spec, "m")
        for name in ("verilog", "verilog-gates", "blif", "c", "npy", "json"):
            FORMATS[name].check(design)


def test_tfapprox_bin_is_65536_little_endian_uint16_at_a_times_256_plus_b(make_design, tmp_path):
    design = make_design(UNSIGNED_8, "m")
    table = design.lut()
    path = export_design(design, tmp_path / "m.bin", "tfapprox")
    raw = path.read_bytes()
    assert len(raw) == 2 * 65536
    for a, b in [(0, 0), (1, 255), (200, 3), (255, 255), (17, 93)]:
        offset = 2 * (a * 256 + b)
        assert int.from_bytes(raw[offset : offset + 2], "little") == table[a, b]
    # tf-approximate's own default table (no file): (i >> 8) * (i & 0xFF)
    exact = export_design(make_design("dadda:8", "x"), tmp_path / "x.bin", "tfapprox")
    i = np.arange(65536)
    np.testing.assert_array_equal(np.fromfile(exact, dtype="<u2"), (i >> 8) * (i & 0xFF))


@pytest.mark.parametrize(
    "spec,what", [(SIGNED_8, "8x8 signed"), ("dadda:6", "6x6 unsigned"), (SMALL, "4x6 signed")]
)
def test_tfapprox_refuses_other_widths_and_signed_in_one_line(make_design, tmp_path, spec, what):
    with pytest.raises(ConfigError) as exc:
        export_designs([make_design(spec, "m")], tmp_path, ["tfapprox"])
    message = str(exc.value)
    assert "\n" not in message
    assert message == (
        "m: tf-approximate's .bin holds an 8x8 unsigned multiplier (65,536 uint16 products); "
        f"this design is {what}"
    )
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_cheader_has_adapts_layout(make_design, tmp_path):
    design = make_design(SIGNED_8, "s")
    text = export_design(design, tmp_path / "s.h", "cheader").read_text()
    lines = text.splitlines()
    assert "#include <stdint.h>" in lines
    decl = next(i for i, line in enumerate(lines) if line.startswith("const "))
    assert lines[decl].startswith("const int16_t lut [256][256] = {{")
    assert len(lines) - decl == 256 and lines[-1].endswith("}};")
    # rows by a's 8-bit code: row 255 is a = -1, row 128 is a = -128
    table = design.lut()
    row255 = [int(v) for v in re.findall(r"-?\d+", lines[decl + 255])]
    assert row255 == table[255].tolist()
    exact = make_design("booth:8,signed", "e")
    ex = export_design(exact, tmp_path / "e.h", "cheader").read_text().splitlines()
    row1 = [int(v) for v in re.findall(r"-?\d+", ex[-255])]
    assert row1 == codes_to_values(np.arange(256), 8).tolist()  # a = 1: b by code order
    # an unsigned table exceeds int16: written as int32_t
    wide = export_design(make_design(UNSIGNED_8, "u"), tmp_path / "u.h", "cheader")
    assert "const int32_t lut [256][256] = {{" in wide.read_text()


def test_cheader_refuses_other_widths(make_design, tmp_path):
    with pytest.raises(ConfigError, match=r"^m: an AdaPT/TransAxx header is a 256x256 table"):
        export_designs([make_design(SMALL, "m")], tmp_path, ["cheader"])


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_cheader_and_c_model_compile_to_the_table(make_design, tmp_path):
    design = make_design(SIGNED_8, "s")
    export_designs([design], tmp_path, ["cheader", "c"])
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include <stdint.h>\n#include "s.h"\n'
        "uint64_t s(uint64_t a, uint64_t b);\n"
        "int main(void) {\n  for (int a = 0; a < 256; a++)\n    for (int b = 0; b < 256; b++)\n"
        '      printf("%d %llu\\n", (int)lut[a][b], (unsigned long long)s(a, b));\n'
        "  return 0;\n}\n"
    )
    subprocess.run(["cc", "-std=c99", "-O0", "-o", "t", "main.c", "s.c"], cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True, check=True)
    pairs = np.array(out.stdout.split(), dtype=np.int64).reshape(256, 256, 2)
    table = design.lut()
    np.testing.assert_array_equal(pairs[..., 0], table)
    np.testing.assert_array_equal(codes_to_values(pairs[..., 1], 16), table)


def test_tramlut_lines_are_tram_operand_values(make_design, tmp_path):
    design = make_design(SIGNED_8, "s")
    lines = export_design(design, tmp_path / "s.lut.txt", "tramlut").read_text().splitlines()
    marker = lines.index("LUT for approximate multiplier:")
    assert lines[:marker] == ["INFO: Signed approximate multiplier"]
    body = lines[marker + 1 :]
    assert len(body) == 65536
    table = design.lut()
    assert body[0] == f"0 0 {table[0, 0]}"
    assert body[128] == f"0 -128 {table[0, 128]}"  # b's code 128 is -128
    assert body[255 * 256 + 1] == f"-1 1 {table[255, 1]}"
    unsigned = make_design("dadda:4", "u")
    text = export_design(unsigned, tmp_path / "u.lut.txt", "tramlut").read_text()
    assert text.startswith("INFO: Unsigned approximate multiplier\nLUT for")
    assert text.endswith("\n15 15 225\n")


def test_tramlut_refuses_non_square(make_design, tmp_path):
    with pytest.raises(ConfigError, match=r"TRAM's LUT text is for square multipliers"):
        export_designs([make_design(SMALL, "m")], tmp_path, ["tramlut"])


def test_a_file_that_does_not_read_back_is_one_line_naming_file_and_entry(make_design, tmp_path):
    class Lying:
        """A design whose stated table differs from its netlist at one entry."""

        def __init__(self) -> None:
            self.inner = make_design("dadda:4", "m")
            self.name, self.width_a, self.width_b = "m", 4, 4
            self.signed = False

        def netlist(self):
            return self.inner.netlist()

        def lut(self):
            table = self.inner.lut().copy()
            table[3, 5] += 1
            return table

    for fmt in ("verilog", "verilog-gates", "blif"):  # netlists: what the file holds is simulated
        with pytest.raises(DseError) as exc:
            export_designs([Lying()], tmp_path, [fmt])
        path = tmp_path / ("m" + FORMATS[fmt].suffix)
        assert str(exc.value) == (
            f"{path}: read back, the {fmt} file differs from the design's table at a=3, b=5: "
            f"15 instead of 16 (file removed)"
        )
        assert not path.exists()


def test_a_table_only_design_refuses_netlist_formats(tmp_path):
    class TableOnly:
        name, width_a, width_b, signed = "t", 2, 2, False

        def netlist(self):
            return None

        def lut(self):
            return np.outer(np.arange(4), np.arange(4))

    export_designs([TableOnly()], tmp_path, ["npy", "tramlut"])
    for fmt in ("verilog", "verilog-gates", "blif", "c"):
        with pytest.raises(
            ConfigError, match=f"^t: a table-only design has no netlist to write as {fmt}$"
        ):
            export_designs([TableOnly()], tmp_path, [fmt])
    with pytest.raises(ConfigError, match=r"^t: json writes a generated multiplier's graph"):
        export_designs([TableOnly()], tmp_path, ["json"])


def test_unknown_format_and_clashing_names(make_design, tmp_path):
    with pytest.raises(
        ConfigError, match=r"^unknown export format 'vhdl'; known: verilog, verilog-gates, blif"
    ):
        export_designs([make_design("dadda:4", "m")], tmp_path, ["vhdl"])
    with pytest.raises(ConfigError, match=r"designs 'a-b' and 'a_b' would both be written as a_b"):
        export_designs(
            [make_design("dadda:4", "a-b"), make_design("dadda:4", "a_b")], tmp_path, ["npy"]
        )
