"""The study subcommands of the dse CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dse.cli import main


def _run(capsys, argv: list[str]) -> str:
    main(argv)
    return capsys.readouterr().out


def test_run_status_pareto_plot_export(
    tmp_path: Path, make_study, unique_name: str, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    p = make_study(unique_name, trials=16)
    out = _run(capsys, ["run", str(p), "--no-progress"])  # default storage: ./dse-studies.db
    assert (tmp_path / "dse-studies.db").is_file()
    assert f"study {unique_name} (nsga2): 16/16 complete" in out
    assert unique_name in _run(capsys, ["status"])
    rows = json.loads(_run(capsys, ["pareto", unique_name, "--format", "json"]))
    assert rows and {"trial", "backend", "structural_hash", "power_uw", "nmed"} <= set(rows[0])
    csv_text = _run(capsys, ["pareto", unique_name, "--format", "csv"])
    assert csv_text.splitlines()[0].startswith("trial,backend,structural_hash,power_uw,nmed")
    assert "Pareto front" in _run(capsys, ["pareto", unique_name])
    _run(capsys, ["plot", unique_name, "-o", "front.png"])
    _run(capsys, ["plot", unique_name, "-o", "front.html"])
    assert (tmp_path / "front.png").stat().st_size > 1000 and (
        tmp_path / "front.html"
    ).stat().st_size > 1000

    from dse.search import export_study

    out = _run(capsys, ["export", unique_name, "--pareto", "--format", "verilog", "-o", "cli-out"])
    assert f"wrote {len(rows)} bundle(s) under cli-out" in out
    dirs = export_study(unique_name, tmp_path / "out", pareto=True, formats=["verilog"])
    assert len(dirs) == len(rows)
    assert sorted(p.name for p in (tmp_path / "cli-out").iterdir()) == sorted(d.name for d in dirs)
    d = dirs[0]
    v = next(d.glob("*.v"))
    lut = np.load(next(d.glob("*.npy")))
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["trial"] == rows[0]["trial"] and lut.shape == (16, 16)
    from dse.eval import product_table
    from dse.netlist import read_verilog

    assert np.array_equal(product_table(read_verilog([v]), 4, 4, signed=False), lut)
    for fmt, suffix in (("blif", ".blif"), ("c", ".c"), ("json", ".json"), ("npy", ".npy")):
        (b,) = export_study(unique_name, tmp_path / fmt, trial=rows[-1]["trial"], formats=[fmt])
        assert list(b.glob("*" + suffix))


def test_cli_errors_are_one_line(tmp_path: Path, make_study, capsys) -> None:
    p = make_study("clibad")
    p.write_text(p.read_text().replace("budget:", "budgit:"))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(p), "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert exc.value.code == 2
    # one error line (a status line on the cores may precede it on a busy machine)
    lines = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("dse: ")]
    err = "\n".join(lines).strip()
    assert (
        err.count("\n") == 0
        and err.startswith("error: ")
        and "field budgit: unknown key 'budgit'" in err
    )
    with pytest.raises(SystemExit):
        main(["pareto", "ghost", "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert "no study 'ghost'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "x", "--format", "verilog", "-o", str(tmp_path), "--storage", "s"])
    assert "exactly one of --trial N or --pareto" in capsys.readouterr().err


def test_threads_option_reaches_the_fine_tune_adapter(
    tmp_path: Path, make_study, unique_name: str, capsys, monkeypatch
) -> None:
    """``--threads`` runs the study; the accuracy adapter takes its torch thread count
    as an option, and a bad value is a one-line error."""

    import dse.search
    from dse.errors import ConfigError
    from dse.search import AccuracyModel

    monkeypatch.chdir(tmp_path)
    seen: dict[str, object] = {}
    real_run = dse.search.run

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(dse.search, "run", spy)
    p = make_study(unique_name, trials=4)
    out = _run(capsys, ["run", str(p), "--no-progress", "--threads", "1"])
    assert "4/4 complete" in out and seen["threads"] == 1
    with pytest.raises(ConfigError, match="threads must be an integer >= 1, got 0"):
        AccuracyModel("cnn1d", "mnist1d", threads=0)
