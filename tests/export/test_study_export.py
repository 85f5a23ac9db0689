"""A study's designs exported from its storage: a library space whose entries are a
generated design, an imported netlist and a table only."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from dse.errors import ConfigError


@pytest.fixture
def library_study(tmp_path: Path, make_design) -> tuple[str, str, dict[str, np.ndarray]]:
    from dse.netlist import write_verilog
    from dse.search import run

    tables = {}
    imported = make_design("dadda:4,truncate=1", "imported_mul")
    (tmp_path / "imp.v").write_text(write_verilog(imported.netlist()))
    tables["imp"] = imported.lut()
    table_only = make_design("dadda:4,truncate=3", "t3")
    np.save(tmp_path / "t3.npy", table_only.lut())
    tables["t3"] = table_only.lut()
    tables["gen"] = make_design("dadda:4,truncate=2", "g").lut()
    figures = {"power_uw": 1.0, "area_um2": 1.0, "delay_ns": 0.1, "gates": 10}
    (tmp_path / "t3.json").write_text(json.dumps(figures))
    (tmp_path / "lib.yaml").write_text(
        "kind: library\nwidth: 4\nentries:\n"
        "  - {name: gen, spec: 'dadda:4,truncate=2'}\n"
        "  - {name: imp, verilog: [imp.v]}\n"
        "  - {name: t3, lut: t3.npy, metrics: t3.json}\n"
    )
    name = "x_" + uuid.uuid4().hex[:8]
    (tmp_path / "study.yaml").write_text(
        f"name: {name}\nspace: lib.yaml\nobjectives: [power_uw, nmed]\n"
        "backend: {name: random}\nbudget: {trials: 12}\n"
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(tmp_path / "study.yaml", storage=url)
    return name, url, tables


def test_every_kind_of_library_entry_exports(library_study, tmp_path):
    import optuna

    from dse.search import export_study

    name, url, tables = library_study
    study = optuna.load_study(study_name=name, storage=url)
    by_entry = {t.params["multiplier"]: t.number for t in study.trials}
    assert set(by_entry) == {"gen", "imp", "t3"}, "the random search visits every entry"
    for entry, number in by_entry.items():
        (bundle,) = export_study(name, tmp_path / "out", storage=url, trial=number, formats=["npy"])
        stem = f"{name}_t{number}"
        np.testing.assert_array_equal(np.load(bundle / f"{stem}.npy"), tables[entry])
        assert json.loads((bundle / "metrics.json").read_text())["trial"] == number
    (bundle,) = export_study(name, tmp_path / "v", storage=url, trial=by_entry["imp"])
    # an imported netlist keeps its own module name; a generated one is named for the trial
    assert "module imported_mul" in (bundle / f"{name}_t{by_entry['imp']}.v").read_text()
    (bundle,) = export_study(name, tmp_path / "v", storage=url, trial=by_entry["gen"])
    assert f"module {name}_t{by_entry['gen']}" in next(bundle.glob("*.v")).read_text()
    with pytest.raises(ConfigError, match="a table-only design has no netlist to write as verilog"):
        export_study(name, tmp_path / "bad", storage=url, trial=by_entry["t3"])
    assert not (tmp_path / "bad").exists()  # refused before anything was written
