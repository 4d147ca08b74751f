"""The classifier network: a small residual CNN (a ResNet in miniature) and where it runs.

The device is chosen once, when the model loads: CUDA when a GPU is visible, else the CPU
(``ML_SERVING_DEVICE`` may force ``cpu`` or ``cuda``). Half precision is used on a GPU when
declared; on a CPU the network stays in float32, where FP16 is slower and less exact.

For serving, ``for_inference`` folds every batch normalization into the convolution before it
(exact up to float rounding, once the statistics are frozen): half the operations per pass,
which for a network this small is most of a pass's cost.
"""

from __future__ import annotations

import copy
import os

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["ResidualCNN", "choose_device", "for_inference", "DEVICE_ENV"]

DEVICE_ENV = "ML_SERVING_DEVICE"


class _Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(out)))

    def fold_batch_norms(self) -> None:
        self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        self.conv2, self.bn2 = fuse_conv_bn_eval(self.conv2, self.bn2), nn.Identity()


class ResidualCNN(nn.Module):
    """3 x size x size in, one logit per class out: stem, two residual stages, global pooling."""

    def __init__(self, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.stage1 = nn.Sequential(_Block(width), nn.MaxPool2d(2))
        self.widen = nn.Sequential(nn.Conv2d(width, 2 * width, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU())
        self.stage2 = nn.Sequential(_Block(2 * width), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stage2(self.widen(self.stage1(self.stem(x)))))

    def fold_batch_norms(self) -> None:
        for pair in (self.stem, self.widen):
            pair[0], pair[1] = fuse_conv_bn_eval(pair[0], pair[1]), nn.Identity()
        for stage in (self.stage1, self.stage2):
            stage[0].fold_batch_norms()


def for_inference(net: ResidualCNN) -> ResidualCNN:
    """A copy of ``net`` for serving: evaluation mode, batch norms folded into the convolutions."""
    served = copy.deepcopy(net).eval()
    served.fold_batch_norms()
    return served


def choose_device(requested: str | None = None) -> torch.device:
    """``requested`` (or ``ML_SERVING_DEVICE``): ``auto`` (the default), ``cpu`` or ``cuda``."""
    wanted = (requested or os.environ.get(DEVICE_ENV) or "auto").lower()
    if wanted not in ("auto", "cpu", "cuda"):
        raise ValueError(f"{DEVICE_ENV}={wanted!r}: expected auto, cpu or cuda")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_ENV}=cuda but no CUDA device is visible (torch {torch.__version__})")
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(wanted)
