"""Run a Verilog multiplier in Icarus Verilog over every input pair and read its LUT.

The generated testbench loops over all ``(a, b)`` pairs and writes one fixed-width hex
line per product to a file, which numpy decodes in one vectorised step. An 8×8 design
(65,536 vectors) takes about a second.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dse.errors import DataError, NetlistError, ToolNotFound

__all__ = ["have_iverilog", "iverilog_lut"]

_HINT = "install Icarus Verilog: apt-get install iverilog (Debian/Ubuntu) or brew install icarus-verilog"


def have_iverilog() -> bool:
    """Whether both ``iverilog`` and ``vvp`` are on ``PATH``."""
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def _source(verilog: str | os.PathLike[str]) -> tuple[str, Path | None]:
    if isinstance(verilog, os.PathLike):
        path = Path(verilog)
        return path.read_text(errors="replace"), path
    if "module" not in verilog and "\n" not in verilog:
        path = Path(verilog)
        return path.read_text(errors="replace"), path
    return verilog, None


def _pick_top(text: str, names: Sequence[str], top: str | None) -> str:
    if top is not None:
        if top not in names:
            raise NetlistError(
                f"iverilog_lut: module {top!r} is not defined; expected one of {list(names)}"
            )
        return top
    if len(names) == 1:
        return names[0]
    roots = [n for n in names if len(re.findall(rf"(?<![\w$]){re.escape(n)}(?![\w$])", text)) == 1]
    if len(roots) == 1:
        return roots[0]
    raise NetlistError(f"iverilog_lut: cannot pick the top among {list(names)}; expected top=")


def _esc(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][\w$]*", name) else f"\\{name} "


def _testbench(
    top: str,
    ports: Sequence[tuple[str, str, int]],
    width_a: int,
    width_b: int,
    out_file: str,
) -> tuple[str, int]:
    ins = [(n, w) for d, n, w in ports if d == "input"]
    outs = [(n, w) for d, n, w in ports if d == "output"]
    if len(ins) < 2 or not outs:
        raise NetlistError(
            f"iverilog_lut: module {top!r} has {len(ins)} inputs and {len(outs)} outputs; "
            f"expected two operand inputs and a product output"
        )
    (na, wa), (nb, wb) = ins[0], ins[1]
    if (wa, wb) != (width_a, width_b):
        raise NetlistError(
            f"iverilog_lut: module {top!r} has operands of {wa} and {wb} bits; expected {width_a} and {width_b}"
        )
    np_, wp = outs[0]
    conns = [f".{_esc(na)}(a)", f".{_esc(nb)}(b)", f".{_esc(np_)}(p)"]
    conns += [f".{_esc(n)}({w}'d0)" for n, w in ins[2:]]
    tb = f"""`timescale 1ns/1ps
module dse_tb;
  reg [{wa - 1}:0] a;
  reg [{wb - 1}:0] b;
  wire [{wp - 1}:0] p;
  integer i, j, fd;
  {_esc(top)} dut ({", ".join(conns)});
  initial begin
    fd = $fopen("{out_file}", "w");
    for (i = 0; i < {1 << wa}; i = i + 1) begin
      for (j = 0; j < {1 << wb}; j = j + 1) begin
        a = i;
        b = j;
        #1;
        $fwrite(fd, "%h\\n", p);
      end
    end
    $fclose(fd);
    $finish;
  end
endmodule
"""
    return tb, wp


def _decode_hex(data: bytes, n: int, width: int) -> np.ndarray:
    digits = (width + 3) // 4
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != n * (digits + 1):
        raise DataError(
            f"iverilog_lut: simulation wrote {raw.size} bytes; expected {n} lines of {digits} hex digits"
        )
    rows = raw.reshape(n, digits + 1)[:, :digits]
    table = np.full(256, 255, dtype=np.uint8)
    for k, c in enumerate(b"0123456789abcdef"):
        table[c] = k
    vals = table[rows]
    if (vals == 255).any():
        bad = int(np.argwhere((vals == 255).any(axis=1))[0, 0])
        raise NetlistError(
            f"iverilog_lut: product of vector {bad} has x/z bits "
            f"({rows[bad].tobytes().decode(errors='replace')!r}); is every output driven?"
        )
    out = np.zeros(n, dtype=np.int64)
    for k in range(digits):
        out = (out << 4) | vals[:, k].astype(np.int64)
    return out


def iverilog_lut(
    verilog: str | os.PathLike[str],
    width_a: int,
    width_b: int,
    *,
    signed: bool = False,
    top: str | None = None,
    extra_files: Sequence[str | os.PathLike[str]] = (),
    timeout: float = 600.0,
) -> np.ndarray:
    """Simulate a multiplier in Icarus Verilog over all ``2**(width_a + width_b)`` pairs.

    Args:
        verilog: Verilog text, or the path of a Verilog file.
        signed: read the product as two's complement.
        top: the module to test (default: the only module, or the one no other
            module mentions). Its first two input ports are the operands (raw bit
            patterns), its first output port the product; further inputs are tied to 0.
        extra_files: more Verilog files to compile with it (e.g. a cell library).

    Returns:
        ``int64`` array of shape ``(2**width_a, 2**width_b)``: entry ``[a, b]`` is the
        product for operand bit patterns ``a`` and ``b``.

    Raises:
        ToolNotFound: ``iverilog`` or ``vvp`` is not installed.
    """
    if not have_iverilog():
        raise ToolNotFound(f"iverilog/vvp not found on PATH; {_HINT}")
    from dse.netlist import scan_module_ports

    text, path = _source(verilog)
    modules = scan_module_ports(text, str(path) if path else "<string>")
    name = _pick_top(text, list(modules), top)
    with tempfile.TemporaryDirectory(prefix="dse-iverilog-") as tmp:
        tmpd = Path(tmp)
        out_file = tmpd / "products.hex"
        tb, wp = _testbench(name, modules[name], width_a, width_b, out_file.as_posix())
        (tmpd / "tb.v").write_text(tb)
        dut = path if path is not None else tmpd / "dut.v"
        if path is None:
            dut.write_text(text)
        cmd = [
            "iverilog", "-g2005", "-o", str(tmpd / "sim.vvp"), "-s", "dse_tb",
            str(tmpd / "tb.v"), str(dut), *map(str, extra_files),
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise NetlistError(f"iverilog failed to compile {dut}:\n{res.stderr.strip()}")
        res = subprocess.run(
            ["vvp", "-n", str(tmpd / "sim.vvp")],
            capture_output=True, text=True, timeout=timeout, cwd=tmp,
        )  # fmt: skip
        if res.returncode != 0 or not out_file.exists():
            raise NetlistError(f"vvp failed:\n{(res.stderr or res.stdout).strip()}")
        n = 1 << (width_a + width_b)
        vals = _decode_hex(out_file.read_bytes(), n, wp)
    if signed and wp > 0:
        vals = np.where(vals >= (1 << (wp - 1)), vals - (1 << wp), vals)
    return vals.reshape(1 << width_a, 1 << width_b)
