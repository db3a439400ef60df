"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from their raw files.

On disk: ``<root>/planetoid/<Name>/raw/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``.
The files are read in place (nothing is written beside them), so the root may be read-only. They
are pickles: ``gkd.data.pickles`` reads them without running anything they say, and every count
they must agree on is checked (``read_raw``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import DataNotFoundError, InvalidDataError
from ..graph.components import induced_subgraph, largest_component, undirected_simple
from .catalog import register
from .pickles import SparseRows, load_pickle
from .splits import per_class_split, per_class_split_numpy, random_split
from .task import Task
from .validation import where

NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
RAW_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
# the CPF split and its label-scarce variants: training labels per class (30 validation labels per
# class in each, as CPF's; only the number of training labels changes)
PER_CLASS = {"cpf": 20, "cpf-5": 5, "cpf-10": 10}
VALID_PER_CLASS = 30
SPLITS = ("public", *PER_CLASS, "random")


LCC_NAMES = {f"{name}-lcc": name for name in NAMES}
LCC_SPLITS = (*PER_CLASS, "random")


def _raw_files(name: str) -> str:
    base = LCC_NAMES.get(name, name)
    return f"planetoid/{NAMES[base]}/raw/ind.{base}.{{{','.join(RAW_PARTS)}}}"


@register(*LCC_NAMES, kind="node", splits=LCC_SPLITS, files=_raw_files)
def load_planetoid_lcc(name: str, root: Path, split: str = "cpf", seed: int = 0, download: bool = False) -> Task:
    """The graph the GNN-to-MLP papers (GLNN, CPF, NOSMOG, KRD, VQGraph) train on: the Planetoid
    graph made unweighted and undirected, self-loops removed, its largest connected component kept
    (GLNN's ``data.standardize()``), nodes renumbered in their original order. The ids PyG pads
    into CiteSeer (15 missing test nodes, zero features, in no split) are not nodes here. Cora:
    2,485 nodes and 5,069 undirected edges, CiteSeer 2,110 / 3,668: both exactly the papers' copy
    (CPF's ``cora.npz`` and ``citeseer.npz``); with the padded ids CiteSeer's component would be
    2,120 / 3,679. The node order is Planetoid's, not CPF's files'.

    ``cpf``: 20 train / 30 valid labels per class drawn as the authors' code draws them
    (``splits.per_class_split_numpy``: numpy's RandomState(seed), class by class), the rest test;
    ``cpf-10`` and ``cpf-5``: the same with 10 or 5 training labels per class (the label-scarce
    settings where self-distillation is claimed to help), 30 validation labels per class still;
    ``random``: 60 / 20 / 20 of the component's nodes. The split follows the papers' procedure and
    seeds, but draws other nodes than theirs for the same seed, since their files order the nodes
    otherwise."""
    base = LCC_NAMES[name]
    if split not in LCC_SPLITS:
        raise ValueError(f"unknown split {split!r} for {name}; valid splits: {', '.join(LCC_SPLITS)}")
    data = _read(base, Path(root), download)
    real = _real_nodes(data)
    x = data.x
    edges = undirected_simple(data.edge_index, int(data.num_nodes))
    in_release = torch.zeros(int(data.num_nodes), dtype=torch.bool)
    in_release[real] = True
    edges = edges[:, in_release[edges[0]] & in_release[edges[1]]]  # CiteSeer's padded ids are not nodes
    nodes = largest_component(edges, int(data.num_nodes))
    graph = Data(x=x[nodes], edge_index=induced_subgraph(edges, nodes, int(data.num_nodes)), y=data.y[nodes],
                 num_nodes=nodes.numel())
    if split in PER_CLASS:
        indices = per_class_split_numpy(graph.y, PER_CLASS[split], VALID_PER_CLASS, seed)
    else:
        indices = random_split(nodes.numel(), (0.6, 0.2, 0.2), seed)
    return Task(name=name, kind="node", data=graph, split=indices, num_classes=int(data.y.max()) + 1,
                info={"split": split, "split_seed": seed, "graph": "largest connected component"})


@register(*NAMES, kind="node", splits=SPLITS, files=_raw_files)
def load_planetoid(name: str, root: Path, split: str = "public", seed: int = 0, download: bool = False) -> Task:
    """Load a Planetoid graph with the ``public`` split, the ``cpf`` split (20 train / 30 valid
    labels per class, the rest test; drawn with ``seed``), its label-scarce ``cpf-10`` and
    ``cpf-5`` (10 or 5 train labels per class, 30 valid) or a ``random`` 60 / 20 / 20 split of
    all nodes (the "full-supervised" setting; drawn with ``seed``). Features are the binary bag of words
    as released (GLNN trains on them so; ``gkd.data.load(..., normalize_features=True)``
    row-normalises them, as CPF's code does)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {name}; valid splits: {', '.join(SPLITS)}")
    raw_dir = Path(root) / "planetoid" / NAMES[name] / "raw"
    data = _read(name, Path(root), download)
    graph = Data(x=data.x, edge_index=data.edge_index, y=data.y, num_nodes=data.num_nodes)
    if split == "public":
        masks = {"train": data.train_mask, "valid": data.val_mask, "test": data.test_mask}
        indices = {k: m.nonzero().view(-1) for k, m in masks.items()}
    elif split in PER_CLASS:
        indices = per_class_split(data.y, PER_CLASS[split], VALID_PER_CLASS, seed, candidates=_real_nodes(data))
    else:
        real = _real_nodes(data)
        indices = {k: real[v] for k, v in random_split(real.numel(), (0.6, 0.2, 0.2), seed).items()}
    files = {part: str(raw_dir / f"ind.{name}.{file}") for part, file in
             (("edges", "graph"), ("labels", "ally"), ("features", "allx"), ("rows", "allx"), ("test", "test.index"))}
    try:
        return Task(name=name, kind="node", data=graph, split=indices, num_classes=int(data.y.max()) + 1,
                    info={"split": split, "split_seed": None if split == "public" else seed})
    except InvalidDataError as exc:
        raise where(files)(exc) from exc


def _read(name: str, root: Path, download: bool) -> Data:
    """The raw files of ``name`` read (``read_raw``), fetched first when missing and ``download``."""
    pretty = NAMES[name]
    raw_dir = root / "planetoid" / pretty / "raw"
    files = [raw_dir / f"ind.{name}.{part}" for part in RAW_PARTS]
    if not all(f.exists() for f in files):
        if not download:
            missing = "\n  ".join(str(f) for f in files if not f.exists())
            raise DataNotFoundError(
                f"{pretty} is not on disk. Place the Planetoid raw files here:\n  {missing}\n"
                f"(the root is {root}; set it with --root or GKD_DATA_ROOT), or pass "
                f"download=True (CLI --download) to fetch them when a network is available."
            )
        _download(pretty, root / "planetoid")
    return read_raw(raw_dir, name)


def _matrix(value: object, path: Path) -> Tensor:
    """A pickled feature or label matrix (NumPy array or CSR matrix) as a float tensor."""
    if isinstance(value, SparseRows):
        try:
            value = value.dense()
        except (ValueError, AttributeError) as exc:
            raise InvalidDataError(f"{path}: {exc}") from exc
    if not isinstance(value, np.ndarray) or value.ndim != 2:
        raise InvalidDataError(f"{path} holds {type(value).__name__}, not a matrix")
    return torch.from_numpy(np.asarray(value, dtype=np.float32))


def _test_index(path: Path) -> Tensor:
    """The test node ids, one integer per line; a line that is not one (a file cut short) is an error."""
    text = path.read_text()
    lines = text.splitlines()
    if text and not text.endswith("\n"):
        raise InvalidDataError(f"{path}: the last line ({lines[-1]!r}) has no line end: the file is cut short")
    try:
        return torch.tensor([int(line) for line in lines], dtype=torch.long)
    except ValueError as exc:
        raise InvalidDataError(f"{path}: {exc}") from exc


def read_raw(raw_dir: Path, name: str) -> Data:
    """The graph of Planetoid's raw files, as PyG reads them: features ``cat(allx, tx)`` and labels
    (one-hot argmax) ``cat(ally, ty)``, the test rows moved to the ids ``test.index`` names (test
    ids missing from the files, as in CiteSeer, become all-zero rows labelled 0), edges from the
    adjacency lists without self loops or duplicates, sorted by target then source; the public
    split as masks (the first ``len(y)`` nodes train, the next 500 validation, ``test.index`` test).
    Every count the files must agree on is checked; a mismatch names the file."""
    def path(part: str) -> Path:
        return raw_dir / f"ind.{name}.{part}"

    x, tx, allx, y, ty, ally = (_matrix(load_pickle(path(part)), path(part))
                                for part in ("x", "tx", "allx", "y", "ty", "ally"))
    graph = load_pickle(path("graph"))
    test = _test_index(path("test.index"))
    for rows, other, what in ((x, y, "x and y"), (allx, ally, "allx and ally"), (tx, ty, "tx and ty")):
        if rows.size(0) != other.size(0):
            raise InvalidDataError(f"{raw_dir}: {what} hold {rows.size(0)} and {other.size(0)} rows; they must agree")
    if tx.size(0) != test.numel():
        raise InvalidDataError(f"{path('test.index')} names {test.numel()} test nodes but {path('tx')} holds "
                               f"{tx.size(0)} rows; they must agree")
    if len({x.size(1), tx.size(1), allx.size(1)}) != 1 or len({y.size(1), ty.size(1), ally.size(1)}) != 1:
        raise InvalidDataError(f"{raw_dir}: the feature or label files disagree on their width")
    ordered = test.sort().values
    if ordered.numel() and (int(ordered[0]) < allx.size(0) or bool((ordered[1:] == ordered[:-1]).any())):
        raise InvalidDataError(f"{path('test.index')}: test ids must be distinct and at least {allx.size(0)} "
                               f"(the rows of allx); it names {int(ordered[0])} or a repeated id")
    span = int(ordered[-1]) - allx.size(0) + 1 if ordered.numel() else 0
    placed_x, placed_y = tx.new_zeros(span, tx.size(1)), ty.new_zeros(span, ty.size(1))
    placed_x[ordered - allx.size(0)], placed_y[ordered - allx.size(0)] = tx, ty  # missing test ids: zeros
    features, labels = torch.cat([allx, placed_x]), torch.cat([ally, placed_y]).max(dim=1).indices
    features[test], labels[test] = features[ordered].clone(), labels[ordered].clone()
    n = features.size(0)
    data = Data(x=features, edge_index=_edges(graph, n, path("graph")), y=labels, num_nodes=n)
    data.train_mask = _mask(torch.arange(y.size(0)), n)
    data.val_mask = _mask(torch.arange(y.size(0), min(y.size(0) + 500, n)), n)
    data.test_mask = _mask(test, n)
    return data


def _edges(graph: object, num_nodes: int, path: Path) -> Tensor:
    """The adjacency lists as ``edge_index``: self loops and duplicates dropped, sorted by target
    node, then source (PyG's order for these files)."""
    if not isinstance(graph, dict):
        raise InvalidDataError(f"{path} holds {type(graph).__name__}, not adjacency lists")
    try:
        source = torch.tensor([int(node) for node, targets in graph.items() for _ in targets], dtype=torch.long)
        target = torch.tensor([int(t) for targets in graph.values() for t in targets], dtype=torch.long)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{path}: adjacency lists of node ids expected ({exc})") from exc
    bad = (source < 0) | (source >= num_nodes) | (target < 0) | (target >= num_nodes)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise InvalidDataError(f"{path}: edge {int(source[i])} -> {int(target[i])} names a node outside the "
                               f"{num_nodes} nodes")
    keep = source != target
    key = torch.unique(target[keep] * num_nodes + source[keep])
    return torch.stack([key % num_nodes, key // num_nodes])


def _mask(index: Tensor, size: int) -> Tensor:
    mask = torch.zeros(size, dtype=torch.bool)
    mask[index] = True
    return mask


def _real_nodes(data: Data) -> torch.Tensor:
    """Nodes that exist in the release. PyG pads CiteSeer's 15 missing test ids with zero
    features and label 0 (they keep their edges); they belong in no split."""
    in_public = data.train_mask | data.val_mask | data.test_mask
    padded = (data.x.abs().sum(dim=1) == 0) & ~in_public
    return (~padded).nonzero().view(-1)


def _download(pretty: str, folder: Path) -> None:
    from torch_geometric.datasets import Planetoid

    try:
        Planetoid(str(folder), pretty)
    except Exception as exc:  # network errors come in many types
        raise DataNotFoundError(f"could not download {pretty} into {folder}: {exc}") from exc
