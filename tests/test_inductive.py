"""GLNN's inductive setting: held-out test nodes vanish from the observed graph."""
import pytest
import torch
from torch_geometric.data import Data

from gkd.data.inductive import hold_out_test_nodes
from gkd.data.task import Task


def _task() -> Task:
    # a 10-node path 0-1-...-9 (both directions); train 0-1, valid 2-3, test 4-9
    src = torch.arange(9)
    edges = torch.cat([torch.stack([src, src + 1]), torch.stack([src + 1, src])], dim=1)
    data = Data(x=torch.arange(10, dtype=torch.float).view(10, 1), edge_index=edges, y=torch.arange(10) % 2)
    split = {"train": torch.tensor([0, 1]), "valid": torch.tensor([2, 3]), "test": torch.arange(4, 10)}
    return Task("path", "node", data, split, num_classes=2)


def test_held_out_nodes_are_test_nodes_and_lose_their_edges():
    task = _task()
    split = hold_out_test_nodes(task, fraction=0.5, seed=0)
    held = split.full.split["test"]
    assert held.numel() == 3 and set(held.tolist()) <= set(range(4, 10))
    ids = split.observed_ids
    assert ids.numel() == 7 and not set(ids.tolist()) & set(held.tolist())
    # features and labels follow their nodes; the observed split names the same nodes
    assert torch.equal(split.observed.data.x.view(-1), ids.float())
    for name in ("train", "valid"):
        assert torch.equal(ids[split.observed.split[name]], task.split[name])
    assert sorted(ids[split.observed.split["test"]].tolist() + held.tolist()) == list(range(4, 10))
    # every observed edge is a full-graph edge between two observed nodes, and all of those are kept
    observed_edges = {tuple(e) for e in ids[split.observed.data.edge_index].t().tolist()}
    expected = {tuple(e) for e in task.data.edge_index.t().tolist() if not set(e) & set(held.tolist())}
    assert observed_edges == expected


def test_the_hold_out_follows_the_seed_and_production_weights_the_scores():
    task = _task()
    a, b = hold_out_test_nodes(task, 0.5, seed=3), hold_out_test_nodes(task, 0.5, seed=3)
    assert torch.equal(a.full.split["test"], b.full.split["test"])
    assert a.production(0.8, 0.6) == pytest.approx(0.7)
    assert hold_out_test_nodes(task, 0.2, seed=0).production(0.8, 0.6) == pytest.approx(0.76)
    with pytest.raises(ValueError, match="fraction"):
        hold_out_test_nodes(task, 1.0)
