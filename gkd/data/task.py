"""``Task``: one dataset, its splits and how to score it, whatever its kind."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import InvalidDataError
from .validation import validate

Kind = Literal["node", "graph", "image", "link"]
Objective = Literal["multiclass", "binary"]


@dataclass
class Task:
    """A prediction task as the trainer sees it.

    - ``kind="node"``: ``data`` is one PyG ``Data`` (``x``, ``edge_index``, ``y`` of shape [N]);
      split indices are node ids.
    - ``kind="image"``: ``data`` is an ``ImageSet`` (uint8 images, labels, normalisation,
      augmentation); split indices are image ids.
    - ``kind="graph"``: ``data`` is a list of ``Data``, one per graph, each with ``y`` of shape
      [1, num_classes] for binary (OGB style, NaN = unlabelled) or [1] for multiclass; split
      indices are graph ids.
    - ``kind="link"``: ``data`` is one ``Data`` holding the training graph and every pair the
      splits score (``pairs``, ``pair_label``, ...: ``gkd.data.links``); split indices are pair
      ids, the objective ``binary`` with one column, the metric ``hits@K`` or ``mrr``.
    - ``objective``: ``multiclass`` (softmax over ``num_classes``) or ``binary`` (``num_classes``
      independent sigmoid tasks, as OGB's molecule sets).
    - ``metric``: ``accuracy``, ``rocauc`` or ``ap``; ``evaluator`` names OGB's Evaluator when the
      task comes from OGB, so scores are computed the official way.
    - ``categorical_sizes``: for integer-coded features (OGB molecules), the number of values of
      each column; models then embed the columns instead of reading ``x`` as numbers.
    - ``edge_categorical_sizes``: the same for integer-coded edge features (``edge_attr``, OGB's
      bond features), read by models that use edge features (``gine``); None when the edges have
      no features or float ones (see ``num_edge_features``).
    """

    name: str
    kind: Kind
    data: Data | list[Data]
    split: dict[str, Tensor]
    num_classes: int
    objective: Objective = "multiclass"
    metric: str = "accuracy"
    evaluator: str | None = None
    categorical_sizes: list[int] | None = None
    info: dict = field(default_factory=dict)
    edge_categorical_sizes: list[int] | None = None

    def __post_init__(self) -> None:
        missing = {"train", "valid", "test"} - set(self.split)
        if missing:
            raise InvalidDataError(f"task {self.name!r}: split lacks {sorted(missing)}", "split")
        split = {k: torch.as_tensor(v) for k, v in self.split.items()}
        for name, index in split.items():
            if index.dtype == torch.bool or index.is_floating_point():
                raise InvalidDataError(f"task {self.name!r}: split {name!r} holds {index.dtype} values; give item ids "
                                       f"(for a mask: mask.nonzero().view(-1))", f"split {name!r}")
        self.split = {k: v.long() for k, v in split.items()}
        validate(self)

    @property
    def num_features(self) -> int:
        """Input width: node feature columns, or image channels."""
        if self.kind == "image":
            return self.data.channels
        first = self.data if isinstance(self.data, Data) else self.data[0]
        return int(first.x.size(-1))

    def data_on(self, device: torch.device | str) -> Data:
        """A node task's graph on ``device``: the task's own object when it is there already,
        otherwise one copy per device kept with the task (``Data.to`` would move the task's
        own tensors in place and leave the rest of gkd reading GPU tensors)."""
        device = torch.device(device)
        data = self.data
        if data.x.device == device or (device.type == data.x.device.type and device.index is None):
            return data
        copies = self.__dict__.setdefault("_on_device", {})
        if str(device) not in copies:
            copies[str(device)] = data.clone().to(device)
        return copies[str(device)]

    @property
    def num_edge_features(self) -> int:
        """Columns of ``edge_attr`` (0 when the graphs carry none)."""
        if self.kind == "image":
            return 0
        first = self.data if isinstance(self.data, Data) else self.data[0]
        edge_attr = getattr(first, "edge_attr", None)
        if edge_attr is None:
            return 0
        return 1 if edge_attr.dim() == 1 else int(edge_attr.size(-1))

    @property
    def num_items(self) -> int:
        """Number of prediction targets: nodes, graphs, images or node pairs."""
        if self.kind == "link":
            return int(self.data.pairs.size(1))
        return int(self.data.num_nodes) if self.kind == "node" else len(self.data)

    def optional(self, name: str) -> Tensor | None:
        """An optional part of the task's graph (a link task's ``pair_query``,
        ``inference_edge_index`` or ``seen``), or None where the task has none."""
        data = self.data
        return data[name] if isinstance(data, Data) and name in data else None

    def seen_nodes(self) -> Tensor:
        """The ids of the nodes training sees: every node, or a production link task's old ones."""
        seen = self.optional("seen")
        return torch.arange(int(self.data.num_nodes)) if seen is None else seen.nonzero().view(-1)

    def labels(self) -> Tensor:
        """All targets stacked: [N] (multiclass) or [N, num_classes] (binary)."""
        if self.kind == "node":
            return self.data.y
        if self.kind == "link":
            return self.data.pair_label.view(-1, 1)
        if self.kind == "image":
            return self.data.labels
        cached = self.__dict__.get("_labels")
        if cached is None or cached.size(0) != len(self.data):
            rows = [g.y.view(1, -1) if self.objective == "binary" else g.y.view(-1) for g in self.data]
            cached = self.__dict__["_labels"] = torch.cat(rows)
        return cached

    def indexed_graphs(self) -> list[Data]:
        """A graph task's graphs as shallow copies carrying their index (``graph_id``), built once
        and kept with the task (mini-batches then know which graphs they hold). ``edge_attr``
        travels too when a graph has it (models such as ``gine`` read it)."""
        if self.kind != "graph":
            raise ValueError(f"task {self.name!r} is a {self.kind} task; indexed graphs are a graph task's")
        cached = self.__dict__.get("_indexed_graphs")
        if cached is None:
            cached = []
            for i, g in enumerate(self.data):
                copy_ = Data(x=g.x, edge_index=g.edge_index, y=g.y, num_nodes=g.num_nodes)
                edge_attr = getattr(g, "edge_attr", None)
                if edge_attr is not None:
                    copy_.edge_attr = edge_attr
                copy_.graph_id = torch.tensor([i])
                cached.append(copy_)
            self.__dict__["_indexed_graphs"] = cached
        return cached

    def fingerprint(self, split: bool = True) -> str:
        """A hash of everything a model learnt on this task depends on: all of the data (every
        graph's features, edges, edge features and labels; every image and label), the node
        order, the objective and, unless ``split=False``, the split. Caches keyed by it break when
        any of it changes. It is computed once per task and kept while the task's tensors stay the
        same tensors at the same versions (an in-place edit bumps a tensor's version)."""
        tensors = self._tensors()
        stamp = _stamp(tensors, self.split)
        kept = self.__dict__.get("_fingerprint")
        if kept is None or kept[0] != stamp:
            header = (self.name, self.kind, self.num_classes, self.objective, self.metric, self.evaluator,
                      self.categorical_sizes, self.edge_categorical_sizes)
            digest = hashlib.sha256(repr(header).encode())
            for name, values in tensors.items():  # graphs concatenated attribute by attribute, with their sizes
                along = 1 if name in _PAIRED else 0
                digest.update(name.encode() + _tensor_bytes(torch.tensor([v.size(along) for v in values])))
                digest.update(_tensor_bytes(torch.cat(values, dim=along) if len(values) > 1 else values[0]))
            data_only = digest.hexdigest()[:16]
            for key in sorted(self.split):
                digest.update(key.encode() + _tensor_bytes(self.split[key]))
            kept = self.__dict__["_fingerprint"] = (stamp, data_only, digest.hexdigest()[:16])
        return kept[2] if split else kept[1]

    def _tensors(self) -> dict[str, list[Tensor]]:
        """The data's tensors by attribute: images and labels, or each graph's ``x``,
        ``edge_index``, ``y`` and (when every graph has one) ``edge_attr``."""
        if self.kind == "image":
            return {"images": [self.data.images], "labels": [self.data.labels]}
        graphs = [self.data] if isinstance(self.data, Data) else self.data
        out: dict[str, list[Tensor]] = {"x": [], "edge_index": [], "y": [], "edge_attr": []}
        if self.kind == "link":
            out.update({name: [] for name in _LINK_ATTRIBUTES})
        for g in graphs:
            for name, values in out.items():
                try:
                    value = g[name]
                except (KeyError, AttributeError):
                    continue
                if value is not None:
                    values.append(value)
        return {name: values for name, values in out.items() if values and len(values) == len(graphs)}


_LINK_ATTRIBUTES = ("pairs", "pair_label", "pair_graph", "pair_query", "inference_edge_index", "seen")
"""What a link task's graph holds beyond its features and training edges (``gkd.data.links``)."""

_PAIRED = ("edge_index", "pairs", "inference_edge_index")
"""Attributes laid out 2 x n (concatenated along their second axis)."""


def _stamp(tensors: dict[str, list[Tensor]], split: dict[str, Tensor]) -> tuple:
    """Which tensors a task holds, at which versions, and its split: what a kept fingerprint is
    checked against."""
    held = tuple((v.data_ptr(), v._version, v.numel()) for values in tensors.values() for v in values)
    return held + tuple((k, v.data_ptr(), v._version, v.numel()) for k, v in sorted(split.items()))


def _tensor_bytes(tensor: Tensor) -> bytes:
    """A tensor's dtype, shape and raw bytes, digested."""
    t = tensor.detach().contiguous().cpu()
    return hashlib.sha256(t.numpy().tobytes()).digest() + f"{t.dtype}{tuple(t.shape)}".encode()
