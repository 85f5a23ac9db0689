"""dse.optim.LogDomainSGD: the ideal limit is torch's SGD; the error model is calibrated."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dse.errors import ConfigError  # noqa: E402
from dse.optim import LogDomainSGD, log_quantize  # noqa: E402


def _run(make, steps: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(40, 30, generator=g, requires_grad=True)
    b = torch.randn(30, generator=g, requires_grad=True)
    opt = make([w, b])
    for _ in range(steps):
        x = torch.randn(16, 40, generator=g)
        opt.zero_grad()
        ((x @ w + b) ** 2).mean().backward()
        opt.step()
    return w.detach(), b.detach(), opt


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_ideal_is_bit_exact_sgd(momentum: float) -> None:
    ref = _run(lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01, momentum=momentum))
    got = _run(
        lambda p: LogDomainSGD(
            p, lr=0.05, weight_decay=0.01, momentum=momentum, bits=None, error_mse=0.0
        )
    )
    assert torch.equal(ref[0], got[0]) and torch.equal(ref[1], got[1])


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_high_precision_limit_matches_sgd(momentum: float) -> None:
    ref = _run(lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01, momentum=momentum))
    got = _run(
        lambda p: LogDomainSGD(
            p, lr=0.05, weight_decay=0.01, momentum=momentum, bits=48, error_mse=0.0, octaves=60.0
        )
    )
    assert torch.allclose(ref[0], got[0], rtol=0, atol=1e-6)
    assert torch.allclose(ref[1], got[1], rtol=0, atol=1e-6)


def test_error_level_is_calibrated() -> None:
    errs = []
    for seed in range(5):
        _, _, opt = _run(
            lambda p, s=seed: LogDomainSGD(p, lr=0.05, weight_decay=0.01, seed=s),
            steps=4,
            seed=seed,
        )
        errs.append(opt.last_relative_mse)
    mean = sum(errs) / len(errs)
    assert 0.0087 * 0.7 < mean < 0.0087 * 1.3


def test_quantiser_levels_and_flush() -> None:
    u = torch.tensor([1.0, -0.5, 0.3, 1e-9, 0.0], dtype=torch.float64)
    q = log_quantize(u, 8, 16.0)
    assert q[0] == 1.0 and q[1] < 0 and q[3] == 0 and q[4] == 0
    step = 16.0 / 127
    for k in (1, 2):
        assert abs(torch.log2(q[k].abs()) - torch.log2(u[k].abs())) <= step / 2 + 1e-12
        assert torch.log2(q[k].abs()) / step == pytest.approx(
            round(float(torch.log2(q[k].abs()) / step))
        )
    assert torch.equal(log_quantize(u, None, 16.0), u)


def test_argument_errors() -> None:
    p = [torch.zeros(2, requires_grad=True)]
    for kw, name in (
        ({"lr": 0}, "lr"),
        ({"lr": 0.1, "bits": 1}, "bits"),
        ({"lr": 0.1, "error_mse": 1.5}, "error_mse"),
        ({"lr": 0.1, "momentum": 1.0}, "momentum"),
        ({"lr": 0.1, "weight_decay": -1}, "weight_decay"),
    ):
        with pytest.raises(ConfigError, match=name):
            LogDomainSGD(p, **kw)
