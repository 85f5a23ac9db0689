"""Error metrics against hand-computed values on small tables."""

import numpy as np
import pytest

from dse.errors import ConfigError

# private: the metrics kernel is compared with its reference
from dse.eval import _kernels, error_metrics, exact_table


@pytest.fixture(params=[True, False], ids=["numba", "numpy"])
def kernels(request, monkeypatch):
    if request.param and not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", request.param)
    return request.param


def test_hand_computed_2x2(kernels):
    # 2x2 unsigned exact table: rows a=0..3, cols b=0..3
    exact = exact_table(2, 2, False)
    approx = exact.copy()
    approx[3, 3] = 8  # 9 -> 8: error -1
    approx[1, 2] = 3  # 2 -> 3: error +1
    approx[0, 0] = 1  # 0 -> 1: error +1 on a zero product (no relative error)
    m = error_metrics(approx, exact, width_a=2, width_b=2, signed=False)
    assert m.er == pytest.approx(3 / 16)
    assert m.med == pytest.approx(3 / 16)
    assert m.bias == pytest.approx(1 / 16)
    assert m.mse == pytest.approx(3 / 16)
    assert m.error_var == pytest.approx(3 / 16 - 1 / 256)
    assert m.wce == 1
    # relative errors over the 9 non-zero products: 1/9 and 1/2
    assert m.mred == pytest.approx((1 / 9 + 1 / 2) / 9)
    assert m.wcre == pytest.approx(0.5)
    assert m.nmed == pytest.approx((3 / 16) / 9)


def test_signed_normalisation(kernels):
    exact = exact_table(3, 3, True)  # values -4..3: max |product| = 16
    approx = exact + 2
    m = error_metrics(approx, exact, width_a=3, width_b=3, signed=True)
    assert m.med == 2 and m.bias == 2 and m.er == 1 and m.error_var == 0
    assert m.nmed == pytest.approx(2 / 16)


def test_weighted_metrics_follow_the_distribution():
    exact = exact_table(2, 2, False)
    approx = exact.copy()
    approx[3, :] += 4
    w = np.zeros((4, 4))
    w[3, 3] = 1.0
    w[0, 0] = 3.0
    m = error_metrics(approx, exact, width_a=2, width_b=2, signed=False, weights=w)
    assert m.med == pytest.approx(1.0)  # 3/4 weight on no error, 1/4 on |4|
    assert m.er == pytest.approx(0.25)
    assert m.wce == 4


def test_kernel_and_reference_agree_on_random_tables(monkeypatch):
    if not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(1)
    exact = exact_table(6, 5, True)
    approx = exact + rng.integers(-20, 20, exact.shape)
    fast = error_metrics(approx, exact, width_a=6, width_b=5, signed=True)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    slow = error_metrics(approx, exact, width_a=6, width_b=5, signed=True)
    for key, value in slow.to_dict().items():
        assert getattr(fast, key) == pytest.approx(value, rel=1e-12), key


def test_bad_shapes():
    with pytest.raises(
        ConfigError, match=r"^approx shape \(4, 4\) differs from exact shape \(2, 2\)$"
    ):
        error_metrics(np.zeros((4, 4)), np.zeros((2, 2)), width_a=1, width_b=1, signed=False)
    with pytest.raises(ConfigError, match=r"^operand weights must be non-negative"):
        error_metrics(
            np.zeros((2, 2)),
            np.zeros((2, 2)),
            width_a=1,
            width_b=1,
            signed=False,
            weights=-np.ones((2, 2)),
        )
