"""Models that return ``Outputs``: ``gkd.models.build(name, task, ...)``, ``ModelSpec`` or the classes."""
from __future__ import annotations

from .base import LayerStack
from .gat import GAT
from .gcn import GCN
from .gin import GIN
from .gine import GINE
from .mlp import MLP
from .resnet import ResNet
from .sage import SAGE
from .spec import ModelSpec
from .vit import TinyViT
from .wrapper import HookedModel
from .zoo import available, build, count_parameters

__all__ = ["GAT", "GCN", "GIN", "GINE", "MLP", "SAGE", "HookedModel", "LayerStack", "ModelSpec", "ResNet", "TinyViT",
           "available", "build", "count_parameters"]
