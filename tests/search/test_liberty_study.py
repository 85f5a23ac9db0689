"""A study file may name the Liberty file its designs are costed with (``power.liberty``)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from dse.errors import ConfigError, StudyStateError
from dse.search import load_stored_study, resume, run

NANGATE = "data/nangate45/NangateOpenCellLibrary_typical.lib.gz"


def _study(tmp_path: Path, name: str, power: str) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(
        f"name: {name}\n"
        "space:\n"
        "  name: mul4u\n"
        "  base: {generator: dadda, width: 4}\n"
        "  knobs: {truncate: {low: 0, high: 3}}\n"
        "objectives: [area_um2, nmed]\n"
        "backend: {name: random, options: {}}\n"
        "budget: {trials: 4}\n"
        f"power: {power}\n"
    )
    return p


def test_a_missing_liberty_file_is_one_line(tmp_path: Path) -> None:
    p = _study(tmp_path, "nolib", "{liberty: cells/typo.lib}")
    missing = re.escape(str(tmp_path / "cells" / "typo.lib"))
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(p))}: field power.liberty: no such file {missing}$"
    ):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}", progress="off")


def test_the_default_library_keeps_the_stored_format(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(_study(tmp_path, "default", "{}"), storage=url, progress="off")
    stored = load_stored_study("default", url).user_attrs["dse:config"]["power"]
    assert stored == {"distribution": "uniform", "trace_vectors": 8192, "clock_period_ns": 1.0}


def test_a_study_is_costed_with_its_liberty_file(tmp_path: Path, shared_dir: Path) -> None:
    from dse.arith import from_spec
    from dse.design import evaluate
    from dse.eval import CellLibrary

    # the NanGate file with every cell's area doubled: figures must follow the file
    with gzip.open(shared_dir / NANGATE, "rt") as f:
        text = f.read()
    doubled = re.sub(r"(\barea\s*:\s*)([0-9.]+)", lambda m: f"{m[1]}{2 * float(m[2])!r}", text)
    (tmp_path / "cells").mkdir()
    lib = tmp_path / "cells" / "double.lib"
    lib.write_text(doubled)
    url = f"sqlite:///{tmp_path / 's.db'}"
    run(_study(tmp_path, "big", "{liberty: cells/double.lib}"), storage=url, progress="off")

    study = load_stored_study("big", url)
    power = study.user_attrs["dse:config"]["power"]
    assert power["liberty"] == str(lib.resolve()) and len(power["liberty_md5"]) == 32
    exact = from_spec("dadda:4")
    want = evaluate(exact, library=CellLibrary.from_liberty(lib)).area_um2
    assert study.user_attrs["dse:exact"]["area_um2"] == pytest.approx(want, rel=1e-9)
    assert want == pytest.approx(2 * evaluate(exact).area_um2, rel=1e-6)

    lib.write_text(doubled + "\n/* edited */\n")
    with pytest.raises(StudyStateError, match=r"field power.liberty: .* changed since the study"):
        resume("big", storage=url, trials=6, progress="off")
