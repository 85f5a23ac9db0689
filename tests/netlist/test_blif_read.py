"""The BLIF reader and reading by format, one test per style of BLIF met in practice:
dse's own writer, ABC (SOP covers), yosys (.gate/.subckt, .conn, bit-blasted ports)."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dse.arith import from_spec, lower
from dse.errors import ConfigError, NetlistParseError
from dse.eval import exhaustive_input_words, read_outputs, simulate
from dse.netlist import (
    Netlist,
    Op,
    group_bit_ports,
    netlist_format,
    read_blif,
    read_blif_text,
    read_netlist,
    read_verilog_text,
    write_blif,
    write_verilog,
)

DATA = Path(__file__).parent / "data"


def lut(nl: Netlist, signed: bool = False) -> np.ndarray:
    wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
    vals = simulate(nl, exhaustive_input_words(wa, wb))
    return read_outputs(nl, vals, 1 << (wa + wb), signed=signed).reshape(1 << wa, 1 << wb)


def histogram(nl: Netlist) -> Counter[str]:
    return Counter(Op(int(o)).name for o in nl.ops if int(o) > Op.BUF)


def blif_truth(text: str, inputs: dict[str, int]) -> dict[str, int]:
    """A reference interpreter for flat BLIF: every net's value on one input vector."""
    covers: dict[str, tuple[list[str], list[str]]] = {}
    lines = [ln.split("#")[0].split() for ln in text.replace("\\\n", " ").splitlines()]
    current: list[str] | None = None
    outputs: list[str] = []
    for tok in filter(None, lines):
        if tok[0] == ".names":
            current = []
            covers[tok[-1]] = (tok[1:-1], current)
        elif tok[0] == ".outputs":
            outputs += tok[1:]
        elif tok[0].startswith("."):
            current = None
        elif current is not None:
            current.append(" ".join(tok))
    values = dict(inputs)

    def value(net: str) -> int:
        if net not in values:
            ins, rows = covers[net]
            x = [value(i) for i in ins]
            hit, onset = 0, 1
            for row in rows:
                plane, out = [*row.split(), ""][:2] if ins else ["", row]
                onset = int(out)
                if all(c == "-" or int(c) == v for c, v in zip(plane, x, strict=True)):
                    hit = 1
            values[net] = hit if onset else 1 - hit
        return values[net]

    return {o: value(o) for o in outputs}


# -- (a) dse's own write_blif -------------------------------------------------------------


@pytest.mark.parametrize("spec", ["dadda:8", "booth:8", "dadda:8,signed", "array:5x3"])
def test_dse_write_blif_round_trip(spec: str) -> None:
    graph = from_spec(spec)
    nl = lower(graph)
    back = read_blif_text(write_blif(nl), filename="rt.blif")
    assert back.input_ports == nl.input_ports
    assert [(p, len(n)) for p, n in back.output_ports] == [(p, len(n)) for p, n in nl.output_ports]
    np.testing.assert_array_equal(lut(back, graph.signed), lut(nl, graph.signed))
    # every cover the writer makes for a gate reads back as that gate
    assert histogram(back) == histogram(nl)


def test_dse_write_blif_file_round_trip(tmp_path: Path) -> None:
    nl = lower(from_spec("booth:6"))
    path = tmp_path / "m.blif"
    path.write_text(write_blif(nl, model="m6"))
    back = read_blif(path)
    assert back.name == "m6"
    np.testing.assert_array_equal(lut(back, True), lut(nl, True))


# -- (b) ABC: SOP covers, $ names, don't-cares, off-set covers ----------------------------

ABC_MUL2 = r"""# Benchmark "mul2" written by ABC on Mon Jan  1 00:00:00 2024
.model mul2
.inputs a[0] a[1] \
  b[0] b[1]
.outputs p[0] p[1] p[2] p[3]
.names a[0] b[0] p[0]
11 1
.names a[1] b[0] $abc$12$new_n9_
0- 0
-0 0
.names a[0] b[1] $abc$12$new_n10_
11 1
.names $abc$12$new_n9_ $abc$12$new_n10_ p[1]
01 1
10 1
.names a[1] b[1] $abc$12$new_n12_
11 1
.names $abc$12$new_n12_ $abc$12$new_n9_ $abc$12$new_n10_ p[2]
1-0 1
10- 1
.names $abc$12$new_n12_ $abc$12$new_n9_ $abc$12$new_n10_ p[3]
111 1
.end
"""


def test_abc_style_covers_multiply() -> None:
    nl = read_blif_text(ABC_MUL2, filename="mul2.blif")
    assert nl.input_ports == (("a", 2), ("b", 2))
    a, b = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    np.testing.assert_array_equal(lut(nl), a * b)


@pytest.mark.parametrize(
    ("cover", "ops"),
    [
        ("0- 1\n-0 1", {"NAND": 1}),
        ("1- 0\n-1 0", {"NOR": 1}),  # off-set cover
        ("01 1\n10 1", {"XOR": 1}),
        ("11 0\n00 0", {"XOR": 1}),
        ("00 1\n11 1", {"XNOR": 1}),
        ("10 1", {"AND": 1, "INV": 1}),
    ],
)
def test_abc_style_two_input_covers_are_one_gate(cover: str, ops: dict[str, int]) -> None:
    text = f".model g\n.inputs x y\n.outputs z\n.names x y z\n{cover}\n.end\n"
    nl = read_blif_text(text)
    assert dict(histogram(nl)) == ops


@pytest.mark.parametrize(
    ("cover", "op"),
    [
        ("11- 1\n1-1 1\n-11 1", "MAJ"),
        ("1-0 1\n-11 1", "MUX"),
        ("100 1\n010 1\n001 1\n111 1", "XOR3"),
        ("11- 0\n--1 0", "AOI21"),
        ("111 1", "AND3"),
        ("000 0", "OR3"),
    ],
)
def test_abc_style_three_input_covers_are_one_gate(cover: str, op: str) -> None:
    text = f".model g\n.inputs x y c\n.outputs z\n.names x y c z\n{cover}\n.end\n"
    nl = read_blif_text(text)
    assert dict(histogram(nl)) == {op: 1}


def test_abc_style_wide_cover_and_duplicate_input() -> None:
    text = (
        ".model w\n.inputs i0 i1 i2 i3 i4 i5 i6 i7\n.outputs o q\n"
        ".names i0 i1 i2 i3 i4 i5 i6 i7 o\n1-0-1-0- 1\n--11--11 1\n0------1 1\n"
        ".names i0 i0 i1 q\n1-1 1\n01- 1\n"  # i0 twice: the second row is empty
        ".end\n"
    )
    nl = read_blif_text(text)
    for bits in itertools.product((0, 1), repeat=8):
        ins = {f"i{k}": v for k, v in enumerate(bits)}
        words = np.array([[v] for v in bits], dtype=np.uint64)
        vals = simulate(nl, words)
        got = {p: int(vals[n[0], 0]) & 1 for p, n in nl.output_ports}
        assert got == blif_truth(text, ins), bits


def test_random_covers_simulate_like_the_blif() -> None:
    rng = random.Random(7)
    lines = [".model r", ".inputs " + " ".join(f"x{k}" for k in range(6)), ".outputs"]
    outs = []
    for k in range(300):
        n = rng.randint(0, 6)
        ins = rng.sample([f"x{i}" for i in range(6)] + outs[-4:], min(n, 6 + len(outs[-4:])))
        out = f"$abc${k}$n{k}_"  # not a bit name: each stays a port of its own
        lines.append(f".names {' '.join(ins)} {out}")
        onset = rng.choice("01")
        for _ in range(rng.randint(0, 4)):
            plane = "".join(rng.choice("01--") for _ in ins)
            lines.append(f"{plane} {onset}" if ins else onset)
        outs.append(out)
    lines[2] = ".outputs " + " ".join(outs)
    text = "\n".join(lines) + "\n.end\n"
    nl = read_blif_text(text)
    words = exhaustive_input_words(0, 6)  # vector v: x_k is bit k of v
    vals = simulate(nl, words)
    for v in range(64):
        want = blif_truth(text, {f"x{k}": (v >> k) & 1 for k in range(6)})
        got = {p: int(vals[n[0], v // 64] >> np.uint64(v % 64)) & 1 for p, n in nl.output_ports}
        assert got == want, v


# -- (c) yosys: .gate / .subckt against cells, hierarchy, .conn -----------------------------

YOSYS_GATES = """# Generated by Yosys 0.23
.model mul2_evo
.inputs A[0] A[1] B[0] B[1]
.outputs O[0] O[1] O[2] O[3]
.names $false
.names $true
1
.names $undef
.{kw} PDKGENHAX1 A=N[7] B=N[9] YC=N[11] YS=N[10]
.{kw} PDKGENAND2X1 A=A[0] B=B[0] Y=N[4]
.{kw} PDKGENAND2X1 A=A[1] B=B[0] Y=N[5]
.{kw} PDKGENAND2X1 A=A[0] B=B[1] Y=N[6]
.cname n6
.attr src "mul2_evo.v:17"
.{kw} PDKGENAND2X1 A=A[1] B=B[1] Y=N[7]
.{kw} PDKGENHAX1 A=N[5] B=N[6] YC=N[9] YS=N[8]
.conn N[4] O[0]
.names N[8] O[1]
1 1
.names N[10] O[2]
1 1
.names N[11] O[3]
1 1
.end
"""


@pytest.mark.parametrize("kw", ["gate", "subckt"])
def test_yosys_style_cells_from_verilog_modules(kw: str) -> None:
    nl = read_blif_text(
        YOSYS_GATES.replace("{kw}", kw), filename="g.blif", cells=[DATA / "pdkgen_cells.v"]
    )
    assert nl.input_ports == (("A", 2), ("B", 2))
    np.testing.assert_array_equal(lut(nl), np.outer(np.arange(4), np.arange(4)))


def test_yosys_style_cells_from_liberty_and_internal_cells() -> None:
    text = """.model m
.inputs a[0] a[1] b[0] b[1]
.outputs p[0] p[1] p[2] p[3]
.gate AND2_X1 A1=a[0] A2=b[0] ZN=p[0]
.gate AND2_X1 A1=a[1] A2=b[0] ZN=t1
.subckt $_AND_ A=a[0] B=b[1] Y=t2
.gate HA_X1 A=t1 B=t2 S=p[1] CO=c1
.gate NAND2_X1 A1=a[1] A2=b[1] ZN=t3n
.gate INV_X1 A=t3n ZN=t3
.subckt $_XOR_ A=t3 B=c1 Y=p[2]
.gate AOI21_X1 A=u B1=t3 B2=c1 ZN=p3n
.names u
.gate INV_X1 A=p3n ZN=p[3]
.end
"""
    nl = read_blif_text(text, filename="lib.blif", liberty=DATA / "tiny.lib")
    np.testing.assert_array_equal(lut(nl), np.outer(np.arange(4), np.arange(4)))
    with pytest.raises(NetlistParseError, match=r"lib\.blif:4: instance of unknown cell 'AND2_X1'"):
        read_blif_text(text, filename="lib.blif")


def test_yosys_style_blackbox_model_declares_a_cell() -> None:
    text = """.model AND2_X1
.inputs A1 A2
.outputs ZN
.blackbox
.end
.model m
.inputs a b
.outputs p
.subckt AND2_X1 A1=a A2=b ZN=p
.end
"""
    nl = read_blif_text(text, liberty=DATA / "tiny.lib")
    assert nl.name == "m" and dict(histogram(nl)) == {"AND": 1}


def test_yosys_style_hierarchy_of_models() -> None:
    text = """.model top
.inputs a[0] a[1] b[0] b[1]
.outputs p[0] p[1] p[2] p[3]
.subckt and2 x=a[0] y=b[0] z=p[0]
.subckt and2 x=a[1] y=b[0] z=t1
.subckt and2 x=a[0] y=b[1] z=t2
.subckt ha x=t1 y=t2 s=p[1] c=c1
.subckt and2 x=a[1] y=b[1] z=t3
.subckt ha x=t3 y=c1 s=p[2] c=p[3]
.end

.model ha
.inputs x y
.outputs s c
.names x y s
01 1
10 1
.subckt and2 x=x y=y z=c
.end

.model and2
.inputs x y
.outputs z
.names x y z
11 1
.end
"""
    nl = read_blif_text(text, filename="h.blif")
    assert nl.name == "top"
    np.testing.assert_array_equal(lut(nl), np.outer(np.arange(4), np.arange(4)))
    assert dict(histogram(nl)) == {"AND": 6, "XOR": 2}


# -- (d) bit-blasted ports (yosys without -wideports, splitnets -ports) -----------------------


@pytest.mark.parametrize("style", ["{p}_{i}", "{p}[{i}]", "{p}{i}"])
def test_bit_blasted_blif_ports_are_grouped(style: str) -> None:
    nl = lower(from_spec("dadda:4"))
    text = write_blif(nl)
    for port, width in [("a", 4), ("b", 4), ("p", 8)]:
        for i in reversed(range(width)):
            text = text.replace(f"{port}[{i}]", style.format(p=port, i=i))
    back = read_blif_text(text, filename="bb.blif")
    assert back.input_ports == (("a", 4), ("b", 4))
    assert [(p, len(n)) for p, n in back.output_ports] == [("p", 8)]
    np.testing.assert_array_equal(lut(back), lut(nl))


def test_bit_blasted_verilog_ports_are_grouped() -> None:
    nl = lower(from_spec("array:3"))
    ports = [f"a_{i}" for i in range(3)] + [f"b_{i}" for i in range(3)]
    body = write_verilog(nl).split(");", 1)[1]
    for i in range(3):
        body = body.replace(f"a[{i}]", f"a_{i}").replace(f"b[{i}]", f"b_{i}")
    for i in range(6):
        body = body.replace(f"p[{i}]", f"\\p[{i}] ")
    text = (
        "module m("
        + ", ".join(ports + [f"\\p[{i}] " for i in range(6)])
        + ");\n"
        + "".join(f"  input {p};\n" for p in ports)
        + "".join(f"  output \\p[{i}] ;\n" for i in range(6))
        + body
    )
    back = read_verilog_text(text)
    assert back.input_ports == (("a", 3), ("b", 3))
    assert [(p, len(n)) for p, n in back.output_ports] == [("p", 6)]
    np.testing.assert_array_equal(lut(back), lut(nl))


def test_group_bit_ports_leaves_what_is_not_a_whole_vector() -> None:
    def names(ports: list[tuple[str, list[str]]]) -> list[tuple[str, int]]:
        return [(p, len(b)) for p, b in group_bit_ports(ports)]

    one = [(n, [n]) for n in ["x_1", "x_2", "c", "y0", "y1", "y", "z_0", "z_1", "z0"]]
    # x_ misses bit 0; y0/y1 clash with a port y; z_ and z0 share a prefix
    assert names(one) == [(n, 1) for n, _ in one]
    vec = [("a", ["a[0]", "a[1]"]), ("a_0", ["q"]), ("k_0", ["k0"]), ("k_1", ["k1"])]
    assert names(vec) == [("a", 2), ("a_0", 1), ("k", 2)]


def test_ungroupable_1_bit_ports_get_a_naming_hint() -> None:
    from dse.eval import evaluate_netlist

    text = ".model m\n.inputs x y z w\n.outputs p\n.names x y z w p\n1111 1\n.end\n"
    nl = read_blif_text(text)
    with pytest.raises(ConfigError, match=r"has 4 input ports.*1-bit ports.*a_0 … a_7"):
        evaluate_netlist(nl, signed=False)


# -- (e) constants ------------------------------------------------------------------------


def test_constant_covers() -> None:
    text = """.model k
.inputs a[0] a[1] b[0] b[1]
.outputs p[0] p[1] p[2] p[3] p[4]
.names p[0]
.names p[1]
1
.names p[2]
0
.names a[0] b[0] p[3]
-- 1
.names a[1] b[1] p[4]
10 1
10 0
.end
"""
    with pytest.raises(NetlistParseError, match=r"k\.blif:13: cover row output 0 after rows"):
        read_blif_text(text, filename="k.blif")
    nl = read_blif_text(text.replace("10 0\n", ""), filename="k.blif")
    table = lut(nl)
    assert nl.gate_count == 2  # !b1 & a1 only
    a1 = (np.arange(4)[:, None] >> 1) & 1
    b1 = (np.arange(4)[None, :] >> 1) & 1
    np.testing.assert_array_equal(table, 2 + 8 + 16 * (a1 & (1 - b1)))


# -- (f) errors ---------------------------------------------------------------------------

HEAD = ".model m\n.inputs a b\n.outputs p\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (".latch a p re clk 0\n", r"e\.blif:4: \.latch: sequential logic; dse reads combinational"),
        (".foo a\n", r"e\.blif:4: unsupported BLIF directive '\.foo'; expected one of \.model"),
        (".names a q p\n11 1\n", r"e\.blif:4: net 'q' is read but never driven"),
        (
            ".names a q p\n11 1\n.names p q\n1 1\n",
            r"e\.blif:4: combinational loop: p -> q -> p",
        ),
        (
            ".names a b p\n111 1\n",
            r"e\.blif:5: cover row '111 1' does not fit the \.names at e\.blif:4 \(2 inputs\)",
        ),
        (".names a b p\n1x 1\n", r"e\.blif:5: cover row '1x 1'"),
        (".names a b p\n11 2\n", r"e\.blif:5: cover row '11 2'"),
        ("11 1\n", r"e\.blif:4: unexpected '11 1' outside a \.names cover"),
        (
            ".names a b p\n11 1\n.names a p\n1 1\n",
            r"e\.blif:6: net 'p' is driven twice \(first at e\.blif:4\)",
        ),
        (".names a b q\n11 1\n", r"e\.blif:3: output 'p' of model 'm' is never driven"),
        (".gate NOPE A=a Y=p\n", r"e\.blif:4: instance of unknown cell 'NOPE'"),
        (".subckt $_AND_ A=a Y=p\n", r"e\.blif:4: input pin 'B' of \$_AND_ is not connected"),
        (".subckt $_AND_ A=a B=b Q=p\n", r"e\.blif:4: \$_AND_ has no pin 'Q'"),
        (
            ".subckt $_AND_ A=a B\n",
            r"e\.blif:4: \.subckt \$_AND_: connection 'B'; expected PIN=NET",
        ),
        (".names a b p\n11 1\n.end\n.end\n", r"e\.blif:7: \.end without a \.model"),
        (".names a b p\n11 1\n.exdc\n", r"e\.blif:6: \.exdc"),
    ],
)
def test_errors_name_file_and_line(body: str, message: str) -> None:
    with pytest.raises(NetlistParseError, match=message):
        read_blif_text(HEAD + body, filename="e.blif")


def test_missing_end_and_model_are_accepted() -> None:
    nl = read_blif_text(".inputs a b\n.outputs p\n.names a b p\n11 1\n", filename="and.blif")
    assert nl.name == "and" and dict(histogram(nl)) == {"AND": 1}


def test_self_instantiating_model_is_an_error() -> None:
    text = HEAD + ".subckt m a=a b=b p=p\n.end\n"
    with pytest.raises(NetlistParseError, match=r"e\.blif:1: model 'm' instantiates itself"):
        read_blif_text(text, filename="e.blif")


# -- reading by format --------------------------------------------------------------------


def test_read_netlist_picks_the_reader(tmp_path: Path) -> None:
    nl = lower(from_spec("dadda:4"))
    blif, verilog = write_blif(nl), write_verilog(nl)
    cases = {"m.blif": blif, "m.v": verilog, "blif_in.v": blif, "m.net": blif, "m.txt": verilog}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        np.testing.assert_array_equal(lut(read_netlist(tmp_path / name)), lut(nl))
    assert netlist_format(tmp_path / "blif_in.v") == "blif"
    assert netlist_format(tmp_path / "m.txt") == "verilog"
    (tmp_path / "x.dat").write_text("hello\n")
    with pytest.raises(
        NetlistParseError, match=r"x\.dat: not a netlist format dse reads.*Verilog.*BLIF"
    ):
        read_netlist(tmp_path / "x.dat")
    with pytest.raises(NetlistParseError, match="several formats"):
        read_netlist([tmp_path / "m.blif", tmp_path / "m.v"])


def test_multiplier_and_library_space_take_blif(tmp_path: Path) -> None:
    from dse.eval import evaluate_netlist
    from dse.nn import AxMultiplier
    from dse.search import Genome, load_space

    nl = lower(from_spec("dadda:4,truncate=2"))
    (tmp_path / "t.blif").write_text(write_blif(nl))
    report = evaluate_netlist(read_netlist(tmp_path / "t.blif"), signed=False)
    mult = AxMultiplier.from_report(report)
    np.testing.assert_array_equal(mult.lut, lut(nl))
    (tmp_path / "lib.yaml").write_text(
        "kind: library\nwidth: 4\nentries:\n"
        "  - {name: exact, spec: 'dadda:4'}\n"
        "  - {name: t2, netlist: [t.blif]}\n"
        "  - {name: t2v, verilog: [t.blif]}\n"
    )
    space = load_space(tmp_path / "lib.yaml")
    (_e,) = space.decode(Genome.of([1]))
    (_v,) = space.decode(Genome.of([2]))
    assert _e.netlist() is not None and _e.structural_hash == _v.structural_hash


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from dse.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_eval_blif_equals_gen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.blif").write_text(write_blif(lower(from_spec("dadda:6,truncate=4"))))
    code, out, err = _run(
        ["eval", "--gen", "dadda", "--width", "6", "--knob", "truncate=4", "--json",
         "--lut", str(tmp_path / "gen.npy")], capsys,
    )  # fmt: skip
    assert code == 0, err
    gen = json.loads(out)
    code, out, err = _run(
        ["eval", str(tmp_path / "d.blif"), "--json", "--lut", str(tmp_path / "blif.npy")], capsys
    )
    assert code == 0, err
    got = json.loads(out)
    np.testing.assert_array_equal(np.load(tmp_path / "blif.npy"), np.load(tmp_path / "gen.npy"))
    for key in (
        "width_a",
        "width_b",
        "signed",
        "gates",
        "er",
        "med",
        "mred",
        "nmed",
        "wce",
        "bias",
    ):
        assert got[key] == pytest.approx(gen[key], rel=1e-12), key


def test_cli_eval_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.json").write_text('{"not": "a netlist"}\n')
    code, _, err = _run(["eval", str(tmp_path / "m.json")], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert "not a netlist format dse reads" in err
    assert "gate-level Verilog" in err and "BLIF" in err


# -- yosys --------------------------------------------------------------------------------

YOSYS_FLOWS = {
    # ABC's SOP covers with $abc$ names, .conn for output wires, metadata lines
    "sop": "synth -top mul; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX; opt_clean; "
    "write_blif -conn -cname -attr -param out.blif",
    # yosys internal gates as .subckt $_AND_ ...
    "icells": "synth -top mul; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX,AOI3,OAI3; opt_clean; "
    "write_blif -icells out.blif",
    # 1-bit ports a_0 ... (what a flow without wide ports hands over)
    "split": "synth -top mul; splitnets -ports -format _; write_blif out.blif",
    # dse's assignments as yosys' fine-grained gates, written as covers
    "plain": "techmap; opt_clean; write_blif out.blif",
}


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
@pytest.mark.parametrize("flow", sorted(YOSYS_FLOWS))
@pytest.mark.parametrize("spec", ["dadda:6", "booth:6"])
def test_yosys_written_blif_reads_back(tmp_path: Path, flow: str, spec: str) -> None:
    graph = from_spec(spec)
    nl = lower(graph)
    (tmp_path / "m.v").write_text(write_verilog(nl))
    script = "read_verilog m.v; " + YOSYS_FLOWS[flow]
    res = subprocess.run(
        ["yosys", "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "out.blif").read_text()
    if flow == "split":
        assert ".inputs a_0 a_1" in text
    back = read_netlist(tmp_path / "out.blif")
    assert back.input_ports == nl.input_ports
    np.testing.assert_array_equal(lut(back, graph.signed), lut(nl, graph.signed))
