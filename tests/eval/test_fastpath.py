"""The compiled fast paths of the evaluator agree with the numpy references.

Random candidates as a search draws them (matrix knobs that rebuild the tree, then
zeroed outputs and approximate full adders), checked figure by figure for equality.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from dse.arith import CELL_TYPES, MultiplierGraph, apply_knobs, generate, lower

# private: the compiled kernels are compared with their references
from dse.eval import CellLibrary, _kernels, _power, _power_kernels, _sim, _techmap

# private: the compiled kernels are compared with their references
from dse.eval._report import _trace_words

needs_numba = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba is not installed")

_BASES: dict[tuple[str, str, bool], MultiplierGraph] = {}


def random_candidate(rng: random.Random, width: int = 8) -> MultiplierGraph:
    """A random design: base structure, random matrix knobs, random cell knobs."""
    key = (
        rng.choice(["dadda", "wallace", "array"]),
        rng.choice(["ripple", "kogge-stone"]),
        rng.random() < 0.3,
    )
    if key not in _BASES:
        _BASES[key] = generate(key[0], width, adder=key[1], signed=key[2])
    graph = _BASES[key]
    knobs: dict[str, object] = {}
    pps = [(rng.randrange(width), rng.randrange(width)) for _ in range(rng.randint(0, 6))]
    if pps:
        knobs["prune"] = pps
    if rng.random() < 0.6:
        knobs["truncate"] = rng.randint(0, width)
    if rng.random() < 0.3:
        knobs["loa"] = rng.randint(0, width - 2)
    graph = apply_knobs(graph, knobs)
    cells = graph.nodes_of(role="tree")
    fas = [n for n in cells if graph[n].kind == "fa"]
    approx = sorted(n for n, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact)
    if fas and approx and rng.random() < 0.5:
        picks = rng.sample(fas, min(len(fas), 3))
        graph = apply_knobs(graph, {"approx": [f"{n}:{rng.choice(approx)}" for n in picks]})
    zeros = [n for n in graph.nodes_of(role="tree") if graph[n].kind in ("fa", "ha")]
    if zeros and rng.random() < 0.5:
        picks = [f"{rng.choice(zeros)}.{rng.choice(['sum', 'cout'])}" for _ in range(2)]
        graph = apply_knobs(graph, {"zero": picks})
    return graph


def _candidates(n: int, seed: int) -> list[MultiplierGraph]:
    rng = random.Random(seed)
    return [random_candidate(rng) for _ in range(n)]


@needs_numba
def test_toggle_kernel_matches_reference() -> None:
    for graph in _candidates(20, seed=1):
        netlist = lower(graph, net_names=False)
        vals = _sim.simulate(netlist, _trace_words(8, 8, 4096, 3, None))
        fast = _sim.toggle_statistics(vals, 4096)
        ref = _sim.toggle_statistics_reference(vals, 4096)
        assert np.array_equal(fast[0], ref[0]) and np.array_equal(fast[1], ref[1])


@needs_numba
def test_delay_kernel_matches_reference() -> None:
    lib = CellLibrary.default()
    for graph in _candidates(40, seed=2):
        netlist = lower(graph, net_names=False)
        m = _power.map_to_cells(netlist, lib)
        for out_load in (0.0, 1.0, 7.5):
            load = m.pin_cap_ff + m.wire_cap_ff + m.port_count * out_load
            in_nets = m.inst_in[m.drv_inst]
            valid = in_nets >= 0
            fast = _power._delay(m, load, in_nets, valid)
            ref = _power._delay_reference(m, load, in_nets, valid)
            assert fast == ref  # the same operations in the same order: bit for bit


@needs_numba
@pytest.mark.parametrize("with_small_library", [False, True])
def test_techmap_kernel_matches_python(with_small_library: bool) -> None:
    # The mapping runs as compiled code or, without numba, as the same function in
    # Python: both give the same arrays. A library without FA/HA/AOI222 cells makes
    # supergates with internal nets, which both must number and rank alike.
    lib = CellLibrary.default()
    if with_small_library:
        table = {
            **lib.table,
            "roles": {
                r: v for r, v in lib.table["roles"].items() if r not in ("FA", "HA", "AOI222")
            },
        }
        lib = CellLibrary.from_table(table)
    sg = _techmap.supergates(lib)
    for graph in _candidates(6, seed=3 + with_small_library):
        netlist = lower(graph, net_names=False)
        out_nets = np.array([n for _, nets in netlist.output_ports for n in nets])
        args = (
            netlist.ops.astype(np.int64), netlist.fanin.astype(np.int64), netlist.n_inputs,
            out_nets.astype(np.int64), sg.match, sg.area, sg.steps, sg.role, sg.ro, sg.refs,
            sg.table, sg.support, sg.pair_role, sg.pair_ro, sg.pair_area, sg.inv_role,
            sg.inv_ro, sg.inv_area, _techmap._ARITY_NP, 6,
        )  # fmt: skip
        fast = _techmap.techmap_kernel(*args)
        slow = _techmap._techmap(*args)
        assert len(fast) == len(slow)
        for a, b in zip(fast, slow, strict=True):
            if isinstance(a, np.ndarray):
                assert np.array_equal(a, b)
            else:
                assert a == b
        if with_small_library:
            assert int(fast[9]) > netlist.n_nets  # internal nets of supergates


@needs_numba
@pytest.mark.parametrize("with_small_library", [False, True])
def test_power_figures_match_reference(
    monkeypatch: pytest.MonkeyPatch, with_small_library: bool
) -> None:
    lib = CellLibrary.default()
    if with_small_library:
        table = {
            **lib.table,
            "roles": {
                r: v for r, v in lib.table["roles"].items() if r not in ("FA", "HA", "AOI222")
            },
        }
        lib = CellLibrary.from_table(table)
    for graph in _candidates(25, seed=5):
        netlist = lower(graph, net_names=False)
        vals = _sim.simulate(netlist, _trace_words(8, 8, 4096, 0, None))
        tr, p1 = _sim.toggle_statistics(vals, 4096)
        fast = _power.estimate_power(netlist, tr, p1, lib, output_load_ff=2.0)
        with monkeypatch.context() as mp:
            mp.setattr(_kernels, "HAVE_NUMBA", False)
            _power._CACHE.pop(netlist, None)
            ref = _power.estimate_power(netlist, tr, p1, lib, output_load_ff=2.0)
        assert fast == ref  # every figure, bit for bit


@needs_numba
@pytest.mark.parametrize("signed", [False, True])
def test_fused_product_table_matches_simulate_and_read(signed: bool) -> None:
    from dse.eval import product_table

    # private: the compiled kernels are compared with their references
    from dse.eval._sim import exhaustive_input_words, read_outputs, simulate_reference

    rng = random.Random(6)
    for _ in range(12):
        w = rng.choice([2, 3, 5, 8])
        graph = generate(rng.choice(["dadda", "array"]), w, signed=signed)
        graph = apply_knobs(graph, {"truncate": rng.randint(0, w)})
        netlist = lower(graph, net_names=False)
        fast = product_table(netlist, w, w, signed=signed)
        vals = simulate_reference(netlist, exhaustive_input_words(w, w))
        ref = read_outputs(netlist, vals, 1 << (2 * w), signed=signed).reshape(1 << w, 1 << w)
        assert fast.dtype == ref.dtype and np.array_equal(fast, ref)


@needs_numba
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("width", [1, 5, 16, 17, 24, 32, 33, 50, 62])
def test_read_kernel_transpose_matches_bit_by_bit(width: int, signed: bool) -> None:
    """The block-transpose read-out, for every padding (16, 32, 64 rows) and nets taken
    out of order, against reading each bit of each word."""
    rng = np.random.default_rng(width)
    vals = rng.integers(0, 2**63, size=(width + 7, 5), dtype=np.int64).astype(np.uint64)
    vals[3, 1] = np.uint64(0)  # an all-zero word and an all-ones word
    vals[4, 2] = np.uint64(2**64 - 1)
    nets = rng.permutation(width + 7)[:width].astype(np.int64)
    n_vec = 5 * 64 - 11
    fast = _kernels.read_kernel(vals, nets, signed, n_vec)
    bits = np.unpackbits(vals[nets].view(np.uint8), axis=1, bitorder="little")
    ref = [sum(int(bits[k, i]) << k for k in range(width)) for i in range(n_vec)]
    if signed:
        ref = [v - (1 << width) if v >> (width - 1) else v for v in ref]
    assert fast.tolist() == ref


@needs_numba
def test_activity_kernel_matches_reference() -> None:
    # Decomposition-internal nets (a library without FA/HA/AOI222 has many), with
    # random activities: the kernel replays numpy's products and pairwise sums.
    lib = CellLibrary.default()
    table = {
        **lib.table,
        "roles": {r: v for r, v in lib.table["roles"].items() if r not in ("FA", "HA", "AOI222")},
    }
    small = CellLibrary.from_table(table)
    rng = np.random.default_rng(0)
    for graph in _candidates(10, seed=8):
        m = _power._techmap_netlist(lower(graph, net_names=False), small)
        for _ in range(3):
            p = rng.random(m.n_orig)
            tr = rng.random(m.n_orig) * 2 * np.minimum(p, 1 - p)
            fast = _power_kernels.activity_kernel(m.int_fanin, m.int_table, tr, p)
            ref = _power._internal_activity(m, tr, p)
            assert np.array_equal(fast[0], ref[0]) and np.array_equal(fast[1], ref[1])


def test_report_hash_is_computed_on_demand() -> None:
    import copy
    import pickle

    from dse.design import evaluate

    graph = generate("dadda", 4, knobs={"truncate": 2})
    report = evaluate(graph)
    assert "structural_hash" not in graph.__dict__  # nobody asked yet
    assert report.structural_hash == graph.structural_hash
    assert report.to_dict()["structural_hash"] == graph.structural_hash
    # a fresh report, never read, pickles and copies as the hash string
    fresh = evaluate(generate("dadda", 4, knobs={"truncate": 2}))
    clone = pickle.loads(pickle.dumps(fresh))
    assert clone.structural_hash == graph.structural_hash
    assert copy.copy(evaluate(generate("dadda", 4, knobs={"truncate": 2}))).structural_hash == (
        graph.structural_hash
    )
    assert dataclasses.replace(report, gates=0).structural_hash == graph.structural_hash
    # a graph that knows its hash hands it over at once
    known = generate("wallace", 4)
    _ = known.structural_hash
    assert evaluate(known).__dict__["_structural_hash"] == known.structural_hash


def _metrics_every_pair(approx: np.ndarray, exact: np.ndarray, inv_abs: np.ndarray) -> np.ndarray:
    """The metrics loop as first written (every pair added, float counters)."""
    n_err = s_abs = s_e = s_e2 = m_abs = s_rel = n_nz = m_rel = 0.0
    for i in range(approx.shape[0]):
        e = float(approx[i] - exact[i])
        d = abs(e)
        if d > 0:
            n_err += 1.0
        s_abs += d
        s_e += e
        s_e2 += e * e
        if d > m_abs:
            m_abs = d
        iv = inv_abs[i]
        if iv > 0:
            n_nz += 1.0
            r = d * iv
            s_rel += r
            if r > m_rel:
                m_rel = r
    return np.array([n_err, s_abs, s_e, s_e2, m_abs, s_rel, n_nz, m_rel])


@needs_numba
@pytest.mark.parametrize("signed", [False, True])
def test_metrics_kernel_matches_every_pair_loop(signed: bool) -> None:
    from dse.eval import product_table

    # private: the compiled kernels are compared with their references
    from dse.eval._metrics import _inverse_magnitude, exact_table

    exact = exact_table(6, 6, signed)
    inv = _inverse_magnitude(exact).ravel()
    rng = random.Random(9)
    for _ in range(8):
        graph = generate(rng.choice(["dadda", "wallace"]), 6, signed=signed)
        graph = apply_knobs(graph, {"truncate": rng.randint(0, 6)})
        approx = product_table(lower(graph, net_names=False), 6, 6, signed=signed).ravel()
        fast = _kernels.metrics_kernel(approx, exact.ravel(), inv)
        assert np.array_equal(fast, _metrics_every_pair(approx, exact.ravel(), inv))


def _assert_metrics_match(fast: object, ref: object) -> None:
    """Integer-valued metrics (and those that are exact integer sums over a power of
    two pairs) equal the reference; the relative-error ones are float sums in another
    order, so they agree to 1e-12 relative."""
    for f in dataclasses.fields(fast):  # type: ignore[arg-type]
        x, y = getattr(fast, f.name), getattr(ref, f.name)
        if f.name in ("mred", "wcre"):
            assert x == pytest.approx(y, rel=1e-12, abs=0.0), f.name
        else:
            assert x == y, f.name


@needs_numba
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("width", [2, 3, 5, 8])
def test_fused_table_and_metrics_match_reference(width: int, signed: bool) -> None:
    """The one-pass table + metrics kernel: the same table as the two-pass path, and
    the numpy reference's metrics (integer sums exact, relative ones to 1e-12)."""
    # private: the compiled kernels are compared with their references
    from dse.eval._metrics import error_metrics_reference, exact_table

    # private: the compiled kernels are compared with their references
    from dse.eval._report import _table_and_metrics, product_table

    rng = random.Random(width * 2 + signed)
    for _ in range(12):
        graph = generate(rng.choice(["dadda", "wallace", "array"]), width, signed=signed)
        graph = apply_knobs(graph, {"truncate": rng.randint(0, width)})
        netlist = lower(graph, net_names=False)
        table, metrics = _table_and_metrics(netlist, width, width, signed)
        assert table is not None and metrics is not None
        ref = product_table(netlist, width, width, signed=signed)
        assert np.array_equal(table, ref)
        exact = exact_table(width, width, signed)
        _assert_metrics_match(
            metrics,
            error_metrics_reference(ref, exact, width_a=width, width_b=width, signed=signed),
        )


@needs_numba
def test_fused_metrics_on_bench_candidates() -> None:
    # private: the compiled kernels are compared with their references
    from dse.eval._metrics import error_metrics_reference, exact_table

    # private: the compiled kernels are compared with their references
    from dse.eval._report import _table_and_metrics, product_table

    for graph in _candidates(40, seed=21):
        netlist = lower(graph, net_names=False)
        table, metrics = _table_and_metrics(netlist, 8, 8, graph.signed)
        ref = product_table(netlist, 8, 8, signed=graph.signed)
        assert np.array_equal(table, ref)
        exact = exact_table(8, 8, graph.signed)
        _assert_metrics_match(
            metrics,
            error_metrics_reference(ref, exact, width_a=8, width_b=8, signed=graph.signed),
        )
