"""A tiny Vision Transformer, returning ``Outputs`` with its token sequences."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.task import Task
from ..errors import MismatchError
from ..outputs import Outputs
from .base import Model, refuse_norm
from .zoo import register


@register
class TinyViT(Model):
    """Dosovitskiy et al., "An Image is Worth 16x16 Words" (ICLR 2021), at toy size: non-overlapping
    ``patch`` x ``patch`` patches embedded by a strided convolution to ``dim`` units, a class token,
    learned position embeddings, ``depth`` pre-norm transformer encoder layers (``heads`` heads,
    MLP ratio 2), a final LayerNorm and a linear classifier on the class token. ``hidden`` in
    ``Outputs``: each layer's patch tokens (B, N, dim), class token left out, so a token
    distiller sees the image grid; ``pooled``: the normalised class token."""

    name = "vit"
    kinds = ("image",)

    def __init__(self, in_channels: int, dim: int, num_classes: int, depth: int = 2, heads: int = 4,
                 patch: int = 4, image_size: int = 32, dropout: float = 0.0):
        super().__init__()
        if image_size % patch:
            raise MismatchError(f"image size {image_size} is not a multiple of the patch size {patch}")
        if dim % heads:
            raise MismatchError(f"ViT width {dim} is not divisible by its {heads} heads")
        self.embed = nn.Conv2d(in_channels, dim, patch, patch)
        tokens = (image_size // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, activation="gelu", batch_first=True,
                                       norm_first=True) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, num_classes)

    @classmethod
    def from_task(cls, task: Task, hidden: int = 32, num_layers: int = 2, dropout: float = 0.0,
                  norm: str | None = None) -> TinyViT:
        """``hidden``: the token width; ``num_layers``: encoder layers; 4x4 patches (2x2 on images
        under 16 pixels); LayerNorm throughout."""
        refuse_norm(cls.name, norm)
        size = int(task.data.images.size(-1))
        return cls(task.num_features, hidden, task.num_classes, depth=num_layers, patch=4 if size >= 16 else 2,
                   image_size=size, dropout=dropout)

    def forward(self, x: Tensor) -> Outputs:
        h = self.embed(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(h.size(0), -1, -1), h], dim=1) + self.position
        hidden = []
        for layer in self.layers:
            h = layer(h)
            hidden.append(h[:, 1:])
        pooled = self.norm(h[:, 0])
        return Outputs(self.classifier(pooled), hidden=hidden, pooled=pooled)
