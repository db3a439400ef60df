"""GLNN's inductive ("production") setting: part of the test nodes is hidden from training.

Zhang et al., "Graph-less Neural Networks" (ICLR 2022), section 5: a random ``fraction`` (0.2) of
the test nodes and every edge touching them are removed; teacher and student train on the
observed graph that remains (its labelled nodes and, for the student, the teacher's outputs on
every observed node); at test time the held-out nodes return with their edges and are scored on
the full graph ("ind"). The observed test nodes give "tran"; the production figure is
``(1 - fraction) * tran + fraction * ind``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import subgraph

from .task import Task


@dataclass
class InductiveSplit:
    """``observed``: the task on the graph without the held-out nodes (node ids renumbered;
    its ``test`` split is the observed test nodes). ``full``: the whole graph, whose ``test``
    split is the held-out nodes. ``observed_ids[i]``: the full-graph id of observed node i.
    ``fraction``: the held-out share of the test nodes."""

    observed: Task
    full: Task
    observed_ids: Tensor
    fraction: float

    def production(self, tran: float, ind: float) -> float:
        """GLNN's production score: the two test scores weighted by the nodes they cover."""
        return (1 - self.fraction) * tran + self.fraction * ind


def hold_out_test_nodes(task: Task, fraction: float = 0.2, seed: int = 0) -> InductiveSplit:
    """Hide a random ``fraction`` of ``task``'s test nodes (and their edges) from training.
    Deterministic in ``seed``; the train and valid nodes all stay observed."""
    if task.kind != "node":
        raise ValueError(f"the inductive setting hides nodes of one graph; {task.name!r} is a {task.kind} task")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    data, n = task.data, task.num_items
    test = task.split["test"]
    order = torch.randperm(test.numel(), generator=torch.Generator().manual_seed(seed))
    held = test[order[: int(round(fraction * test.numel()))]].sort().values
    keep = torch.ones(n, dtype=torch.bool)
    keep[held] = False
    observed_ids = keep.nonzero().view(-1)
    edge_index, _ = subgraph(keep, data.edge_index, relabel_nodes=True, num_nodes=n)
    new_id = torch.full((n,), -1, dtype=torch.long)
    new_id[observed_ids] = torch.arange(observed_ids.numel())
    observed_split = {name: new_id[index[keep[index]]] for name, index in task.split.items()}
    observed = Task(
        name=f"{task.name}[observed]", kind="node",
        data=Data(x=data.x[observed_ids], edge_index=edge_index, y=data.y[observed_ids]),
        split=observed_split, num_classes=task.num_classes, objective=task.objective, metric=task.metric,
        evaluator=task.evaluator, categorical_sizes=task.categorical_sizes,
        info={**task.info, "held_out_fraction": fraction},
    )
    full = Task(
        name=task.name, kind="node", data=data, split={**task.split, "test": held},
        num_classes=task.num_classes, objective=task.objective, metric=task.metric, evaluator=task.evaluator,
        categorical_sizes=task.categorical_sizes, info=task.info,
    )
    return InductiveSplit(observed, full, observed_ids, fraction)
