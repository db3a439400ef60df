"""``ModelSpec``: a built-in model by name and size, built for a task when needed."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..data.task import Task
from .zoo import INITS, build, initialise


@dataclass
class ModelSpec:
    """A built-in model and its size, e.g. ``ModelSpec("sage", hidden=128, num_layers=2)``.
    ``init``: how the weights start (``gkd.models.zoo.INITS``): ``"default"`` (torch's own for
    each layer) or ``"glorot"`` (every linear map's weight Glorot-uniform, its bias zero, as PyG's
    ``GCNConv`` and DGL's ``GraphConv`` start; gkd's own layers are torch ``Linear`` maps).
    ``options``: the model's own keyword arguments as (name, value) pairs, e.g. the DeepWalk
    settings of ``nosmog``: ``(("dim", 16), ("walk_length", 50))``."""

    name: str
    hidden: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    norm: str | None = None
    init: str = "default"
    options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; valid inits: {', '.join(INITS)}")

    def build(self, task: Task) -> nn.Module:
        model = build(self.name, task, self.hidden, self.num_layers, self.dropout, self.norm, **dict(self.options))
        return initialise(model, self.init)

    def label(self) -> str:
        """``sage2x128``; a non-default init is named (``gcn2x64-glorot``), options are not."""
        base = f"{self.name}{self.num_layers}x{self.hidden}"
        return base if self.init == "default" else f"{base}-{self.init}"
