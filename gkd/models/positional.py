"""An MLP whose input is extended by positional embeddings of the nodes (NOSMOG's student)."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..data.task import Task
from ..errors import MismatchError
from ..graph.walks import deepwalk
from ..outputs import Outputs
from .base import Model, dropout
from .mlp import MLP
from .zoo import register


@register
class PositionalMLP(Model):
    """An MLP on [x_i || p_i], p_i a fixed positional embedding of node i (DeepWalk over the
    task's graph, each column standardised: gkd's choice, so that the embedding's scale does not
    depend on the walk settings). Like GLNN's MLP it needs no message passing at inference, but
    it reads node ids, so it is bound to the graph it was built for: its input is every node of
    that graph, or any rows of it with their node ids as ``data.n_id`` (a sampled batch, a block
    of rows at prediction). Row i of its output depends on row i's features and id alone
    (``row_independent``), so sampled training gives it batches of nodes, as NOSMOG's authors
    train it. ``hidden`` of ``Outputs``: the MLP's hidden layers, after their ReLU (gkd's layer
    stack), or with ``hidden_before_relu`` the linear maps' outputs before it, as NOSMOG's
    ``models.py`` ``MLP.forward`` collects its ``h_list`` (the logits are the same either way).
    ``standardise`` False keeps the embedding at the scale its training left it (the authors'
    ``train_student.py`` ``get_features_dw``: gensim's vectors as they come)."""

    name = "nosmog"
    kinds = ("node",)
    reads_node_ids = True

    def __init__(self, in_dim: int, encoding: Tensor, hidden: int, out_dim: int, num_layers: int = 2,
                 dropout: float = 0.0, norm: str | None = None, standardise: bool = True,
                 hidden_before_relu: bool = False):
        super().__init__()
        if not isinstance(standardise, bool) or not isinstance(hidden_before_relu, bool):
            raise ValueError("nosmog student: standardise and hidden_before_relu must be True or False")
        if standardise:
            mean, std = encoding.mean(0, keepdim=True), encoding.std(0, keepdim=True).clamp_min(1e-6)
            encoding = (encoding - mean) / std
        self.register_buffer("encoding", encoding)
        self.hidden_before_relu = hidden_before_relu
        self.mlp = MLP(in_dim + encoding.size(1), hidden, out_dim, num_layers=num_layers, dropout=dropout, norm=norm)

    @classmethod
    def from_task(cls, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
                  norm: str | None = None, dim: int = 64, standardise: bool = True, hidden_before_relu: bool = False,
                  **walk_options) -> PositionalMLP:
        if task.kind != "node":
            raise MismatchError(f"positional embeddings describe a graph's nodes; {task.name!r} is a {task.kind} task")
        encoding = deepwalk(task.data.edge_index, int(task.data.num_nodes), dim=dim, **walk_options)
        return cls(task.num_features, encoding, hidden, task.num_classes, num_layers, dropout, norm, standardise,
                   hidden_before_relu)

    @property
    def row_independent(self) -> bool:
        return True

    def forward(self, data: Data) -> Outputs:
        ids = getattr(data, "n_id", None)
        if ids is not None and ids.numel() == data.x.size(0):
            encoding = self.encoding[ids]
        elif data.x.size(0) == self.encoding.size(0):
            encoding = self.encoding
        else:
            raise MismatchError(f"this student holds positions for {self.encoding.size(0)} nodes, the input has "
                                f"{data.x.size(0)} rows and no node ids (data.n_id): run it on the graph it was "
                                f"built for, or give the rows' ids")
        x = torch.cat([data.x, encoding], dim=-1)
        if not self.hidden_before_relu:
            return self.mlp(Data(x=x, num_nodes=x.size(0)))
        h, hidden = x, []
        for i, layer in enumerate(self.mlp.layers):  # the layer stack's pass, keeping each map's output
            h = layer(h)
            if i < len(self.mlp.norms):
                hidden.append(h)
                h = dropout(torch.relu(self.mlp.norms[i](h)), self.mlp.dropout, self.training)
        return Outputs(logits=h, hidden=hidden)
