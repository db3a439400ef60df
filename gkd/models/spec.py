"""``ModelSpec``: a built-in model by name and size, built for a task when needed."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..data.task import Task
from .zoo import build


@dataclass
class ModelSpec:
    """A built-in model and its size, e.g. ``ModelSpec("sage", hidden=128, num_layers=2)``."""

    name: str
    hidden: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    norm: str | None = None

    def build(self, task: Task) -> nn.Module:
        return build(self.name, task, self.hidden, self.num_layers, self.dropout, self.norm)

    def label(self) -> str:
        return f"{self.name}{self.num_layers}x{self.hidden}"
