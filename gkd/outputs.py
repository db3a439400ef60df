"""``Outputs``: what every model in gkd returns."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class Outputs:
    """A model's predictions and the representations behind them.

    ``logits``: one row per prediction target (node, graph or image).
    ``hidden``: per-layer representations, input side first. For node models one row per node;
    for graph models too (node level), with ``pooled`` holding the graph-level representation.
    ``embeddings``: a link model's node embeddings (its encoder's output, one row per node of
    the graph), from which its decoder scored the pairs that ``logits`` holds one row each.
    """

    logits: Tensor
    hidden: list[Tensor] = field(default_factory=list)
    pooled: Tensor | None = None
    embeddings: Tensor | None = None

    def rows(self, index: Tensor) -> "Outputs":
        """The outputs of the rows ``index`` (e.g. the nodes of a sampled subgraph); ``pooled``
        is per graph, not per row, and is dropped."""
        return Outputs(self.logits[index], [h[index] for h in self.hidden])

    def detach(self) -> "Outputs":
        return Outputs(
            self.logits.detach(),
            [h.detach() for h in self.hidden],
            None if self.pooled is None else self.pooled.detach(),
            None if self.embeddings is None else self.embeddings.detach(),
        )
