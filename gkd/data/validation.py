"""What every task must satisfy before anything trains on it, checked when the ``Task`` is made
(by every loader, and for tasks users build themselves): split indices in range, distinct and
disjoint, train and valid non-empty; edges between existing nodes; labels within the classes;
finite features; row counts that agree. A failure is an ``InvalidDataError`` naming the task, the
part (``split 'test'``, ``edges``, ``labels``, ``features``, ``rows``) and the first bad entry;
loaders add the file that part came from (``where``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import InvalidDataError
from ..graph.pairs import contains, edge_keys

if TYPE_CHECKING:
    from .task import Task


def _fail(task: Task, part: str, what: str) -> InvalidDataError:
    return InvalidDataError(f"task {task.name!r}: {part}: {what}", part)


def _first(bad: Tensor) -> int:
    return int(bad.nonzero()[0])


def check_split(task: Task, count: int, unit: str) -> None:
    """Every split a 1-D set of distinct ids in [0, count); the splits disjoint; train and valid
    non-empty (model selection needs a validation set)."""
    owner = torch.full((count,), -1, dtype=torch.long)
    for number, (name, index) in enumerate(task.split.items()):
        part = f"split {name!r}"
        if index.dim() != 1:
            raise _fail(task, part, f"a 1-D tensor of {unit} ids expected, got shape {tuple(index.shape)}")
        if name in ("train", "valid") and index.numel() == 0:
            raise _fail(task, part, "is empty; training needs labelled items and model selection a validation set")
        outside = (index < 0) | (index >= count)
        if bool(outside.any()):
            i = _first(outside)
            raise _fail(task, part, f"entry {i} is {int(index[i])}, outside the {count} {unit}s")
        seen = owner[index]
        if bool((seen >= 0).any()):
            i = _first(seen >= 0)
            other = list(task.split)[int(seen[i])]
            twice = "twice" if other == name else f"also in split {other!r}"
            raise _fail(task, part, f"entry {i}, {unit} {int(index[i])}, is {twice}; splits hold distinct ids and "
                                    f"do not overlap")
        ordered, order = index.sort(stable=True)
        repeated = ordered[1:] == ordered[:-1]
        if bool(repeated.any()):
            i = int(order[_first(repeated) + 1])
            raise _fail(task, part, f"entry {i}, {unit} {int(index[i])}, is twice; splits hold distinct ids")
        owner[index] = number


def check_edges(task: Task, edge_index: Tensor, num_nodes: Tensor | int, part: str = "edges",
                graph_of_edge: Tensor | None = None) -> None:
    """``edge_index`` is 2 x E and names nodes of its graph only (``num_nodes``: per edge, or one
    count; ``graph_of_edge``: each edge's graph, for the message, when the edges of many graphs
    are checked at once)."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise _fail(task, part, f"edge_index must be 2 x E, got shape {tuple(edge_index.shape)}")
    if edge_index.is_floating_point():
        raise _fail(task, part, f"edge_index must hold integer node ids, got {edge_index.dtype}")
    bad = (edge_index < 0).any(0) | (edge_index >= torch.as_tensor(num_nodes)).any(0)
    if bool(bad.any()):
        i = _first(bad)
        limit = int(num_nodes if isinstance(num_nodes, int) else num_nodes[i])
        where = f"edge {i}"
        if graph_of_edge is not None:
            g = int(graph_of_edge[i])
            where = f"graph {g}, edge {i - _first(graph_of_edge == g)}"
        raise _fail(task, part, f"{where} ({int(edge_index[0, i])} -> {int(edge_index[1, i])}) names a node "
                                f"outside its graph's {limit} nodes")


def check_features(task: Task, x: Tensor, part: str = "features") -> None:
    """Real features finite; integer-coded ones within their column's vocabulary."""
    if x.is_floating_point():
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            row, col = (int(v) for v in bad.nonzero()[0])
            raise _fail(task, part, f"row {row}, column {col} is {float(x[row, col])}; features must be finite")
    elif task.categorical_sizes:
        sizes = torch.tensor(task.categorical_sizes)
        if x.dim() != 2 or x.size(1) != sizes.numel():
            raise _fail(task, part, f"{sizes.numel()} integer-coded columns expected, got shape {tuple(x.shape)}")
        bad = (x < 0) | (x >= sizes)
        if bool(bad.any()):
            row, col = (int(v) for v in bad.nonzero()[0])
            raise _fail(task, part, f"row {row}, column {col} is {int(x[row, col])}, outside the column's "
                                    f"{int(sizes[col])} values")


def check_labels(task: Task, y: Tensor, used: Tensor | None, unit: str) -> None:
    """Multiclass: each used item's label in [0, num_classes); binary: 0, 1 or NaN (unlabelled),
    one column per task. ``used``: the items in some split (None: every item)."""
    labels = y if used is None else y[used]
    if task.objective == "binary":
        labels = labels.reshape(labels.size(0), -1) if labels.numel() else labels.reshape(0, task.num_classes)
        if labels.size(1) != task.num_classes:
            raise _fail(task, "labels", f"{task.num_classes} binary tasks expected, got {labels.size(1)} columns")
        bad = ~(torch.isnan(labels) | (labels == 0) | (labels == 1))
        if bool(bad.any()):
            row, col = (int(v) for v in bad.nonzero()[0])
            raise _fail(task, "labels", f"{unit} {row}, task {col} is {float(labels[row, col])}; binary labels are "
                                        f"0, 1 or NaN")
        return
    labels = labels.reshape(-1)
    if labels.is_floating_point() and not bool(torch.isfinite(labels).all()):
        raise _fail(task, "labels", "a labelled item has a non-finite label")
    bad = (labels < 0) | (labels >= task.num_classes)
    if bool(bad.any()):
        i = _first(bad)
        which = i if used is None else int(used[i])
        raise _fail(task, "labels", f"{unit} {which} has label {labels[i].item():g}, outside the "
                                    f"{task.num_classes} classes")


def check_edge_features(task: Task, edge_attr: Tensor | None, num_edges: int) -> None:
    """One row of edge features per edge, finite, or within the vocabulary when integer-coded."""
    if edge_attr is None:
        return
    if edge_attr.size(0) != num_edges:
        raise _fail(task, "edge features", f"{edge_attr.size(0)} rows of edge_attr for {num_edges} edges")
    if edge_attr.is_floating_point():
        if not bool(torch.isfinite(edge_attr).all()):
            raise _fail(task, "edge features", "an edge feature is not finite")
    elif task.edge_categorical_sizes:
        sizes = torch.tensor(task.edge_categorical_sizes)
        columns = edge_attr.reshape(edge_attr.size(0), -1)
        if columns.size(1) != sizes.numel() or bool(((columns < 0) | (columns >= sizes)).any()):
            raise _fail(task, "edge features", f"integer-coded edge features must have {sizes.numel()} columns "
                                               f"within {task.edge_categorical_sizes}")


def _node(task: Task) -> None:
    data: Data = task.data
    n = int(data.num_nodes)
    for name in ("x", "y"):
        value = getattr(data, name, None)
        if value is None or value.size(0) != n:
            got = "none" if value is None else value.size(0)
            raise _fail(task, "rows", f"the graph has {n} nodes but {got} rows of {name}")
    check_split(task, n, "node")
    check_edges(task, data.edge_index, n)
    check_edge_features(task, getattr(data, "edge_attr", None), data.edge_index.size(1))
    check_features(task, data.x)
    used = torch.cat(list(task.split.values()))
    check_labels(task, data.y, used, "node")


def _graph(task: Task) -> None:
    graphs: list[Data] = task.data
    check_split(task, len(graphs), "graph")
    if not graphs:
        return
    nodes = torch.tensor([int(g.num_nodes) for g in graphs])
    for i, g in enumerate(graphs):
        if g.x is None or g.x.size(0) != nodes[i]:
            raise _fail(task, "rows", f"graph {i} has {int(nodes[i])} nodes but "
                                      f"{'no' if g.x is None else g.x.size(0)} rows of x")
    edges = [g.edge_index for g in graphs]
    counts = torch.tensor([e.size(1) for e in edges])
    per_edge = torch.repeat_interleave(nodes, counts)
    check_edges(task, torch.cat(edges, dim=1), per_edge, graph_of_edge=torch.repeat_interleave(
        torch.arange(len(graphs)), counts))
    attrs = [getattr(g, "edge_attr", None) for g in graphs]
    if all(a is not None for a in attrs):
        check_edge_features(task, torch.cat(attrs), int(per_edge.numel()))
    check_features(task, torch.cat([g.x for g in graphs]))
    labels = torch.cat([g.y.reshape(1, -1) if task.objective == "binary" else g.y.reshape(-1) for g in graphs])
    if labels.size(0) != len(graphs):
        raise _fail(task, "labels", f"one label row per graph expected: {len(graphs)} graphs, {labels.size(0)} rows")
    check_labels(task, labels, torch.cat(list(task.split.values())), "graph")


def _image(task: Task) -> None:
    images, labels = task.data.images, task.data.labels
    if images.dim() != 4 or labels.shape != (images.size(0),):
        raise _fail(task, "rows", f"images must be N x C x H x W with N labels; got {tuple(images.shape)} and "
                                  f"{tuple(labels.shape)}")
    check_split(task, images.size(0), "image")
    check_labels(task, labels, torch.cat(list(task.split.values())), "image")


def _link(task: Task) -> None:
    """A link task (``gkd.data.links``): pairs between existing nodes with 0/1 labels, training
    pairs all edges of the training graph, and no held-out positive in any graph training sees."""
    data: Data = task.data
    n = int(data.num_nodes)
    if data.x is None or data.x.size(0) != n:
        raise _fail(task, "rows", f"the graph has {n} nodes but {'no' if data.x is None else data.x.size(0)} rows of x")
    check_features(task, data.x)
    check_edges(task, data.edge_index, n)
    pairs, label = data.pairs, data.pair_label
    check_edges(task, pairs, n, part="pairs")
    count = pairs.size(1)
    for name in ("pair_label", "pair_graph", "pair_query"):
        value = getattr(data, name, None)
        if value is not None and value.shape != (count,):
            raise _fail(task, "rows", f"{count} pairs but {name} has shape {tuple(value.shape)}")
    check_split(task, count, "pair")
    bad = ~((label == 0) | (label == 1))
    if bool(bad.any()):
        raise _fail(task, "labels", f"pair {_first(bad)} has label {float(label[_first(bad)])}; pair labels are 0 or 1")
    train = task.split["train"]
    if bool((label[train] != 1).any()):
        i = _first(label[train] != 1)
        raise _fail(task, "split 'train'", f"entry {i}, pair {int(train[i])}, is a non-edge; training pairs are "
                                           f"edges (negatives are sampled while training)")
    inference = data.inference_edge_index if "inference_edge_index" in data else None
    keys = {0: edge_keys(data.edge_index, n)}
    if inference is not None:
        check_edges(task, inference, n, part="inference edges")
        keys[1] = edge_keys(inference, n)
        seen = data.seen
        for part, index in (("edges", None), ("split 'train'", train), ("split 'valid'", task.split["valid"])):
            ends = data.edge_index if index is None else pairs[:, index]
            unseen = ~(seen[ends[0]] & seen[ends[1]])
            if bool(unseen.any()):
                raise _fail(task, part, f"entry {_first(unseen)} touches a node that training does not see")
    graph_names = {0: "the training graph", 1: "the inference graph"}
    for split_name, index in task.split.items():
        if split_name == "train":
            continue
        positives = index[label[index] == 1]
        for graph in {0, int(data.pair_graph[positives].max()) if positives.numel() else 0}:
            leaked = contains(keys[graph], pairs[:, positives], n)
            if bool(leaked.any()):
                p = int(positives[_first(leaked)])
                edge = f"{int(pairs[0, p])} - {int(pairs[1, p])}"
                raise _fail(task, f"split {split_name!r}",
                            f"held-out edge {edge} (pair {p}) is in {graph_names[graph]}; split the edges again")


CHECKS: dict[str, Callable[[Task], None]] = {"node": _node, "graph": _graph, "image": _image, "link": _link}


def validate(task: Task) -> None:
    """Raise ``InvalidDataError`` at the first thing ``task`` gets wrong (see the module docstring)."""
    if task.kind not in CHECKS:
        raise _fail(task, "kind", f"{task.kind!r} is not a task kind; kinds: {', '.join(CHECKS)}")
    if task.num_classes < 1:
        raise _fail(task, "classes", f"num_classes is {task.num_classes}; it must be at least 1")
    CHECKS[task.kind](task)


def where(files: dict[str, str]) -> Callable[[InvalidDataError], InvalidDataError]:
    """For a loader: an error's part (``split 'test'``, ``edges``, ...) mapped to the file it came
    from, prefixed to the message (``files`` keys: part names, or a split's name)."""
    def locate(error: InvalidDataError) -> InvalidDataError:
        key = error.part.split("'")[1] if error.part.startswith("split '") else error.part
        return InvalidDataError(f"{files[key]}: {error}", error.part) if key in files else error

    return locate
