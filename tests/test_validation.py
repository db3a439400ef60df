"""Every task is checked when it is made: splits in range, distinct, disjoint, train and valid
non-empty; edges between existing nodes; labels within the classes; finite features; row counts
that agree. Loaders name the file the bad part came from."""
import re

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd.data.ogb import load_ogb_graph, load_ogb_node
from gkd.errors import InvalidDataError
from tests.test_ogb import ARXIV_SPLIT, make_arxiv, make_mol, write_csv, write_split


def _graph(n=6):
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    return Data(x=torch.randn(n, 3), edge_index=edge_index, y=torch.arange(n) % 2, num_nodes=n)


def _split(train=(0, 1), valid=(2,), test=(3, 4, 5)):
    return {name: torch.tensor(ids, dtype=torch.long) for name, ids in (("train", train), ("valid", valid),
                                                                        ("test", test))}


def _task(data=None, split=None, **options):
    return gkd.Task(name="tiny", kind="node", data=data or _graph(), split=split or _split(), num_classes=2, **options)


@pytest.mark.parametrize("split, message", [
    (_split(test=(3, 4, -1)), "split 'test': entry 2 is -1, outside the 6 nodes"),
    (_split(test=(3, 4, 6)), "split 'test': entry 2 is 6, outside the 6 nodes"),
    (_split(test=(1, 4, 5)), "split 'test': entry 0, node 1, is also in split 'train'"),
    (_split(valid=()), "split 'valid': is empty"),
    (_split(train=()), "split 'train': is empty"),
    (_split(test=(3, 4, 3)), "split 'test': entry 2, node 3, is twice"),
])
def test_bad_splits_are_refused_naming_the_entry(split, message):
    with pytest.raises(InvalidDataError, match=re.escape(f"task 'tiny': {message}")):
        _task(split=split)


def test_bad_graphs_labels_features_and_masks_are_refused():
    g = _graph()
    g.edge_index = torch.tensor([[0, 1], [1, 9]])
    with pytest.raises(InvalidDataError, match=r"edges: edge 1 \(1 -> 9\) names a node outside its graph's 6 nodes"):
        _task(g)
    g = _graph()
    g.y = torch.tensor([0, 1, 0, 1, 2, 0])
    with pytest.raises(InvalidDataError, match="labels: node 4 has label 2, outside the 2 classes"):
        _task(g)
    g = _graph()
    g.x[3, 1] = float("nan")
    with pytest.raises(InvalidDataError, match="features: row 3, column 1 is nan; features must be finite"):
        _task(g)
    g = _graph()
    g.y = torch.arange(5) % 2
    with pytest.raises(InvalidDataError, match="rows: the graph has 6 nodes but 5 rows of y"):
        _task(g)
    mask = torch.zeros(6, dtype=torch.bool)
    with pytest.raises(InvalidDataError, match=r"split 'train' holds torch.bool values; give item ids"):
        _task(split={**_split(), "train": mask})
    unlabelled = _graph()
    unlabelled.y[5] = -1  # OGB marks unlabelled nodes -1: fine outside every split
    assert _task(unlabelled, split=_split(test=(3, 4))).num_items == 6


def test_graph_and_image_tasks_are_checked_too():
    graphs = [Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([i % 2]))
              for i in range(4)]
    split = {"train": torch.tensor([0, 1]), "valid": torch.tensor([2]), "test": torch.tensor([3])}
    assert gkd.Task(name="g", kind="graph", data=graphs, split=split, num_classes=2).num_items == 4
    graphs[2].edge_index = torch.tensor([[0], [3]])  # graph 2 has 3 nodes
    with pytest.raises(InvalidDataError, match=r"edges: graph 2, edge 0 \(0 -> 3\) names a node outside its "
                                               r"graph's 3 nodes"):
        gkd.Task(name="g", kind="graph", data=graphs, split=split, num_classes=2)
    from gkd.data.images import ImageSet

    images = ImageSet(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 3, 1]), torch.zeros(1),
                      torch.ones(1))
    with pytest.raises(InvalidDataError, match="labels: image 2 has label 3, outside the 2 classes"):
        gkd.Task(name="im", kind="image", data=images, split=split, num_classes=2)


def test_ogb_loaders_name_the_file_of_a_bad_split_or_label(tmp_path):
    folder = make_arxiv(tmp_path)
    write_split(folder, "time", {**ARXIV_SPLIT, "test": [9, 10, -1]})
    with pytest.raises(InvalidDataError, match=r"split/time/test\.csv\.gz: task 'ogbn-arxiv': split 'test': entry 2 "
                                               r"is -1, outside the 12 nodes"):
        load_ogb_node("ogbn-arxiv", tmp_path)
    write_split(folder, "time", {**ARXIV_SPLIT, "test": [9, 10, 5]})
    with pytest.raises(InvalidDataError, match=r"test\.csv\.gz: .*node 5, is also in split 'train'"):
        load_ogb_node("ogbn-arxiv", tmp_path)
    write_split(folder, "time", ARXIV_SPLIT)
    write_csv(folder / "raw" / "node-label.csv.gz", np.asarray([[0]] * 11 + [[40]]))
    with pytest.raises(InvalidDataError, match=r"raw/node-label\.csv\.gz: .*node 11 has label 40, outside the 40"):
        load_ogb_node("ogbn-arxiv", tmp_path)
    mol = make_mol(tmp_path)
    write_csv(mol / "raw" / "edge.csv.gz", np.asarray([[0, 1], [1, 7], [0, 1], [0, 1], [1, 2], [2, 3], [0, 2],
                                                      [2, 1], [1, 0]], dtype=np.int64))
    with pytest.raises(InvalidDataError, match=r"raw/edge\.csv\.gz: .*names a node outside its graph's 3 nodes"):
        load_ogb_graph("ogbg-molhiv", tmp_path)


def test_the_real_sets_pass(shared_root):
    for name in ("cora", "citeseer"):
        for split in ("public", "cpf", "random"):
            assert gkd.data.load(name, shared_root, split=split).num_items > 2000
