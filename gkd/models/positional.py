"""An MLP whose input is extended by positional embeddings of the nodes (NOSMOG's student)."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..data.task import Task
from ..errors import MismatchError
from ..graph.walks import deepwalk
from ..outputs import Outputs
from .base import Model
from .mlp import MLP
from .zoo import register


@register
class PositionalMLP(Model):
    """An MLP on [x_i || p_i], p_i a fixed positional embedding of node i (DeepWalk over the
    task's graph, each column standardised: gkd's choice, so that the embedding's scale does not
    depend on the walk settings). Like GLNN's MLP it needs no message passing at inference, but
    it reads node ids (its rows are the task's nodes), so it is bound to the graph it was built
    for. ``hidden`` of ``Outputs``: the MLP's hidden layers."""

    name = "nosmog"
    kinds = ("node",)

    def __init__(self, in_dim: int, encoding: Tensor, hidden: int, out_dim: int, num_layers: int = 2,
                 dropout: float = 0.0, norm: str | None = None):
        super().__init__()
        mean, std = encoding.mean(0, keepdim=True), encoding.std(0, keepdim=True).clamp_min(1e-6)
        self.register_buffer("encoding", (encoding - mean) / std)
        self.mlp = MLP(in_dim + encoding.size(1), hidden, out_dim, num_layers=num_layers, dropout=dropout, norm=norm)

    @classmethod
    def from_task(cls, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
                  norm: str | None = None, dim: int = 64, **walk_options) -> PositionalMLP:
        if task.kind != "node":
            raise MismatchError(f"positional embeddings describe a graph's nodes; {task.name!r} is a {task.kind} task")
        encoding = deepwalk(task.data.edge_index, int(task.data.num_nodes), dim=dim, **walk_options)
        return cls(task.num_features, encoding, hidden, task.num_classes, num_layers, dropout, norm)

    def forward(self, data: Data) -> Outputs:
        if data.x.size(0) != self.encoding.size(0):
            raise MismatchError(f"this student holds positions for {self.encoding.size(0)} nodes, the input has "
                                f"{data.x.size(0)}: run it on the graph it was built for")
        return self.mlp(Data(x=torch.cat([data.x, self.encoding], dim=-1), num_nodes=data.x.size(0)))
