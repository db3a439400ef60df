"""CPF's student: parameterised label propagation (PLP) plus feature transformation (FT).

Yang, Liu & Shi, "Extract the Knowledge of Graph Neural Networks and Go Beyond it: An Effective
Knowledge Distillation Framework" (WWW 2021). The student keeps a class distribution per node and
refines it ``num_layers`` times::

    h_v <- s(a_v) * sum_{j -> v} att_vj h_j + s(-a_v) * f(x_v)

``f`` is a two-layer MLP with a softmax (the FT part), ``s`` the sigmoid, ``a_v`` a learnable
per-node balance and ``att_vj`` a softmax over v's in-neighbours of their learnable confidence
scores (the PLP part). Training (labelled) nodes start from and stay clamped to their one-hot
labels; every other node starts uniform. The step is a convex combination of distributions, so
``h`` stays a distribution and the model returns ``log h`` as its logits. All propagation is
per edge (gather and scatter, O(E) memory): no N x N matrix is ever built.

Unlike GLNN's MLP the student needs the graph at inference, and it is bound to the node set of
the task it was built for (one balance and, by default, one confidence per node).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import add_remaining_self_loops, scatter
from torch_geometric.utils import softmax as edge_softmax

from ..data.task import Task
from ..errors import MismatchError
from ..outputs import Outputs
from .base import Model, dropout, refuse_norm
from .zoo import register

Confidence = Literal["node", "feature"]
FTOutput = Literal["softmax", "scores"]
ConfidenceInit = Literal["zeros", "xavier"]


@register
class CPFStudent(Model):
    """PLP + FT over a fixed node set.

    ``confidence``: ``node`` gives every node one free confidence score (CPF's transductive
    "tra" parameterisation); ``feature`` scores node j as ``z . x_j`` with one learnable vector
    ``z`` (CPF's inductive "ind" parameterisation, the default of the authors' code).
    ``attention_dropout``: dropout on the edge weights during training (the authors' code has
    one; 0 here by default, so the weights of every node always sum to 1).
    ``self_loops``: add one self loop per node, as the authors' code does, so that every node
    has an in-neighbour (itself) and the propagated rows stay distributions.
    ``eps``: floor of the distribution before the log that gives the logits.
    ``ft_output``: ``softmax`` (the paper's equations: f ends in a softmax, h stays a
    distribution, the logits are log h) or ``scores`` (the authors' code, ``models/PLP.py``:
    f's raw scores enter the mix, each layer's result passes a ReLU, and the logits are h
    itself, so the student's distribution is softmax(h), as their ``log_softmax(logits)``
    makes it).
    ``per_layer_dropout``: evaluate FT and the attention inside every layer, each with fresh
    dropout masks, as the authors' shared ``PLPConv`` does (it is called once per layer); the
    default evaluates them once per forward pass. The two agree at evaluation; in training the
    fresh masks average the dropout noise over the layers. Measured on Cora's largest component
    (CPF's "tra" settings, feature dropout 0.8, lr 0.001, patience 50): with one mask per pass,
    seeds 0 and 2 stop at epochs 5 and 4 (64.1 / 60.4); with fresh masks they train to epochs
    499 / 377 (82.9 / 84.1).
    ``confidence_dropout``: dropout on the per-node confidence scores (``confidence="node"``
    only), as the authors apply their feature dropout to ``fc_emb``.
    ``confidence_init``: ``zeros`` (uniform attention at the start) or ``xavier`` (the authors'
    ``xavier_normal_`` with ReLU gain on the N x 1 score matrix: std sqrt(2) * sqrt(2 / (N + 1))).

    ``forward(data)`` returns ``Outputs(logits=log h, hidden=[FT hidden layer])``.
    """

    name = "cpf"
    kinds = ("node",)

    def __init__(self, in_dim: int, num_classes: int, num_nodes: int, train_index: Tensor, train_labels: Tensor,
                 hidden: int = 64, num_layers: int = 10, dropout: float = 0.6, *,
                 confidence: Confidence = "node", attention_dropout: float = 0.0, self_loops: bool = True,
                 eps: float = 1e-8, ft_output: FTOutput = "softmax", per_layer_dropout: bool = False,
                 confidence_dropout: float = 0.0, confidence_init: ConfidenceInit = "zeros"):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"CPFStudent: num_layers must be at least 1, got {num_layers}")
        if confidence not in ("node", "feature"):
            raise ValueError(f"CPFStudent: unknown confidence {confidence!r}; valid: node, feature")
        if ft_output not in ("softmax", "scores"):
            raise ValueError(f"CPFStudent: unknown ft_output {ft_output!r}; valid: softmax, scores")
        if confidence_init not in ("zeros", "xavier"):
            raise ValueError(f"CPFStudent: unknown confidence_init {confidence_init!r}; valid: zeros, xavier")
        if confidence_dropout and confidence != "node":
            raise ValueError("CPFStudent: confidence_dropout applies to per-node confidences; with "
                             "confidence='feature' the features' dropout already reaches the scores (set it to 0)")
        self.ft_output, self.per_layer_dropout = ft_output, per_layer_dropout
        self.confidence_dropout = confidence_dropout
        train_index = torch.as_tensor(train_index, dtype=torch.long).view(-1)
        train_labels = torch.as_tensor(train_labels, dtype=torch.long).view(-1)
        if train_index.numel() != train_labels.numel():
            raise ValueError(f"CPFStudent: {train_index.numel()} training nodes but {train_labels.numel()} labels")
        self.num_nodes, self.num_classes, self.num_layers = int(num_nodes), int(num_classes), num_layers
        self.dropout, self.attention_dropout = dropout, attention_dropout
        self.confidence_kind, self.self_loops, self.eps = confidence, self_loops, eps

        # FT: x -> dropout -> linear -> relu -> dropout -> linear -> softmax
        self.ft_in = nn.Linear(in_dim, hidden)
        self.ft_out = nn.Linear(hidden, num_classes)
        # PLP: per-node balance a_v (s(0) = 1/2 at the start) and neighbour confidences
        self.balance = nn.Parameter(torch.zeros(self.num_nodes, 1))
        if confidence == "node":
            self.confidence = nn.Parameter(torch.zeros(self.num_nodes))
            if confidence_init == "xavier":
                nn.init.normal_(self.confidence, std=(2.0 * 2.0 / (self.num_nodes + 1)) ** 0.5)
        else:
            self.confidence = nn.Parameter(torch.zeros(in_dim))
        # clamped labels: known only for the training nodes
        labelled = torch.zeros(self.num_nodes, dtype=torch.bool)
        labelled[train_index] = True
        one_hot = torch.zeros(self.num_nodes, num_classes)
        one_hot[train_index] = F.one_hot(train_labels, num_classes).float()
        self.register_buffer("labelled", labelled)
        self.register_buffer("label_one_hot", one_hot)

    @classmethod
    def from_task(cls, task: Task, hidden: int = 64, num_layers: int = 10, dropout: float = 0.6,
                  norm: str | None = None, **options) -> CPFStudent:
        """A student for ``task`` (a node task): only the training nodes' labels are read.
        ``options``: ``confidence``, ``attention_dropout``, ``self_loops``, ``eps``, ``ft_output``,
        ``per_layer_dropout``, ``confidence_dropout``, ``confidence_init``."""
        refuse_norm(cls.name, norm)
        if task.kind != "node" or task.objective != "multiclass":
            raise MismatchError(f"CPFStudent needs a multiclass node task; {task.name!r} is a "
                                f"{task.objective} {task.kind} task")
        train = task.split["train"]
        return cls(task.num_features, task.num_classes, int(task.data.num_nodes), train, task.data.y[train],
                   hidden=hidden, num_layers=num_layers, dropout=dropout, **options)

    # ------------------------------------------------------------------ pieces

    def edges(self, data: Data) -> Tensor:
        """The propagation edges (row 0 source j, row 1 receiver v), self loops included if set."""
        edge_index = data.edge_index
        if self.self_loops:
            edge_index, _ = add_remaining_self_loops(edge_index, num_nodes=self.num_nodes)
        return edge_index

    def attention(self, data: Data, edge_index: Tensor | None = None) -> Tensor:
        """att_vj for every edge j -> v of ``edge_index`` (default ``self.edges(data)``): the
        softmax of the sources' confidences over each receiver's incoming edges."""
        edge_index = self.edges(data) if edge_index is None else edge_index
        if self.confidence_kind == "node":
            score = dropout(self.confidence, self.confidence_dropout, self.training)
        else:
            x = dropout(data.x, self.dropout, self.training)
            score = x @ self.confidence
        att = edge_softmax(score[edge_index[0]], edge_index[1], num_nodes=self.num_nodes)
        return dropout(att, self.attention_dropout, self.training)

    def transform(self, data: Data) -> tuple[Tensor, Tensor]:
        """FT: the MLP's class distribution f(x) (its raw scores with ``ft_output="scores"``) and
        its hidden layer (before dropout)."""
        x = dropout(data.x, self.dropout, self.training)
        hidden = torch.relu(self.ft_in(x))
        logits = self.ft_out(dropout(hidden, self.dropout, self.training))
        return (logits.softmax(dim=-1) if self.ft_output == "softmax" else logits), hidden

    def distribution(self, data: Data) -> tuple[Tensor, Tensor]:
        """The propagated class distribution h (labelled rows exactly one-hot) and the FT
        hidden layer."""
        if int(data.num_nodes) != self.num_nodes:
            raise MismatchError(f"CPFStudent was built for {self.num_nodes} nodes; the graph has "
                                f"{int(data.num_nodes)} (the student is bound to its task's node set)")
        edge_index = self.edges(data)
        src, dst = edge_index[0], edge_index[1]
        keep = torch.sigmoid(self.balance)
        labelled = self.labelled.unsqueeze(-1)
        uniform = torch.full_like(self.label_one_hot, 1.0 / self.num_classes)
        h = torch.where(labelled, self.label_one_hot, uniform)
        att = self.attention(data, edge_index).unsqueeze(-1)
        feature_part, hidden = self.transform(data)  # the first layer's FT hidden layer is returned
        for layer in range(self.num_layers):
            if layer > 0 and self.per_layer_dropout and self.training:
                att = self.attention(data, edge_index).unsqueeze(-1)
                feature_part, _ = self.transform(data)
            mixed_features = (1.0 - keep) * feature_part  # s(-a) = 1 - s(a)
            neighbours = scatter(att * h[src], dst, dim=0, dim_size=self.num_nodes, reduce="sum")
            h = keep * neighbours + mixed_features
            if self.ft_output == "scores":
                h = torch.relu(h)
            h = torch.where(labelled, self.label_one_hot, h)
        return h, hidden

    def forward(self, data: Data) -> Outputs:
        h, hidden = self.distribution(data)
        logits = h if self.ft_output == "scores" else h.clamp(min=self.eps).log()
        return Outputs(logits=logits, hidden=[hidden])
