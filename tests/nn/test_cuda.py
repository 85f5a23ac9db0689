"""The fast path on CUDA against the CPU reference gather (skips without a GPU)."""

import pytest
import torch

from dse.nn import AxConv1d, AxConv2d, AxLinear, AxMatmul, AxMultiplier, exact_lut, truncated_lut

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _mults() -> list[AxMultiplier]:
    signed = exact_lut(8, signed=True)
    signed[:, 3] -= 2
    return [
        AxMultiplier.from_lut(truncated_lut(8, 9)),
        AxMultiplier.from_lut(signed, signed=True),
        AxMultiplier.exact(4),
    ]


def _layers(m: AxMultiplier):
    return [
        (AxConv2d(64, 16, 3, padding=1, multiplier=m), (torch.randn(4, 64, 12, 12),)),
        (
            AxConv2d(32, 32, 3, stride=2, padding=1, groups=32, multiplier=m),
            (torch.randn(4, 32, 9, 9),),
        ),
        (AxConv2d(16, 8, 1, multiplier=m), (torch.randn(4, 16, 7, 7),)),
        (
            AxConv2d(8, 8, 3, padding=2, dilation=2, groups=2, multiplier=m),
            (torch.randn(2, 8, 9, 9),),
        ),
        (AxConv1d(16, 8, 5, stride=2, padding=2, multiplier=m), (torch.randn(4, 16, 40),)),
        (AxLinear(300, 20, multiplier=m), (torch.randn(16, 300),)),
        (AxMatmul(multiplier=m), (torch.randn(2, 4, 16, 32), torch.randn(2, 4, 32, 16))),
    ]


@pytest.mark.parametrize("relu", [True, False])
def test_cuda_fast_matches_cpu_reference(relu: bool) -> None:
    torch.manual_seed(0)
    for m in _mults():
        for layer, inputs in _layers(m):
            layer.eval()
            xs = tuple(t.relu() if relu else t for t in inputs)
            layer.set_options(kernel="reference")
            y_ref = layer(*xs)
            acc_ref = layer.last_call.acc
            ref_call = layer.last_call
            layer.set_options(kernel="fast")
            layer.cuda()
            y = layer(*(t.cuda().requires_grad_() for t in xs))
            call = layer.last_call
            codes_equal = torch.equal(call.ia.cpu(), ref_call.ia) and torch.equal(
                call.ib.cpu(), ref_call.ib
            )
            diff = (call.acc.cpu() - acc_ref).abs().max().item()
            assert torch.equal(call.acc.cpu(), acc_ref), (
                type(layer).__name__,
                m.name,
                codes_equal,
                diff,
            )
            assert torch.equal(y.cpu(), y_ref), (type(layer).__name__, m.name)
            y.sum().backward()  # the backward runs on CUDA as well
            assert torch.isfinite(y).all()
