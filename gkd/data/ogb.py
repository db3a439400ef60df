"""OGB node and graph property-prediction sets, read from OGB's own on-disk layout.

On disk, one folder per dataset, as OGB's zips unpack::

    <root>/ogb/<name with "_" for "-">/      e.g. <root>/ogb/ogbn_arxiv, <root>/ogb/ogbg_molhiv
        raw/edge.csv.gz, raw/num-node-list.csv.gz, raw/num-edge-list.csv.gz,
        raw/node-feat.csv.gz, raw/edge-feat.csv.gz (when the set has them),
        raw/node-label.csv.gz (node sets) or raw/graph-label.csv.gz (graph sets),
        split/<split type>/{train,valid,test}.csv.gz, RELEASE_v1.txt (optional here)

Sets that OGB ships in its binary format (``binary`` in master.csv) have ``raw/data.npz`` and
``raw/<node|graph>-label.npz`` instead of the csv files.

Metadata (split type, inverse edges, tasks, classes, metric, url) comes from the ``ogb``
package's ``master.csv`` files. The raw files are read here, not through OGB's PyG datasets
(those fail in ``torch.load`` under torch >= 2.6 and prompt on stdin when ``RELEASE_v1.txt`` is
absent). Nothing is written inside the data root unless ``download=True``: the processed result
is cached under ``cache_dir("ogb") / <name> / <key>.pt``, the key hashing the raw and split files'
names and bytes; the cache holds tensors, numbers and strings only and is read with
``weights_only=True`` (nothing in it runs); an unreadable one is rebuilt. The folder, the
missing-file message, the download and the cache are ``ogb_files``', shared with the link sets.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import scatter, to_undirected

from ..errors import InvalidDataError, UnknownNameError
from .catalog import register
from .ogb_files import cached, dataset_folder, master, prepare, read_array
from .task import Task
from .validation import where

#: Bump when the processed format changes: old cache files are then ignored.
CACHE_VERSION = 1
SPLITS = ("train", "valid", "test")
_METRICS = {"acc": "accuracy", "rocauc": "rocauc", "ap": "ap"}
_OBJECTIVES = {"binary classification": "binary", "multiclass classification": "multiclass"}


@dataclass(frozen=True)
class _Meta:
    """One column of OGB's master.csv, as gkd uses it."""

    name: str
    level: str  # "node" or "graph": also the prefix of the label file
    split_type: str
    add_inverse_edge: bool
    num_tasks: int
    num_classes: int
    metric: str
    objective: str
    task_type: str
    url: str
    has_node_attr: bool
    has_edge_attr: bool
    npz: bool  # OGB's "binary" storage: raw/data.npz instead of csv files

    @property
    def num_outputs(self) -> int:
        """``Task.num_classes``: independent tasks when binary, classes when multiclass."""
        return self.num_tasks if self.objective == "binary" else self.num_classes


# --------------------------------------------------------------------------- public loaders


def _folder(name: str) -> str:
    return f"ogb/{name.replace('-', '_')}/ (OGB's layout: raw/*.csv.gz, split/<type>/*.csv.gz)"


@register("ogbn-arxiv", "ogbn-products", kind="node", splits=("official",), files=_folder)
def load_ogb_node(name: str, root: Path, download: bool = False, seed: int = 0) -> Task:
    """Load a homogeneous ``ogbn-*`` set (e.g. ogbn-arxiv, ogbn-products) as a node ``Task``
    (``seed`` changes nothing: the split is OGB's official one).

    ``data`` is one ``Data(x float32 [N, F], edge_index long [2, E], y)`` with ``y`` long [N] for
    multiclass sets (unlabelled nodes, if the file has any, get -1) or float [N, tasks] for binary
    ones (ogbn-proteins). The edge set is made symmetric with ``to_undirected``, as GNN papers do
    for ogbn-arxiv; ``info`` records the file's edge count and the result. Sets without node
    features (ogbn-proteins) get the mean of their incident edges' features as ``x``.
    """
    meta, folder = _prepare("node", name, root, download)
    payload, cache_file, hit = _cached(meta, folder, lambda: _process_node(meta, folder))
    data = Data(**payload["data"])
    info = {**_base_info(meta, folder, cache_file, hit), **payload["info"]}
    return _task(meta, folder, "node", data, payload, info)


@register("ogbg-molhiv", "ogbg-molpcba", kind="graph", splits=("scaffold",), files=_folder)
def load_ogb_graph(name: str, root: Path, download: bool = False, seed: int = 0) -> Task:
    """Load a homogeneous ``ogbg-*`` classification set (e.g. ogbg-molhiv, ogbg-molpcba) as a
    graph ``Task`` (``seed`` changes nothing: the split is OGB's official one).

    ``data`` is a list of ``Data``, one per graph, as OGB's loader builds them: ``x`` (long atom
    features for molecules), ``edge_index`` with each stored edge followed by its inverse when
    master.csv says ``add_inverse_edge``, ``edge_attr``, and ``y`` float [1, tasks] with NaN for
    unlabelled tasks (binary sets) or long [1] (multiclass sets). ``categorical_sizes`` is OGB's
    atom feature vocabulary for ``ogbg-mol*``, max+1 per column for other integer features,
    None for float features; ``edge_categorical_sizes`` is the same for ``edge_attr`` (OGB's bond
    vocabulary for ``ogbg-mol*``). Sets without node features (ogbg-ppa) get ``x`` = zeros [n, 1]
    long.
    """
    meta, folder = _prepare("graph", name, root, download)
    payload, cache_file, hit = _cached(meta, folder, lambda: _process_graph(meta, folder))
    info = {**_base_info(meta, folder, cache_file, hit), **payload["info"]}
    edge_sizes = _edge_categorical_sizes(meta, payload["data"]["edge_attr"])
    return _task(meta, folder, "graph", _unbatch(payload["data"]), payload, info, edge_sizes)


# --------------------------------------------------------------------------- metadata


def _supported(column: pd.Series) -> bool:
    return (
        column.get("is hetero", "False") != "True"
        and column["task type"] in _OBJECTIVES
        and column["eval metric"] in _METRICS
    )


def _meta(level: str, name: str) -> _Meta:
    master_csv = master(level)
    valid = [n for n in master_csv.columns if _supported(master_csv[n])]
    spelled = {n.lower(): n for n in valid}.get(name.lower())
    if spelled is None:
        raise UnknownNameError(f"OGB {level} dataset", name, valid)
    col = master_csv[spelled]
    return _Meta(
        name=spelled, level=level, split_type=col["split"],
        add_inverse_edge=col["add_inverse_edge"] == "True",
        num_tasks=int(col["num tasks"]), num_classes=int(col["num classes"]),
        metric=_METRICS[col["eval metric"]], objective=_OBJECTIVES[col["task type"]],
        task_type=col["task type"], url=col["url"],
        has_node_attr=col["has_node_attr"] == "True", has_edge_attr=col["has_edge_attr"] == "True",
        npz=col.get("binary", "False") == "True",
    )


def _task(meta: _Meta, folder: Path, kind: str, data: Data | list[Data], payload: dict, info: dict,
          edge_sizes: list[int] | None = None) -> Task:
    """The task, validated (``gkd.data.validation``); an error names the file the bad part came from."""
    raw = "data.npz" if meta.npz else None
    files = {part: str(folder / "split" / meta.split_type / f"{part}.csv.gz") for part in SPLITS}
    files.update({"edges": raw or "edge.csv.gz", "labels": raw or f"{meta.level}-label.csv.gz",
                  "features": raw or "node-feat.csv.gz", "edge features": raw or "edge-feat.csv.gz",
                  "rows": raw or "num-node-list.csv.gz"})
    files.update({k: str(folder / "raw" / v) for k, v in files.items() if k not in SPLITS})
    try:
        return Task(
            name=meta.name, kind=kind, data=data, split=payload["split"], num_classes=meta.num_outputs,
            objective=meta.objective, metric=meta.metric, evaluator=meta.name,
            categorical_sizes=payload.get("categorical_sizes"), info=info, edge_categorical_sizes=edge_sizes,
        )
    except InvalidDataError as exc:
        raise where(files)(exc) from exc


def _base_info(meta: _Meta, folder: Path, cache_file: Path, hit: bool) -> dict:
    return {
        "source": "ogb", "folder": str(folder), "split_type": meta.split_type,
        "task_type": meta.task_type, "add_inverse_edge": meta.add_inverse_edge,
        "cache_file": str(cache_file), "from_cache": hit,
    }


# --------------------------------------------------------------------------- files on disk


def _required_files(meta: _Meta) -> list[str]:
    """Paths, relative to the dataset folder, that must exist to load ``meta``."""
    if meta.npz:
        raw = ["data.npz", f"{meta.level}-label.npz"]
    else:
        raw = ["edge.csv.gz", "num-node-list.csv.gz", "num-edge-list.csv.gz"]
        raw += ["node-feat.csv.gz"] if meta.has_node_attr else []
        raw += ["edge-feat.csv.gz"] if meta.has_edge_attr else []
        raw += [f"{meta.level}-label.csv.gz"]
    split = [f"split/{meta.split_type}/{part}.csv.gz" for part in SPLITS]
    return [f"raw/{f}" for f in raw] + split


def _prepare(level: str, name: str, root: Path, download: bool) -> tuple[_Meta, Path]:
    """Metadata and dataset folder, checking (and, if asked, downloading) the files."""
    meta = _meta(level, name)
    folder = dataset_folder(root, meta.name)
    prepare(meta.name, meta.url, folder, _required_files(meta), download)
    return meta, folder


def _read_split(meta: _Meta, folder: Path) -> dict[str, Tensor]:
    base = folder / "split" / meta.split_type
    return {part: torch.from_numpy(read_array(base / f"{part}.csv.gz")[:, 0]).long() for part in SPLITS}


@dataclass
class _Raw:
    """The raw files, concatenated over graphs; edge indices are local to each graph."""

    edge_index: Tensor  # [2, E] long
    num_nodes: Tensor  # [G] long
    num_edges: Tensor  # [G] long
    x: Tensor | None
    edge_attr: Tensor | None
    label: np.ndarray  # [items, tasks], float when it holds NaN


def _read_raw(meta: _Meta, folder: Path) -> _Raw:
    raw = folder / "raw"
    if meta.npz:
        arrays = np.load(raw / "data.npz")
        optional = {k: torch.from_numpy(arrays[k]) if k in arrays else None for k in ("node_feat", "edge_feat")}
        label = np.load(raw / f"{meta.level}-label.npz")[f"{meta.level}_label"]
        return _Raw(
            torch.from_numpy(arrays["edge_index"]).long(), torch.from_numpy(arrays["num_nodes_list"]).long(),
            torch.from_numpy(arrays["num_edges_list"]).long(), optional["node_feat"], optional["edge_feat"],
            label.reshape(len(label), -1),
        )

    def optional(file: str, present: bool) -> Tensor | None:
        path = raw / file
        return torch.from_numpy(read_array(path)) if present or path.is_file() else None

    return _Raw(
        edge_index=torch.from_numpy(read_array(raw / "edge.csv.gz")).long().t().contiguous(),
        num_nodes=torch.from_numpy(read_array(raw / "num-node-list.csv.gz")[:, 0]).long(),
        num_edges=torch.from_numpy(read_array(raw / "num-edge-list.csv.gz")[:, 0]).long(),
        x=optional("node-feat.csv.gz", meta.has_node_attr),
        edge_attr=optional("edge-feat.csv.gz", meta.has_edge_attr),
        label=read_array(raw / f"{meta.level}-label.csv.gz"),
    )


# --------------------------------------------------------------------------- processing


def _cached(meta: _Meta, folder: Path, build: Callable[[], dict]) -> tuple[dict, Path, bool]:
    """The processed payload, keyed by every file under ``raw/`` and ``split/<type>/``."""
    subfolders = (folder / "raw", folder / "split" / meta.split_type)
    files = [p for sub in subfolders for p in sorted(p for p in sub.rglob("*") if p.is_file())]
    return cached(meta.name, CACHE_VERSION, folder, files, build)


def _inverse_interleaved(raw: _Raw) -> tuple[Tensor, Tensor | None, Tensor]:
    """OGB's ``add_inverse_edge``: each edge followed by its reverse, edge features repeated."""
    edge_index = torch.stack([raw.edge_index, raw.edge_index.flip(0)], dim=2).reshape(2, -1)
    edge_attr = None if raw.edge_attr is None else raw.edge_attr.repeat_interleave(2, dim=0)
    return edge_index, edge_attr, raw.num_edges * 2


def _process_node(meta: _Meta, folder: Path) -> dict:
    raw = _read_raw(meta, folder)
    num_nodes = int(raw.num_nodes.sum())
    # to_undirected adds every reverse edge itself, so OGB's add_inverse_edge is not applied first.
    if raw.edge_attr is None:
        edge_index, edge_attr = to_undirected(raw.edge_index, num_nodes=num_nodes), None
    else:
        edge_index, edge_attr = to_undirected(raw.edge_index, raw.edge_attr, num_nodes=num_nodes, reduce="mean")
    info = {"num_edges_in_file": int(raw.edge_index.size(1)), "symmetrised": True,
            "num_edges": int(edge_index.size(1))}
    if raw.x is not None:
        x = raw.x.float()
    else:
        x = scatter(edge_attr.float(), edge_index[1], dim=0, dim_size=num_nodes, reduce="mean")
        info["x"] = "mean of incident edge features (the set has no node features)"
    label = torch.from_numpy(raw.label)
    if meta.objective == "multiclass":
        unlabelled = torch.isnan(label[:, 0]) if label.is_floating_point() else torch.zeros(num_nodes, dtype=torch.bool)
        y = torch.nan_to_num(label[:, 0], nan=-1).long()
        info["unlabelled_nodes"] = int(unlabelled.sum())
    else:
        y = label.float()
    data = {"x": x, "edge_index": edge_index, "y": y, "num_nodes": num_nodes}
    if edge_attr is not None:
        data["edge_attr"] = edge_attr
    return {"data": data, "split": _read_split(meta, folder), "info": info}


def _process_graph(meta: _Meta, folder: Path) -> dict:
    raw = _read_raw(meta, folder)
    info = {"num_edges_in_file": int(raw.edge_index.size(1)), "num_nodes_total": int(raw.num_nodes.sum())}
    if meta.add_inverse_edge:
        edge_index, edge_attr, num_edges = _inverse_interleaved(raw)
    else:
        edge_index, edge_attr, num_edges = raw.edge_index, raw.edge_attr, raw.num_edges
    x = raw.x
    if x is None:
        x = torch.zeros(int(raw.num_nodes.sum()), 1, dtype=torch.long)
        info["x"] = "zeros: the set has no node features"
    label = torch.from_numpy(raw.label)
    y = label.float() if meta.objective == "binary" else label[:, 0].long()
    data = {"x": x, "edge_index": edge_index, "edge_attr": edge_attr, "y": y,
            "num_nodes": raw.num_nodes, "num_edges": num_edges}
    return {"data": data, "split": _read_split(meta, folder), "info": info,
            "categorical_sizes": _categorical_sizes(meta, x)}


def _categorical_sizes(meta: _Meta, x: Tensor) -> list[int] | None:
    if meta.name.startswith("ogbg-mol"):
        from ogb.utils.features import get_atom_feature_dims

        return list(get_atom_feature_dims())
    if x.is_floating_point():
        return None
    return (x.amax(dim=0) + 1).clamp(min=1).tolist()


def _edge_categorical_sizes(meta: _Meta, edge_attr: Tensor | None) -> list[int] | None:
    """Computed on load, not cached, so cache files written before it need no rebuild."""
    if edge_attr is None:
        return None
    if meta.name.startswith("ogbg-mol"):
        from ogb.utils.features import get_bond_feature_dims

        return list(get_bond_feature_dims())
    if edge_attr.is_floating_point():
        return None
    if edge_attr.numel() == 0:
        return [1] * (edge_attr.size(1) if edge_attr.dim() == 2 else 1)
    return (edge_attr.view(edge_attr.size(0), -1).amax(dim=0) + 1).clamp(min=1).tolist()


def _unbatch(data: dict) -> list[Data]:
    """Concatenated per-graph tensors back into one ``Data`` per graph."""
    sizes, edge_sizes = data["num_nodes"].tolist(), data["num_edges"].tolist()
    xs = data["x"].split(sizes)
    edges = data["edge_index"].split(edge_sizes, dim=1)
    attrs = data["edge_attr"].split(edge_sizes) if data["edge_attr"] is not None else [None] * len(sizes)
    ys = data["y"].split(1)
    return [
        Data(x=x, edge_index=e, edge_attr=a, y=y, num_nodes=n)
        for x, e, a, y, n in zip(xs, edges, attrs, ys, sizes)
    ]


__all__ = ["load_ogb_node", "load_ogb_graph"]
