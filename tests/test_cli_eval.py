"""``dse eval`` / ``dse export``: JSON contract, LUT files, one-line errors for bad input."""

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

# private: the compile notice and signedness warning are checked on their own
from dse._jit import HAVE_NUMBA
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
        ["eval", "--gen", "booth", "--width", "4", "--signed", "--lut", str(lut), "--json"],
        capsys,
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


def test_dse_export_of_a_generator_imports_neither_torch_nor_optuna(tmp_path):
    code = (
        "import sys\n"
        "from dse.cli import main\n"
        f"main(['export', '--gen', 'dadda', '--width', '4', '--format', 'npy', "
        f"'-o', {str(tmp_path / 'm.npy')!r}])\n"
        "assert not {'torch', 'optuna'} & set(sys.modules), 'torch or optuna imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert (tmp_path / "m.npy").is_file()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "module m(input [1:0] a, input [1:0] b, output [3:0] p);\n"
            "  reg [3:0] r;\n  always @(*) r = a * b;\n  assign p = r;\nendmodule\n",
            r"bad\.v:\d+: ",
        ),
        (
            "module m(input [1:0] a, input [1:0] b, output [3:0] p);\n"
            "  wire x, y;\n  assign x = y & a[0];\n  assign y = x | b[0];\n"
            "  assign p = {x, y, a[1], b[1]};\nendmodule\n",
            r"bad\.v:\d+: .*combinational loop",
        ),
        (
            "module m(input [1:0] a, input [1:0] b, output [3:0] p);\n"
            "  wire w;\n  assign p = {w, a[0], b[0], a[1]};\nendmodule\n",
            r"bad\.v:\d+: .*never driven",
        ),
    ],
    ids=["always-block", "loop", "undriven"],
)
def test_bad_verilog_is_one_line_naming_file_and_line(capsys, tmp_path, text, message):
    import re

    path = write(tmp_path, "bad.v", text)
    code, _, err = run(["eval", str(path)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), err


def test_eval_a_library_of_verilog_files(capsys, tmp_path):
    from dse.arith import from_spec, lower
    from dse.netlist import write_verilog

    files = []
    for spec in ["dadda:4", "dadda:4,truncate=3", "array:4,bam=1:2"]:
        name = spec.replace(":", "_").replace(",", "_").replace("=", "")
        files.append(write(tmp_path, f"{name}.v", write_verilog(lower(from_spec(spec), name="m"))))
    out_dir = tmp_path / "luts"
    code, out, _ = run(["eval", *map(str, files), "--lut-dir", str(out_dir), "--json"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["file"] for r in rows] == [str(f) for f in files]
    assert rows[0]["wce"] == 0 and rows[1]["wce"] > 0
    assert np.array_equal(
        np.load(out_dir / f"{files[0].stem}.npy"), np.outer(np.arange(16), np.arange(16))
    )


def test_export_verilog_and_blif(capsys, tmp_path):
    from dse.eval import product_table
    from dse.netlist import read_verilog

    v = tmp_path / "m.v"
    code, _, _ = run(
        [
            "export",
            "--gen",
            "dadda",
            "--width",
            "5",
            "--knob",
            "truncate=3",
            "--format",
            "verilog",
            "-o",
            str(v),
        ],
        capsys,
    )
    assert code == 0
    table = product_table(read_verilog([v]), 5, 5, signed=False)
    assert (table & 7 == 0).all()
    b = tmp_path / "m.blif"
    code, _, _ = run(
        ["export", "--gen", "dadda", "--width", "5", "--format", "blif", "-o", str(b)], capsys
    )
    assert code == 0 and ".model mul_dadda_5" in b.read_text()


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
def test_kernels_cached_reads_an_empty_cache_as_cold(tmp_path):
    """An empty numba cache reads as cold (the first evaluation will compile); the
    check itself compiles nothing, so it answers at once."""
    code = "from dse.cli._common import kernels_cached; print(kernels_cached())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_first_compile_notice_only_on_a_terminal(capsys, monkeypatch):
    # private: the compile notice and signedness warning are checked on their own
    from dse.cli import _common

    # private: the compile notice and signedness warning are checked on their own
    from dse.cli._common import note_first_compile

    monkeypatch.setattr(_common, "kernels_cached", lambda: False)
    note_first_compile()  # pytest's captured stderr is not a terminal: nothing said
    assert capsys.readouterr().err == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    note_first_compile()
    assert "compiling the gate-level evaluation kernels" in term.getvalue()
    monkeypatch.setattr(_common, "kernels_cached", lambda: True)
    term.truncate(0)
    note_first_compile()  # cached: nothing said
    assert term.getvalue() == ""


def test_eval_json_and_text_give_the_peers_figures(capsys, tmp_path):
    from dse.eval import peer_metrics

    lut = tmp_path / "t.npy"
    args = ["eval", "--gen", "dadda", "--width", "6", "--knob", "truncate=4", "--lut", str(lut)]
    code, out, _ = run([*args, "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    want = peer_metrics(np.load(lut), 6, 6, False).to_dict()
    assert d["peers"] == pytest.approx(want) and d["peers"]["evo_ep_pct"] > 0
    assert d["peers"]["evo_mre_pct"] == pytest.approx(100 * d["mred"])
    code, out, _ = run(args, capsys)
    assert code == 0
    tram = next(line for line in out.splitlines() if line.strip().startswith("TRAM"))
    assert f"NMED {want['tram_nmed']:.4g}" in tram
    assert "MRE% " in out and "WCRE% " in out


def test_signedness_defaults_to_unsigned_for_every_generator_and_help_says_so(capsys):
    from dse.arith import from_spec

    code, out, _ = run(["eval", "--help"], capsys)
    assert code == 0 and "[default: unsigned]" in " ".join(out.split())
    for gen in ("booth", "dadda", "array"):
        code, out, _ = run(["eval", "--gen", gen, "--width", "4", "--json"], capsys)
        d = json.loads(out)
        assert code == 0 and d["signed"] is False and d["er"] == 0, gen
    # the source spec reads back as the same multiplier; stored specs keep their meaning
    code, out, _ = run(["eval", "--gen", "booth", "--width", "4", "--json"], capsys)
    d = json.loads(out)
    assert d["source"] == "booth:4,unsigned"
    assert from_spec(d["source"]).structural_hash == d["structural_hash"]
    assert from_spec("booth:4").signed and not from_spec("dadda:4").signed
    code, out, _ = run(["eval", "--gen", "booth", "--width", "4", "--signed", "--json"], capsys)
    d = json.loads(out)
    assert d["signed"] is True and d["source"] == "booth:4,signed" and d["er"] == 0


def _export(capsys, path, *args):
    code, _, _ = run(["export", *args, "--format", "verilog", "-o", str(path)], capsys)
    assert code == 0


def test_a_signed_file_read_unsigned_warns_once_naming_the_flag(capsys, tmp_path):
    signed_v, unsigned_v = tmp_path / "s.v", tmp_path / "u.v"
    _export(capsys, signed_v, "--gen", "booth", "--width", "6", "--signed", "--knob", "truncate=2")
    _export(capsys, unsigned_v, "--gen", "dadda", "--width", "6", "--knob", "truncate=2")

    code, out, err = run(["eval", str(signed_v), "--json"], capsys)
    assert code == 0 and json.loads(out)["signed"] is False  # stdout stays one JSON line
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {signed_v}: read as unsigned")
    assert "give --signed" in lines[0]
    # the flag, either way, is the user's decision: no warning
    for flag in ("--signed", "--unsigned"):
        code, out, err = run(["eval", str(signed_v), flag, "--json"], capsys)
        assert code == 0 and err == "" and json.loads(out)["signed"] is (flag == "--signed")
    # an unsigned file read unsigned: nothing to say
    code, out, err = run(["eval", str(unsigned_v), "--json"], capsys)
    assert code == 0 and err == ""
    # an unsigned file read signed: warned the other way
    code, _, err = run(["eval", str(unsigned_v), "--signed"], capsys)
    assert code == 0 and err == ""  # explicit flag: silent
    # private: the compile notice and signedness warning are checked on their own
    from dse.cli._eval import _signedness_warning
    from dse.eval import evaluate_netlist
    from dse.netlist import read_verilog

    report = evaluate_netlist(read_verilog([unsigned_v]), signed=True)
    warning = _signedness_warning(report, 12)
    assert warning is not None and "give --unsigned" in warning


def test_list_knobs_given_twice_join_their_lists(capsys):
    from dse.arith import generate

    fas = [n for n in generate("dadda", 6).nodes if n.startswith("fa_")][:2]
    one = ["--knob", f"approx={fas[0]}:ama1"]
    two = ["--knob", f"approx={fas[1]}:ama2"]
    base = ["eval", "--gen", "dadda", "--width", "6", "--json"]
    code, out, _ = run([*base, *one, *two], capsys)
    assert code == 0
    repeated = json.loads(out)
    code, out, _ = run([*base, "--knob", f"approx={fas[0]}:ama1;{fas[1]}:ama2"], capsys)
    joined = json.loads(out)
    code, out, _ = run([*base, *one], capsys)
    single = json.loads(out)
    assert repeated["structural_hash"] == joined["structural_hash"]
    assert repeated["structural_hash"] != single["structural_hash"]
    assert repeated["source"] == f"dadda:6,approx={fas[0]}:ama1;{fas[1]}:ama2"
    code, out, _ = run([*base, "--knob", "prune=0:0", "--knob", "prune=1:1"], capsys)
    code2, out2, _ = run([*base, "--knob", "prune=0:0;1:1"], capsys)
    assert code == code2 == 0
    assert json.loads(out)["structural_hash"] == json.loads(out2)["structural_hash"]


def test_single_value_knobs_given_twice_are_refused_in_one_line(capsys):
    code, _, err = run(
        ["eval", "--gen", "dadda", "--width", "6", "--knob", "truncate=2", "--knob", "truncate=3"],
        capsys,
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: --knob truncate given twice ('2' and '3'); it takes one")


def _unwritable(tmp_path):
    """A folder in which creating a file fails with 'Permission denied': a read-only
    folder, or (as root, who may write anywhere on disk) sysfs; skip where neither is."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    for folder in (ro, "/sys"):
        probe = os.path.join(str(folder), "dse-probe.npy")
        try:
            open(probe, "wb").close()
        except PermissionError:
            return type(tmp_path)(folder)
        except OSError:
            continue
        os.unlink(probe)
    pytest.skip("no folder here refuses writes")


def test_eval_lut_into_an_unwritable_folder_is_one_line(capsys, tmp_path):
    bad = _unwritable(tmp_path)
    gen = ["eval", "--gen", "dadda", "--width", "4"]
    code, out, err = run([*gen, "--lut", str(bad / "t.npy")], capsys)
    assert code == 2 and out == ""
    assert err.strip() == f"error: cannot write {bad / 't.npy'}: Permission denied"
    code, out, err = run([*gen, "--lut", str(bad / "sub" / "t.npy"), "--json"], capsys)
    assert code == 2 and err.strip().count("\n") == 0
    assert err.startswith(f"error: cannot write {bad / 'sub' / 't.npy'}: ")


def test_eval_lut_dir_that_cannot_be_written_fails_before_evaluating(capsys, tmp_path):
    from dse.arith import from_spec, lower
    from dse.netlist import write_verilog

    files = []
    for k in range(2):
        f = tmp_path / f"m{k}.v"
        f.write_text(write_verilog(lower(from_spec(f"dadda:4,truncate={k}"), name=f"m{k}")))
        files.append(str(f))
    bad = _unwritable(tmp_path) / "luts"
    code, out, err = run(["eval", *files, "--lut-dir", str(bad)], capsys)
    assert code == 2 and out == ""
    # mkdir in sysfs says EPERM, in a read-only folder EACCES
    assert re.fullmatch(
        rf"error: cannot write {re.escape(str(bad))}: (Permission denied|Operation not permitted)",
        err.strip(),
    )
    (tmp_path / "afile").write_text("")
    code, _, err = run(["eval", *files, "--lut-dir", str(tmp_path / "afile")], capsys)
    assert code == 2
    assert err.strip() == f"error: --lut-dir {tmp_path / 'afile'}: is a file, not a folder"


def test_eval_lut_into_a_folder_writes_a_named_file_and_says_where(capsys, tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    gen = ["eval", "--gen", "dadda", "--width", "4", "--knob", "truncate=2"]
    code, out, err = run([*gen, "--lut", str(folder)], capsys)
    want = folder / "mul_dadda_4_truncate_2.npy"
    assert code == 0 and want.is_file() and not (tmp_path / "tables.npy").exists()
    assert out.splitlines()[-1] == f"wrote {want}" and err == ""
    # with --json the note goes to stderr: stdout stays one JSON object
    code, out, err = run([*gen, "--lut", str(tmp_path / "t"), "--json"], capsys)
    assert code == 0 and json.loads(out)["gates"] > 0
    assert err.strip() == f"wrote {tmp_path / 't.npy'}" and (tmp_path / "t.npy").is_file()


def test_eval_files_say_where_each_table_went(capsys, tmp_path):
    from dse.arith import from_spec, lower
    from dse.netlist import write_verilog

    f = tmp_path / "m.v"
    f.write_text(write_verilog(lower(from_spec("dadda:4"), name="m")))
    code, out, err = run(["eval", str(f), "--lut", str(tmp_path), "--json"], capsys)
    assert code == 0 and json.loads(out)["file"] == str(f)
    assert err.strip() == f"wrote {tmp_path / 'm.npy'}"
    code, out, err = run(["eval", str(f), "--lut-dir", str(tmp_path / "d")], capsys)
    assert code == 0 and out.splitlines()[-1] == f"wrote {tmp_path / 'd' / 'm.npy'}"


def test_export_to_an_unwritable_path_is_one_line(capsys, tmp_path):
    bad = _unwritable(tmp_path)
    for fmt in ("verilog", "npy", "blif"):
        code, out, err = run(
            ["export", "--gen", "dadda", "--width", "4", "--format", fmt, "-o", str(bad / "m.x")],
            capsys,
        )
        assert code == 2 and out == ""
        assert err.strip() == f"error: cannot write {bad / 'm.x'}: Permission denied"
    code, _, err = run(
        ["export", "--gen", "dadda", "--width", "4", "--format", "npy", "-o", str(tmp_path / "t")],
        capsys,
    )
    assert code == 0 and (tmp_path / "t").is_file()  # the name as given, no .npy appended


def test_an_os_error_a_command_missed_is_still_one_line(capsys, monkeypatch, tmp_path):
    # private: the compile notice and signedness warning are checked on their own
    import dse.cli._eval as ev

    def boom(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(ev, "_print_report", boom)
    code, _, err = run(["eval", "--gen", "dadda", "--width", "4"], capsys)
    assert code == 2 and err.strip() == f"error: {tmp_path / 'x'}: Permission denied"


def test_top_level_help_lists_every_command_in_full_without_importing_them():
    """``dse --help``: one full line per command (click would cut the docstrings'
    first sentences with "..."), and no subcommand module imported to list them."""
    code = (
        "import sys\n"
        "from dse.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(('dse.cli._', 'dse.arith'))))\n"
    )
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    from dse.cli import _COMMANDS

    commands = out.split("Commands:\n", 1)[1].split("LOADED")[0].splitlines()
    assert [line.split()[0] for line in commands if line.strip()] == sorted(_COMMANDS)
    assert not [line for line in commands if "..." in line]
    assert out.rstrip().endswith("LOADED []")


def test_gen_help_lists_every_registered_generator(capsys):
    from dse.arith import GENERATORS

    for command in ("eval", "export"):
        code, out, _ = run([command, "--help"], capsys)
        assert code == 0
        text = " ".join(out.split())  # the help wraps
        listed = text.split("--gen TEXT generator: ", 1)[1].split(" --width", 1)[0]
        assert listed.split(", ") == list(GENERATORS) and "mitchell" in GENERATORS
