import numpy as np
import pytest

from dse.errors import ConfigError, DataError
from dse.nn import AxMultiplier, exact_lut, load_multiplier, mitchell_lut, truncated_lut


def test_exact_lut_signed_index_order() -> None:
    lut = exact_lut(4, signed=True)
    assert lut.shape == (16, 16)
    assert lut[0b1111, 0b0010] == -2  # a = -1 (code 15), b = 2
    assert lut[0b1000, 0b1000] == 64  # -8 * -8


def test_truncated_and_mitchell_spot_values() -> None:
    t = truncated_lut(8, 8)
    assert t[255, 255] == 255 * 255 - sum(
        2 ** (i + j) for i in range(8) for j in range(8) if i + j < 8
    )
    m = mitchell_lut(8)
    assert m[3, 5] == 14  # 2**3 * (1 + 0.5 + 0.25)
    assert m[0, 17] == 0 and m[17, 0] == 0
    assert m[6, 7] == 40  # x1 + x2 = 0.5 + 0.75 >= 1 -> 2**(2+2+1) * 1.25
    assert (m <= np.outer(np.arange(256), np.arange(256))).all()  # Mitchell never overestimates


@pytest.mark.parametrize(
    "lut, match",
    [
        (np.zeros((256, 255), dtype=np.int64), "2\\*\\*n"),
        (np.zeros((256,), dtype=np.int64), "2-D"),
        (np.zeros((16, 16), dtype=np.float64), "dtype"),
        (-np.ones((16, 16), dtype=np.int64), "signed=True"),
    ],
)
def test_bad_luts_are_rejected(lut: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        AxMultiplier.from_lut(lut)


def test_npy_roundtrip_and_errors(tmp_path) -> None:
    good = tmp_path / "m.npy"
    np.save(good, exact_lut(4, 6, signed=True))
    m = load_multiplier(str(good), signed=True)
    assert (m.width_a, m.width_b, m.signed) == (4, 6, True)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((10, 16), dtype=np.int32))
    with pytest.raises(DataError, match=str(bad)):
        AxMultiplier.from_npy(bad)
    junk = tmp_path / "junk.npy"
    junk.write_text("not numpy")
    with pytest.raises(DataError, match=str(junk)):
        AxMultiplier.from_npy(junk)
    with pytest.raises(DataError, match="does not exist"):
        AxMultiplier.from_npy(tmp_path / "missing.npy")
    with pytest.raises(ConfigError):
        load_multiplier("no-colon-here")


class _TableDesign:
    """A design as the hardware side hands it over: a product table and its shape."""

    def __init__(self, lut: np.ndarray, signed: bool, name: str, widths: tuple[int, int]) -> None:
        self._lut, self.signed, self.name = lut, signed, name
        self.width_a, self.width_b = widths

    def lut(self) -> np.ndarray:
        return self._lut


def test_from_design_takes_any_object_with_a_table() -> None:
    from dse.arith import from_spec
    from dse.design import evaluate

    spec = "dadda:4,truncate=2"
    table = evaluate(from_spec(spec)).lut
    design = _TableDesign(table, False, spec, (4, 4))
    m = AxMultiplier.from_design(design)
    assert (m.name, m.width_a, m.width_b, m.signed) == (spec, 4, 4, False)
    assert np.array_equal(m.lut, table) and not m.is_exact()
    assert load_multiplier(design).name == spec
    signed = _TableDesign(exact_lut(3, 5, signed=True), True, "s", (3, 5))
    assert AxMultiplier.from_design(signed).is_exact()
    with pytest.raises(DataError, match="width_a=5 disagrees"):
        AxMultiplier.from_design(_TableDesign(exact_lut(4), False, "w", (5, 4)))
    with pytest.raises(ConfigError, match=r"no \.lut"):
        AxMultiplier.from_design(object())
    with pytest.raises(ConfigError, match="design first"):
        load_multiplier(spec)


def _toy() -> AxMultiplier:
    lut = exact_lut(2)
    lut[:, 1] = [0, 1, 3, 3]  # column b = 1 is approximate
    return AxMultiplier.from_lut(lut, name="toy")


def test_ste_gradients_are_the_exact_products() -> None:
    ga, gb = _toy().grad_tables("ste")
    assert np.array_equal(ga, np.tile(np.arange(4.0), (4, 1)))
    assert np.array_equal(gb, np.tile(np.arange(4.0)[:, None], (1, 4)))


def test_lut2d_hand_computed() -> None:
    m = _toy()
    ga0, _ = m.grad_tables("lut2d", half_window=0)
    # central differences of [0, 1, 3, 3]; one-sided at the ends
    assert np.allclose(ga0[:, 1], [1.0, 1.5, 1.0, 0.0])
    ga1, _ = m.grad_tables("lut2d", half_window=1)
    # moving averages (window shrinks at the ends): [0, 4/3, 7/3, 3]
    assert np.allclose(ga1[:, 1], [4 / 3, 7 / 6, 5 / 6, 2 / 3])
    assert np.allclose(ga1[1:3, 2], [2.0, 2.0])  # exact columns keep slope b


def test_lut1d_hand_computed() -> None:
    ga, gb = _toy().grad_tables("lut1d")
    assert np.allclose(ga[:, 1], 1.1)  # least-squares slope through (0,0),(1,1),(2,3),(3,3)
    assert np.allclose(ga[:, 2], 2.0)
    # ∂/∂b at a = 2: slope through row [0, 3, 4, 6]
    x = np.arange(4.0)
    row = np.array([0, 3, 4, 6.0])
    slope = ((x - x.mean()) * (row - row.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert np.allclose(gb[2], slope)


def test_signed_lut2d_uses_value_order() -> None:
    m = AxMultiplier.exact(4, signed=True)
    ga, _gb = m.grad_tables("lut2d", half_window=2)
    vb = m.values_b()
    assert np.allclose(ga, np.tile(vb.astype(float), (16, 1)))  # linear table: exact slope


def test_grad_estimator_validation() -> None:
    with pytest.raises(ConfigError, match="grad estimator"):
        _toy().grad_tables("bogus")
