"""Gradient estimators: how a product table is differentiated for training.

An approximate multiplier ``f(a, b)`` is a table over integer codes, so it has no
derivative; training through it needs an estimate of ``∂f/∂a`` and ``∂f/∂b``. Every
estimator here is a :class:`GradientEstimator`: from the product table (code order, see
:mod:`dse.nn._multiplier`) and the operand values it precomputes two float64 tables
``(∂f/∂a, ∂f/∂b)`` of the table's shape, once per multiplier. The layers' backward is the
same for every estimator (:mod:`dse.nn._lut_product`): for one output ``y = Σ_i f(a_i, w_i)``
it passes ``g·∂f/∂a(a_i, w_i)`` to ``a_i`` and ``g·∂f/∂b(a_i, w_i)`` to ``w_i``, times the
quantisation scales, with the straight-through estimator for rounding. Fast kernels factor
the two tables into a few separable terms (exactly for the built-in estimators) and fall
back to a gather from them otherwise.

Built-in estimators:

* ``ste``: the straight-through estimator (Bengio, Léonard, Courville, "Estimating or
  propagating gradients through stochastic neurons for conditional computation", arXiv
  1308.3432, 2013): the accurate product's gradient, ``∂f/∂a = b``, ``∂f/∂b = a``, whatever
  the table holds.
* ``lut2d`` (Meng, Burleson, Qian, De Micheli, DATE 2025): the table smoothed along the
  differentiated operand and differenced (see :class:`Lut2d`).
* ``lut1d`` (Meng, Burleson, De Micheli, arXiv 2509.10519): per fixed other operand, the
  slope of the least-squares line through the table (see :class:`Lut1d`).

AxTrain (He et al., ISLPED 2018) is not an estimator: it changes the forward or the loss,
see :mod:`dse.nn._axtrain`. A new estimator is one class and one :func:`register_gradient`
call, from any module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from dse.errors import ConfigError

__all__ = [
    "GRADIENTS",
    "GradientEstimator",
    "Lut1d",
    "Lut2d",
    "Ste",
    "gradient",
    "gradient_names",
    "register_gradient",
]


class GradientEstimator(ABC):
    """Precomputes ``(∂f/∂a, ∂f/∂b)`` tables from a product table.

    Subclasses implement :meth:`tables`. ``uses_half_window`` says whether the tables depend
    on the layer option ``half_window`` (the smoothing half-width); it keeps the per-table
    cache from holding one copy per window for estimators that ignore it.
    """

    uses_half_window: bool = False

    @abstractmethod
    def tables(
        self, lut: np.ndarray, values_a: np.ndarray, values_b: np.ndarray, *, half_window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(∂f/∂a, ∂f/∂b)``, each float64 of ``lut.shape``, in code order.

        ``lut[a_code, b_code]`` is the product (float64 here); ``values_a``/``values_b``
        are the operands' values per code (float64, two's complement when signed, so not
        sorted for a signed operand). ``a`` is the activation operand, ``b`` the weight.
        """


def _smoothed_derivative(table: np.ndarray, values: np.ndarray, half_window: int) -> np.ndarray:
    """d(table)/d(operand) along axis 0 after a moving average of half-width ``half_window``.

    ``values`` are the operand values of the rows, already in increasing order. The window
    shrinks symmetrically near the ends (so an exactly linear table keeps its exact slope
    everywhere), and the ends use a one-sided difference.
    """
    n = table.shape[0]
    csum = np.concatenate([np.zeros((1, table.shape[1])), np.cumsum(table, axis=0)], axis=0)
    idx = np.arange(n)
    half = np.minimum(half_window, np.minimum(idx, n - 1 - idx))
    smooth = (csum[idx + half + 1] - csum[idx - half]) / (2 * half + 1)[:, None]
    deriv = np.empty_like(smooth)
    if n == 1:
        deriv[:] = 0.0
        return deriv
    deriv[1:-1] = (smooth[2:] - smooth[:-2]) / (values[2:] - values[:-2])[:, None]
    deriv[0] = (smooth[1] - smooth[0]) / (values[1] - values[0])
    deriv[-1] = (smooth[-1] - smooth[-2]) / (values[-1] - values[-2])
    return deriv


def _ls_slope(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Slope of the least-squares line through each column of ``table`` against ``values``."""
    centred = values - values.mean()
    return (centred[:, None] * (table - table.mean(axis=0, keepdims=True))).sum(axis=0) / (
        centred**2
    ).sum()


class Ste(GradientEstimator):
    """Straight-through (Bengio et al. 2013): ``∂f/∂a = b``, ``∂f/∂b = a``."""

    def tables(
        self, lut: np.ndarray, values_a: np.ndarray, values_b: np.ndarray, *, half_window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        ga = np.broadcast_to(values_b[None, :], lut.shape).copy()
        gb = np.broadcast_to(values_a[:, None], lut.shape).copy()
        return ga, gb


class Lut2d(GradientEstimator):
    """LUT-2D (Meng, Burleson, Qian, De Micheli, DATE 2025).

    Smooth the table along the differentiated operand with a moving average of half-width
    ``half_window``, in operand-value order, and take the central difference of the
    smoothed table (the window shrinks symmetrically at the ends; the end rows use
    one-sided differences).
    """

    uses_half_window = True

    def tables(
        self, lut: np.ndarray, values_a: np.ndarray, values_b: np.ndarray, *, half_window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        order_a, order_b = np.argsort(values_a, kind="stable"), np.argsort(values_b, kind="stable")
        inv_a, inv_b = np.argsort(order_a), np.argsort(order_b)
        ga = _smoothed_derivative(lut[order_a], values_a[order_a], half_window)[inv_a]
        gb = _smoothed_derivative(lut[:, order_b].T, values_b[order_b], half_window)[inv_b].T
        return ga, gb


class Lut1d(GradientEstimator):
    """LUT-1D (Meng, Burleson, De Micheli, arXiv 2509.10519).

    ``∂f/∂a`` at weight code b is the slope of the least-squares line through the column
    ``f(·, b)``; it depends on b only (and ``∂f/∂b`` on a only).
    """

    def tables(
        self, lut: np.ndarray, values_a: np.ndarray, values_b: np.ndarray, *, half_window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        slope_b = _ls_slope(lut, values_a)  # one slope per weight code b
        slope_a = _ls_slope(lut.T, values_b)  # one slope per activation code a
        ga = np.broadcast_to(slope_b[None, :], lut.shape).copy()
        gb = np.broadcast_to(slope_a[:, None], lut.shape).copy()
        return ga, gb


#: The registry: estimator name -> estimator (what the layer option ``grad`` names).
GRADIENTS: dict[str, GradientEstimator] = {}


def register_gradient(name: str, estimator: GradientEstimator, *, replace: bool = False) -> None:
    """Make ``estimator`` available as the layer option ``grad=name``.

    A name already taken is an error unless ``replace=True``.
    """
    if not isinstance(name, str) or not name or not name.isidentifier():
        raise ConfigError(f"gradient estimator name must be an identifier, got {name!r}")
    if not isinstance(estimator, GradientEstimator):
        raise ConfigError(
            f"gradient estimator {name!r} must be a GradientEstimator, "
            f"got {type(estimator).__name__}"
        )
    if name in GRADIENTS and not replace:
        raise ConfigError(f"gradient estimator {name!r} is already registered")
    GRADIENTS[name] = estimator


def gradient_names() -> tuple[str, ...]:
    """The registered estimator names, in registration order."""
    return tuple(GRADIENTS)


def gradient(name: str) -> GradientEstimator:
    """The estimator registered as ``name``; an unknown name lists the known ones."""
    try:
        return GRADIENTS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"grad estimator {name!r} is not registered; one of: {', '.join(GRADIENTS)}"
        ) from None


register_gradient("ste", Ste())
register_gradient("lut2d", Lut2d())
register_gradient("lut1d", Lut1d())
