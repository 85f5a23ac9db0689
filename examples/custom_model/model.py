"""A small user network for dse: convolution + BatchNorm, a depthwise-separable block
with a residual add, and a linear classifier.

dse builds it with ``build(input_shape, num_classes)`` (``model: model.py:build`` in a
study file) and loads the weights ``train.py`` saved (``weights: weights.pt``).
"""

from __future__ import annotations

import torch
from torch import nn


class TinyNet(nn.Module):
    """Stem conv + BN, a depthwise (groups = channels) and a pointwise conv with BN and
    a residual add, global pooling and a linear head."""

    def __init__(self, channels: int = 1, classes: int = 4, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Conv2d(channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.dw = nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.pw = nn.Conv2d(width, width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.stem(x)))
        y = self.relu(self.bn2(self.dw(x)))
        y = self.bn3(self.pw(y))
        x = self.relu(x + y)  # the residual add (exact: additions are not multiplications)
        return self.fc(self.pool(x).flatten(1))


def build(input_shape: tuple[int, ...], num_classes: int) -> TinyNet:
    """The factory dse calls: samples of ``input_shape`` (channels first), ``num_classes``."""
    return TinyNet(input_shape[0], num_classes)
