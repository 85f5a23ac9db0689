"""``threads=`` sets torch's CPU threads for one fine-tune and restores them afterwards."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dse.errors import ConfigError
from dse.nn import AxMultiplier, PreparedBaseline, finetune, truncated_lut


def _baseline() -> PreparedBaseline:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 12, generator=g)
    data = TensorDataset(x, (x[:, 0] > 0).long())
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2))
    return PreparedBaseline(
        model, (DataLoader(data, batch_size=32), DataLoader(data, batch_size=64))
    )


def test_threads_hold_during_the_call_only() -> None:
    torch.set_num_threads(2)
    seen: list[int] = []
    mult = AxMultiplier.from_lut(truncated_lut(8, 9))
    pb = _baseline()
    pb.finetune(
        mult,
        steps=2,
        reference=False,
        threads=1,
        progress=lambda *_: seen.append(torch.get_num_threads()),
    )
    assert seen == [1, 1] and torch.get_num_threads() == 2
    seen.clear()
    finetune(
        pb,
        None,
        mult,
        steps=1,
        reference=False,
        threads=1,  # type: ignore[arg-type]
        progress=lambda *_: seen.append(torch.get_num_threads()),
    )
    assert seen == [1] and torch.get_num_threads() == 2
    pb.finetune(
        mult, steps=1, reference=False, progress=lambda *_: seen.append(torch.get_num_threads())
    )
    assert seen == [1, 2]  # no threads=: left as it is


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_threads(bad: object) -> None:
    with pytest.raises(ConfigError, match="threads must be an int >= 1"):
        _baseline().finetune(AxMultiplier.exact(8), steps=0, reference=False, threads=bad)  # type: ignore[arg-type]
