"""Make a small image data set, train ``model.TinyNet`` on it and save its state dict.

Writes ``data.npz`` (arrays X, y, X_test, y_test: 8x8 one-channel images of four
patterns, with noise) and ``weights.pt`` beside this file; a few seconds on a CPU.
Run: ``python examples/custom_model/train.py``, then
``dse run examples/custom_model/study.yaml``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from model import build  # noqa: E402


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8x8 images of four classes (horizontal bar, vertical bar, diagonal, square)
    at random places, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.35, size=(n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    for i, c in enumerate(y):
        r, k = rng.integers(1, 7, size=2)
        if c == 0:
            x[i, 0, r, 1:7] += 1.0
        elif c == 1:
            x[i, 0, 1:7, k] += 1.0
        elif c == 2:
            x[i, 0, np.arange(8), np.arange(8)] += 1.0
        else:
            x[i, 0, 2:6, 2:6] += 0.6
    return x, y.astype(np.int64)


def main(out: Path = HERE, epochs: int = 8, seed: int = 0) -> float:
    """Write ``data.npz`` and ``weights.pt`` under ``out``; returns the test accuracy."""
    x, y = make_data(2000, seed)
    xt, yt = make_data(500, seed + 1)
    np.savez(out / "data.npz", X=x, y=y, X_test=xt, y_test=yt)
    torch.manual_seed(seed)
    net = build((1, 8, 8), 4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(ys)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(xs[idx]), ys[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(torch.from_numpy(xt)).argmax(1) == torch.from_numpy(yt)).float().mean())
    torch.save(net.state_dict(), out / "weights.pt")  # a state dict, not the whole model
    return acc


if __name__ == "__main__":
    print(f"test accuracy {100 * main():.1f} %; wrote data.npz and weights.pt in {HERE}")
