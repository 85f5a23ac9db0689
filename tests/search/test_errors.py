"""Bad input and storage surprises: each is one line naming the file, field or option and
what was expected (and nothing is created by a command that only reads)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dse.cli import main
from dse.errors import ConfigError
from dse.search import make_backend

from .conftest import write_study


def _fail(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI expecting a one-line error; return that line."""
    if argv[0] == "run" and "--threads" not in argv:
        # a chosen thread count: no note about cores that other programs keep busy
        argv = [*argv, "--threads", "1"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code not in (0, None)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("error: "), err
    return err


# ------------------------------------------------------------ back-end options
@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "nsga2",
            {"populaton_size": 16},
            r"^s\.yaml: field backend\.options: unknown option 'populaton_size' for nsga2; "
            r"known: population_size, crossover_prob, mutation_rate, init_density, seed_from "
            r"\(did you mean 'population_size'\?\)$",
        ),
        (
            "tpe",
            {"n_startup_trails": 4},
            r"^s\.yaml: field backend\.options: unknown option 'n_startup_trails' for tpe; "
            r"known: .*n_startup_trials.* \(did you mean 'n_startup_trials'\?\)$",
        ),
        (
            "optuna-nsga2",
            {"populaton_size": 16},
            r"unknown option 'populaton_size' for optuna-nsga2; known: population_size, "
            r".*\(did you mean 'population_size'\?\)$",
        ),
        ("gp", {"bogus": 1}, r"unknown option 'bogus' for gp; known: n_startup_trials"),
        ("random", {"bogus": 1}, r"unknown option 'bogus' for random; known: none$"),
        (
            "tram",
            {"lamdas": [0.1]},
            r"unknown option 'lamdas' for tram; known: schedule, lambdas, .* "
            r"\(did you mean 'lambdas'\?\)$",
        ),
        ("tpe", {"seed": 3}, r"unknown option 'seed' for tpe; .*study's top-level 'seed:'"),
        ("tpe", {"gamma": 3}, r"unknown option 'gamma' for tpe; .*\(dse sets it itself\)$"),
    ],
)
def test_unknown_backend_option_is_one_line(name: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_backend(name, options, where="s.yaml: field backend")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "nsga2",
            {"crossover_prob": "abc"},
            r"option 'crossover_prob' of nsga2: expected float, got 'abc'$",
        ),
        (
            "nsga2",
            {"population_size": "16"},
            r"option 'population_size' of nsga2: expected int, got '16'$",
        ),
        (
            "nsga2",
            {"population_size": True},
            r"option 'population_size' of nsga2: expected int, got True$",
        ),
        (
            "nsga2",
            {"init_density": 0.3},
            r"option 'init_density' of nsga2: expected Sequence\[float\], got 0\.3$",
        ),
        (
            "nsga2",
            {"seed_from": 5},
            r"option 'seed_from' of nsga2: expected str \| Sequence\[str\] \| None, got 5$",
        ),
        ("nsga2", {"population_size": 2}, r"population_size must be an integer >= 4, got 2$"),
        (
            "tpe",
            {"n_startup_trials": "x"},
            r"option 'n_startup_trials' of tpe: expected int, got 'x'$",
        ),
        ("optuna-nsga2", {"population_size": 1}, r"NSGAIISampler: .*population_size"),
        ("tram", {"phase1_steps": 1.5}, r"option 'phase1_steps' of tram: expected int, got 1\.5$"),
        ("tram", {"moves": "all"}, r"moves must be auto, published or rich, got 'all'$"),
    ],
)
def test_backend_option_of_the_wrong_type_is_one_line(
    name: str, options: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=r"^s\.yaml: field backend\.options: " + message):
        make_backend(name, options, where="s.yaml: field backend")


def test_backend_option_typo_in_a_study_file(make_study, tmp_path: Path, capsys) -> None:
    p = make_study("typo", options="{populaton_size: 16}")
    err = _fail(capsys, ["run", str(p), "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert re.search(
        rf"^error: {re.escape(str(p))}: field backend\.options: unknown option 'populaton_size' "
        r"for nsga2; known: population_size, .*\(did you mean 'population_size'\?\)$",
        err,
    ), err


def test_backend_option_typo_in_a_pipeline_stage(make_study, tmp_path: Path) -> None:
    from dse.search import run

    p = make_study("pipe", options="{}")
    text = p.read_text()
    start = text.index("backend:")
    end = text.index("\n", start)
    p.write_text(
        text[:start]
        + "backend:\n  - {name: random, trials: 4}\n  - {name: nsga2, options: {mutaton_rate: 2}}"
        + text[end:]
    )
    with pytest.raises(
        ConfigError,
        match=r"field backend\.1\.options: unknown option 'mutaton_rate' for nsga2; .*"
        r"\(did you mean 'mutation_rate'\?\)$",
    ):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}")


# ------------------------------------------------------------ shared study
@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(storage URL, study name) of a small finished study, shared by the tests below."""
    from dse.search import run

    folder = tmp_path_factory.mktemp("stored")
    p = write_study(folder, "small", backend="random", options="{}", trials=4)
    url = f"sqlite:///{folder / 's.db'}"
    run(p, storage=url)
    return url, "small"


def _unwritable(tmp_path: Path) -> Path:
    """A folder in which creating a file fails with a permission error: a read-only
    folder, or (as root, who may write anywhere on disk) sysfs; skip where neither is."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    for folder in (ro, Path("/sys")):
        probe = folder / "dse-probe"
        try:
            probe.open("wb").close()
        except PermissionError:
            return folder
        except OSError:
            continue
        probe.unlink()
    pytest.skip("no folder here refuses writes")


_DENIED = r"(Permission denied|Operation not permitted)"


# ------------------------------------------------------------ unwritable outputs
def test_study_export_to_an_unwritable_folder_is_one_line(
    stored: tuple[str, str], tmp_path: Path, capsys
) -> None:
    url, name = stored
    out = _unwritable(tmp_path) / "bundles"
    err = _fail(
        capsys,
        ["export", name, "--pareto", "--format", "verilog", "-o", str(out), "--storage", url],
    )
    assert re.fullmatch(rf"error: cannot write {re.escape(str(out))}: {_DENIED}", err), err


# ------------------------------------------------------------ read-only commands
_NO_STORAGE = (
    r"no study storage at {url} \(the file does not exist\); run 'dse run STUDY\.yaml' first "
    r"or give --storage$"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["pareto", "s"],
        ["plot", "s", "-o", "front.png"],
        ["export", "s", "--pareto", "--format", "verilog", "-o", "out"],
        ["status", "s"],
    ],
)
def test_read_only_commands_never_create_the_default_database(
    argv: list[str], tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    err = _fail(capsys, argv)
    url = re.escape("sqlite:///dse-studies.db")
    assert re.fullmatch(r"error: no study 's': " + _NO_STORAGE.format(url=url), err), err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url", ["sqlite:///{d}/typo.db", "journal:{d}/typo.log", "{d}/typo.journal"]
)
def test_status_of_a_storage_typo_is_an_error_not_no_studies(
    url: str, tmp_path: Path, capsys
) -> None:
    url = url.format(d=tmp_path)
    err = _fail(capsys, ["status", "--storage", url])
    assert re.fullmatch("error: " + _NO_STORAGE.format(url=re.escape(url)), err), err
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_still_read_an_existing_storage(stored: tuple[str, str], capsys) -> None:
    url, name = stored
    main(["status", "--storage", url])
    assert f"study {name} (random): 4/4 complete" in capsys.readouterr().out
    main(["pareto", name, "--storage", url, "--format", "json"])
    assert capsys.readouterr().out.startswith("[")
    err = _fail(capsys, ["pareto", "ghost", "--storage", url])
    assert re.fullmatch(r"error: no study 'ghost' in .*; studies there: small", err), err


# ------------------------------------------------------------ storage URLs
@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgress://u@127.0.0.1/db",
            r"^--storage: unknown storage scheme 'postgress'; expected sqlite:///PATH, "
            r"postgresql://\.\.\., mysql\+pymysql://\.\.\., journal:PATH$",
        ),
        ("foo://x", r"^--storage: unknown storage scheme 'foo'; expected sqlite:///PATH, "),
        (
            "postgresql+psycopg3://u@127.0.0.1/db",
            r"^--storage: unknown driver 'psycopg3' in storage scheme 'postgresql\+psycopg3'; "
            r"expected postgresql:// or one of postgresql\+psycopg2, ",
        ),
        (
            "dse-studies.db",
            r"^--storage: 'dse-studies\.db' is not a storage URL; expected sqlite:///",
        ),
    ],
)
def test_unknown_storage_scheme_is_not_called_unreachable(url: str, message: str) -> None:
    from dse.search import open_storage

    with pytest.raises(ConfigError, match=message):
        open_storage(url, where="--storage")


def test_a_missing_driver_says_what_to_install(monkeypatch) -> None:
    import importlib.util

    from dse.search import open_storage

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("psycopg2", "psycopg", "pg8000") else real(name, *a),
    )
    with pytest.raises(
        ConfigError,
        match=r"^storage: storage URL 'postgresql://u:\*\*\*@h/db' is unreachable: no PostgreSQL "
        r"driver is installed; install psycopg2-binary or psycopg\[binary\] or pg8000 "
        r"\(pip install 'dse\[postgres\]'\)$",
    ):
        open_storage("postgresql://u:pw@h/db")


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgresql_url_works(scheme: str, make_study, unique_name: str, capsys) -> None:
    """``postgresql://`` (no driver named) reaches the test server with the installed driver.

    ``DSE_TEST_POSTGRES_URL`` names its driver (``postgresql+psycopg2://...``, from
    ``scripts/start_test_postgres.sh``); the driver is dropped here."""
    url = os.environ.get("DSE_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("DSE_TEST_POSTGRES_URL is not set")
    try:
        import sqlalchemy

        sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3}).connect().close()
    except Exception as exc:  # no server: skip, as for the other postgres tests
        pytest.skip(f"PostgreSQL at DSE_TEST_POSTGRES_URL is unreachable: {exc}")
    from dse.search import run

    plain = re.sub(r"^postgresql(\+\w+)?://", f"{scheme}://", url)
    assert "+" not in plain.split("://")[0]
    run(make_study(unique_name, backend="random", options="{}", trials=3), storage=plain)
    main(["status", unique_name, "--storage", plain])
    assert f"study {unique_name} (random): 3/3 complete" in capsys.readouterr().out


# ------------------------------------------------------------ unknown keys
def test_a_misspelt_required_field_is_reported_as_unknown_first(
    make_study, tmp_path: Path, capsys
) -> None:
    p = make_study("objtypo")
    p.write_text(p.read_text().replace("objectives:", "objectivs:"))
    err = _fail(capsys, ["run", str(p), "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert err == (
        f"error: {p}: field objectivs: unknown key 'objectivs' (did you mean 'objectives'?)"
    )
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("budget: {", "budget: {trails: 3, "),
            r"field budget\.trails: unknown key 'trails' \(did you mean 'trials'\?\)$",
        ),
        (
            ("backend: {", "backend: {optons: {}, "),
            r"field backend\.optons: unknown key 'optons' \(did you mean 'options'\?\)$",
        ),
        (("seed:", "zzzz: 1\nseed:"), r"field zzzz: unknown key 'zzzz'$"),
    ],
)
def test_unknown_nested_keys_suggest_the_closest(make_study, edit, message: str) -> None:
    from dse.search import load_study_config

    p = make_study("nested")
    p.write_text(p.read_text().replace(*edit))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}: " + message):
        load_study_config(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "bse: {generator: dadda, width: 4}\n",
            r"field bse: unknown key 'bse' \(did you mean 'base'\?\)$",
        ),
        (
            "base: {generator: dadda, widht: 4}\n",
            r"field base\.widht: unknown key 'widht' \(did you mean 'width'\?\)$",
        ),
        (
            "base: {width: 4}\nknobs: {trunc8: {}}\n",
            r"field knobs\.trunc8: unknown knob 'trunc8'; free knobs are: .* \(did you mean 'truncate'\?\)$",
        ),
        (
            "kind: library\nentires: []\n",
            r"field entires: unknown key 'entires' \(did you mean 'entries'\?\)$",
        ),
    ],
)
def test_unknown_space_keys_are_reported_first(tmp_path: Path, text: str, message: str) -> None:
    from dse.search import load_space

    p = tmp_path / "sp.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}: " + message):
        load_space(p)


# ------------------------------------------------------------ spaces by name
REPO = Path(__file__).resolve().parents[2]


def _study_with_space(folder: Path, space: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "s.yaml"
    p.write_text(f"space: {space}\nobjectives: [power_uw, nmed]\n")
    return p


def test_a_space_name_resolves_from_the_shipped_spaces_anywhere(
    tmp_path: Path, monkeypatch
) -> None:
    # private: the shipped-space lookup is checked on its own
    from dse.search._config import load_study_config, shipped_space_dirs

    assert REPO / "search_spaces" in shipped_space_dirs()
    p = _study_with_space(tmp_path / "elsewhere", "mul8u_pp")
    monkeypatch.chdir(tmp_path)
    cfg = load_study_config(p)
    assert cfg.space_data["name"] == "mul8u_pp"
    assert Path(cfg.space_root) == REPO / "search_spaces"


def test_a_space_name_resolves_from_the_installed_data_files(tmp_path: Path, monkeypatch) -> None:
    """A wheel puts the spaces under <prefix>/share/dse/search_spaces (pyproject's
    data-files); that folder is searched too."""
    import sysconfig

    from dse.search import load_study_config

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert declared["data-files"] == {"share/dse/search_spaces": ["search_spaces/*.yaml"]}
    data = tmp_path / "prefix"
    (data / "share" / "dse" / "search_spaces").mkdir(parents=True)
    (data / "share" / "dse" / "search_spaces" / "onlyhere.yaml").write_text(
        "base: {generator: dadda, width: 4}\nknobs: {truncate: {high: 3}}\n"
    )
    real = sysconfig.get_path
    monkeypatch.setattr(
        sysconfig, "get_path", lambda name, *a: str(data) if name == "data" else real(name, *a)
    )
    cfg = load_study_config(_study_with_space(tmp_path / "s", "onlyhere"))
    assert cfg.space_data["name"] == "onlyhere"


def test_a_relative_space_path_is_read_from_the_study_folder(tmp_path: Path, monkeypatch) -> None:
    from dse.search import load_study_config

    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "mine.yaml").write_text("base: {generator: dadda, width: 4}\n")
    p = _study_with_space(tmp_path / "studies", "../spaces/mine.yaml")
    monkeypatch.chdir(REPO)  # the working directory plays no part
    assert load_study_config(p).space_data["name"] == "mine"


def test_a_missing_space_is_one_line_naming_the_places(tmp_path: Path, monkeypatch) -> None:
    from dse.search import load_study_config

    monkeypatch.chdir(tmp_path)
    _study_with_space(tmp_path / "studies", "mul8u_ppx")
    with pytest.raises(ConfigError) as exc:
        load_study_config("studies/s.yaml")
    msg = str(exc.value)
    assert re.fullmatch(
        r"studies/s\.yaml: field space: no search space 'mul8u_ppx' \(mul8u_ppx\.yaml is in "
        r"none of: studies/search_spaces, search_spaces, .*search_spaces\)",
        msg,
    ), msg
    assert ".yaml.yaml" not in msg and ".." not in msg
    _study_with_space(tmp_path / "studies", "../search_spaces/x.yaml")
    with pytest.raises(
        ConfigError,
        match=r"^studies/s\.yaml: field space: search space file search_spaces/x\.yaml does not "
        r"exist \(a relative path is read from the study file's folder\)$",
    ):
        load_study_config("studies/s.yaml")
