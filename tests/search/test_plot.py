"""``dse plot`` / :func:`dse.search.plot_study`: units, exact marker, back-end names,
constraints, the clipped accuracy axis, the HTML hover details and unwritable outputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from dse.cli import main

from .conftest import SMALL_SPACE, write_study

EXACT = {
    "power_uw": 80.0,
    "area_um2": 60.0,
    "delay_ns": 0.6,
    "energy_per_op_fj": 80.0,
    "gates": 40.0,
    "nmed": 0.0,
    "mred": 0.0,
    "er": 0.0,
    "rel_power": 1.0,
}
# (accuracy drop in points, power in µW, back-end tag): a front 0.1/0.5/1.5 points, two
# dominated designs, one infeasible, and two collapsed networks (87.5 points)
DESIGNS = [
    (0.1, 75.0, "pymoo.nsga2"),
    (0.5, 60.0, "pymoo.nsga2"),
    (1.5, 45.0, "tram"),
    (0.8, 70.0, "tram"),
    (1.9, 65.0, "pymoo.nsga2"),
    (3.0, 40.0, "pymoo.nsga2"),
    (87.5, 20.0, "tram"),
    (87.5, 22.0, "pymoo.nsga2"),
]


def _accuracy_study(tmp_path: Path, objectives: list[str], constraints: list[str]):
    """A study with the user attrs dse writes, made with Optuna directly: an accuracy
    objective without running a fine-tune."""
    import optuna
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from dse.search import study_config_from_dict

    cfg = study_config_from_dict(
        {
            "name": "acc",
            "space": yaml.safe_load(SMALL_SPACE),
            "model": "cnn1d",
            "data": "mnist1d",
            "objectives": objectives,
            "constraints": constraints,
            "backend": ["tram", "nsga2"],
        }
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="acc",
        storage=f"sqlite:///{tmp_path / 'acc.db'}",
        directions=["minimize", "minimize"],
    )
    study.set_user_attr("dse:config", cfg.stored())
    study.set_user_attr("dse:exact", EXACT)
    dists = {
        "truncate": IntDistribution(0, 3),
        "cell.fa.c3.0": CategoricalDistribution(["exact", "ama1", "zero.sum"]),
    }
    for i, (drop, power, tag) in enumerate(DESIGNS):
        metrics = {"accuracy_drop": drop, "power_uw": power}
        cons = {"accuracy_drop_max": drop - 2.0} if constraints else {}
        study.add_trial(
            optuna.trial.create_trial(
                values=[metrics[o] for o in objectives],
                params={"truncate": i % 4, "cell.fa.c3.0": "ama1" if i % 2 else "exact"},
                distributions=dists,
                user_attrs={
                    "backend": tag,
                    "structural_hash": f"hash{i:04d}",
                    "genome": "[0,0]",
                    "hw": {"power_uw": power, "rel_power": power / 80.0, "area_um2": 50.0},
                    "accuracy": {"acc_exact_q": 0.9, "acc_axm_after": 0.9 - drop / 100},
                },
                constraints=cons,
            )
        )
    return study


@pytest.fixture(scope="module")
def hw_study(tmp_path_factory: pytest.TempPathFactory):
    """A short hardware-only study: objectives [nmed, power_uw], nmed <= 0.05."""
    from dse.search import load_stored_study, run

    tmp = tmp_path_factory.mktemp("plot")
    p = write_study(tmp, "plothw", trials=24)
    p.write_text(
        p.read_text()
        .replace("objectives: [power_uw, nmed]", "objectives: [nmed, power_uw]")
        .replace("nmed <= 0.08", "nmed <= 0.05")
    )
    url = f"sqlite:///{tmp / 'hw.db'}"
    run(p, storage=url)
    return load_stored_study("plothw", url), url


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for lg in fig.legends for t in lg.get_texts()]


def _labelled(ax, label: str):
    return [a for a in [*ax.collections, *ax.lines] if a.get_label() == label]


def _all_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_hardware_study_units_exact_constraint(hw_study) -> None:
    from dse.search import study_figure

    study, _ = hw_study
    fig = study_figure(study)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("NMED") and ax.get_ylabel() == "power (µW)"
    # power relative to the exact design on the opposite side
    assert any("relative to the exact multiplier" in a.get_ylabel() for a in ax.child_axes)
    legend = _legend_texts(fig)
    assert "nsga2" in legend and "pymoo.nsga2" not in legend
    assert "exact" in legend and "infeasible (constraint nmed ≤ 0.05)" in legend
    (star,) = _labelled(ax, "exact")
    exact = study.user_attrs["dse:exact"]
    assert np.allclose(star.get_offsets(), [[exact["nmed"], exact["power_uw"]]])
    (line,) = _labelled(ax, "nmed ≤ 0.05")
    assert np.allclose(line.get_xdata(), 0.05) and line.get_linestyle() == "--"
    assert "← feasible" in _all_texts(fig)
    assert any(lbl.startswith("Pareto front (") for lbl in legend)
    assert not any("beyond the axis" in t for t in _all_texts(fig))  # nothing to clip


@pytest.mark.parametrize("acc_axis", [0, 1])
def test_accuracy_axis_clipped_and_full(tmp_path: Path, acc_axis: int) -> None:
    from dse.search import study_figure

    objectives = ["accuracy_drop", "power_uw"] if acc_axis == 0 else ["power_uw", "accuracy_drop"]
    study = _accuracy_study(tmp_path, objectives, ["accuracy_drop <= 2"])
    fig = study_figure(study)
    ax = fig.axes[0]
    label = (ax.get_xlabel, ax.get_ylabel)[acc_axis]()
    assert label == "accuracy drop (percentage points)"
    lo, hi = (ax.get_xlim, ax.get_ylim)[acc_axis]()
    # max(5 points, 1.2 × 1.5, 1.1 × 2) = 5: the collapsed 87.5-point designs are beyond,
    # drawn in a strip of 5 % of the shown range past the edge
    assert 5.0 < hi < 5.5 and lo < 0.0
    assert "2 designs beyond the axis (up to 87.5 points)" in _legend_texts(fig)
    edge = [
        c
        for c in ax.collections
        if len(c.get_offsets()) == 1 and c.get_offsets()[0][acc_axis] > 5.0
    ]
    assert len(edge) == 2  # the two collapsed designs, on the strip
    legend = _legend_texts(fig)
    assert {"tram", "nsga2", "exact"} <= set(legend) and "pymoo.nsga2" not in legend
    assert "infeasible (constraint accuracy_drop ≤ 2)" in legend
    (star,) = _labelled(ax, "exact")
    at = [0.0, EXACT["power_uw"]] if acc_axis == 0 else [EXACT["power_uw"], 0.0]
    assert np.allclose(star.get_offsets(), [at])
    (line,) = _labelled(ax, "accuracy_drop ≤ 2")
    assert np.allclose(line.get_xdata() if acc_axis == 0 else line.get_ydata(), 2.0)

    full = study_figure(study, full=True)
    hi_full = (full.axes[0].get_xlim, full.axes[0].get_ylim)[acc_axis]()[1]
    assert hi_full > 87.5
    assert not any("beyond the axis" in t for t in _all_texts(full))


def test_collapsed_design_on_the_front_is_clipped(tmp_path: Path) -> None:
    """Without a constraint the collapsed network is on the front (lowest power); the
    axis still ends at 5 points and the front's step line runs off the edge."""
    from dse.search import study_figure

    study = _accuracy_study(tmp_path, ["accuracy_drop", "power_uw"], [])
    assert any(t.values[0] == 87.5 for t in study.best_trials)
    ax = study_figure(study).axes[0]
    assert 5.0 < ax.get_xlim()[1] < 5.5


def test_html_has_hover_details(tmp_path: Path, hw_study) -> None:
    from dse.search import plot_study

    study = _accuracy_study(tmp_path, ["accuracy_drop", "power_uw"], ["accuracy_drop <= 2"])
    out = plot_study(study, tmp_path / "acc.html")
    text = out.read_text()
    for needle in (
        "trial 3",
        "back end tram",
        "genes changed",
        "structural hash: hash0003",
        "accuracy_drop: 0.8",
        "power_uw=70",
        "accuracy drop (percentage points)",
        "2 designs beyond the axis",
        "Pareto front (",
    ):
        assert needle in text, needle
    assert '"name":"exact"' in text.replace(" ", "")
    hw, _ = hw_study
    text = plot_study(hw, tmp_path / "hw.html").read_text()
    assert "NMED" in text and "back end nsga2" in text and "nmed=" in text


def test_cli_plot_full_and_formats(tmp_path: Path, hw_study, capsys) -> None:
    _, url = hw_study
    for name in ("f.png", "f.svg", "sub/f.pdf"):
        main(["plot", "plothw", "--storage", url, "-o", str(tmp_path / name), "--full"])
        assert capsys.readouterr().out.strip() == f"wrote {tmp_path / name}"
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(SystemExit):
        main(["plot", "plothw", "--storage", url, "-o", str(tmp_path / "f.jpg")])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected a .png, .svg, .pdf or .html file" in err


def test_unwritable_output_is_one_line(tmp_path: Path, hw_study, capsys) -> None:
    _, url = hw_study
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    targets = ["/proc/x.png", str(blocker / "x.png"), "/proc/x.html"]
    if os.geteuid() != 0:  # root writes into read-only folders anyway
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        targets.append(str(ro / "x.png"))
    for target in targets:
        with pytest.raises(SystemExit) as exc:
            main(["plot", "plothw", "--storage", url, "-o", target])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot write {target}: ") and err.count("\n") == 1, err


def test_one_and_three_objectives(tmp_path: Path, capsys) -> None:
    from dse.search import load_stored_study, plot_study, run, study_figure

    for objectives, labels in (
        ("[power_uw]", ["trial number", "power (µW)"]),
        ("[power_uw, nmed, area_um2]", ["power (µW)", "NMED", "cell area (µm²)"]),
    ):
        p = write_study(tmp_path, "o3", trials=8)
        p.write_text(
            p.read_text().replace("objectives: [power_uw, nmed]", f"objectives: {objectives}")
        )
        url = f"sqlite:///{tmp_path / f'o{len(labels)}.db'}"
        run(p, storage=url)
        study = load_stored_study("o3", url)
        ax = study_figure(study).axes[0]
        got = [ax.get_xlabel(), ax.get_ylabel()]
        if len(labels) == 3:
            got.append(ax.get_zlabel())
        assert all(g.startswith(w) for g, w in zip(got, labels, strict=True)), got
        assert "exact" in _legend_texts(ax.figure)
        text = plot_study(study, tmp_path / f"o{len(labels)}.html").read_text()
        assert "genes changed" in text and "structural hash" in text


def test_labels_and_backend_names_cover_everything() -> None:
    from dse.search import BACKENDS, METRICS, make_backend

    # private: the plot's label tables are checked on their own
    from dse.search._plot import AXIS_LABELS, BACKEND_TAGS, backend_label

    assert set(AXIS_LABELS) == set(METRICS)
    assert set(BACKEND_TAGS) == set(BACKENDS)
    for name in BACKENDS:  # the tag each back end really writes on its trials
        assert BACKEND_TAGS[name] == str(getattr(make_backend(name), "tag", name))
        assert backend_label(BACKEND_TAGS[name]) == name
    assert backend_label("someone.else") == "someone.else"
