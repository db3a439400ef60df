"""Models that return ``Outputs``: ``gkd.models.build(name, task, ...)``, ``ModelSpec`` or the classes.
Every module of this folder is imported here, so each model registers itself (``zoo.register``)."""
from __future__ import annotations

from ..registry import import_modules
from .base import LayerStack, Model
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
from .zoo import MODELS, available, build, count_parameters

import_modules(__name__, __path__)

__all__ = ["GAT", "GCN", "GIN", "GINE", "MLP", "MODELS", "SAGE", "HookedModel", "LayerStack", "Model", "ModelSpec",
           "ResNet", "TinyViT", "available", "build", "count_parameters"]
