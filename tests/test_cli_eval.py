"""``dse eval`` / ``dse export``: JSON contract, LUT files, one-line errors for bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dse.cli import main

JSON_KEYS = {
    "width_a",
    "width_b",
    "signed",
    "gates",
    "area_um2",
    "delay_ns",
    "power_uw",
    "er",
    "med",
    "mred",
    "nmed",
    "wce",
    "bias",
    "structural_hash",
}


def run(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_eval_json_has_the_contract_keys(capsys, tmp_path):
    lut = tmp_path / "t.npy"
    code, out, _ = run(
        [
            "eval",
            "--gen",
            "dadda",
            "--width",
            "6",
            "--knob",
            "truncate=3",
            "--lut",
            str(lut),
            "--json",
        ],
        capsys,
    )
    assert code == 0
    d = json.loads(out)
    assert set(d) >= JSON_KEYS
    assert (d["width_a"], d["width_b"], d["signed"]) == (6, 6, False)
    table = np.load(lut)
    assert table.shape == (64, 64) and np.issubdtype(table.dtype, np.integer)
    assert d["wce"] > 0 and d["power_uw"] > 0


def test_eval_signed_lut_is_indexed_by_raw_codes(capsys, tmp_path):
    lut = tmp_path / "s.npy"
    code, _, _ = run(
        ["eval", "--gen", "booth", "--width", "4", "--lut", str(lut), "--json"], capsys
    )
    assert code == 0
    t = np.load(lut)
    assert t[15, 15] == 1 and t[8, 7] == -56 and t[3, 5] == 15


def test_eval_text_output(capsys):
    code, out, _ = run(
        ["eval", "--gen", "wallace", "--width", "4", "--width-b", "6", "--signed"], capsys
    )
    assert code == 0 and "4x6 signed" in out and "power" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["eval", "--gen", "karatsuba", "--width", "8"],
            r"^error: unknown generator 'karatsuba'; known: ",
        ),
        (
            ["eval", "--gen", "dadda", "--width", "20"],
            r"^error: width must be in \[2, 16\], got 20$",
        ),
        (
            ["eval", "--gen", "dadda", "--width", "8", "--knob", "shave=2"],
            r"^error: unknown knob 'shave'",
        ),
        (
            ["eval", "--gen", "dadda", "--width", "8", "--knob", "truncate"],
            r"^error: --knob 'truncate': expected NAME=VALUE",
        ),
        (["eval", "--gen", "dadda"], r"^error: --gen dadda needs --width N$"),
        (["eval"], r"^error: give --gen NAME \(and --width N\), or Verilog files to evaluate$"),
    ],
)
def test_bad_input_is_one_line(capsys, args, message):
    import re

    code, _, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.match(message, lines[0]), err


def test_missing_verilog_file_names_it(capsys, tmp_path):
    missing = tmp_path / "nope.v"
    code, _, err = run(["eval", str(missing)], capsys)
    assert code == 2 and f"{missing}: no such file" in err


def test_export_formats(capsys, tmp_path):
    for fmt, ext in [("json", "json"), ("npy", "npy")]:
        out = tmp_path / f"m.{ext}"
        code, _, _ = run(
            [
                "export",
                "--gen",
                "array",
                "--width",
                "4",
                "--knob",
                "bam=1:3",
                "--format",
                fmt,
                "-o",
                str(out),
            ],
            capsys,
        )
        assert code == 0 and out.exists()
    g = json.loads((tmp_path / "m.json").read_text())
    assert g["format"] == "dse.MultiplierGraph/1" and g["width_a"] == 4


def test_dse_eval_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from dse.cli import main\n"
        "try:\n"
        "    main(['eval', '--gen', 'dadda', '--width', '4', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
