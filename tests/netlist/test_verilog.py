"""Structural Verilog: writer, reader, round trips and error messages."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dse.arith import from_spec, lower
from dse.errors import NetlistError, NetlistParseError
from dse.eval import exhaustive_input_words, read_outputs, simulate
from dse.netlist import (
    Netlist,
    Op,
    read_verilog,
    read_verilog_text,
    scan_module_ports,
    write_verilog,
)

DATA = Path(__file__).parent / "data"


def lut(nl: Netlist, signed: bool = False) -> np.ndarray:
    wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
    vals = simulate(nl, exhaustive_input_words(wa, wb))
    return read_outputs(nl, vals, 1 << (wa + wb), signed=signed).reshape(1 << wa, 1 << wb)


def exact(wa: int, wb: int, signed: bool = False) -> np.ndarray:
    a = np.arange(1 << wa)
    b = np.arange(1 << wb)
    if signed:
        a = np.where(a >= 1 << (wa - 1), a - (1 << wa), a)
        b = np.where(b >= 1 << (wb - 1), b - (1 << wb), b)
    return np.outer(a, b)


def op_counts(nl: Netlist) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in nl.ops.tolist():
        out[Op(o).name] = out.get(Op(o).name, 0) + 1
    return out


SPECS = [
    "dadda:8",
    "dadda:8,signed",
    "booth:8",
    "array:8,bam=2:6",
    "dadda:8,truncate=6,compensate=1",
    "dadda:8,adder=kogge-stone,loa=4",
    "wallace:4x6,signed",
    "array:5x3",
    "booth:6,signed,prune=0:0;1:1",
]


# -- writer ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("style", ["assign", "gates"])
def test_round_trip_same_lut(spec: str, style: str) -> None:
    nl = lower(from_spec(spec))
    signed = "signed" in spec
    text = write_verilog(nl, style=style)
    back = read_verilog_text(text, filename="rt.v")
    assert back.input_ports == nl.input_ports
    assert [p for p, _ in back.output_ports] == ["p"]
    np.testing.assert_array_equal(lut(back, signed), lut(nl, signed))
    if style == "assign":
        # chains, inversions, MAJ, MUX and AOI/OAI fuse back into the same gates
        assert op_counts(back) == op_counts(nl)
        assert back.gate_count == nl.gate_count


def test_writer_is_deterministic_and_single_driven() -> None:
    nl = lower(from_spec("booth:8"))
    text = write_verilog(nl)
    assert text == write_verilog(lower(from_spec("booth:8")))
    targets = re.findall(r"^\s*assign\s+(\S+)\s*=", text, flags=re.M)
    assert len(targets) == len(set(targets))
    assert re.search(r"^module mul \($", text, flags=re.M)
    assert "input  [7:0] a" in text and "input  [7:0] b" in text and "output [15:0] p" in text
    gates = write_verilog(nl, style="gates", module="m2")
    assert re.search(r"^module m2 \(", gates, flags=re.M)
    assert re.search(r"^\s*(and|xor|or|not|nor|nand|xnor|buf) g\d+", gates, flags=re.M)
    outs = re.findall(r"^\s*(?:and|or|xor|nand|nor|xnor|not|buf) \S+ \((\S+?),", gates, flags=re.M)
    assert len(outs) == len(set(outs))


def test_writer_constants_and_port_passthrough() -> None:
    # truncation ties low product bits to 0: written as 1'b0
    nl = lower(from_spec("array:4,truncate=3"))
    text = write_verilog(nl)
    assert "1'b0" in text
    np.testing.assert_array_equal(lut(read_verilog_text(text)), lut(nl))


def test_writer_rejects_unknown_style() -> None:
    with pytest.raises(NetlistError, match=r"^write_verilog: unknown style 'rtl'"):
        write_verilog(lower(from_spec("array:2")), style="rtl")  # type: ignore[arg-type]


# -- reader: constructs ------------------------------------------------------------------

MUL2_BODY = """
  wire pp0, pp1, pp2, pp3, c1;
  assign pp0 = a[0] & b[0];
  assign pp1 = a[1] & b[0];
  and (pp2, a[0], b[1]);
  and g3 (pp3, a[1], b[1]);
  assign p[0] = pp0;
  xor x1 (p[1], pp1, pp2);
  assign c1 = pp1 & pp2;
  assign {p[3], p[2]} = {pp3 & c1, pp3 ^ c1};
"""


def test_reader_ansi_and_non_ansi_ports() -> None:
    ansi = "module m(input [1:0] a, input wire [1:0] b, output [3:0] p);" + MUL2_BODY + "endmodule"
    non = (
        "module m(a, b, p);\n input [1:0] a; input [1:0] b;\n output [3:0] p;\n wire [3:0] p;\n"
        + MUL2_BODY
        + "endmodule\n"
    )
    for text in (ansi, non):
        nl = read_verilog_text(text)
        assert nl.input_ports == (("a", 2), ("b", 2))
        np.testing.assert_array_equal(lut(nl), exact(2, 2))


def test_reader_expressions_comments_attributes() -> None:
    text = r"""
    `timescale 1ns / 1ps
    // a line comment
    /* a block
       comment */
    (* top = 1 *)
    module m (a, b, y);
      input [3:0] a;
      input [3:0] b;
      output [11:0] y;
      (* keep *) wire \esc.aped ;
      wire [0:3] asc;                        // ascending range: asc[3] is the LSB
      assign asc = {a[3], a[2], a[1], a[0]};
      assign \esc.aped = ~&a;               // reduction NAND
      assign y[0] = \esc.aped ;
      assign y[1] = ~|b;
      assign y[2] = ^a ~^ b[0];
      assign y[3] = a[0] ? b[1] : b[2];
      assign y[4] = !(a[1] || b[1]) && 1'b1;
      assign y[5] = asc[3] ^~ a[0];          // always 1
      assign y[7:6] = a[1:0] | b[3:2];
      assign y[8] = &{a[3:2], 2'b11};
      assign y[11:9] = 3'b101;
    endmodule
    """
    nl = read_verilog_text(text)
    a = np.arange(16)[:, None]
    b = np.arange(16)[None, :]
    got = lut(nl)

    def bit(x: np.ndarray, k: int) -> np.ndarray:
        return (x >> k) & 1

    par_a = bit(a, 0) ^ bit(a, 1) ^ bit(a, 2) ^ bit(a, 3)
    want = (
        (1 - (a == 15))
        | ((b == 0) << 1)
        | ((1 - (par_a ^ bit(b, 0))) << 2)
        | (np.where(bit(a, 0) == 1, bit(b, 1), bit(b, 2)) << 3)
        | ((1 - (bit(a, 1) | bit(b, 1))) << 4)
        | (1 << 5)
        | (((a & 3) | (b >> 2)) << 6)
        | (((a >> 2) == 3) << 8)
        | (0b101 << 9)
    )
    np.testing.assert_array_equal(got, np.broadcast_to(want, got.shape))


def test_reader_fuses_gates_within_an_expression() -> None:
    text = """module m(input [2:0] a, input [1:0] b, output [5:0] p);
      assign p[0] = ~(a[0] & a[1] & a[2]);
      assign p[1] = a[0] ^ a[1] ^ b[0];
      assign p[2] = (a[0] & a[1]) | (a[0] & a[2]) | (a[1] & a[2]);
      assign p[3] = ~((a[0] & a[1]) | b[1]);
      assign p[4] = ~((a[0] | a[1]) & (a[2] | b[0]));
      assign p[5] = b[1] ? a[2] : a[0];
    endmodule"""
    nl = read_verilog_text(text)
    assert sorted(op_counts(nl)) == sorted(["NAND3", "XOR3", "MAJ", "AOI21", "OAI22", "MUX"])


def test_reader_primitives_any_arity_and_multi_output_buf() -> None:
    text = """module m(input [1:0] a, input [1:0] b, output [4:0] p);
      and (p[0], a[0], a[1], b[0], b[1]);
      nor n1 (p[1], a[0], a[1], b[0]);
      xnor (p[2], a[0], b[0]);
      not #1 (p[3], p[4], a[1]);
    endmodule"""
    nl = read_verilog_text(text)
    a = np.arange(4)[:, None]
    b = np.arange(4)[None, :]
    a1 = (a >> 1) & 1
    want = ((a == 3) & (b == 3)) | ((((a | (b & 1) << 1) & 3) == 0) & ((b & 1) == 0)) << 1
    want = (
        ((a == 3) & (b == 3)).astype(int)
        | ((((a & 1) | a1 | (b & 1)) == 0).astype(int) << 1)
        | ((1 - ((a & 1) ^ (b & 1))) << 2)
        | ((1 - a1) << 3)
        | ((1 - a1) << 4)
    )
    np.testing.assert_array_equal(lut(nl), np.broadcast_to(want, (4, 4)))


def test_reader_hierarchy_named_and_positional() -> None:
    text = """
    module ha(input a, input b, output s, output c);
      assign s = a ^ b;
      assign c = a & b;
    endmodule
    module mul2(input [1:0] a, input [1:0] b, output [3:0] p);
      wire pp1, pp2, pp3, c1;
      assign p[0] = a[0] & b[0];
      assign pp1 = a[1] & b[0];
      assign pp2 = a[0] & b[1];
      assign pp3 = a[1] & b[1];
      ha h0 (.a(pp1), .b(pp2), .s(p[1]), .c(c1));
      ha h1 (pp3, c1, p[2], p[3]);
    endmodule
    """
    nl = read_verilog_text(text)
    assert nl.name == "mul2"
    np.testing.assert_array_equal(lut(nl), exact(2, 2))
    # inlined nets keep unique hierarchical names
    assert any(n.startswith("h1.") for n in nl.net_names.values())


def test_reader_cells_file_evoapprox_style() -> None:
    nl = read_verilog(DATA / "mul2_evo.v", cells=[DATA / "pdkgen_cells.v"])
    assert nl.name == "mul2_evo"
    assert nl.input_ports == (("A", 2), ("B", 2))
    np.testing.assert_array_equal(lut(nl), exact(2, 2))


def test_reader_liberty_cells() -> None:
    nl = read_verilog(DATA / "mul2_lib.v", liberty=DATA / "tiny.lib")
    np.testing.assert_array_equal(lut(nl), exact(2, 2))


def test_reader_liberty_without_power_data(tmp_path: Path) -> None:
    # only pins and functions matter for reading; a library without units/voltage works
    lib = tmp_path / "bare.lib"
    text = (DATA / "tiny.lib").read_text()
    lib.write_text(
        "\n".join(ln for ln in text.splitlines() if "unit" not in ln and "nom_" not in ln)
    )
    nl = read_verilog(DATA / "mul2_lib.v", liberty=lib)
    np.testing.assert_array_equal(lut(nl), exact(2, 2))


def test_liberty_function_syntax() -> None:
    from dse.netlist import parse_liberty_function

    assert parse_liberty_function("!(A | (B1 B2))") == parse_liberty_function("(A + B1 * B2)'")
    e = parse_liberty_function("A ^ B & C")  # ^ binds tighter than AND (as in OpenSTA)
    assert e[0] == "bin" and e[1] == "&"
    with pytest.raises(NetlistParseError, match=r"^lib: liberty function '\(A & B': expected '\)'"):
        parse_liberty_function("(A & B", "lib")


def test_reader_yosys_internal_cells() -> None:
    text = r"""module m(a, b, p);
      input [1:0] a; input [1:0] b; output [1:0] p;
      wire _0_;
      \$_AND_  _1_ (.A(a[0]), .B(b[0]), .Y(_0_));
      \$_MUX_  _2_ (.A(_0_), .B(a[1]), .S(b[1]), .Y(p[0]));
      \$_ORNOT_ _3_ (.A(a[0]), .B(b[0]), .Y(p[1]));
    endmodule"""
    nl = read_verilog_text(text)
    a = np.arange(4)[:, None]
    b = np.arange(4)[None, :]
    and0 = a & b & 1
    p0 = np.where((b >> 1) & 1, (a >> 1) & 1, and0)
    p1 = (a & 1) | (1 - (b & 1))
    np.testing.assert_array_equal(lut(nl), np.broadcast_to(p0 | p1 << 1, (4, 4)))


def test_reader_parameters_in_ranges() -> None:
    text = """module m #(parameter W = 2) (input [W-1:0] a, input [W-1:0] b, output [2*W-1:0] p);
      localparam H = W - 1;
      assign p[0] = a[0] & b[0];
      assign p[2*W-1:1] = {a[H] & b[H], a[H] ^ b[H], 1'b0};
    endmodule"""
    nl = read_verilog_text(text)
    assert nl.input_ports == (("a", 2), ("b", 2))
    assert len(nl.output_ports[0][1]) == 4


def test_reader_multiple_outputs_kept_in_order() -> None:
    text = "module m(input [1:0] a, input [1:0] b, output [1:0] s, output c);\n assign {c, s} = {1'b0, a ^ b};\nendmodule"
    nl = read_verilog_text(text)
    assert [(p, len(n)) for p, n in nl.output_ports] == [("s", 2), ("c", 1)]


def test_top_selection(tmp_path: Path) -> None:
    two = (
        "module x(input a, input b, output y); assign y = a & b; endmodule\n"
        "module z(input a, input b, output y); assign y = a | b; endmodule\n"
    )
    f = tmp_path / "two.v"
    f.write_text(two)
    with pytest.raises(
        NetlistParseError, match=r"two\.v:2: cannot pick the top module: x, z .*expected top="
    ):
        read_verilog(f)
    assert read_verilog(f, top="z").name == "z"
    with pytest.raises(NetlistParseError, match=r"^top module 'q' is not defined"):
        read_verilog(f, top="q")


def test_scan_module_ports_is_lenient() -> None:
    text = "module ref(input [7:0] a, input [7:0] b, output [15:0] p);\n assign p = a * b;\nendmodule\n"
    assert scan_module_ports(text) == {
        "ref": [("input", "a", 8), ("input", "b", 8), ("output", "p", 16)]
    }
    old = "module r(a, b, p); input [3:0] a, b; output reg [7:0] p;\n always @(*) p = a * b;\nendmodule"
    assert scan_module_ports(old)["r"] == [("input", "a", 4), ("input", "b", 4), ("output", "p", 8)]


# -- reader: errors name file and line ----------------------------------------------------

ERRORS = [
    (
        "always",
        "module m(input a, input b, output y);\n  always @(*)\n    y = a & b;\nendmodule\n",
        2,
        r"unsupported construct: an always block \(behavioural logic\) \('always'\); expected a structural gate-level netlist",
    ),
    (
        "behavioural_mul",
        "module m(input [3:0] a, input [3:0] b, output [7:0] p);\n\n  assign p = a * b;\nendmodule\n",
        3,
        r"unsupported construct: the behavioural operator '\*'",
    ),
    (
        "generate",
        "module m(input a, output y);\n  assign y = a;\n  generate\n  endgenerate\nendmodule\n",
        3,
        r"unsupported construct: a generate block",
    ),
    (
        "loop",
        "module m(input a, input b, output y);\n  wire u, v;\n  assign u = v & a;\n  assign v = u | b;\n  assign y = u;\nendmodule\n",
        3,
        r"combinational loop: u -> v -> u",
    ),
    (
        "undriven_output",
        "module m(input [1:0] a, input [1:0] b,\n  output [1:0] p);\n  assign p[0] = a[0];\nendmodule\n",
        2,
        r"output p\[1\] of module 'm' is never driven",
    ),
    (
        "undriven_wire",
        "module m(input a, input b, output y);\n  wire w;\n  assign y = a & w;\nendmodule\n",
        3,
        r"net 'w' is read but never driven",
    ),
    (
        "driven_twice",
        "module m(input a, input b, output y);\n  assign y = a;\n  assign y = b;\nendmodule\n",
        3,
        r"net 'y' is driven twice \(first at .*:2\)",
    ),
    (
        "unknown_module",
        "module m(input a, input b, output y);\n\n  FOO_X1 u0 (.A(a), .B(b), .Y(y));\nendmodule\n",
        3,
        r"instance 'u0' of unknown module or cell 'FOO_X1'; expected a module defined in the given files",
    ),
    (
        "syntax",
        "module m(input a, input b, output y)\n  assign y = a & b;\nendmodule\n",
        2,
        r"found 'assign' after the module header; expected ';'",
    ),
    (
        "syntax_expr",
        "module m(input a, input b, output y);\n  assign y = a & ;\nendmodule\n",
        2,
        r"found ';'; expected an operand",
    ),
    (
        "unresolved_param",
        "module m(input [N-1:0] a, output y);\n  assign y = a[0];\nendmodule\n",
        1,
        r"cannot resolve 'N' in a constant expression",
    ),
    (
        "bad_index",
        "module m(input [1:0] a, output y);\n  assign y = a[2];\nendmodule\n",
        2,
        r"index a\[2\] is outside the range \[1:0\]",
    ),
    (
        "unclosed",
        "module m(input a, output y);\n  assign y = a;\n",
        3,
        r"module 'm' is not closed; expected 'endmodule'",
    ),
    (
        "define",
        "`define W 8\nmodule m(input a, output y); assign y = a; endmodule\n",
        1,
        r"compiler directive `define is not supported",
    ),
    (
        "xconst",
        "module m(input a, output y);\n  assign y = 1'bx;\nendmodule\n",
        2,
        r"constant \"1'bx\" has x/z bits",
    ),
]


@pytest.mark.parametrize(("name", "text", "line", "what"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, what: str
) -> None:
    path = tmp_path / f"{name}.v"
    path.write_text(text)
    with pytest.raises(NetlistParseError) as info:
        read_verilog(path)
    assert re.match(rf"^{re.escape(str(path))}:{line}: {what}", str(info.value)), str(info.value)
    assert isinstance(info.value, NetlistError)


def test_error_in_cell_file_names_that_file(tmp_path: Path) -> None:
    cells = tmp_path / "cells.v"
    cells.write_text("module C(input A, output Y);\n  always @(A) ;\nendmodule\n")
    top = tmp_path / "top.v"
    top.write_text("module t(input a, input b, output y);\n  C u (.A(a), .Y(y));\nendmodule\n")
    with pytest.raises(
        NetlistParseError, match=rf"^{re.escape(str(cells))}:2: unsupported construct"
    ):
        read_verilog(top, cells=[cells])


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(NetlistParseError, match=r"missing\.v: cannot read Verilog file"):
        read_verilog(tmp_path / "missing.v")


# -- speed -----------------------------------------------------------------------------------


def test_reader_speed_8x8(tmp_path: Path) -> None:
    import time

    nl = lower(from_spec("dadda:8"))
    path = tmp_path / "d.v"
    path.write_text(write_verilog(nl))
    read_verilog(path)
    t0 = time.perf_counter()
    for _ in range(5):
        read_verilog(path)
    per_file = (time.perf_counter() - t0) / 5
    assert per_file < 0.1  # typically ~5 ms; generous for loaded CI machines
