"""A frozen teacher's representations for every graph of a graph task, computed once per training
run and gathered for each mini-batch, so that intermediate-layer methods do not pay a teacher
forward pass per batch and epoch. Exact, not an approximation: in eval mode a graph's outputs do
not depend on the other graphs of its batch (BatchNorm uses running statistics, pooling is per
graph)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from ..outputs import Outputs


def each(value, fn):
    """``fn`` of one teacher's value, or the list of ``fn`` of each of several teachers' values
    (a method taught by an ensemble)."""
    return [fn(v) for v in value] if isinstance(value, list) else fn(value)


# Keep representations in memory up to this size; larger datasets run the teacher per batch.
MAX_BYTES = 2 * 1024**3


class GraphTeacherOutputs:
    """Hidden (per node) and pooled (per graph) teacher representations of ``graphs`` (in index
    order: graph i is row i of ``pooled``), on ``device``. Memory: total nodes x sum of hidden
    widths x 4 bytes; ``fits`` says whether that is under ``MAX_BYTES``."""

    def __init__(self, teacher: nn.Module, graphs: list[Data], device: torch.device, batch_size: int = 256):
        hidden: list[list[Tensor]] = []
        pooled: list[Tensor] = []
        teacher.eval()
        with torch.no_grad():
            for batch in DataLoader(graphs, batch_size=batch_size, shuffle=False):
                out = teacher(batch.to(device))
                hidden.append(out.hidden)
                if out.pooled is not None:
                    pooled.append(out.pooled)
        self.hidden = [torch.cat([layers[i] for layers in hidden]) for i in range(len(hidden[0]))]
        self.pooled = torch.cat(pooled) if pooled else None
        sizes = torch.tensor([int(g.num_nodes) for g in graphs], device=device)
        self.node_start = torch.cumsum(sizes, 0) - sizes
        self.sizes = sizes

    @staticmethod
    def fits(teacher: nn.Module, graphs: list[Data], device: torch.device) -> bool:
        """Whether every graph's representations fit in ``MAX_BYTES`` (from one small batch)."""
        with torch.no_grad():
            sample = next(iter(DataLoader(graphs[:2], batch_size=2)))
            widths = sum(h.size(-1) for h in teacher.eval()(sample.to(device)).hidden)
        nodes = sum(int(g.num_nodes) for g in graphs)
        return nodes * widths * 4 <= MAX_BYTES

    def gather(self, graph_ids: Tensor, logits: Tensor) -> Outputs:
        """The teacher's ``Outputs`` for a mini-batch of the graphs ``graph_ids`` (nodes in the
        order PyG batches them: graph by graph)."""
        counts = self.sizes[graph_ids]
        offsets = torch.repeat_interleave(self.node_start[graph_ids] - (torch.cumsum(counts, 0) - counts), counts)
        nodes = offsets + torch.arange(int(counts.sum()), device=counts.device)
        pooled = None if self.pooled is None else self.pooled[graph_ids]
        return Outputs(logits=logits, hidden=[h[nodes] for h in self.hidden], pooled=pooled)
