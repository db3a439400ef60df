"""DGL interoperability (optional extra ``pip install -e ".[dgl]"``: DGL 1.1.3, the newest PyPI
release that imports beside torch 2.13, with setuptools<70 and packaging).

- ``from_dgl(graph)``: a homogeneous ``DGLGraph`` with node data becomes a node ``Task`` (features
  from ``ndata["feat"]``, labels from ``ndata["label"]``, the split from DGL's
  ``train_mask`` / ``val_mask`` / ``test_mask`` unless one is given); ``to_dgl`` goes back.
- ``dgl_model(module, hidden=[...])``: a DGL model called as ``module(graph, features)`` (stacks of
  ``GraphConv`` / ``SAGEConv`` / ``GATConv``) serves as a gkd teacher or student: it returns
  ``Outputs`` with the outputs of the named layers as ``hidden`` (forward hooks), and the DGL graph
  of each gkd ``Data`` it meets is built once and reused.
- ``DGLNeighbourSampler``: ``gkd.graph.sampling.NeighbourSampler``'s mini-batches drawn by DGL's
  ``dgl.sampling.sample_neighbors`` (``gkd.train.sampler.make_sampler`` picks it when DGL imports).
- ``available()``: whether DGL imports here; ``require()``: the ``dgl`` module, or an
  ``ImportError`` that says how to install it.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data.task import Task
from ..graph.sampling import NeighbourSampler, expand_hops
from ..models.wrapper import HookedModel

FEATURE_KEYS = ("feat", "x", "features")
LABEL_KEYS = ("label", "y", "labels")
MASK_KEYS = {"train": "train_mask", "valid": "val_mask", "test": "test_mask"}


def require() -> Any:
    """The ``dgl`` module; an ``ImportError`` saying how to install it when DGL does not import."""
    try:
        import dgl
    except ImportError as exc:  # the extra is optional
        raise ImportError(f"DGL does not import here ({exc}); gkd's DGL interop and DGL sampler need it: "
                          "pip install \"gkd[dgl]\" (from a checkout: pip install -e \".[dgl]\"), then "
                          "pip install \"setuptools<70\" (DGL 1.1.3 needs it and torch 2.13's metadata forbids "
                          "it, hence a step of its own; DGL 2.x needs torch <= 2.2.1)") from exc
    return dgl


def available() -> bool:
    """Whether DGL is installed and imports."""
    try:
        require()
    except ImportError:
        return False
    return True


def _pick(data: dict, key: str | None, candidates: Sequence[str], what: str) -> Tensor:
    if key is not None:
        if key not in data:
            raise KeyError(f"the DGL graph has no node data {key!r} for the {what}; it has {sorted(data)}")
        return data[key]
    for name in candidates:
        if name in data:
            return data[name]
    raise KeyError(f"the DGL graph has no node {what} under {list(candidates)}; it has {sorted(data)} "
                   f"(name it with {'feature' if what == 'features' else 'label'}=...)")


def from_dgl(graph: Any, name: str = "dgl", *, feature: str | None = None, label: str | None = None,
             split: dict[str, Tensor] | None = None, num_classes: int | None = None) -> Task:
    """A node ``Task`` from a homogeneous DGL graph (edges as stored: messages flow source ->
    destination, as in PyG's ``edge_index``)."""
    if not graph.is_homogeneous:
        raise ValueError(f"from_dgl takes a homogeneous graph; this one has node types {graph.ntypes} and edge "
                         f"types {graph.etypes}")
    ndata = dict(graph.ndata)
    x = _pick(ndata, feature, FEATURE_KEYS, "features").float()
    y = _pick(ndata, label, LABEL_KEYS, "labels").long().view(-1)
    if split is None:
        missing = [mask for mask in MASK_KEYS.values() if mask not in ndata]
        if missing:
            raise KeyError(f"the DGL graph has no {missing}: pass split={{'train': ..., 'valid': ..., 'test': ...}}")
        split = {part: ndata[mask].bool().nonzero().view(-1) for part, mask in MASK_KEYS.items()}
    src, dst = graph.edges()
    data = Data(x=x, edge_index=torch.stack([src, dst]).long(), y=y, num_nodes=graph.num_nodes())
    classes = num_classes if num_classes is not None else int(y.max()) + 1
    return Task(name=name, kind="node", data=data, split=split, num_classes=classes, info={"source": "dgl"})


def to_dgl(source: Task | Data) -> Any:
    """A DGL graph with ``ndata["feat"]``, ``ndata["label"]`` and, from a ``Task``, the split as
    DGL's three masks."""
    dgl = require()
    data = source.data if isinstance(source, Task) else source
    graph = dgl.graph((data.edge_index[0], data.edge_index[1]), num_nodes=data.num_nodes)
    graph.ndata["feat"] = data.x
    if getattr(data, "y", None) is not None:
        graph.ndata["label"] = data.y
    if isinstance(source, Task):
        for part, mask in MASK_KEYS.items():
            flags = torch.zeros(data.num_nodes, dtype=torch.bool)
            flags[source.split[part]] = True
            graph.ndata[mask] = flags
    return graph


class _GraphCache:
    """The DGL graph of each gkd ``Data`` seen lately, keyed by its edge tensor (held, so that
    the key cannot be reused by another tensor while the entry lives)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: OrderedDict[tuple, tuple[Tensor, Any]] = OrderedDict()

    def graph(self, data: Data) -> Any:
        edges = data.edge_index
        key = (edges.data_ptr(), edges.numel(), int(data.num_nodes), str(edges.device))
        if key not in self.entries:
            dgl = require()
            self.entries[key] = (edges, dgl.graph((edges[0], edges[1]), num_nodes=data.num_nodes))
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        self.entries.move_to_end(key)
        return self.entries[key][1]


def dgl_model(module: nn.Module, hidden: Sequence[str] = ()) -> HookedModel:
    """Wrap a DGL model called as ``module(graph, features)`` so gkd trains and distils it like
    its own: logits from its return value, ``Outputs.hidden`` from the submodules named in
    ``hidden`` (e.g. ``["layers.0", "layers.1"]``)."""
    cache = _GraphCache()
    return HookedModel(module, hidden, inputs=lambda data: (cache.graph(data), data.x))


DGL_SEED_LIMIT = 2**31 - 1  # dgl.seed takes a C int


class DGLNeighbourSampler(NeighbourSampler):
    """``gkd.graph.sampling.NeighbourSampler`` with DGL drawing the neighbours: the same constructor,
    the same batches (``x``, ``y``, ``edge_index``, ``n_id`` ordered by hop, ``num_sampled_nodes``,
    ``batch_size``) and the same seed batches in the same order (shuffled by the epoch's
    ``torch.Generator``), each hop sampled by ``dgl.sampling.sample_neighbors`` (in-edges,
    uniform, without replacement, ``fanout`` -1: all) on a DGL graph built once from
    ``data.edge_index``.

    Randomness: DGL samples with its own global generator. Given a ``torch.Generator`` (as in
    ``for batch in sampler``), ``subgraph`` first reseeds DGL (``dgl.seed``) from it, so the same
    ``seed`` and epoch give the same batches whatever else used DGL's generator in between; this
    changes DGL's global random state. DGL splits large hops across threads, so batches repeat for
    a given number of threads. Without a generator, ``subgraph`` draws from DGL's state as it is."""

    def _index(self) -> None:
        """Build the DGL graph to sample from, once (messages flow ``edge_index[0] -> [1]``)."""
        self.dgl = require()
        edges = self.data.edge_index
        self.graph = self.dgl.graph((edges[0], edges[1]), num_nodes=self.data.num_nodes)

    def subgraph(self, seeds: Tensor, generator: torch.Generator | None = None) -> Data:
        """The sampled subgraph of ``seeds`` as a ``Data`` (see ``NeighbourSampler``)."""
        if generator is not None:
            self.dgl.seed(int(torch.randint(DGL_SEED_LIMIT, (), generator=generator)))
        return self._batch(expand_hops(self.data.num_nodes, seeds, self.fanouts, self._sample_hop))

    def _sample_hop(self, nodes: Tensor, fanout: int) -> tuple[Tensor, Tensor]:
        """One hop: up to ``fanout`` in-neighbours of each of ``nodes``, as (sources, targets)."""
        frontier = self.dgl.sampling.sample_neighbors(self.graph, nodes, fanout, edge_dir="in", replace=False,
                                                      copy_ndata=False, copy_edata=False)
        sources, targets = frontier.edges()
        return sources.long(), targets.long()
