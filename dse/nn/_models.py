"""Reference models; every multiplication is in a Conv/Linear/:class:`Matmul` layer so that
:func:`dse.nn.convert` makes all of them approximate."""

from __future__ import annotations

import math

import torch
from torch import nn

from dse.errors import ConfigError
from dse.nn._layers import Matmul

__all__ = ["MODEL_NAMES", "build_model"]

MODEL_NAMES = ("cnn1d", "cnn-digits", "lenet5", "resnet20", "vit-tiny")


class CNN1d(nn.Module):
    """Three-layer 1-D CNN for MNIST-1D (after Greydanus 2020's ConvBase)."""

    def __init__(self, channels: int, length: int, classes: int, width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, width, 5, stride=2, padding=2)
        self.conv2 = nn.Conv1d(width, width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(width, width, 3, stride=2, padding=1)
        out = length
        for _ in range(3):
            out = (out - 1) // 2 + 1
        self.fc = nn.Linear(width * out, classes)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.fc(x.flatten(1))


class CNNDigits(nn.Module):
    """Small 2-D CNN for 8x8 digits."""

    def __init__(self, channels: int, size: int, classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(32 * (size // 2) ** 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.pool(self.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling; 28x28 inputs are padded."""

    def __init__(self, channels: int, size: int, classes: int) -> None:
        super().__init__()
        pad = 2 if size == 28 else 0
        self.features = nn.Sequential(
            nn.Conv2d(channels, 6, 5, padding=pad),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = ((size + 2 * pad - 4) // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class BasicBlock(nn.Module):
    """ResNet basic block; a 1x1 convolution projects the shortcut when shapes change."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class ResNet20(nn.Module):
    """ResNet-20 for 32x32 inputs (He et al., CVPR 2016, §4.2)."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        layers: list[nn.Module] = []
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))
        x = self.layers(x)
        return self.fc(self.pool(x).flatten(1))


class Attention(nn.Module):
    """Multi-head self-attention whose QKᵀ and AV products are :class:`Matmul` modules."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.qk = Matmul()
        self.av = Matmul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = (self.qk(q, k.transpose(-1, -2)) / math.sqrt(d // self.heads)).softmax(dim=-1)
        y = self.av(attn, v).transpose(1, 2).reshape(b, n, d)
        return self.proj(y)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTTiny(nn.Module):
    """A small ViT (Dosovitskiy et al., ICLR 2021) with mean pooling instead of a class token."""

    def __init__(
        self, channels: int, size: int, classes: int, dim: int = 64, depth: int = 2, heads: int = 4
    ) -> None:
        super().__init__()
        patch = 4 if size >= 16 else 2
        if size % patch:
            raise ConfigError(f"vit-tiny needs an input side divisible by {patch}, got {size}")
        self.embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, (size // patch) ** 2, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, 2 * dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        x = self.blocks(x)
        return self.head(self.norm(x).mean(dim=1))


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """One of :data:`MODEL_NAMES` for samples of ``input_shape`` (channels first)."""
    if name not in MODEL_NAMES:
        raise ConfigError(f"model must be one of {', '.join(MODEL_NAMES)}, got {name!r}")
    if name == "cnn1d":
        if len(input_shape) != 2:
            raise ConfigError(f"cnn1d needs (channels, length) samples, got shape {input_shape}")
        return CNN1d(input_shape[0], input_shape[1], num_classes)
    if len(input_shape) != 3 or input_shape[1] != input_shape[2]:
        raise ConfigError(f"{name} needs square (channels, H, W) images, got shape {input_shape}")
    channels, size = input_shape[0], input_shape[1]
    if name == "cnn-digits":
        return CNNDigits(channels, size, num_classes)
    if name == "lenet5":
        if size not in (28, 32):
            raise ConfigError(f"lenet5 needs 28x28 or 32x32 images, got {size}x{size}")
        return LeNet5(channels, size, num_classes)
    if name == "resnet20":
        return ResNet20(channels, num_classes)
    return ViTTiny(channels, size, num_classes)
