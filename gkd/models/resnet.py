"""A small ResNet family for 32x32 (and smaller) images, returning ``Outputs``."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.task import Task
from ..outputs import Outputs
from .base import Model, refuse_norm
from .zoo import register


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the input (1x1 conv + BN when the shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


@register
class ResNet(Model):
    """CIFAR-style ResNet (He et al., CVPR 2016, section 4.2): a 3x3 stem of ``width`` channels,
    three stages of ``blocks`` basic blocks with ``width``, 2 ``width`` and 4 ``width`` channels
    (the last two halve the resolution), global average pooling and a linear classifier; depth
    6 * blocks + 2 (blocks 3: ResNet20). ``hidden`` in ``Outputs``: each stage's feature map
    (B, C, H, W); ``pooled``: the pooled last map (B, 4 * width). Stages that would shrink a map
    below 1 pixel keep their resolution (8x8 digits)."""

    name = "resnet"
    kinds = ("image",)

    def __init__(self, in_channels: int, width: int, num_classes: int, blocks: int = 1, dropout: float = 0.0,
                 image_size: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages, in_ch, size = [], width, image_size
        for i, out_ch in enumerate((width, 2 * width, 4 * width)):
            stride = 2 if i > 0 and size >= 8 else 1
            size //= stride
            stages.append(nn.Sequential(*[BasicBlock(in_ch if j == 0 else out_ch, out_ch, stride if j == 0 else 1)
                                          for j in range(blocks)]))
            in_ch = out_ch
        self.stages = nn.ModuleList(stages)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_ch, num_classes)

    @classmethod
    def from_task(cls, task: Task, hidden: int = 16, num_layers: int = 1, dropout: float = 0.0,
                  norm: str | None = None) -> ResNet:
        """``hidden``: the base width; ``num_layers``: blocks per stage; BatchNorm throughout."""
        refuse_norm(cls.name, norm)
        return cls(task.num_features, hidden, task.num_classes, blocks=num_layers, dropout=dropout,
                   image_size=int(task.data.images.size(-1)))

    def forward(self, x: Tensor) -> Outputs:
        h = self.stem(x)
        maps = []
        for stage in self.stages:
            h = stage(h)
            maps.append(h)
        pooled = h.mean(dim=(2, 3))
        return Outputs(self.classifier(self.dropout(pooled)), hidden=maps, pooled=pooled)
