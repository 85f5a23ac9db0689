"""The options of an approximate layer: names, defaults and validation.

Every approximate layer, :func:`dse.nn.convert`, :func:`dse.nn.set_ax_options` and the
fine-tune take these as keyword arguments:

* ``grad``: the gradient estimator, a name registered in :mod:`dse.nn._gradients`;
  ``half_window``: the smoothing half-width of those that smooth (``lut2d``);
* ``act_bits``, ``weight_bits``: quantisation bits (default: the multiplier's widths);
  ``act_mode``: ``auto``, ``unsigned``, ``signed`` or ``asymmetric`` (see :mod:`dse.nn._quant`);
* ``kernel``: ``fast`` (separable plans, :mod:`dse.nn._separable`) or ``reference``
  (a gather per product);
* ``mode``: ``exact`` or ``bounded`` plans, ``rank``: the bounded plan's error rank,
  ``grad_rank``: the most terms a gradient table is factored into;
* ``passive``, ``noise_bins``, ``noise_rank``: AxTrain passive noise (:mod:`dse.nn._axtrain`);
* ``enabled``: False runs the float layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dse.errors import ConfigError
from dse.nn._gradients import gradient
from dse.nn._multiplier import AxMultiplier
from dse.nn._quant import ACT_MODES

__all__ = ["OPTION_DEFAULTS", "check_layer_options", "check_options"]

OPTION_DEFAULTS: dict[str, Any] = {
    "grad": "ste",
    "half_window": 2,
    "act_bits": None,
    "weight_bits": None,
    "act_mode": "auto",
    "kernel": "fast",
    "mode": "exact",
    "rank": 4,
    "grad_rank": 16,
    "passive": False,
    "noise_bins": 16,
    "noise_rank": 4,
    "enabled": True,
}


def check_options(opts: Mapping[str, Any], mult: AxMultiplier) -> None:
    """Validate a complete option set (defaults merged) for a layer on ``mult``."""
    unknown = set(opts) - set(OPTION_DEFAULTS)
    if unknown:
        raise ConfigError(
            f"unknown approximate-layer option(s) {sorted(unknown)}; "
            f"allowed: {sorted(OPTION_DEFAULTS)}"
        )
    gradient(opts["grad"])  # raises for an unregistered name
    if opts["act_mode"] not in ACT_MODES:
        raise ConfigError(f"act_mode must be one of {ACT_MODES}, got {opts['act_mode']!r}")
    if opts["kernel"] not in ("fast", "reference"):
        raise ConfigError(f"kernel must be 'fast' or 'reference', got {opts['kernel']!r}")
    if opts["mode"] not in ("exact", "bounded"):
        raise ConfigError(f"mode must be 'exact' or 'bounded', got {opts['mode']!r}")
    for name in ("half_window", "rank"):
        if not isinstance(opts[name], int) or opts[name] < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {opts[name]!r}")
    for name in ("grad_rank", "noise_bins", "noise_rank"):
        if not isinstance(opts[name], int) or opts[name] < 1:
            raise ConfigError(f"{name} must be an int >= 1, got {opts[name]!r}")
    for name, width in (("act_bits", mult.width_a), ("weight_bits", mult.width_b)):
        bits = opts[name]
        if bits is None:
            continue
        if not isinstance(bits, int) or isinstance(bits, bool) or bits < 1:
            raise ConfigError(f"{name} must be a positive int, got {bits!r}")
        if bits > width:
            raise ConfigError(
                f"{name}={bits} but multiplier {mult.name!r} has {width}-bit "
                f"{'activation' if name == 'act_bits' else 'weight'} operands: the multiplier "
                f"is narrower than the quantisation"
            )


def check_layer_options(multiplier: AxMultiplier, **options: Any) -> None:
    """Raise ``ConfigError`` for options an approximate layer on ``multiplier`` would reject
    (an unknown name or estimator, a value out of range, a quantisation wider than the
    multiplier), before any layer is built."""
    check_options({**OPTION_DEFAULTS, **options}, multiplier)
