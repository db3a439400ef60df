"""GNN-SD: a GNN distilled by itself, each layer keeping the neighbourhood discrepancy of the one
before it."""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import MismatchError
from ..graph.adjacency import propagate
from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss, mean_or_zero
from .registry import register

NORM_FLOOR = 1e-12
"""Below this norm a row (or its neighbours' sum) has no direction: its discrepancy is left out."""


def neighbourhood_discrepancy(h: Tensor, data: Data) -> tuple[Tensor, Tensor]:
    """Each node's neighbourhood discrepancy rate (NDR) at representation ``h`` (one row per node
    of ``data``): s_i = 1 - cos(h_i, sum_{j -> i} h_j), the cosine distance between the node and
    the sum of its in-neighbours' rows (``data.edge_index[0]`` the sources, ``[1]`` the
    receivers; no self loop). The cosine ignores the sum's scale, so the sum and the mean give the
    same rate. Also returns which rows have one: a row whose own norm or whose neighbours' sum is
    (nearly) zero, such as a node without in-neighbours, has no defined rate.

    The neighbours' sum is one CSR product (``gkd.graph.adjacency``, kept on ``data``): memory
    O(E + N d), never an N x N matrix."""
    if h.size(0) != data.num_nodes:
        raise MismatchError(f"gnnsd: a representation has {h.size(0)} rows but the graph {data.num_nodes} nodes; "
                            f"it needs one row per node")
    neighbours = propagate(data, h, "sum")
    own, theirs = torch.linalg.vector_norm(h, dim=-1), torch.linalg.vector_norm(neighbours, dim=-1)
    defined = (own > NORM_FLOOR) & (theirs > NORM_FLOOR)
    cosine = (h * neighbours).sum(dim=-1) / (own * theirs).clamp_min(NORM_FLOOR)
    return 1.0 - cosine, defined


def discrepancy_retaining(shallow: Tensor, deep: Tensor) -> Tensor:
    """The ADR term of one pair of layers, over the rows given: when the shallower layer's NDR
    vector is longer than the deeper one's (the deeper layer has smoothed its nodes more), the
    mean over rows of (SG(s_shallow) - s_deep)^2, SG a stopped gradient (the shallower layer is
    the target; only the deeper one is pulled); else zero. Zero (keeping the graph) for no rows."""
    target = shallow.detach()
    if torch.linalg.vector_norm(target) <= torch.linalg.vector_norm(deep.detach()):
        return deep.sum() * 0.0
    return mean_or_zero((target - deep).pow(2))


@register
class GNNSD(Distiller):
    """Chen, Bian, Xiao, Rong, Xu & Huang, "On Self-Distilling Graph Neural Network" (IJCAI 2021):
    a GNN taught by itself, without a teacher, through the neighbourhood discrepancy of its layers.

    NDR of node i at layer l: s_i^(l) = 1 - cos(h_i^(l), sum_{j in N(i)} h_j^(l)) (how far the
    node stands from its neighbourhood; near 0 when the layer has smoothed it into its
    neighbours). ADR, the adaptive discrepancy retaining regulariser, over consecutive layers:

        L_ADR = sum_{l=1}^{L-1} 1(||s^(l)||_2 > ||s^(l+1)||_2) * mean_i (SG(s_i^(l)) - s_i^(l+1))^2

    the shallower layer's NDR, gradient stopped, the target of the deeper layer's, applied to a
    pair only when the deeper layer's discrepancy has fallen below the shallower one's.
    L = CE(z, y) on the labelled rows + ``weight`` * L_ADR. The paper's generic framework adds a
    compact graph-embedding term for graph classification; for node tasks its objective is the
    label term plus ADR, as here.

    Layers: the model's ``Outputs.hidden`` (gkd's GNNs: each hidden layer after norm and
    activation) followed by its logits (the last layer's output), so an L-layer GCN gives L NDR
    vectors and L - 1 pairs; ``include_logits=False`` uses the hidden layers alone. Fewer than two
    layers give no pair, and are refused. Rows: the batch's ``visible`` ones (every node of a
    full-batch graph; the seeds of a sampled subgraph, whose neighbours there are their sampled
    neighbourhood), less rows with no defined NDR at either layer of the pair.

    No code by the authors is public (none found under the paper's or the method's names), so this
    follows the paper's text: NDR as a cosine distance to the neighbourhood, ADR with the
    shallower layer's NDR as the stopped-gradient target and the norm gate. The equations were not
    at hand to check line by line when this was written (only the abstract and introduction were);
    the gate on the two vectors' norms (rather than node by node) and the L - 1 pairs over all L
    layer outputs are our reading. Ours too: the neighbours' aggregate is their plain sum over the
    graph's edges as given (no self loop, no degree weights); the squared distance is a mean
    over rows, not a sum (one weight then serves any graph or batch size); ``weight`` 1.0 was chosen from
    {0.1, 1, 10} on Cora-LCC's validation nodes (CPF split, seeds 10-12, GCN 8 x 64, dropout
    0.5; mean validation accuracy 0.695 / 0.717 / 0.648), not taken from the paper.
    """

    name = "gnnsd"
    family = "intermediate"
    taught_by = "self"
    needs_teacher = False
    logits_only = False
    kinds = ("node",)

    def __init__(self, weight: float = 1.0, include_logits: bool = True):
        super().__init__()
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"gnnsd: weight must be a finite number >= 0, got {weight}")
        if not isinstance(include_logits, bool):
            raise ValueError(f"gnnsd: include_logits must be True or False, got {include_logits!r}")
        self.weight, self.include_logits = weight, include_logits

    def layers(self, student: Outputs) -> list[Tensor]:
        """The representations whose NDRs are compared, shallowest first."""
        layers = list(student.hidden) + ([student.logits] if self.include_logits else [])
        if len(layers) < 2:
            raise MismatchError(f"gnnsd compares consecutive layers and the model gives {len(layers)} "
                                f"(hidden layers{' + logits' if self.include_logits else ''}): use a model of at "
                                f"least {2 if self.include_logits else 3} layers")
        return layers

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        rates = [neighbourhood_discrepancy(h, batch.data) for h in self.layers(student)]
        adr = student.logits.sum() * 0.0
        for (s_shallow, ok_shallow), (s_deep, ok_deep) in zip(rates, rates[1:]):
            rows = batch.visible & ok_shallow & ok_deep
            adr = adr + discrepancy_retaining(s_shallow[rows], s_deep[rows])
        return {"ce": label_loss(student.logits, batch), "adr": self.weight * adr}
