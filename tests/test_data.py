"""Loaders: real Planetoid files, the CPF split, embedded synthetic tasks."""
import numpy as np
import pytest
import torch

import gkd
from gkd.data.splits import per_class_split_numpy
from gkd.graph.components import induced_subgraph, largest_component, undirected_simple


def test_cora_from_disk(shared_root):
    task = gkd.data.load("cora", root=shared_root)
    g = task.data
    assert (g.num_nodes, g.edge_index.size(1), g.x.size(1), task.num_classes) == (2708, 10556, 1433, 7)
    assert [len(task.split[k]) for k in ("train", "valid", "test")] == [140, 500, 1000]
    assert task.kind == "node" and task.metric == "accuracy"
    assert set(g.x.unique().tolist()) == {0.0, 1.0}  # the binary bag of words as released


def test_cpf_split_is_per_class_and_seeded(shared_root):
    a = gkd.data.load("cora", root=shared_root, split="cpf", seed=3)
    b = gkd.data.load("cora", root=shared_root, split="cpf", seed=3)
    c = gkd.data.load("cora", root=shared_root, split="cpf", seed=4)
    y = a.data.y
    assert torch.bincount(y[a.split["train"]]).tolist() == [20] * 7
    assert torch.bincount(y[a.split["valid"]]).tolist() == [30] * 7
    assert len(a.split["test"]) == 2708 - 350
    assert torch.equal(a.split["train"], b.split["train"]) and not torch.equal(a.split["train"], c.split["train"])
    everything = torch.cat([a.split[k] for k in ("train", "valid", "test")])
    assert everything.unique().numel() == everything.numel() == 2708


@pytest.mark.parametrize("name", ["cora", "cora-lcc"])
def test_label_scarce_splits_keep_k_training_labels_per_class_and_the_validation_size(shared_root, name):
    nodes = {"cora": 2708, "cora-lcc": 2485}[name]
    for split, k in (("cpf-5", 5), ("cpf-10", 10)):
        task = gkd.data.load(name, root=shared_root, split=split, seed=2)
        y = task.data.y
        assert torch.bincount(y[task.split["train"]]).tolist() == [k] * 7
        assert torch.bincount(y[task.split["valid"]]).tolist() == [30] * 7
        assert len(task.split["test"]) == nodes - 7 * (k + 30)
        everything = torch.cat([task.split[part] for part in ("train", "valid", "test")])
        assert everything.unique().numel() == nodes
    with pytest.raises(ValueError, match="valid splits: .*cpf-5, cpf-10"):
        gkd.data.load(name, root=shared_root, split="cpf-3")


def test_citeseer_padding_nodes_are_in_no_split(shared_root):
    task = gkd.data.load("citeseer", root=shared_root, split="cpf", seed=0)
    assert task.data.num_nodes == 3327
    total = sum(len(v) for v in task.split.values())
    assert total == 3327 - 15


def test_csbm_is_deterministic_in_its_seed():
    a, b, c = gkd.data.load("synthetic", seed=1), gkd.data.load("synthetic", seed=1), gkd.data.load("synthetic", seed=2)
    assert torch.equal(a.data.x, b.data.x) and torch.equal(a.data.edge_index, b.data.edge_index)
    assert not torch.equal(a.data.edge_index, c.data.edge_index)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_csbm_has_the_requested_shape_and_homophily():
    from gkd.data.synthetic import csbm

    task = csbm(num_nodes=500, num_edges=2000, num_features=16, num_classes=4, homophily=0.9, seed=0)
    ei = task.data.edge_index
    assert ei.size(1) == 4000 and (ei[0] != ei[1]).all()
    assert torch.equal(ei.flip(0).unique(dim=1), ei.unique(dim=1))  # symmetric
    same = (task.data.y[ei[0]] == task.data.y[ei[1]]).float().mean().item()
    assert 0.85 < same < 0.97


def test_arxiv_shaped_synthetic_graph():
    task = gkd.data.load("synthetic-arxiv")
    g = task.data
    assert (g.num_nodes, g.edge_index.size(1), g.x.size(1), task.num_classes) == (169_343, 2 * 1_166_243, 128, 40)


def test_synthetic_graph_task():
    a, b = gkd.data.load("synthetic-graphs", seed=0), gkd.data.load("synthetic-graphs", seed=0)
    assert a.kind == "graph" and len(a.data) == 600 and a.num_classes == 3
    assert all(torch.equal(x.edge_index, y.edge_index) for x, y in zip(a.data, b.data))
    assert sum(len(v) for v in a.split.values()) == 600


def test_random_split_covers_every_real_node_once(shared_root):
    task = gkd.data.load("citeseer", root=shared_root, split="random", seed=1)
    sizes = [len(task.split[k]) for k in ("train", "valid", "test")]
    assert sum(sizes) == 3327 - 15 and sizes[0] == round(0.6 * (3327 - 15))
    everything = torch.cat(list(task.split.values()))
    assert everything.unique().numel() == everything.numel()


def test_the_papers_graphs_are_the_largest_components_of_the_planetoid_graphs(shared_root):
    for name, nodes, edges, classes in (("cora-lcc", 2485, 5069, 7), ("citeseer-lcc", 2110, 3668, 6)):
        task = gkd.data.load(name, shared_root, seed=0)
        e = task.data.edge_index
        assert (task.data.num_nodes, e.size(1), task.num_classes) == (nodes, 2 * edges, classes)  # CPF's copy
        assert not (e[0] == e[1]).any()
        assert torch.equal(undirected_simple(e, nodes), e)  # symmetric, each edge once per direction
        assert largest_component(e, nodes).numel() == nodes  # connected
        sizes = {part: index.numel() for part, index in task.split.items()}
        assert sizes == {"train": 20 * classes, "valid": 30 * classes, "test": nodes - 50 * classes}
        counts = torch.bincount(task.data.y[task.split["train"]], minlength=classes)
        assert counts.tolist() == [20] * classes
    first, again, other = (gkd.data.load("cora-lcc", shared_root, seed=s).split["train"] for s in (0, 0, 1))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_the_authors_split_procedure_by_hand():
    # numpy's RandomState(seed).choice over each class's nodes in id order, train for every class
    # first, then validation from what is left: the procedure of GLNN's and CPF's get_train_val_test_split
    y = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    state = np.random.RandomState(3)
    train = np.concatenate([state.choice([0, 2, 4, 6, 8], 2, replace=False),
                            state.choice([1, 3, 5, 7, 9], 2, replace=False)])
    left = [[i for i in (0, 2, 4, 6, 8) if i not in train], [i for i in (1, 3, 5, 7, 9) if i not in train]]
    valid = np.concatenate([state.choice(left[0], 1, replace=False), state.choice(left[1], 1, replace=False)])
    split = per_class_split_numpy(y, 2, 1, seed=3)
    assert split["train"].tolist() == sorted(train.tolist()) and split["valid"].tolist() == sorted(valid.tolist())
    assert split["test"].tolist() == sorted(set(range(10)) - set(train.tolist()) - set(valid.tolist()))


def test_components_and_simple_undirected_edges_by_hand():
    edges = torch.tensor([[0, 1, 1, 2, 3, 4, 4], [1, 0, 1, 0, 4, 5, 5]])  # a self-loop, repeats, one-way edges
    simple = undirected_simple(edges, 7)
    assert simple.t().tolist() == [[0, 1], [0, 2], [1, 0], [2, 0], [3, 4], [4, 3], [4, 5], [5, 4]]
    assert largest_component(simple, 7).tolist() == [0, 1, 2]  # size 3 twice: the one with node 0; node 6 alone
    assert induced_subgraph(simple, torch.tensor([3, 4, 5]), 7).t().tolist() == [[0, 1], [1, 0], [1, 2], [2, 1]]


def test_normalize_features_divides_each_row_by_its_sum_and_keeps_zero_rows():
    x = torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    assert gkd.data.row_normalised(x).tolist() == [[0.25, 0.0, 0.75], [0.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    raw = gkd.data.load("synthetic", seed=0)
    normal = gkd.data.load("synthetic", seed=0, normalize_features=True)
    sums = raw.data.x.sum(dim=1, keepdim=True)
    assert torch.allclose(normal.data.x, raw.data.x / sums)
    assert normal.info["features"] == "row-normalised" and raw.data.x.sum(dim=1).std() > 0  # raw left alone
    assert normal.fingerprint() != raw.fingerprint()  # teacher caches tell them apart
    with pytest.raises(ValueError, match="normalize_features applies to node tasks.*'synthetic-graphs' is a graph"):
        gkd.data.load("synthetic-graphs", normalize_features=True)


def test_normalized_citation_features_sum_to_one_per_row(shared_root):
    task = gkd.data.load("cora-lcc", shared_root, seed=0, normalize_features=True)
    assert torch.allclose(task.data.x.sum(dim=1), torch.ones(2485))
