"""``LinkModel``: a node encoder (any of gkd's layer stacks: ``mlp``, ``sage``, ``gcn``, ...) and
a decoder that scores node pairs: the model of a link task (``Task.kind == "link"``)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..outputs import Outputs
from .base import LayerStack, Model, dropout

DECODERS = ("mlp", "dot")


class LinkDecoder(nn.Module):
    """A pair's score (a logit) from its two node embeddings: ``dot``, their inner product;
    ``mlp``, an MLP over their elementwise product (LLP's and OGB's ``LinkPredictor``: hidden
    layers with ReLU and dropout, one output)."""

    def __init__(self, kind: str, width: int, num_layers: int = 2, dropout_p: float = 0.0):
        super().__init__()
        if kind not in DECODERS:
            raise ValueError(f"unknown decoder {kind!r}; valid decoders: {', '.join(DECODERS)}")
        if num_layers < 1:
            raise ValueError(f"decoder_layers must be at least 1, got {num_layers}")
        self.kind, self.dropout = kind, dropout_p
        sizes = [width] * num_layers + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])) if kind == "mlp" else None

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        h = source * target
        if self.layers is None:
            return h.sum(dim=-1, keepdim=True)
        for layer in self.layers[:-1]:
            h = dropout(torch.relu(layer(h)), self.dropout, self.training)
        return self.layers[-1](h)


class LinkModel(Model):
    """A link predictor: ``encoder`` (a node-level ``LayerStack`` whose last layer gives each
    node an embedding of ``hidden`` units) and a ``LinkDecoder``. ``forward(data)`` embeds the
    nodes of ``data`` (a graph carrying ``pairs``, 2 x B) and returns one logit per pair, with the
    embeddings in ``Outputs.embeddings`` and the encoder's hidden layers in ``hidden``. Built by
    ``gkd.models.build(name, link_task, ..., decoder="mlp")``. An MLP encoder reads features
    alone, so scoring a pair needs no neighbourhood: the distilled student of LLP."""

    kinds = ("link",)  # not in the zoo itself: ``build`` makes one around a registered encoder

    def __init__(self, encoder: LayerStack, hidden: int, decoder: str = "mlp", decoder_layers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.encoder = encoder
        self.decoder = LinkDecoder(decoder, hidden, decoder_layers, dropout)
        # what builds the model again around its encoder (a saved bundle's ``link`` entry)
        self.link_arguments = {"hidden": hidden, "decoder": decoder, "decoder_layers": decoder_layers,
                               "dropout": dropout}

    @property
    def encoder_name(self) -> str:
        return self.encoder.name

    def embed(self, data: Data) -> Outputs:
        """The encoder's outputs on ``data``: ``logits`` are the node embeddings."""
        return self.encoder(data)

    def score(self, source: Tensor, target: Tensor) -> Tensor:
        """The decoder's logits for pairs of embeddings (any leading shape, one logit each)."""
        return self.decoder(source, target)

    def forward(self, data: Data) -> Outputs:
        encoded = self.embed(data)
        h, pairs = encoded.logits, data.pairs
        return Outputs(logits=self.score(h[pairs[0]], h[pairs[1]]), hidden=encoded.hidden, embeddings=h)
